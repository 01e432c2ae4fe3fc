"""schemathesis fuzzes the JSON API of ``litlab serve`` in-process (no socket): every
operation of ``/openapi.json``, valid and invalid requests, and every answer must be a
non-5xx that the schema documents (status code, content type, JSON body).

So that the fuzzer reaches the models and not only 404s, the schema it reads is the app's own
with test-only edits (``fuzz_schema``): each ``model`` field becomes an ``enum`` of the served
models of the operation's kind, each image upload draws from real images of several formats
and modes, broken ones and random bytes, and chat speakers are often names the model can
spell. Negative cases still send names outside the enum, which the server answers with 404.

    pytest -s tests/test_serve_fuzz.py                     # prints the cases per operation
    SERVE_FUZZ_EXAMPLES=50 pytest -s tests/test_serve_fuzz.py
    python benchmarks/serve_fuzz.py --examples 200 [--root models]   # any registry
"""

from __future__ import annotations

import copy
import io
import os
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pytest
import schemathesis
import torch
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from PIL import Image
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from litlab.common.sampling import sample_next
from litlab.serve.api import create_app
from litlab.serve.hub import AUDIO, IMAGE, LM, SUMMARY, TEXT, ModelHub

EXAMPLES = int(os.environ.get("SERVE_FUZZ_EXAMPLES", "10"))  # per operation and mode
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
KIND_OF_PATH = {
    "/classify": IMAGE,
    "/explain/image": IMAGE,
    "/sentiment": TEXT,
    "/explain/text": TEXT,
    "/generate": LM,
    "/chat": LM,
    "/summarize": SUMMARY,
    "/classify/audio": AUDIO,
}
SPEAKERS = ["ROMEO", "JULIET"]  # names the tiny test model can spell (its vocabulary: no Y)
KOREAN_CHAT = "ko-chat"  # its own names (사용자 / 챗봇) are the default, so none is set
IMAGE_FORMAT = "litlab-image"  # the schemathesis string format the uploads are drawn from
AUDIO_FORMAT = "litlab-audio"  # and the recordings

Counts = dict[str, Counter[int]]  # operation -> status code -> cases


def _image(mode: str, size: tuple[int, int], fmt: str = "PNG", seed: int = 0) -> bytes:
    g = np.random.default_rng(seed)
    channels = {"RGB": 3, "RGBA": 4}.get(mode)
    shape = (size[1], size[0]) + ((channels,) if channels else ())
    img = Image.fromarray(g.integers(0, 256, shape, dtype=np.uint8), mode if channels else "L")
    img = img if channels or mode == "L" else img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def sample_uploads() -> list[bytes]:
    """Real images of every format and mode a browser may send, and some that are not."""
    good = [
        _image("L", (28, 28)),
        _image("RGB", (40, 30)),
        _image("RGBA", (16, 48), seed=1),
        _image("1", (9, 9)),
        _image("P", (20, 20), "GIF"),
        _image("I;16", (8, 8)),
        _image("RGB", (33, 17), "JPEG"),
        _image("RGB", (12, 12), "WEBP"),
        _image("L", (1, 1)),
    ]
    huge = io.BytesIO()
    Image.new("L", (4100, 4100)).save(huge, "PNG")  # a small file that decodes into 16.8 MP
    return good + [good[1][:60], b"", b"GIF89a not really", huge.getvalue()]


def sample_recordings() -> list[bytes]:
    """WAV files of the rates, widths and channels a user may send, and broken ones (made
    here: benchmarks/serve_fuzz.py loads this file alone)."""
    import soundfile

    def wav(samples: np.ndarray, rate: int = 8000, subtype: str = "PCM_16") -> bytes:
        buf = io.BytesIO()
        soundfile.write(buf, samples, rate, subtype=subtype, format="WAV")
        return buf.getvalue()

    def tone_at(hz: float, rate: int, seconds: float) -> np.ndarray:
        t = np.arange(round(seconds * rate)) / rate
        return (0.5 * np.sin(2 * np.pi * hz * t) * np.sin(np.pi * t / seconds)).astype(np.float32)

    tone = tone_at(1050, 8000, 0.4)
    good = [
        wav(tone),
        wav(tone_at(2300, 44100, 0.3), rate=44100),
        wav(np.stack([tone_at(550, 96000, 0.5)] * 2, axis=1), rate=96000, subtype="PCM_24"),
        wav(np.clip(tone * 30, -1, 1)),  # clipping: answered with a warning
        wav(np.concatenate([np.zeros(20000, np.float32), tone])),  # mostly silence
    ]
    broken = [b"", wav(tone)[:40], wav(np.zeros(0, np.float32)), wav(np.zeros(4000, np.float32)),
              sample_uploads()[1]]  # fmt: skip
    return good + broken


schemathesis.openapi.format(
    IMAGE_FORMAT, st.one_of(st.sampled_from(sample_uploads()), st.binary(max_size=64))
)
schemathesis.openapi.format(
    AUDIO_FORMAT, st.one_of(st.sampled_from(sample_recordings()), st.binary(max_size=64))
)


