"""Audio networks in plain PyTorch (no Lightning): one for spectrograms, one for waveforms.

``SpecCNN`` treats a log-mel spectrogram (B, 1, n_mels, frames) as a one-channel image: the
teaching CNN of ``vision/models.py`` with the same conv-BN-ReLU-pool blocks, ending in
global average pooling so any clip length works. ``M5`` (Dai et al. 2017, "Very deep
convolutional neural networks for raw waveforms") reads the samples (B, 1, T) themselves: a
first convolution with a long kernel (80 samples = 10 ms at 8 kHz) and a stride learns its
own filter bank, then small 1-D convolutions and pooling. Same task, same classifier head:
a spectrogram is an image, a waveform is a sequence.

Each names the layer Grad-CAM should look at (``gradcam_layer()``): for the M5 its last
convolution block (about 30 time steps for 1 s); for the CNN the second block, at a quarter
of the spectrogram's resolution (10 x 25 cells for 40 mels x 101 frames). The CNN's last
block (5 x 12 cells) sees nearly the whole clip from every cell, and on a toy task with the
evidence in one known patch (tests/test_audio.py) its maps did not point at the patch,
while the second block's did.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


def conv_block(c_in: int, c_out: int, pool: int = 2, stride: int = 1) -> nn.Sequential:
    """3x3 conv, BatchNorm, ReLU, max pooling: the spectrogram CNN's unit."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(pool) if pool != 1 else nn.Identity(),
    )


class SpecCNN(nn.Module):
    """A small CNN on log-mel spectrograms (B, 1, n_mels, frames) -> logits (B, num_classes).

    Args:
        num_classes: output classes (LitlabCLI fills in the data's).
        widths: channels of the conv blocks. The first is a stride-2 stem (half the
            frequency and time resolution at once: on a CPU, full-resolution maps cost most),
            the middle ones halve both by pooling, the last keeps its resolution so that
            Grad-CAM has a finer map to show (5 x 12 cells for 40 mels x 101 frames).
        dropout: before the linear head.
    """

    def __init__(
        self, num_classes: int = 10, widths: Sequence[int] = (16, 32, 64, 128),
        dropout: float = 0.3,
    ) -> None:  # fmt: skip
        super().__init__()
        self.num_classes = num_classes
        blocks = [conv_block(1, widths[0], pool=1, stride=2)]
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            blocks.append(conv_block(a, b, pool=2 if i < len(widths) - 2 else 1))
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(widths[-1], num_classes))

    def gradcam_layer(self) -> nn.Module:
        return self.features[1]  # (B, C, F / 4, N / 4): see the module docstring

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (B, C, F / 8, N / 8)
        return self.head(x.mean(dim=(-2, -1)))


class M5(nn.Module):
    """M5 (Dai et al. 2017) on waveforms (B, 1, T) -> logits (B, num_classes).

    Args:
        num_classes: output classes.
        channels: of the four convolutions (the paper: 128, 128, 256, 512).
        first_kernel, first_stride: the first convolution (80 and 4 in the paper: a
            learned filter bank with a 10 ms receptive field at 8 kHz).
        pool: max pooling after every convolution.
        dropout: before the linear head.
    """

    def __init__(
        self,
        num_classes: int = 10,
        channels: Sequence[int] = (128, 128, 256, 512),
        first_kernel: int = 80,
        first_stride: int = 4,
        pool: int = 4,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.num_classes = num_classes
        layers: list[nn.Module] = []
        c_in = 1
        for i, c_out in enumerate(channels):
            kernel, stride = (first_kernel, first_stride) if i == 0 else (3, 1)
            layers.append(nn.Sequential(
                nn.Conv1d(c_in, c_out, kernel, stride=stride, padding=kernel // 2, bias=False),
                nn.BatchNorm1d(c_out),
                nn.ReLU(inplace=True),
                nn.MaxPool1d(pool) if i < len(channels) - 1 else nn.Identity(),
            ))  # fmt: skip
            c_in = c_out
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(c_in, num_classes))

    def gradcam_layer(self) -> nn.Module:
        return self.features[-1]

    def forward(self, x: Tensor) -> Tensor:
        x = self.features(x)  # (B, C, T / (stride * pool ** 3)): about 31 steps for 1 s
        return self.head(x.mean(dim=-1))


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


if __name__ == "__main__":  # shapes and sizes at a glance
    for net, x in ((SpecCNN(), torch.zeros(2, 1, 40, 101)), (M5(), torch.zeros(2, 1, 8000))):
        print(type(net).__name__, tuple(net(x).shape), f"{count_parameters(net):,} parameters")
