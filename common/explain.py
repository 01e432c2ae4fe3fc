"""``litlab explain``: the callbacks' pictures for inputs of your own, as PNG and HTML files.

    litlab explain --ckpt logs/vision/cifar10_quick/version_0/checkpoints/best.ckpt \\
        --input cat.jpg dog.png --out explained/
    litlab explain --ckpt <sentiment run>/checkpoints/best.ckpt --input reviews.txt --out out/

Images (.png, .jpg, .jpeg, .gif, .webp) get a Grad-CAM figure for their top classes;
recordings (.wav, .flac, .ogg, .mp3) for an audio model get their spectrogram with a Grad-CAM
overlay per top class (``common/audio_explain.py``, after the one preprocessing of
``common/audio_io.py``: any rate, channels and length); text
files get, per non-empty line, coloured attributions on whole words (``common/pieces.py``;
PNG and a standalone HTML page) and, for models with attention, one attention figure per
layer (over the model's tokens). A line mostly outside the model's language or vocabulary
(``common/language.py``) gets a warning, printed and in the page. ``predictions.json`` lists
every prediction (and warning). The computations are the callbacks' own
(``common/attribution.py``) and the figures come from ``common/viz.py``; serve/ calls
``explain_images`` / ``explain_texts``.

A file that cannot be read or does not suit the model is reported in one line and skipped;
the others are still explained, and the exit status is 2 (a user error, as everywhere).
"""

from __future__ import annotations

import io
import json
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image, UnidentifiedImageError
from torch import Tensor, nn

from litlab.common.attribution import describe, evaluating, grad_cam, integrated_gradients
from litlab.common.checkpoints import CheckpointError, load_inference
from litlab.common.contracts import conforms, require
from litlab.common.errors import CommandParser
from litlab.common.inference import device_of
from litlab.common.language import language_warning
from litlab.common.pieces import text_pieces, words_and_scores
from litlab.common.protocols import (
    AttentionSource,
    GradCamSource,
    ImageInputs,
    TextData,
    TokenAttributionSource,
)
from litlab.common.viz import (
    attention_figure,
    gradcam_figure,
    query_labels,
    token_attribution_figure,
    token_attribution_html,
    trim,
)

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".webp"}
TEXT_SUFFIXES = {".txt"}
AUDIO_SUFFIXES = {".wav", ".flac", ".ogg", ".mp3"}  # common/audio_io.py reads them
ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")
GREY_MODES = ("1", "L", "I", "I;16", "F")  # Pillow's single-channel modes
UNREADABLE = (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError)


class ImageTooLarge(ValueError):
    """An image whose pixel count is over the limit (a small file can decode into a huge one)."""


def decode_image(blob: bytes, max_pixels: int | None = None) -> Tensor:
    """Encoded image bytes (PNG, JPEG, GIF, WebP, ...) -> uint8 (C, H, W): one channel for a
    grey image, three for any other (palettes expanded, alpha dropped), as ``encode_images``
    takes them. Raises one of :data:`UNREADABLE` for bytes that are not an image, and
    :class:`ImageTooLarge` over ``max_pixels``. Decoded with Pillow (matplotlib's own
    dependency): importing torchvision.io would cost every command seconds."""
    with Image.open(io.BytesIO(blob)) as img:
        if max_pixels is not None and img.width * img.height > max_pixels:
            raise ImageTooLarge(f"the image is {img.width}x{img.height} pixels; too large")
        img = img.convert("L" if img.mode in GREY_MODES else "RGB")
        array = np.asarray(img, dtype=np.uint8)
    array = array[:, :, None] if array.ndim == 2 else array  # (H, W, C)
    return torch.from_numpy(array.copy()).permute(2, 0, 1)


@dataclass
class Explanation:
    """One input's prediction and pictures (figures are closed by whoever saves them)."""

    top: list[tuple[str, float]]
    figures: dict[str, Figure] = field(default_factory=dict)
    html: str | None = None
    delta: float | None = None
    warning: str | None = None  # the text is mostly outside the model's language


