"""Audio in serve/: the ``/classify/audio`` answer and the web app's Audio tab.

``classify_audio(served, blob, ...)`` reads an upload (WAV, FLAC, OGG or MP3; any rate,
channels and length up to 30 s), prepares it with the one preprocessing of training and
``litlab explain`` (``common/audio_io.py``) and answers with the top digits, a warning when
the recording clips, and, with ``explain``, the spectrogram with a Grad-CAM overlay per top
digit as PNG (``common/audio_explain.py``). A user's mistakes become ``InputError``: 400 for
an empty upload, 413 for a file over the size limit or a recording over 30 s, 415 for a file
that is not audio, 422 for a zero-length or silent recording.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import torch
from fastapi import FastAPI, File, Form, UploadFile
from pydantic import BaseModel, Field

from litlab.common.attribution import evaluating
from litlab.common.audio_explain import classify_clip
from litlab.common.audio_io import MAX_SECONDS, AudioError, read_audio
from litlab.serve.payloads import DRAWING, InputError, png

if TYPE_CHECKING:
    from litlab.serve.hub import ModelHub, Served

MAX_AUDIO_BYTES = 10 * 1024 * 1024  # 10 MiB: a minute of 44.1 kHz stereo, 10 of 8 kHz mono
STATUS = {"empty": 400, "too_long": 413, "unreadable": 415, "no_samples": 422, "silent": 422}


def classify_audio(
    served: Served, blob: bytes, top_k: int = 3, explain: bool = False,
    max_bytes: int = MAX_AUDIO_BYTES,
) -> dict:  # fmt: skip
    """``{"model", "top": [{"label", "prob"}], "warning", "seconds", "gradcam_png"}``
    (``gradcam_png``: PNG bytes with ``explain``, else None)."""
    if len(blob) > max_bytes:
        raise InputError(
            f"the recording is {len(blob) / 2**20:.1f} MiB; the limit is "
            f"{max_bytes / 2**20:.0f} MiB", 413,
        )  # fmt: skip
    try:
        wave, rate = read_audio(blob, MAX_SECONDS)
        if explain:  # hooks on the model and a matplotlib figure: one at a time
            with served.lock, DRAWING:
                answer = classify_clip(served.model, served.data, wave, rate, top_k, True)
        else:
            with served.lock, evaluating(served.model), torch.no_grad():
                answer = classify_clip(served.model, served.data, wave, rate, top_k)
    except AudioError as err:
        raise InputError(str(err), STATUS.get(err.reason, 422)) from err
    return {
        "model": f"{served.name}@{served.version}",
        "top": [{"label": c, "prob": p} for c, p in answer.top],
        "warning": answer.warning,
        "seconds": answer.seconds,
        "gradcam_png": png(answer.figure) if answer.figure is not None else None,
    }


# --- the JSON API -------------------------------------------------------------------------


class AudioScored(BaseModel):
    label: str
    prob: float


class AudioClassification(BaseModel):
    model: str
    top: list[AudioScored]
    warning: str | None = Field(
        None, description="why the answer may be off (a clipped recording); null when fine"
    )
    seconds: float = Field(description="the length of the recording as sent")
    gradcam_png: str | None = Field(
        None, description="with explain: base64 PNG, the spectrogram and a Grad-CAM overlay "
        "per top class; else null",
    )  # fmt: skip


def add_routes(app: FastAPI, hub: ModelHub, responses: dict, dependencies: list) -> None:
    """``POST /classify/audio`` on ``app``."""
    import base64

    @app.post("/classify/audio", response_model=AudioClassification, responses=responses,
              dependencies=dependencies)  # fmt: skip
    def classify_audio_route(
        file: Annotated[UploadFile, File(description="WAV (or FLAC, OGG, MP3), up to 30 s")],
        model: Annotated[str, Form(min_length=1, max_length=100)],
        top_k: Annotated[int, Form(ge=1, le=10)] = 3,
        explain: Annotated[bool, Form(description="add the Grad-CAM picture")] = False,
    ) -> dict:
        out = hub.classify_audio(model, file.file.read(hub.max_audio_bytes + 1), top_k, explain)
        picture = out["gradcam_png"]
        return {**out, "gradcam_png": base64.b64encode(picture).decode() if picture else None}


# --- the web app --------------------------------------------------------------------------


def audio_tab(hub: ModelHub, names: list[str], friendly) -> None:
    """Record from the microphone or upload a file; the top digits and where they were heard."""
    import gradio as gr
    from PIL import Image

    def run(model: str, path: str | None) -> tuple[dict, Image.Image, str]:
        if not path:
            raise InputError("record or upload a recording first")
        out = hub.classify_audio(model, Path(path).read_bytes(), top_k=3, explain=True)
        top = {t["label"]: t["prob"] for t in out["top"]}
        note = f'<p class="litlab-warning">\u26a0 {out["warning"]}</p>' if out["warning"] else ""
        return top, Image.open(io.BytesIO(out["gradcam_png"])), note

    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            model = gr.Dropdown(names, value=names[0], label="model", elem_id="audio-model",
                                min_width=200)  # fmt: skip
            recording = gr.Audio(sources=["upload", "microphone"], type="filepath",
                                 label="say a digit (0-9) or upload a WAV file",
                                 elem_id="audio-input")  # fmt: skip
            button = gr.Button("Classify", variant="primary", elem_id="audio-run")
        with gr.Column(min_width=280):
            top = gr.Label(num_top_classes=3, label="top digits", elem_id="audio-top")
            note = gr.HTML(elem_id="audio-warning")
            cam = gr.Image(label="spectrogram and Grad-CAM", format="png",
                           elem_id="audio-gradcam", interactive=False)  # fmt: skip
    button.click(friendly(run), [model, recording], [top, cam, note], api_name="classify_audio")
