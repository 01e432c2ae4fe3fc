"""The JSON API of litlab serve: health, images and text on the tiny registry, every bad input
getting a clear 4xx (never a 500), and the server itself. Generation and chat:
tests/test_serve_generation.py."""

from __future__ import annotations

import base64
import io
import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image
from torchvision.io import ImageReadMode, decode_image

from litlab.common.attribution import integrated_gradients
from litlab.common.registry import load
from litlab.serve.api import create_app
from litlab.serve.cli import _parser
from litlab.serve.cli import main as serve_main
from litlab.serve.hub import ModelHub

MODELS = {"mnist-cnn", "imdb-bilstm", "nsmc-bilstm", "shakespeare-gpt", "shakespeare-chat",
          "ko-chat", "bbc-extractive", "fsdd-cnn"}  # fmt: skip


@pytest.fixture(scope="module")
def hub(serve_registry: Path) -> ModelHub:
    return ModelHub(serve_registry)


@pytest.fixture(scope="module")
def client(hub: ModelHub) -> TestClient:
    return TestClient(create_app(hub, ui=False))


def image_bytes(fmt: str = "PNG", mode: str = "RGB", size=(40, 30), seed: int = 0) -> bytes:
    g = torch.Generator().manual_seed(seed)
    channels = {"RGB": 3, "RGBA": 4, "L": 1}[mode]
    pixels = torch.randint(0, 256, (size[1], size[0], channels), generator=g, dtype=torch.uint8)
    img = Image.fromarray(pixels.squeeze(-1).numpy() if mode == "L" else pixels.numpy(), mode)
    buf = io.BytesIO()
    img.save(buf, fmt)
    return buf.getvalue()


def blank_png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, "PNG")
    return buf.getvalue()


def classify(client: TestClient, blob: bytes, model: str = "mnist-cnn", **form):
    files = {"file": ("upload.png", blob, "image/png")}
    return client.post("/classify", files=files, data={"model": model, **form})


# --- health, models -------------------------------------------------------------------------


def test_health_and_models_list_every_served_model_with_its_kind(client: TestClient):
    assert client.get("/health").json()["models"] == len(MODELS)
    models = {m["name"]: m for m in client.get("/models").json()}
    assert set(models) == MODELS
    assert models["mnist-cnn"]["kind"] == "image classifier"
    assert models["mnist-cnn"]["classes"] == [str(i) for i in range(10)]
    assert models["nsmc-bilstm"]["classes"] == ["negative", "positive"]
    assert models["shakespeare-chat"]["chat"] is True
    assert models["ko-chat"]["chat"] is True
    assert models["shakespeare-gpt"]["chat"] is False
    assert models["bbc-extractive"]["kind"] == "extractive summarizer"
    assert models["fsdd-cnn"]["kind"] == "audio classifier"
    assert models["fsdd-cnn"]["classes"] == [str(i) for i in range(10)]
    assert all(m["version"] == "v1" for m in models.values())


# --- images ---------------------------------------------------------------------------------


def test_classify_gives_the_models_own_top_classes(client: TestClient, serve_registry: Path):
    blob = image_bytes()
    r = classify(client, blob, top_k=3)
    assert r.status_code == 200, r.text
    top = r.json()["top"]
    loaded = load("mnist-cnn", serve_registry)
    model, data = loaded.model, loaded.data
    rgb = decode_image(torch.frombuffer(bytearray(blob), dtype=torch.uint8))  # (3, H, W)
    x = data.encode_images([rgb])  # what `litlab explain` does with the same file
    with torch.no_grad():
        p, i = model(x).softmax(-1)[0].topk(3)
    assert [t["label"] for t in top] == [data.classes[c] for c in i.tolist()]
    assert [t["prob"] for t in top] == pytest.approx(p.tolist(), abs=1e-6)


@pytest.mark.parametrize(("fmt", "mode"), [("JPEG", "RGB"), ("PNG", "RGBA"), ("PNG", "L"),
                                           ("GIF", "RGB"), ("WEBP", "RGB")])  # fmt: skip
