"""litlab serve's generation and chat endpoints on the tiny registry: streaming, seeds,
limits, stop strings, turns and history, and their bad requests."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from litlab.common import chat as chat_module
from litlab.common.generate import stream_text
from litlab.serve.api import create_app
from litlab.serve.hub import ModelHub


@pytest.fixture(scope="module")
def client(serve_registry: Path) -> TestClient:
    return TestClient(create_app(ModelHub(serve_registry), ui=False))


# --- generation and chat --------------------------------------------------------------------


def generate(client: TestClient, **body) -> str:
    r = client.post("/generate", json={"model": "shakespeare-gpt", "prompt": "ROMEO:", **body})
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return r.text


def test_generate_streams_pieces_reproducibly_and_obeys_its_limits(client: TestClient):
    with client.stream("POST", "/generate", json={"model": "shakespeare-gpt", "prompt": "ROMEO:",
                                                  "max_new_tokens": 40}) as r:  # fmt: skip
        pieces = list(r.iter_text())
    assert len(pieces) > 1  # streamed, not sent at the end
    text = "".join(pieces)
    assert len(text) == 40  # a character model: one character per token, no stop string
    assert generate(client, max_new_tokens=40) == text  # seed 0 both times
    assert generate(client, max_new_tokens=40, seed=1) != text
    greedy = generate(client, max_new_tokens=30, temperature=0)
    assert greedy == generate(client, max_new_tokens=30, temperature=0, seed=5)


def test_generate_stops_at_a_stop_string(client: TestClient):
    text = generate(client, max_new_tokens=200)
    stop = text[10:12]  # two characters that do occur
    cut = generate(client, max_new_tokens=200, stop=[stop])
    assert cut == text[: text.index(stop)]


@pytest.mark.parametrize(
    ("body", "status", "says"),
    [
        ({"prompt": "안녕"}, 422, "not in this"),  # the character vocabulary has no Hangul
        ({"prompt": ""}, 422, ""),
        ({"max_new_tokens": 0}, 422, ""),
        ({"max_new_tokens": 100_000}, 422, ""),
        ({"temperature": -1}, 422, ""),
        ({"top_p": 0}, 422, ""),
        ({"model": "nope"}, 404, "no model named"),
        ({"model": "imdb-bilstm"}, 422, "not a language model"),
    ],
)
def test_bad_generation_requests_get_a_clear_4xx(client, body: dict, status: int, says: str):
    r = client.post("/generate", json={"model": "shakespeare-gpt", "prompt": "ROMEO:", **body})
    assert r.status_code == status and says in str(r.json()["detail"])


def chat(client: TestClient, message: str, history: list[tuple[str, str]] = (), **body) -> str:
    turns = [{"speaker": who, "text": text} for who, text in history]
    r = client.post("/chat", json={"model": "shakespeare-chat", "message": message,
                                   "history": turns, **body})  # fmt: skip
    assert r.status_code == 200, r.text
    return r.text


def test_chat_replies_within_one_turn_and_reads_the_history(client: TestClient, monkeypatch):
    names = {"user": "ROMEO", "bot": "JULIET", "max_new_tokens": 60}
    first = chat(client, "Speak, speak.", **names)
    assert first.strip() and "\n" not in first  # a reply, ending at the turn boundary
    assert chat(client, "Speak, speak.", **names) == first  # seed 0 both times
    # the model continues the whole transcript, history first (block 32 leaves a 24-token
    # prompt, hence the short names), and the reply is what /generate samples after it
    prompts = []

    def recording(model, tokenizer, ids, *args, **kwargs):
        prompts.append(tokenizer.decode(ids[0].tolist()))
        return stream_text(model, tokenizer, ids, *args, **kwargs)

    monkeypatch.setattr(chat_module, "stream_text", recording)
    names = {"user": "A", "bot": "B", "max_new_tokens": 60}
    for history in ([("user", "So."), ("bot", "No.")], [("user", "Oh."), ("bot", "Ay.")]):
        reply = chat(client, "O.", history, **names)
        transcript = "".join(f"{names[w]}: {t}\n" for w, t in history) + "A: O.\nB:"
        assert prompts.pop() == transcript
        model = {"model": "shakespeare-chat", "prompt": transcript}
        sampled = generate(client, **model, max_new_tokens=60, stop=["\n"])
        assert reply and reply == sampled.lstrip()


def test_bad_chat_requests_get_a_clear_4xx(client: TestClient):
    body = {"model": "shakespeare-chat", "message": "hi", "user": "ROMEO", "bot": "JULIET"}
    r = client.post("/chat", json={**body, "model": "shakespeare-gpt"})
    assert r.status_code == 422 and "not trained on dialogue" in r.json()["detail"]
    assert client.post("/chat", json={**body, "message": " "}).status_code == 422
    assert client.post("/chat", json={**body, "user": "1337"}).status_code == 422
    bad_turn = {**body, "history": [{"speaker": "narrator", "text": "x"}]}
    assert client.post("/chat", json=bad_turn).status_code == 422
