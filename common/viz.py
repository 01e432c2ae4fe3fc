"""Figure helpers shared by the TensorBoard callbacks, ``litlab explain`` and serve/.

Each function takes plain tensors and returns a matplotlib Figure; nothing here knows about
Lightning, so the same picture can go to TensorBoard, a PNG file or a web page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import Tensor  # noqa: E402


def _to_hwc(image: Tensor) -> Tensor:
    """(C, H, W) in [0, 1] -> (H, W, C) or (H, W) for imshow."""
    image = image.detach().float().cpu()
    return image[0] if image.shape[0] == 1 else image.permute(1, 2, 0)


def prediction_grid(
    images: Tensor,
    preds: Sequence[int],
    targets: Sequence[int],
    classes: Sequence[str],
    ncols: int = 8,
) -> Figure:
    """Images (N, C, H, W) in [0, 1] titled "predicted (true)"; mistakes in red."""
    n = len(images)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.6 * ncols, 1.8 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, p, t in zip(axes.flat, images, preds, targets):
        ax.imshow(_to_hwc(img), cmap="gray", vmin=0, vmax=1)
        ok = int(p) == int(t)
        title = classes[int(p)] if ok else f"{classes[int(p)]}\n({classes[int(t)]})"
        ax.set_title(title, fontsize=8, color="green" if ok else "red")
    fig.tight_layout()
    return fig


def confusion_matrix_figure(
    matrix: Tensor, classes: Sequence[str], normalize: bool = True
) -> Figure:
    """Rows are true classes, columns predictions; each row normalised to sum to 1."""
    m = matrix.detach().float().cpu()
    if normalize:
        m = m / m.sum(dim=1, keepdim=True).clamp_min(1)
    k = len(classes)
    size = min(max(4.0, 0.55 * k), 16.0)
    fig, ax = plt.subplots(figsize=(size + 1.5, size))
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    if k <= 20:  # labels and numbers are unreadable beyond that
        ax.set_xticks(range(k), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(k), classes, fontsize=8)
        for i in range(k):
            for j in range(k):
                v = m[i, j].item()
                if v >= 0.005:
                    color = "white" if v > 0.5 else "black"
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6, color=color)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    acc = matrix.diag().sum() / matrix.sum().clamp_min(1)
    ax.set_title(f"confusion matrix (accuracy {acc:.3f})")
    fig.tight_layout()
    return fig


def feature_map_figure(
    image: Tensor, activations: Tensor, title: str, max_channels: int = 15
) -> Figure:
    """The input image, then the first ``max_channels`` channels of one layer's output.

    ``activations``: (C, H, W) for one image. Each channel is min-max scaled on its own,
    since what matters is where a filter responds, not its scale.
    """
    c = min(max_channels, activations.shape[0])
    ncols = 8
    nrows = math.ceil((c + 1) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.4 * ncols, 1.5 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    axes.flat[0].imshow(_to_hwc(image), cmap="gray", vmin=0, vmax=1)
    axes.flat[0].set_title("input", fontsize=8)
    acts = activations[:c].detach().float().cpu()
    lo = acts.amin(dim=(1, 2), keepdim=True)
    hi = acts.amax(dim=(1, 2), keepdim=True)
    acts = (acts - lo) / (hi - lo).clamp_min(1e-8)
    for i in range(c):
        axes.flat[i + 1].imshow(acts[i], cmap="viridis", vmin=0, vmax=1)
        axes.flat[i + 1].set_title(f"ch {i}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def figure_to_tensor(fig: Figure) -> Tensor:
    """Render a figure to a (3, H, W) uint8 tensor and close it."""
    fig.canvas.draw()
    rgba = torch.frombuffer(bytearray(fig.canvas.buffer_rgba()), dtype=torch.uint8)
    w, h = fig.canvas.get_width_height()
    plt.close(fig)
    return rgba.view(h, w, 4)[..., :3].permute(2, 0, 1).contiguous()