def test_classify_reads_common_formats_and_channel_counts(
    client: TestClient, serve_registry: Path, fmt, mode
):
    """Each file gets the model's answer for the pixels it holds, as torchvision decodes them
    (alpha dropped, grey kept grey)."""
    blob = image_bytes(fmt, mode)
    r = classify(client, blob)
    assert r.status_code == 200, r.text
    top = r.json()["top"]
    loaded = load("mnist-cnn", serve_registry)
    model, data = loaded.model, loaded.data
    read = ImageReadMode.GRAY if mode == "L" else ImageReadMode.RGB
    pixels = decode_image(torch.frombuffer(bytearray(blob), dtype=torch.uint8), mode=read)
    with torch.no_grad():
        p, i = model(data.encode_images([pixels])).softmax(-1)[0].topk(5)
    assert [t["label"] for t in top] == [data.classes[c] for c in i.tolist()]
    assert [t["prob"] for t in top] == pytest.approx(p.tolist(), abs=1e-5)


@pytest.mark.parametrize(
    ("blob", "status", "says"),
    [
        (b"this is not an image", 415, "not a readable image"),
        (image_bytes()[:60], 415, "not a readable image"),  # a truncated PNG
        (b"", 400, "empty"),
        (blank_png(5000, 5000), 413, "too large"),  # a small file that decodes huge
    ],
)
def test_bad_uploads_get_a_clear_4xx(client: TestClient, blob: bytes, status: int, says: str):
    r = classify(client, blob)
    assert r.status_code == status and says in r.json()["detail"]
    r = client.post("/explain/image", files={"file": ("x", blob)}, data={"model": "mnist-cnn"})
    assert r.status_code == status


def test_an_upload_over_the_size_limit_is_refused(hub: ModelHub, client: TestClient, monkeypatch):
    monkeypatch.setattr(hub, "max_image_bytes", 1000)
    r = classify(client, image_bytes(size=(200, 200)))
    assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_unknown_model_wrong_kind_and_missing_fields(client: TestClient):
    r = classify(client, image_bytes(), model="resnet-9000")
    served = r.json()["detail"].partition("(served: ")[2].rstrip(")").split(", ")
    assert r.status_code == 404 and sorted(served) == sorted(MODELS)
    r = classify(client, image_bytes(), model="imdb-bilstm")
    assert r.status_code == 422 and "text classifier, not an image classifier" in r.json()["detail"]
    assert client.post("/classify", data={"model": "mnist-cnn"}).status_code == 422
    assert classify(client, image_bytes(), top_k=0).status_code == 422


def test_explain_image_returns_a_gradcam_png(client: TestClient):
    r = client.post("/explain/image", files={"file": ("x.png", image_bytes())},
                    data={"model": "mnist-cnn", "top_k": 2})  # fmt: skip
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["top"]) == 2
    png = base64.b64decode(body["gradcam_png"])
    assert png.startswith(b"\x89PNG") and Image.open(io.BytesIO(png)).width > 200


# --- text -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "text"),
    [("imdb-bilstm", "A wonderful, moving film."),
     ("nsmc-bilstm", "정말 재미있는 영화였어요")],
)  # fmt: skip
def test_sentiment_in_english_and_korean_with_token_attributions(
    client, serve_registry, model, text
):
    r = client.post("/sentiment", json={"model": model, "text": text})
    assert r.status_code == 200, r.text
    body = r.json()
    loaded = load(model, serve_registry)  # the model's own answer for the text
    data = loaded.data
    batch = data.encode_texts([text])
    with torch.no_grad():
        probs = loaded.model(*batch).softmax(-1)[0].tolist()
    assert body["probs"] == pytest.approx(dict(zip(data.classes, probs)), abs=1e-5)
    assert body["label"] == data.classes[max(range(len(probs)), key=probs.__getitem__)]
    assert body["warning"] is None  # the model's own language
    # one score per word (its tokens' scores summed), the words reading as the text (a
    # syllable the tiny NSMC copy lacks shows as <unk>)
    words = text.split()
    assert len(body["tokens"]) == len(words) and body["tokens"][1].startswith(" ")
    assert all(t.strip() == w or "<unk>" in t for t, w in zip(body["tokens"], words))
    assert len(body["tokens"]) == len(body["scores"]) > 1
    assert any(abs(s) > 0 for s in body["scores"])
    att = integrated_gradients(loaded.model, loaded.model.embedding_layer(), *batch,
                               data.pad_id, n_steps=20)  # fmt: skip
    assert sum(body["scores"]) == pytest.approx(float(att.scores.sum()), abs=1e-4)
    plain = client.post("/sentiment", json={"model": model, "text": text, "attributions": False})
    assert plain.json()["probs"] == pytest.approx(body["probs"], abs=1e-5)
    assert plain.json()["tokens"] is None