def explain_images(
    model: nn.Module, data: ImageInputs, images: list[Tensor], top_k: int = 3
) -> list[Explanation]:
    """Top-k classes and a Grad-CAM figure (one overlay per top class) for uint8 images;
    ``model`` is a ``GradCamSource`` (``ImagePredictor`` or the ``ImageClassifier``)."""
    require(data, ImageInputs, "explaining images")
    require(model, GradCamSource, "explaining images")
    x = data.encode_images(images).to(device_of(model))
    with evaluating(model), torch.no_grad():
        probs = model(x).float().softmax(dim=-1)
    k = min(top_k, probs.shape[1], len(ORDINALS))
    top_p, top_i = probs.topk(k, dim=-1)  # (N, k)
    with evaluating(model):
        cams = [grad_cam(model, model.gradcam_layer(), x, top_i[:, r]) for r in range(k)]
    shown = data.denormalize(x).clamp(0, 1)
    out = []
    for i in range(len(x)):
        top = [(data.classes[c], p) for c, p in zip(top_i[i].tolist(), top_p[i].tolist())]
        titles = [[f"{name} {p:.2f}"] for name, p in top]
        fig = gradcam_figure(shown[i : i + 1], [c[i : i + 1] for c in cams], titles, ORDINALS)
        out.append(Explanation(top, {"gradcam": fig}))
    return out


def explain_texts(
    model: nn.Module,
    data: TextData,
    texts: list[str],
    n_steps: int = 50,
    others: Mapping[str, str | None] | None = None,
) -> list[Explanation]:
    """Class probabilities, word attributions (figure + HTML), attention figures and a
    language warning (``others``: models to suggest instead, name -> language code)."""
    require(data, TextData, "explaining text")
    require(model, TokenAttributionSource, "explaining text")
    batch = data.encode_texts(texts)
    ids, lengths = (t.to(device_of(model)) for t in batch)
    with evaluating(model):
        att = integrated_gradients(
            model, model.embedding_layer(), ids, lengths, data.pad_id, n_steps=n_steps
        )
        maps: dict[str, Tensor] = {}
        if conforms(model, AttentionSource):
            with torch.no_grad():
                maps = model.attention_maps(type(batch)(ids, lengths))
    out = []
    for i in range(len(texts)):
        n = int(lengths[i])
        tokens = data.token_strings(ids[i, :n])
        words, scores = words_and_scores(text_pieces(data, ids[i, :n], att.scores[i, :n]))
        scores = torch.tensor(scores)
        line = describe(att, i, data.classes)
        figs = {"attributions": token_attribution_figure(words, scores, line)}
        for name, w in maps.items():
            w = trim(w[i], n, ids.shape[1], max_tokens=64)
            shown = tokens[:64]
            figs[f"attention-{name}"] = attention_figure(w, shown, query_labels(w, shown), name)
        top = sorted(zip(data.classes, att.probs[i].tolist()), key=lambda cp: -cp[1])
        warning = language_warning(data, texts[i], ids[i, :n].tolist(), others)
        page = token_attribution_html(words, scores)
        html = f"<p>{line}</p><p>{page}</p>"
        if warning:
            html = f'<p class="litlab-warning">\u26a0 {escape(warning)}</p>{html}'
        out.append(Explanation(top, figs, html, float(att.delta[i]), warning))
    return out


def explain_audio(model: nn.Module, data: object, path: Path, top_k: int = 3) -> Explanation:
    """Top-k classes of a recording and its spectrogram with Grad-CAM (``gradcam``)."""
    from litlab.common.audio_explain import classify_clip
    from litlab.common.audio_io import read_audio

    wave, rate = read_audio(path)  # AudioError is a ValueError: reported, then skipped
    answer = classify_clip(model, data, wave, rate, top_k, explain=True)
    return Explanation(answer.top, {"gradcam": answer.figure}, warning=answer.warning)


