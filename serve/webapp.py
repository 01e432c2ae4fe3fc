"""The web app of ``litlab serve`` (Gradio, mounted at ``/ui`` by ``serve/api.py``).

Six tabs, each a thin front end over ``serve/hub.py``: Image (top classes and Grad-CAM),
Sentiment (label, probabilities, words coloured by their attribution and, for a text outside
the model's language, a warning naming the served model to try), Generate (text that
streams in as it is sampled), Chat (a conversation with a model trained on dialogue; the
page sends the whole history each turn, the server keeps none) and Summarize (an article's
summary, every sentence shaded by its score: ``serve/summaries.py``) and Audio (a digit said
into the microphone or uploaded, its top classes and the spectrogram with Grad-CAM:
``serve/audio.py``). A tab whose kind of model
the registry lacks says so in one line. A bad input (``InputError``) shows as a message in
the page. Every input and output has a stable ``elem_id`` (``image-input``,
``sentiment-words``, ``chat-box``, ...) that ``tests/test_serve_browser.py`` finds them by.
"""

from __future__ import annotations

import html
import io
from collections.abc import Callable, Iterator

import gradio as gr
import torch
from fastapi import FastAPI
from PIL import Image

from litlab.common.viz import token_attribution_html
from litlab.serve.audio import audio_tab
from litlab.serve.hub import AUDIO, IMAGE, LM, SUMMARY, TEXT, ModelHub
from litlab.serve.payloads import InputError
from litlab.serve.summaries import summarize_tab

EXPORT_HINT = "add one with `litlab export --ckpt CKPT --name NAME`"
CSS = """
.litlab-words { line-height: 1.9; overflow-wrap: anywhere; }
.litlab-words span { border-radius: 3px; }
.litlab-warning { background: rgba(234,179,8,0.18); border-left: 3px solid #ca8a04;
                  padding: 4px 8px; border-radius: 3px; }
"""


def _missing(what: object) -> gr.Markdown:
    return gr.Markdown(f"No {what} in the registry: {EXPORT_HINT}.")


def _friendly(fn: Callable) -> Callable:
    """Shows an ``InputError`` as an error message in the page instead of a failed event."""

    def wrapped(*args):
        try:
            return fn(*args)
        except InputError as err:
            raise gr.Error(str(err), print_exception=False) from err

    wrapped.__name__ = fn.__name__
    return wrapped