KOREAN = "정말 재미있는 영화였어요. 배우들의 연기가 훌륭했다."


def test_a_text_in_another_language_gets_a_warning_naming_the_model_to_use(client):
    r = client.post("/sentiment", json={"model": "imdb-bilstm", "text": KOREAN})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "English" in body["warning"] and "Korean" in body["warning"]
    assert body["warning"].endswith("try nsmc-bilstm")  # the served model for the language
    assert "".join(body["tokens"]) == KOREAN  # whole syllables, not byte tokens
    assert not any("\ufffd" in t for t in body["tokens"])
    assert len(body["tokens"]) == len(KOREAN.split())
    quiet = {"model": "imdb-bilstm", "text": KOREAN, "attributions": False}
    quiet = client.post("/sentiment", json=quiet)
    assert quiet.json()["warning"] == body["warning"]  # without attributions too
    back = client.post("/sentiment", json={"model": "nsmc-bilstm", "text": "A moving film."})
    assert "Korean" in back.json()["warning"] and "try imdb-bilstm" in back.json()["warning"]
    explained = client.post("/explain/text", json={"model": "imdb-bilstm", "text": KOREAN}).json()
    assert explained["warning"] == body["warning"]
    assert 'class="litlab-warning"' in explained["html"] and "\ufffd" not in explained["html"]


def test_the_web_apps_sentiment_words_show_the_warning(hub: ModelHub):
    from litlab.serve.webapp import sentiment_html

    page = sentiment_html(hub.sentiment("imdb-bilstm", KOREAN))
    assert 'id="sentiment-warning"' in page and "try nsmc-bilstm" in page
    assert "재미있는</span>" in page and "\ufffd" not in page
    assert "sentiment-warning" not in sentiment_html(hub.sentiment("imdb-bilstm", "Great fun."))


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"model": "imdb-bilstm", "text": ""}, 422),
        ({"model": "imdb-bilstm", "text": "  \n\t "}, 422),
        ({"model": "imdb-bilstm", "text": "x" * 5001}, 422),
        ({"model": "imdb-bilstm"}, 422),
        ({"model": "nope", "text": "fine"}, 404),
        ({"model": "shakespeare-gpt", "text": "fine"}, 422),
    ],
)
def test_bad_texts_get_a_clear_4xx(client: TestClient, body: dict, status: int):
    for path in ("/sentiment", "/explain/text"):
        r = client.post(path, json=body)
        assert r.status_code == status and r.json()["detail"], (path, r.text)


def test_explain_text_returns_attribution_and_attention_pictures(client: TestClient):
    r = client.post("/explain/text", json={"model": "imdb-bilstm", "text": "Great fun."})
    assert r.status_code == 200, r.text
    body = r.json()
    assert {"attributions", "attention-pool"} <= set(body["figures_png"])
    assert all(base64.b64decode(v).startswith(b"\x89PNG") for v in body["figures_png"].values())
    assert "<span" in body["html"]


# --- serving ----------------------------------------------------------------------------------


def test_concurrent_requests_get_the_same_answers_as_one_at_a_time(client: TestClient):
    """Grad-CAM hooks on the same model must not leak into concurrent classifications."""
    blobs = [image_bytes(seed=s) for s in range(4)]
    alone = [classify(client, b).json() for b in blobs]

    def one(i: int) -> tuple[int, dict]:
        if i % 2:  # interleave Grad-CAM (hooks + gradients) with plain classification
            r = client.post("/explain/image", files={"file": ("x.png", blobs[i % 4])},
                            data={"model": "mnist-cnn"})  # fmt: skip
            return r.status_code, {}
        return 200, classify(client, blobs[i % 4]).json()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(16)))
    assert all(status == 200 for status, _ in results)
    for i, (_, body) in enumerate(results):
        if body:
            assert body == alone[i % 4]