def _html_page(body: str) -> str:
    return (
        '<!doctype html><html><head><meta charset="utf-8"><title>litlab explain</title></head>'
        f'<body style="font: 16px/1.8 sans-serif; max-width: 48em">{body}</body></html>\n'
    )


def _save(exp: Explanation, stem: str, out: Path) -> list[str]:
    written = []
    for name, fig in exp.figures.items():
        path = out / f"{stem}.{name}.png"
        fig.savefig(path, dpi=120)
        fig.clf()
        written.append(path.name)
    if exp.html is not None:
        (out / f"{stem}.attributions.html").write_text(_html_page(exp.html), encoding="utf-8")
        written.append(f"{stem}.attributions.html")
    return written


def _read_image(path: Path) -> Tensor:
    try:
        return decode_image(path.read_bytes())
    except UNREADABLE as err:
        raise ValueError(f"{path}: not a readable image ({type(err).__name__})") from err


def _read_lines(path: Path) -> list[str]:
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    except UnicodeDecodeError as err:
        raise ValueError(f"{path}: not UTF-8 text") from err
    if not any(lines):
        raise ValueError(f"{path}: no text in it")
    return [ln for ln in lines if ln]


def run_explain(ckpt: str, inputs: list[str], out: str, top_k: int = 3, n_steps: int = 50) -> int:
    """Explain every input into ``out``; returns the exit status (2 if any input failed)."""
    import matplotlib.pyplot as plt

    start = time.perf_counter()
    try:
        model, data = load_inference(ckpt)
    except CheckpointError as err:
        print(f"litlab explain: {err}", file=sys.stderr)
        return 2
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    results, failed = {}, 0
    for name in inputs:
        path = Path(name)
        try:
            if not path.is_file():
                raise ValueError(f"{path}: no such file")
            suffix = path.suffix.lower()
            if suffix in IMAGE_SUFFIXES:
                exps = explain_images(model, data, [_read_image(path)], top_k)
                stems = [path.stem]
            elif suffix in AUDIO_SUFFIXES:
                exps = [explain_audio(model, data, path, top_k)]
                stems = [path.stem]
            elif suffix in TEXT_SUFFIXES:
                lines = _read_lines(path)
                exps = explain_texts(model, data, lines, n_steps)
                stems = [f"{path.stem}-{i}" for i in range(len(lines))]
            else:
                kinds = sorted(IMAGE_SUFFIXES | TEXT_SUFFIXES | AUDIO_SUFFIXES)
                raise ValueError(f"{path}: unknown input type (use one of {kinds})")
        except (ValueError, TypeError) as err:
            print(f"litlab explain: skipped {err}", file=sys.stderr)
            failed += 1
            continue
        for stem, exp in zip(stems, exps):
            files = _save(exp, stem, out_dir)
            results[stem] = {"input": str(path), "top": exp.top, "files": files}
            if exp.delta is not None:
                results[stem]["ig_delta"] = exp.delta
            if exp.warning:
                results[stem]["warning"] = exp.warning
            print(f"{stem}: {exp.top[0][0]} ({exp.top[0][1]:.2f}) -> {', '.join(files)}")
            if exp.warning:
                print(f"{stem}: warning: {exp.warning}")
        plt.close("all")
    (out_dir / "predictions.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    took = time.perf_counter() - start
    print(f"explained {len(results)} input(s) in {took:.2f} s (model loading included) -> {out}")
    return 2 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="litlab explain", description=__doc__.split("\n")[0])
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by litlab fit")
    parser.add_argument("--input", nargs="+", required=True, help="image, .wav or .txt files")
    parser.add_argument("--out", required=True, help="folder for the PNG / HTML files")
    parser.add_argument("--top-k", type=int, default=3, help="Grad-CAM maps per image")
    parser.add_argument("--n-steps", type=int, default=50, help="integrated-gradient steps")
    args = parser.parse_args(argv)
    return run_explain(args.ckpt, args.input, args.out, args.top_k, args.n_steps)
