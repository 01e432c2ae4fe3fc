"""``POST /classify/audio`` and the Audio tab's function on the tiny registry: the model's own
answer for a WAV of any rate and channels, and a clear 4xx (never a 500) for every bad
recording. The browser drives the tab in tests/test_serve_browser.py; the fuzzer covers the
endpoint in tests/test_serve_fuzz.py."""

from __future__ import annotations

import base64
import io
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_data import digit_tone, wav
from fastapi.testclient import TestClient
from PIL import Image

from litlab.common.audio_io import prepare, read_audio
from litlab.common.registry import load
from litlab.serve.api import create_app
from litlab.serve.hub import ModelHub

MODEL = "fsdd-cnn"


@pytest.fixture(scope="module")
def hub(serve_registry: Path) -> ModelHub:
    return ModelHub(serve_registry)


@pytest.fixture(scope="module")
def client(hub: ModelHub) -> TestClient:
    return TestClient(create_app(hub, ui=False))


def post(client: TestClient, blob: bytes, model: str = MODEL, **form):
    files = {"file": ("digit.wav", blob, "audio/wav")}
    return client.post("/classify/audio", files=files, data={"model": model, **form})


def expected_top(serve_registry: Path, blob: bytes, k: int = 3) -> list[tuple[str, float]]:
    """What the exported model says about the recording, prepared as in training."""
    loaded = load(MODEL, serve_registry)
    wave, rate = read_audio(blob)
    with torch.no_grad():
        probs = loaded.model(loaded.data.encode_clips(prepare(wave, rate)[None])).softmax(-1)[0]
    p, i = probs.topk(k)
    return [(loaded.data.classes[c], v) for c, v in zip(i.tolist(), p.tolist())]


@pytest.mark.parametrize(
    "blob",
    [wav(digit_tone(4, 0.5)), wav(digit_tone(4, 0.5, rate=44100), rate=44100),
     wav(np.stack([digit_tone(4, 0.5, rate=96000)] * 2, axis=1), rate=96000, subtype="PCM_24"),
     wav(np.concatenate([np.zeros(8000 * 5, np.float32), digit_tone(4, 0.5)]))],
    ids=["8khz", "44.1khz", "96khz-24bit-stereo", "6s-mostly-silence"],
)  # fmt: skip
def test_classify_audio_gives_the_models_own_top_digits(client, serve_registry, blob: bytes):
    r = post(client, blob)
    assert r.status_code == 200, r.text
    body = r.json()
    top = expected_top(serve_registry, blob)
    assert [t["label"] for t in body["top"]] == [c for c, _ in top]
    assert [t["prob"] for t in body["top"]] == pytest.approx([p for _, p in top], abs=1e-5)
    assert body["warning"] is None and body["gradcam_png"] is None
    assert body["model"] == f"{MODEL}@v1" and body["seconds"] > 0.4


def test_explain_adds_the_spectrogram_with_gradcam(client: TestClient):
    r = post(client, wav(digit_tone(7, 0.5)), top_k=2, explain="true")
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["top"]) == 2
    png = base64.b64decode(body["gradcam_png"])
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).width > 400


def test_a_clipping_recording_is_answered_with_a_warning(client: TestClient):
    loud = np.clip(digit_tone(2, 0.5) * 20, -1, 1)
    r = post(client, wav(loud))
    assert r.status_code == 200 and "clipped" in r.json()["warning"]


@pytest.mark.parametrize(
    ("blob", "status", "says"),
    [
        (b"", 400, "empty"),
        (b"GIF89a this is a picture, not a sound", 415, "not a readable recording"),
        (wav(digit_tone(1, 0.5))[:30], 415, "not a readable recording"),  # a truncated header
        (wav(np.zeros(0, np.float32)), 422, "no samples"),
        (wav(np.zeros(8000, np.float32)), 422, "silent"),
        (wav(np.zeros(8000 * 600, np.float32) + 0.1), 413, "600.0 s long; the limit is 30 s"),
    ],
    ids=["empty", "not-audio", "truncated", "zero-length", "silence", "ten-minutes"],
)
def test_bad_recordings_get_a_clear_4xx(client: TestClient, blob: bytes, status: int, says: str):
    r = post(client, blob)
    assert r.status_code == status and says in r.json()["detail"], r.text


def test_an_upload_over_the_size_limit_unknown_model_and_wrong_kind(client, hub, monkeypatch):
    assert post(client, wav(digit_tone(1, 0.5)), model="nope").status_code == 404
    r = post(client, wav(digit_tone(1, 0.5)), model="mnist-cnn")
    assert r.status_code == 422 and "not an audio classifier" in r.json()["detail"]
    assert post(client, wav(digit_tone(1, 0.5)), top_k=0).status_code == 422
    monkeypatch.setattr(hub, "max_audio_bytes", 1000)
    r = post(client, wav(digit_tone(1, 0.5)))
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_the_audio_tab_answers_an_uploaded_file(hub: ModelHub, tmp_path: Path):
    """The tab's function (what the browser's Classify button calls): top digits, the
    Grad-CAM picture, and no warning for a clean recording; a missing file is an InputError."""
    import gradio as gr

    from litlab.serve.audio import audio_tab
    from litlab.serve.payloads import InputError
    from litlab.serve.webapp import _friendly

    path = tmp_path / "five.wav"
    path.write_bytes(wav(digit_tone(5, 0.5)))
    with gr.Blocks() as app:
        audio_tab(hub, [MODEL], _friendly)
    run = next(fn for fn in app.fns.values() if fn.api_name == "classify_audio").fn
    top, picture, note = run(MODEL, str(path))
    assert len(top) == 3 and picture.width > 400 and note == ""
    with pytest.raises(gr.Error, match="record or upload"):
        run(MODEL, None)
    assert issubclass(InputError, ValueError)