def test_each_request_is_logged_with_its_latency(client: TestClient, caplog):
    with caplog.at_level(logging.INFO, logger="litlab.serve"):
        client.get("/health")
        client.post("/sentiment", json={"model": "nope", "text": "x"})
    lines = [r.getMessage() for r in caplog.records if r.name == "litlab.serve"]
    assert any(line.startswith("GET /health 200 ") and line.endswith(" ms") for line in lines)
    assert any(line.startswith("POST /sentiment 404 ") for line in lines)


def test_serve_binds_loopback_by_default_and_refuses_an_empty_registry(tmp_path, capsys):
    assert _parser().parse_args([]).host == "127.0.0.1"
    assert serve_main(["--root", str(tmp_path)]) == 2
    assert "no servable model" in capsys.readouterr().err


def test_a_hub_of_chosen_versions_and_a_broken_ref(serve_registry: Path):
    hub = ModelHub(serve_registry, ["mnist-cnn@v1", "imdb-bilstm@v9"])
    assert list(hub.models) == ["mnist-cnn"]
    assert "no version" in hub.skipped["imdb-bilstm"]


def test_a_model_exported_without_what_encodes_its_inputs_is_skipped_with_a_reason(
    serve_registry: Path, tmp_path: Path
):
    import shutil

    shutil.copytree(serve_registry / "mnist-cnn", tmp_path / "mnist-cnn")
    folder = tmp_path / "mnist-cnn" / "v1"
    (folder / "datamodule_state.json").write_text("{}")
    config = json.loads((folder / "config.json").read_text())
    config["data"]["init_args"]["root"] = str(tmp_path / "nothing-here")  # no data either
    (folder / "config.json").write_text(json.dumps(config))
    hub = ModelHub(tmp_path)
    assert not hub.models and "without its data" in hub.skipped["mnist-cnn"]


def test_a_form_field_sent_twice_is_refused(client: TestClient):
    fields = [("model", "mnist-cnn"), ("top_k", "1"), ("top_k", "3")]
    parts = [("file", ("x.png", image_bytes(), "image/png"))]
    r = client.post("/classify", files=parts + [(k, (None, v)) for k, v in fields])
    assert r.status_code == 422 and "top_k" in r.json()["detail"]


def test_summarize_scores_every_sentence_and_marks_the_summary(client: TestClient):
    text = ("The profits figures rose by 12% this year. Officials declined to comment 1.\n\n"
            "The weather in London was mild on Tuesday. The profits figures rose by 3% this year.")
    r = client.post("/summarize", json={"model": "bbc-extractive", "text": text})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["model"].startswith("bbc-extractive@") and len(out["sentences"]) == 4
    picked = [s["text"] for s in out["sentences"] if s["selected"]]
    assert picked and out["summary"] == " ".join(picked)
    assert all(0.0 <= s["score"] <= 1.0 for s in out["sentences"])
    short = client.post("/summarize", json={"model": "bbc-extractive", "text": text,
                                            "ratio": 0.1}).json()
    assert sum(s["selected"] for s in short["sentences"]) == 1


def test_summarize_reads_a_long_article_and_says_how_much(client: TestClient):
    text = " ".join(f"Officials declined to comment {i}." for i in range(80))
    out = client.post("/summarize", json={"model": "bbc-extractive", "text": text}).json()
    assert len(out["sentences"]) == 80 and "first 48 of 80 sentences" in out["notes"][0]
    too_long = client.post("/summarize", json={"model": "bbc-extractive", "text": "a" * 100_001})
    assert too_long.status_code == 422


def test_the_summarize_tab_shades_sentences_by_score():
    from litlab.serve.summaries import summary_html

    page = summary_html({"notes": ["a note"], "sentences": [
        {"text": "Picked <b>.", "score": 0.9, "selected": True},
        {"text": "Not picked.", "score": 0.1, "selected": False}]})
    shade = f"rgba(37,99,235,{0.9 * 0.55:.2f})"  # as strong as the score
    assert 'class="litlab-picked"' in page and shade in page and "0.06)" in page
    assert "&lt;b&gt;" in page and "a note" in page
