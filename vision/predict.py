"""The inference halves of vision (no Lightning): what a trained image classifier and its data
do for ``litlab explain`` and serve/, and what ``ImageClassifier`` (``module.py``) and every
``ImageDataModule`` (``image_data.py``) inherit (``common/inference.py`` says why).

- :class:`ImagePredictor`: ``forward`` (images -> logits) and the layers the pictures look at
  (``gradcam_layer``, ``feature_map_layers``; ``GradCamSource`` in ``common/protocols.py``).
- :class:`ImageCodec`: the class names, image shape and normalisation a checkpoint keeps, and
  ``encode_images`` / ``denormalize`` (``ImageInputs``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litlab.common.inference import DataCodec, InferenceModule
from litlab.common.protocols import ready
from litlab.vision import augment


def _resize_shorter_side(img: Tensor, size: int) -> Tensor:
    """uint8 (C, H, W) -> the shorter side ``size``, the aspect ratio kept (bilinear, AA)."""
    height, width = img.shape[-2:]
    short, long = min(height, width), max(height, width)
    new = (size, int(size * long / short))
    new = new if height <= width else new[::-1]
    if new == (height, width):
        return img
    return F.interpolate(img[None], size=new, mode="bilinear", align_corners=False,
                         antialias=True)[0]  # fmt: skip


def _center_crop(img: Tensor, height: int, width: int) -> Tensor:
    """The centre (C, height, width), zero-padded where the image is smaller."""
    dh, dw = height - img.shape[-2], width - img.shape[-1]
    if dh > 0 or dw > 0:  # left, right, top, bottom
        img = F.pad(img, [max(dw, 0) // 2, (max(dw, 0) + 1) // 2, max(dh, 0) // 2,
                          (max(dh, 0) + 1) // 2])  # fmt: skip
    top = int(round((img.shape[-2] - height) / 2.0))
    left = int(round((img.shape[-1] - width) / 2.0))
    return img[..., top : top + height, left : left + width]


def _grayscale(img: Tensor) -> Tensor:
    """RGB uint8 (3, H, W) -> luma (1, H, W), ITU-R 601-2, truncated as torchvision does."""
    r, g, b = img.unbind(dim=-3)
    return r.mul(0.2989).add_(g, alpha=0.587).add_(b, alpha=0.114)[None].to(img.dtype)


class ImagePredictor(InferenceModule):
    """A trained image network: ``hparams.channels_last`` (NHWC memory) is all it reads."""

    @classmethod
    def prepare_net(cls, net: nn.Module, hparams: Mapping[str, Any]) -> nn.Module:
        """NHWC weights with ``channels_last`` (faster convolutions on GPUs and oneDNN CPUs)."""
        return net.to(memory_format=torch.channels_last) if hparams.get("channels_last") else net

    def forward(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) -> logits (B, num_classes): one pass of the plain network."""
        return self.net(self._layout(x))

    def _layout(self, x: Tensor) -> Tensor:
        return x.contiguous(memory_format=torch.channels_last) if self.hparams.channels_last else x

    # --- protocol for the pictures (common/protocols.py) --------------------------------

    def feature_map_layers(self, n: int = 2) -> dict[str, nn.Module]:
        """The first ``n`` convolution layers of the network, by name."""
        convs = [(name, m) for name, m in self.net.named_modules() if isinstance(m, nn.Conv2d)]
        return dict(convs[:n])

    def gradcam_layer(self) -> nn.Module:
        """The network's own choice (its ``gradcam_layer()``), else its last convolution."""
        if hasattr(self.net, "gradcam_layer"):
            return self.net.gradcam_layer()
        convs = [m for m in self.net.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise TypeError(
                f"{type(self.net).__name__} has no convolution layer, so Grad-CAM has no spatial "
                "map to show: drop GradCamCallback from this experiment"
            )
        return convs[-1]


class ImageCodec(DataCodec):
    """Class names, image shape and normalisation: read from the data by the DataModule
    (``splits``), or restored from a checkpoint's state (``restored``)."""

    mean: tuple[float, ...] = (0.5, 0.5, 0.5)
    std: tuple[float, ...] = (0.25, 0.25, 0.25)
    splits: Any = None  # the DataModule's decoded data set (vision/datasets.py ImageSplits)
    restored: dict | None = None  # from a checkpoint: see state_dict()

    @property
    def classes(self) -> list[str]:
        if self.splits is None and self.restored is not None:
            return list(self.restored["classes"])
        return ready(self.splits, self, "classes").classes

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(C, H, W) of the images the model sees."""
        if self.splits is None and self.restored is not None:
            return tuple(self.restored["image_shape"])
        c, h, w = ready(self.splits, self, "image_shape").train_images.shape[1:]
        size = self.hparams.image_size
        return (c, size, size) if size else (c, h, w)

    # --- what a checkpoint keeps, so new images can be prepared without the data -----------

    def state_dict(self) -> dict:
        if self.splits is None and self.restored is None:
            self.setup()  # a method may read the data (the DataModule's); properties never do
        return {
            "classes": self.classes,
            "image_shape": list(self.image_shape),
            "mean": list(self.mean),
            "std": list(self.std),
        }

    def load_state_dict(self, state: dict) -> None:
        self.restored = dict(state)
        self.mean, self.std = tuple(state["mean"]), tuple(state["std"])

    def encode_images(self, images: list[Tensor]) -> Tensor:
        """uint8 images (C, H, W) of any size and channel count -> a normalised batch.

        Channels are matched (grey <-> RGB), the shorter side resized to the training size
        and the centre cropped, as for a test image: torchvision's ``Resize`` (bilinear,
        antialiased), ``CenterCrop`` and ``rgb_to_grayscale``, pixel for pixel, written with
        torch alone (importing torchvision costs a command seconds; tests/test_inference.py
        compares the two).
        """
        c, h, w = self.image_shape
        out = []
        for img in images:
            img = img[:3]  # drop an alpha channel
            if img.shape[0] != c:
                img = _grayscale(img) if c == 1 else img.expand(3, -1, -1)
            out.append(_center_crop(_resize_shorter_side(img, min(h, w)), h, w))
        return augment.normalize(torch.stack(out), self.mean, self.std)

    def denormalize(self, images: Tensor) -> Tensor:
        """Normalised float images -> [0, 1] for display."""
        return augment.denormalize(images, self.mean, self.std)
