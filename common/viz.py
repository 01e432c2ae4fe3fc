"""Figure helpers shared by the TensorBoard callbacks, ``litlab explain`` and serve/.

Each function takes plain tensors and returns a matplotlib Figure; nothing here knows about
Lightning, so the same picture can go to TensorBoard, a PNG file or a web page.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers; must precede pyplot
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torch import Tensor  # noqa: E402

# fonts that draw Hangul (NSMC reviews, Korean dates), tried in order; Debian's fonts-nanum
# (installed by .ci/run) provides the first. Without one, Hangul shows as boxes.
HANGUL_FONTS = ["NanumGothic", "Noto Sans CJK KR", "Noto Sans KR", "Malgun Gothic", "AppleGothic"]
_FONT_FILES = ["/usr/share/fonts/truetype/nanum/NanumGothic.ttf"]


def _hangul_fallback() -> str | None:
    """Make figures fall back to a Hangul font for glyphs DejaVu Sans lacks (matplotlib's
    per-glyph fallback); returns the font used, or None."""
    for path in _FONT_FILES:  # a font installed after matplotlib built its cache
        names = {f.name for f in font_manager.fontManager.ttflist}
        if "NanumGothic" not in names and Path(path).exists():
            font_manager.fontManager.addfont(path)
    names = {f.name for f in font_manager.fontManager.ttflist}
    font = next((f for f in HANGUL_FONTS if f in names), None)
    if font is not None:
        plt.rcParams["font.family"] = ["DejaVu Sans", font]
    return font


HANGUL_FONT = _hangul_fallback()


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


def overlay_heatmap(image: Tensor, heat: Tensor, alpha: float = 0.5, cmap: str = "jet") -> Tensor:
    """Blend a [0, 1] heat map (H, W) over an image (C, H, W) in [0, 1]: (H, W, 3) in [0, 1]."""
    rgb = _to_hwc(image)
    rgb = rgb[..., None].expand(*rgb.shape, 3) if rgb.ndim == 2 else rgb
    colour = torch.from_numpy(matplotlib.colormaps[cmap](heat.detach().float().cpu().numpy()))
    return (1 - alpha) * rgb + alpha * colour[..., :3].float()


def gradcam_figure(
    images: Tensor,
    cams: Sequence[Tensor],
    titles: Sequence[Sequence[str]],
    row_names: Sequence[str] = ("predicted", "true"),
) -> Figure:
    """Each image (N, C, H, W in [0, 1]) followed by its Grad-CAM overlays.

    ``cams[r]``: (N, H, W) maps in [0, 1]; ``titles[r][i]`` names the class explained in that
    panel ("cat 0.93"), ``row_names[r]`` the kind of target ("predicted", "true", "2nd").
    Several images are columns with one row per map; a single image is laid out as one row.
    """
    n, k = len(images), 1 + len(cams)
    rows, cols = (k, n) if n > 1 else (1, k)
    fig, axes = plt.subplots(rows, cols, figsize=(1.8 * cols, 1.9 * rows), squeeze=False)

    def at(r: int, i: int):  # panel r (0 = the image) of image i
        return axes[r, i] if n > 1 else axes[0, r]

    for ax in axes.flat:
        ax.axis("off")
    for i in range(n):
        at(0, i).imshow(_to_hwc(images[i]), cmap="gray", vmin=0, vmax=1)
        for r, cam in enumerate(cams):
            at(r + 1, i).imshow(overlay_heatmap(images[i], cam[i]))
            name = f"{row_names[r]}: " if n == 1 and r < len(row_names) else ""
            at(r + 1, i).set_title(name + titles[r][i], fontsize=7)
    if n > 1:
        for r, name in enumerate(row_names[: len(cams)]):
            ax = axes[r + 1, 0]
            ax.text(-0.08, 0.5, name, transform=ax.transAxes, rotation=90, va="center",
                    ha="right", fontsize=8)
    fig.suptitle("Grad-CAM: where the evidence for each class is", fontsize=9)
    fig.tight_layout()
    return fig


def spectrogram_figure(
    specs: Tensor,
    titles: Sequence[str],
    cams: Tensor | Sequence[Tensor | None] | None = None,
    colors: Sequence[str] | None = None,
    ncols: int = 5,
    seconds: float | None = None,
    suptitle: str = "",
) -> Figure:
    """Log-mel spectrograms (N, F, T) in dB, low frequencies at the bottom, one panel each.

    With ``cams`` (N, F, T) in [0, 1], each panel is its spectrogram in grey under that
    Grad-CAM map (``overlay_heatmap``): the time-frequency region that decided the class;
    a ``None`` among them leaves that panel a plain spectrogram.
    ``colors`` colour the titles (red for a wrong prediction); ``seconds`` labels the time
    axis of the bottom row.
    """
    n = len(specs)
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(2.8 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    extent = (0.0, seconds or specs.shape[-1], 0.0, specs.shape[-2])  # (left, right, bottom, top)
    for i, ax in enumerate(axes.flat[:n]):
        spec = specs[i].detach().float().cpu()
        cam = cams[i] if cams is not None else None
        if cam is None:
            ax.imshow(spec, origin="lower", aspect="auto", cmap="magma", extent=extent)
        else:
            scaled = (spec - spec.min()) / (spec.max() - spec.min()).clamp_min(1e-6)
            shown = overlay_heatmap(scaled[None], cam.detach().float().cpu(), alpha=0.45)
            ax.imshow(shown, origin="lower", aspect="auto", extent=extent)
        ax.set_title(titles[i], fontsize=8, color=colors[i] if colors else "black")
        bottom, left = i + ncols >= n, i % ncols == 0
        if bottom or left:
            ax.axis("on")
            ax.set_yticks([])
            ax.tick_params(labelsize=6)
        if bottom:
            ax.set_xlabel("seconds" if seconds else "frames", fontsize=7)
        else:
            ax.set_xticks([])
        if left:
            ax.set_ylabel("mel bands (low to high)", fontsize=7)
    if suptitle:
        fig.suptitle(suptitle, fontsize=9)
    fig.tight_layout()
    return fig


def trim(weights: Tensor, length: int, seq_len: int, max_tokens: int) -> Tensor:
    """Cut (heads, Tq, Tk) to the real tokens: axes as long as the input lose the padding."""
    _, tq, tk = weights.shape
    keep = min(length, max_tokens)
    if tq == seq_len:
        weights = weights[:, :keep]
    if tk == seq_len:
        weights = weights[:, :, :keep]
    return weights


def query_labels(weights: Tensor, tokens: list[str]) -> list[str]:
    """Row labels: the tokens for self-attention, ``q0, q1, ...`` otherwise (e.g. pooling)."""
    tq = weights.shape[1]
    return tokens if tq == len(tokens) else [f"q{j}" for j in range(tq)]


def attention_figure(
    weights: Tensor,
    keys: Sequence[str],
    queries: Sequence[str] | None = None,
    title: str = "",
    max_heads: int = 12,  # every head of BERT-base and MiniLM
) -> Figure:
    """One heat map per head: ``weights`` (heads, Tq, Tk); rows attend to columns.

    Query rows are labelled with ``queries`` (default: the keys, as in self-attention).
    Weights are shown as they are, so a causal model shows an empty upper triangle.
    """
    w = weights.detach().float().cpu()[:max_heads]
    heads, tq, tk = w.shape
    queries = list(keys) if queries is None else list(queries)
    ncols = min(heads, 4)
    nrows = math.ceil(heads / ncols)
    cell = max(2.2, min(0.22 * max(tq, tk), 6.0))
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(cell * ncols + 1.0, cell * nrows * max(tq / tk, 0.25) + 0.8),
        squeeze=False,
    )
    for ax in axes.flat:
        ax.axis("off")
    for h in range(heads):
        ax = axes.flat[h]
        ax.axis("on")
        ax.imshow(w[h], cmap="viridis", vmin=0, vmax=max(w[h].max().item(), 1e-6), aspect="auto")
        size = 7 if max(tq, tk) <= 24 else 5
        if tk <= 64:
            ax.set_xticks(range(tk), [_show(t) for t in keys], rotation=90, fontsize=size)
        if tq <= 64:
            ax.set_yticks(range(tq), [_show(t) for t in queries], fontsize=size)
        ax.set_title(f"head {h}", fontsize=8)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def _show(token: str) -> str:
    """Whitespace made visible on an axis."""
    return token.replace("\n", "\u21b5").replace(" ", "\u00b7") or "\u2205"


def token_attribution_figure(
    tokens: Sequence[str], scores: Tensor, title: str = "", per_line: int = 12
) -> Figure:
    """Tokens (or readable pieces, ``common/pieces.py``) as coloured boxes: green pushed
    towards the explained class, red against."""
    s = scores.detach().float().cpu()
    scale = s.abs().max().clamp_min(1e-12)
    cmap = matplotlib.colormaps["RdYlGn"]
    lines = math.ceil(max(len(tokens), 1) / per_line)
    fig, ax = plt.subplots(figsize=(10, 0.45 * lines + 0.7))
    ax.axis("off")
    ax.set_xlim(0, per_line)
    ax.set_ylim(lines, 0)
    for i, (tok, v) in enumerate(zip(tokens, s.tolist())):
        row, col = divmod(i, per_line)
        strength = v / scale.item()
        word = tok.strip() or _show(tok)
        word = word if len(word) <= 14 else word[:13] + "\u2026"
        ax.text(col + 0.5, row + 0.5, word, ha="center",
                va="center", fontsize=8, color="white" if abs(strength) > 0.6 else "black",
                bbox={"boxstyle": "round,pad=0.25", "fc": cmap(0.5 + 0.5 * strength),
                      "ec": "none"})
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


def token_attribution_html(tokens: Sequence[str], scores: Tensor) -> str:
    """The same colouring as HTML spans (for TensorBoard's text tab and the web app); a
    token's leading whitespace stays outside its span, so words are coloured, not spaces."""
    s = scores.detach().float().cpu()
    scale = s.abs().max().clamp_min(1e-12).item()
    spans = []
    for tok, v in zip(tokens, s.tolist()):
        a = min(abs(v) / scale, 1.0)
        rgb = "22,163,74" if v >= 0 else "220,38,38"
        word = tok.lstrip() or tok
        spans.append(
            f"{html.escape(tok[: len(tok) - len(word)])}"
            f'<span title="{v:+.4f}" style="background: rgba({rgb},{a:.2f}); padding: 0 2px">'
            f"{html.escape(word)}</span>"
        )
    return "".join(spans)


def figure_to_tensor(fig: Figure) -> Tensor:
    """Render a figure to a (3, H, W) uint8 tensor and close it."""
    fig.canvas.draw()
    rgba = torch.frombuffer(bytearray(fig.canvas.buffer_rgba()), dtype=torch.uint8)
    w, h = fig.canvas.get_width_height()
    plt.close(fig)
    return rgba.view(h, w, 4)[..., :3].permute(2, 0, 1).contiguous()


def sentence_score_figure(
    scores: Sequence[float],
    picked: Sequence[int],
    reference: Sequence[int] = (),
    title: str = "",
) -> Figure:
    """Bars of sentence scores in article order: picked dark blue, others light; reference
    sentences (when known) outlined in black."""
    fig, ax = plt.subplots(figsize=(max(4.0, 0.28 * len(scores) + 1.5), 2.6),
                           layout="constrained")
    chosen, ref = set(picked), set(reference)
    colors = ["#1f4e9c" if i in chosen else "#b8c8e6" for i in range(len(scores))]
    bars = ax.bar(range(1, len(scores) + 1), scores, color=colors)
    for i, bar in enumerate(bars):
        if i in ref:
            bar.set_edgecolor("black")
            bar.set_linewidth(1.5)
    ax.set_xlabel("sentence" + ("  (outlined: in the reference summary)" if ref else ""))
    ax.set_ylabel("score")
    ax.set_ylim(0, 1)
    ax.set_xlim(0.4, len(scores) + 0.6)
    ax.set_title(title or "dark: picked for the summary", fontsize=9)
    return fig