def fuzz_schema(hub: ModelHub) -> schemathesis.BaseSchema:
    """The app's schema for ``hub``, with model names and uploads the fuzzer can use."""
    app: FastAPI = create_app(hub, ui=False)
    spec = copy.deepcopy(app.openapi())
    components = spec["components"]["schemas"]
    for path, kind in KIND_OF_PATH.items():
        body = spec["paths"][path]["post"]["requestBody"]["content"]
        ref = next(iter(body.values()))["schema"]["$ref"]
        props = components[ref.rsplit("/", 1)[-1]]["properties"]
        names = hub.names(kind, chat=True if path == "/chat" else None)
        props["model"] = {"type": "string", "enum": names or ["no-such-model"]}
        for name, prop in props.items():  # texts often take the documented example
            if "examples" in prop and name != "model":
                props[name] = {"anyOf": [prop, {"enum": prop["examples"]}]}
        if "file" in props:
            props["file"]["format"] = AUDIO_FORMAT if kind == AUDIO else IMAGE_FORMAT
        for speaker in ("user", "bot") if path == "/chat" else ():
            props[speaker] = {"anyOf": [props[speaker], {"enum": SPEAKERS}]}
    app.openapi_schema = spec  # what /openapi.json now serves
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def fuzz_operation(
    op: schemathesis.APIOperation,
    mode: GenerationMode,
    examples: int,
    seen: Counter[int],
    shrink: bool = True,
) -> None:
    """``examples`` cases of one mode against one operation, counted into ``seen``; the first
    failing check raises, after Hypothesis has shrunk the case (if ``shrink``)."""

    @settings(
        max_examples=examples,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[p for p in Phase if shrink or p is not Phase.shrink],
    )
    @given(case=op.as_strategy(generation_mode=mode))
    def run(case: schemathesis.Case) -> None:
        if op.path == "/chat" and mode.is_positive and isinstance(case.body, dict):
            if case.body.get("model") != KOREAN_CHAT:
                case.body.setdefault("user", SPEAKERS[1])  # not the default "YOU"
        response = case.call()
        seen[response.status_code] += 1
        case.validate_response(response, checks=CHECKS)

    run()


def fuzz(
    hub: ModelHub,
    examples: int = EXAMPLES,
    on_error: Callable[[str, BaseException], None] | None = None,
    only: Iterable[str] = (),
    shrink: bool = True,
) -> Counts:
    """Run ``examples`` positive and ``examples`` negative cases against every operation
    (only the labels in ``only``, if given); returns the status codes seen. A failure
    raises, or goes to ``on_error``, which lets the other operations run."""
    schema, counts = fuzz_schema(hub), {}
    for result in schema.get_all_operations():
        op = result.ok()
        if only and op.label not in only:
            continue
        seen = counts.setdefault(op.label, Counter())
        modes = [GenerationMode.POSITIVE] + ([GenerationMode.NEGATIVE] if op.body else [])
        for mode in modes:
            try:
                fuzz_operation(op, mode, examples, seen, shrink)
            except (Exception, FailureGroup) as err:  # failed checks come as a FailureGroup
                if on_error is None:
                    raise
                on_error(f"{op.label} ({mode.value})", err)
    return counts


def table(counts: Counts) -> str:
    """One line per operation: cases run and the status codes answered."""
    lines = []
    for label, seen in counts.items():
        codes = ", ".join(f"{code}: {n}" for code, n in sorted(seen.items()))
        lines.append(f"{label:22s} {sum(seen.values()):5d} cases  ({codes})")
    total = sum(sum(seen.values()) for seen in counts.values())
    server_errors = sum(n for seen in counts.values() for code, n in seen.items() if code >= 500)
    lines.append(f"schemathesis ran {total} cases, {server_errors} 5xx")
    return "\n".join(lines)


# --- tests ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def hub(serve_registry: Path) -> ModelHub:
    return ModelHub(serve_registry)


def test_fuzz_every_operation_without_5xx_or_schema_violation(hub: ModelHub):
    counts = fuzz(hub)
    print("\n" + table(counts))
    assert set(counts) == {"GET /health", "GET /models"} | {f"POST {p}" for p in KIND_OF_PATH}
    assert all(code < 500 for seen in counts.values() for code in seen)
    # the fuzzer got past validation into every model-backed handler
    for path in KIND_OF_PATH:
        assert counts[f"POST {path}"][200] > 0, f"no fuzzed request to {path} succeeded"