def _friendly_stream(fn: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """The same for a generator function (Gradio streams what it yields)."""

    def wrapped(*args):
        try:
            yield from fn(*args)
        except InputError as err:
            raise gr.Error(str(err), print_exception=False) from err

    wrapped.__name__ = fn.__name__
    return wrapped


def _model_dropdown(names: list[str], elem_id: str) -> gr.Dropdown:
    return gr.Dropdown(names, value=names[0], label="model", elem_id=elem_id, min_width=200)


def _image_tab(hub: ModelHub) -> None:
    names = hub.names(IMAGE)
    if not names:
        _missing(IMAGE)
        return

    def classify(model: str, image: Image.Image | None) -> tuple[dict, Image.Image]:
        if image is None:
            raise InputError("upload an image first")
        buf = io.BytesIO()
        image.save(buf, format="PNG")  # lossless: the model sees the pixels that were sent
        out = hub.explain_image(model, buf.getvalue(), top_k=3)
        top = {t["label"]: t["prob"] for t in hub.classify(model, buf.getvalue())["top"]}
        return top, Image.open(io.BytesIO(out["gradcam_png"]))

    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            model = _model_dropdown(names, "image-model")
            image = gr.Image(
                type="pil", image_mode=None, label="image", elem_id="image-input",
                sources=["upload", "clipboard"], height=280,
            )  # fmt: skip
            button = gr.Button("Classify", variant="primary", elem_id="image-run")
        with gr.Column(min_width=280):
            top = gr.Label(num_top_classes=5, label="top classes", elem_id="image-top")
            cam = gr.Image(label="Grad-CAM", format="png", elem_id="image-gradcam",
                           interactive=False)  # fmt: skip
    button.click(_friendly(classify), [model, image], [top, cam], api_name="classify")


def sentiment_html(out: dict) -> str:
    """The words of a ``hub.sentiment`` answer coloured by their attribution, under its
    language warning (``#sentiment-warning``) when it has one."""
    words = token_attribution_html(out["tokens"], torch.tensor(out["scores"]))
    legend = (
        f"<p><small>green: pushed towards <b>{html.escape(out['label'])}</b>, red: against "
        "(integrated gradients; hover a word for its score)</small></p>"
    )
    warning = ""
    if out.get("warning"):
        warning = (
            f'<p class="litlab-warning" id="sentiment-warning">\u26a0 '
            f"{html.escape(out['warning'])}</p>"
        )
    return f'{warning}{legend}<div class="litlab-words">{words}</div>'


def _sentiment_tab(hub: ModelHub) -> None:
    names = hub.names(TEXT)
    if not names:
        _missing(TEXT)
        return

    def sentiment(model: str, text: str) -> tuple[dict, str]:
        out = hub.sentiment(model, text)
        return out["probs"], sentiment_html(out)

    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            model = _model_dropdown(names, "sentiment-model")
            text = gr.Textbox(
                label="review", lines=4, elem_id="sentiment-text",
                placeholder="A wonderful, moving film. / 정말 재미있는 영화였다",
            )  # fmt: skip
            button = gr.Button("Classify", variant="primary", elem_id="sentiment-run")
        with gr.Column(min_width=280):
            label = gr.Label(label="sentiment", elem_id="sentiment-label")
            words = gr.HTML(elem_id="sentiment-words")
    run = _friendly(sentiment)
    button.click(run, [model, text], [label, words], api_name="sentiment")
    text.submit(run, [model, text], [label, words])


def _sampling_controls(prefix: str, max_new_tokens: int = 200) -> list[gr.components.Component]:
    """max new tokens, temperature, top-k, seed: in a row that wraps on a narrow screen."""
    with gr.Row():
        return [
            gr.Slider(1, 1000, value=max_new_tokens, step=1, label="max new tokens",
                      elem_id=f"{prefix}-max-new-tokens", min_width=160),
            gr.Slider(0.0, 2.0, value=0.8, step=0.05, label="temperature (0 = greedy)",
                      elem_id=f"{prefix}-temperature", min_width=160),
            gr.Number(40, label="top-k (0 = off)", precision=0, minimum=0,
                      elem_id=f"{prefix}-top-k", min_width=100),
            gr.Number(0, label="seed", precision=0, minimum=0,
                      elem_id=f"{prefix}-seed", min_width=100),
        ]  # fmt: skip


def _generate_tab(hub: ModelHub) -> None:
    names = hub.names(LM)
    if not names:
        _missing(LM)
        return

    def generate(model: str, prompt: str, n: int, temp: float, k: int, seed: int) -> Iterator:
        k, seed = int(k or 0) or None, int(seed or 0)  # a cleared number box sends None
        pieces = hub.generate(model, prompt, int(n), float(temp), k, None, seed)
        text = ""
        for piece in pieces:
            text += piece
            yield text

    def example(name: str) -> str:
        """A first prompt in the model's own language: a dialogue model's bot speaking
        ("챗봇:" for the Korean chatbot), else a line of the plays."""
        return f"{hub.speakers(name)[1]}:" if hub.get(name, LM).chat else "ROMEO:"

    examples = {example(n) for n in names}

    def follow(name: str, text: str) -> str:
        # a prompt the user wrote stays; an example follows the chosen model
        return example(name) if text.strip() in examples or not text.strip() else text

    model = _model_dropdown(names, "generate-model")
    prompt = gr.Textbox(example(names[0]), label="prompt", lines=2, elem_id="generate-prompt")
    model.change(follow, [model, prompt], prompt)
    controls = _sampling_controls("generate")
    button = gr.Button("Generate", variant="primary", elem_id="generate-run")
    output = gr.Textbox(label="continuation", lines=10, elem_id="generate-output",
                        interactive=False)  # fmt: skip
    button.click(_friendly_stream(generate), [model, prompt, *controls], output,
                 api_name="generate")  # fmt: skip


def _text(content: str | list | dict) -> str:
    """The text of a chat message (Gradio 6 hands content over as a list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, dict):
        return content.get("text", "") if content.get("type", "text") == "text" else ""
    return "".join(_text(part) for part in content)


def _chat_tab(hub: ModelHub) -> None:
    names = hub.names(LM, chat=True)
    if not names:
        _missing(f"{LM} trained on dialogue (speaker-tagged turns)")
        return

    def reply(
        model: str, message: str, history: list[dict], user: str, bot: str, *sampling
    ) -> Iterator[tuple[list[dict], str]]:
        n, temp, k, seed = sampling
        user, bot = hub.speakers(model, user.strip() or None, bot.strip() or None)
        turns = [(user if m["role"] == "user" else bot, _text(m["content"])) for m in history]
        # a new seed each turn, so replies vary, yet a conversation replays exactly
        pieces = hub.chat(
            model, turns, message, user, bot, int(seed or 0) + len(history),
            max_new_tokens=int(n), temperature=float(temp), top_k=int(k or 0) or None,
        )  # fmt: skip
        history = [*history, {"role": "user", "content": message}]
        text = ""
        yield [*history, {"role": "assistant", "content": "…"}], ""
        for piece in pieces:
            text += piece
            yield [*history, {"role": "assistant", "content": text}], ""
        yield [*history, {"role": "assistant", "content": text.strip() or "(no reply)"}], ""

    model = _model_dropdown(names, "chat-model")
    with gr.Row():
        # empty: the model's own names (YOU / ROMEO for the plays, 사용자 / 챗봇 in Korean)
        user = gr.Textbox("", label="you speak as", max_lines=1, elem_id="chat-user",
                          placeholder="the model's default", min_width=120)  # fmt: skip
        bot = gr.Textbox("", label="the model speaks as", max_lines=1, elem_id="chat-bot",
                         placeholder="the model's default", min_width=120)  # fmt: skip
    box = gr.Chatbot(label="conversation", elem_id="chat-box", height=360)
    with gr.Row(equal_height=True):
        message = gr.Textbox(placeholder="Good morrow!", show_label=False, max_lines=3,
                             elem_id="chat-message", scale=4, min_width=200)  # fmt: skip
        send = gr.Button("Send", variant="primary", elem_id="chat-send", scale=1, min_width=80)
    with gr.Accordion("sampling", open=False):
        controls = _sampling_controls("chat", max_new_tokens=300)
    inputs = [model, message, box, user, bot, *controls]
    run = _friendly_stream(reply)
    send.click(run, inputs, [box, message], api_name="chat")
    message.submit(run, inputs, [box, message])


def build(hub: ModelHub) -> gr.Blocks:
    """The web app for ``hub``'s models: one tab per kind of task."""
    with gr.Blocks(title="litlab", analytics_enabled=False) as app:
        served = ", ".join(f"`{m['name']}@{m['version']}`" for m in hub.describe()) or "none"
        gr.Markdown(f"## litlab serve\nModels: {served} · JSON API: [/docs](/docs)")
        # six tabs do not fit a phone's width: wrap them onto a second row, all in sight,
        # rather than hide the last ones behind Gradio's overflow menu
        with gr.Tabs(elem_id="tabs", overflow_behavior="wrap"):
            with gr.Tab("Image", elem_id="tab-image"):
                _image_tab(hub)
            with gr.Tab("Sentiment", elem_id="tab-sentiment"):
                _sentiment_tab(hub)
            with gr.Tab("Generate", elem_id="tab-generate"):
                _generate_tab(hub)
            with gr.Tab("Chat", elem_id="tab-chat"):
                _chat_tab(hub)
            with gr.Tab("Summarize", elem_id="tab-summarize"):
                names = hub.names(SUMMARY)
                summarize_tab(hub, names, _friendly) if names else _missing(SUMMARY)
            with gr.Tab("Audio", elem_id="tab-audio"):
                names = hub.names(AUDIO)
                audio_tab(hub, names, _friendly) if names else _missing(AUDIO)
    return app


def mount(app: FastAPI, hub: ModelHub, path: str = "/ui") -> FastAPI:
    """Mounts ``build(hub)`` on ``app`` at ``path`` (no Node server: the page renders in the
    browser)."""
    return gr.mount_gradio_app(
        app, build(hub), path=path, ssr_mode=False, css=CSS, footer_links=["api"],
        max_file_size=hub.max_image_bytes,
    )  # fmt: skip
