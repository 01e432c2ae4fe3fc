"""Batched, on-device augmentation for the tensor-resident loader (airbench style).

torchvision's transforms v2 draw one random parameter per call, so applied to a whole batch
they flip or crop every image the same way. These functions draw per image, on whatever
device the batch lives on, so the whole pipeline costs a few tensor ops per batch instead of
a Python call per image in DataLoader workers.
"""

from __future__ import annotations

import functools

import torch
import torch.nn.functional as F
from torch import Tensor


def batch_flip(images: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """Mirror a random half of the images left-right. ``images``: (B, C, H, W)."""
    flip = torch.rand(images.shape[0], device=images.device, generator=generator) < 0.5
    return torch.where(flip[:, None, None, None], images.flip(-1), images)


def batch_translate(images: Tensor, pad: int, generator: torch.Generator | None = None) -> Tensor:
    """Random crop after reflect padding, i.e. translate each image by up to ``pad`` pixels.

    Same result as ``RandomCrop(size, padding=pad, padding_mode="reflect")`` per image.
    """
    if pad == 0:
        return images
    b, _, h, w = images.shape
    dtype = images.dtype
    # reflect padding needs floats on some backends; uint8 -> float -> uint8 is exact
    padded = F.pad(images.float(), (pad, pad, pad, pad), mode="reflect")  # (B, C, H+2p, W+2p)
    dx = torch.randint(0, 2 * pad + 1, (b,), device=images.device, generator=generator)
    dy = torch.randint(0, 2 * pad + 1, (b,), device=images.device, generator=generator)
    rows = dy[:, None] + torch.arange(h, device=images.device)  # (B, H)
    cols = dx[:, None] + torch.arange(w, device=images.device)  # (B, W)
    # gather rows then columns: (B, C, H, W+2p) -> (B, C, H, W)
    out = padded.gather(2, rows[:, None, :, None].expand(-1, padded.shape[1], -1, padded.shape[3]))
    out = out.gather(3, cols[:, None, None, :].expand(-1, padded.shape[1], h, -1))
    return out.to(dtype)


@functools.lru_cache(maxsize=32)
def _statistics(
    mean: tuple[float, ...], std: tuple[float, ...], device: torch.device
) -> tuple[Tensor, Tensor]:
    """(1, C, 1, 1) mean and std on ``device``, made once: ``torch.tensor(..., device=cuda)``
    copies from the host and waits for the GPU, which once per batch would stall training."""
    with torch.inference_mode(False):  # usable later outside Lightning's inference mode too
        m = torch.tensor(mean, device=device).view(1, -1, 1, 1)
        s = torch.tensor(std, device=device).view(1, -1, 1, 1)
    return m, s


def normalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """uint8 (B, C, H, W) in [0, 255] -> float, standardised per channel."""
    m, s = _statistics(tuple(mean), tuple(std), images.device)
    return (images.float() / 255.0 - m) / s


def denormalize(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """Inverse of :func:`normalize`, clamped to [0, 1] for display."""
    m, s = _statistics(tuple(mean), tuple(std), images.device)
    return (images.float() * s + m).clamp(0, 1)