MULTIPART = {"content-type": "multipart/form-data; boundary=x"}
REFUSALS = [  # (path, request, status)
    ("/classify", {"files": {"file": ("a.png", b"")}, "data": {"model": "mnist-cnn"}}, 400),
    ("/classify", {"content": b"no parts", "headers": MULTIPART}, 400),
    ("/explain/image", {"files": {"file": ("a.png", b"x")}, "data": {"model": "nope"}}, 404),
    ("/sentiment", {"content": b"\xff{", "headers": {"content-type": "application/json"}}, 400),
    ("/sentiment", {"json": {"model": "mnist-cnn", "text": "a good film"}}, 422),
    ("/summarize", {"json": {"model": "bbc-extractive", "text": " \n\t "}}, 422),
    ("/summarize", {"json": {"model": "bbc-extractive", "text": "..."}}, 422),
    ("/summarize", {"json": {"model": "imdb-bilstm", "text": "A story. It ends."}}, 422),
    ("/summarize", {"content": b"\xff{", "headers": {"content-type": "application/json"}}, 400),
]


@pytest.mark.parametrize(("path", "request_", "status"), REFUSALS)
def test_refusals_have_documented_status_codes(hub: ModelHub, path: str, request_, status: int):
    """Regression: an empty upload, a broken multipart body and JSON that is not UTF-8 (400),
    and, for Grad-CAM, an unknown model (404) got status codes the schema did not list; and
    the 422 of a model of the wrong kind had a string ``detail`` where the schema said list."""
    app = create_app(hub, ui=False)
    r = TestClient(app).post(path, **request_)
    spec = app.openapi()
    responses = spec["paths"][path]["post"]["responses"]
    assert r.status_code == status and str(status) in responses
    ref = responses[str(status)]["content"]["application/json"]["schema"]["$ref"]
    detail = spec["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]["detail"]
    types = {detail.get("type")} | {s.get("type") for s in detail.get("anyOf", [])}
    assert isinstance(r.json()["detail"], str) and "string" in types


UNREADABLE = ["\U0001f600\U0001f622", " \t ", "\u0436\u0437\u0438", "\U0001f600 \u0416"]


@pytest.mark.parametrize("message", UNREADABLE, ids=["emoji", "blank", "cyrillic", "mixed"])
def test_a_chat_message_the_korean_model_cannot_read_gets_a_documented_422(
    hub: ModelHub, message: str
):
    """Emoji, whitespace or a script the Korean vocabulary lacks: a 422 naming the problem
    before any streaming starts (a subword tokenizer encodes them as <unk>, never fails)."""
    app = create_app(hub, ui=False)
    r = TestClient(app).post("/chat", json={"model": KOREAN_CHAT, "message": message})
    assert r.status_code == 422, r.text
    assert "empty" in r.json()["detail"] or "no character this model knows" in r.json()["detail"]
    assert "422" in app.openapi()["paths"]["/chat"]["post"]["responses"]


def test_the_korean_model_chats_in_hangul_under_its_own_speaker_names(hub: ModelHub):
    client = TestClient(create_app(hub, ui=False))
    body = {"model": KOREAN_CHAT, "message": "오늘 너무 힘들어 \U0001f622", "max_new_tokens": 20}
    r = client.post("/chat", json={**body, "temperature": 0})
    assert r.status_code == 200 and "\n" not in r.text  # one turn (it may be short)
    assert hub.speakers(KOREAN_CHAT) == ("사용자", "챗봇")
    named = client.post("/chat", json={**body, "temperature": 0, "user": "사용자", "bot": "챗봇"})
    assert named.text == r.text  # the defaults are those names


def test_a_tiny_temperature_samples_greedily_instead_of_failing_mid_stream(hub: ModelHub):
    """Regression: a temperature of 1e-300 is 0 in float32 (logits / 0: nan), one of 1e-37
    overflows logits to inf (softmax: inf - inf = nan); torch.multinomial then raised in the
    middle of a streamed 200. Both now sample the most likely token."""
    logits = torch.tensor([[100.0, 0.0, -100.0, 95.0]])  # / 1e-37: past float32's 3e38
    for temperature in (1e-300, 1e-37, 1e-30):
        assert sample_next(logits, temperature, top_p=0.9).tolist() == [0]
    client = TestClient(create_app(hub, ui=False))
    body = {"model": "shakespeare-gpt", "prompt": "ROMEO:", "max_new_tokens": 8}
    greedy = client.post("/generate", json={**body, "temperature": 0}).text
    r = client.post("/generate", json={**body, "temperature": 1e-300, "top_p": 0.8})
    assert r.status_code == 200 and r.text == greedy


def test_explanations_close_their_figures(hub: ModelHub):
    """Regression: common/viz.py draws with plt.subplots, and pyplot kept every figure of every
    explanation (the fuzzer's run warned of more than 20 open figures): a leak per request."""
    client = TestClient(create_app(hub, ui=False))
    files = {"file": ("a.png", sample_uploads()[0], "image/png")}
    before = len(plt.get_fignums())
    for _ in range(2):
        r = client.post("/explain/image", files=files, data={"model": "mnist-cnn"})
        assert r.status_code == 200
        r = client.post("/explain/text", json={"model": "imdb-bilstm", "text": "a good film"})
        assert r.status_code == 200
    assert len(plt.get_fignums()) == before
