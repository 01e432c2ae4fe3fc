"""The models ``litlab serve`` answers with: loaded once from the registry, shared by the
JSON API (``serve/api.py``) and the web app (``serve/webapp.py``).

Every method takes plain Python values (bytes, str, numbers) and returns plain ones (dicts,
PNG bytes, text pieces), so the two front ends stay thin. Bad input raises ``InputError``
with the HTTP status the API answers with; nothing here knows about HTTP otherwise.

Thread safety: FastAPI runs these methods in its thread pool. Grad-CAM and integrated
gradients put hooks on a model, which a concurrent forward pass through the same model would
trip, so every call that runs a classifier holds that model's lock. Generation only reads
the weights and keeps its key/value cache in local variables, so it runs without one.
Matplotlib is not thread-safe, so whatever draws (the explanations, saving PNGs) holds one
process-wide lock: explanations run one at a time, classification and generation do not wait.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from litlab.common.attribution import evaluating, integrated_gradients
from litlab.common.chat import ChatSession, default_speakers
from litlab.common.contracts import conforms
from litlab.common.explain import explain_images, explain_texts
from litlab.common.generate import stream_text
from litlab.common.inference import device_of
from litlab.common.language import language_warning, model_language
from litlab.common.model_card import TaskKind
from litlab.common.pieces import text_pieces, words_and_scores
from litlab.common.protocols import DialogueData, LanguageModelSource
from litlab.common.registry import RegistryError, list_models, load, recorded_kind
from litlab.serve.payloads import DRAWING, MAX_IMAGE_BYTES, InputError, article, png, read_image

IMAGE, TEXT, LM, SUMMARY = TaskKind.IMAGE, TaskKind.TEXT, TaskKind.LM, TaskKind.SUMMARY
AUDIO = TaskKind.AUDIO
SERVED_KINDS = (IMAGE, TEXT, LM, SUMMARY, AUDIO)
MAX_AUDIO_BYTES = 10 * 1024 * 1024  # serve/audio.py's upload limit


@dataclass
class Served:
    """One registered model, loaded: what it is and how to reach it."""

    name: str
    version: str
    kind: TaskKind
    model: nn.Module  # its inference half (common/inference.py), in eval mode
    data: object | None  # the data's half: classes, tokenizer, encoders
    metric: str = "-"
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def chat(self) -> bool:
        """A language model trained on speaker-tagged turns can hold a conversation."""
        return conforms(self.data, DialogueData) and self.data.turn_boundary is not None

    def describe(self) -> dict:
        out = {"name": self.name, "version": self.version, "kind": str(self.kind)}
        out["metric"] = self.metric
        if self.kind in (IMAGE, TEXT, AUDIO):
            out["classes"] = list(self.data.classes)
        if self.kind == LM:
            out["chat"] = self.chat
        return out


def _each_without_grad(pieces: Iterator[str]) -> Iterator[str]:
    """Advance a generator under ``no_grad``, one step at a time: a streaming response may
    call ``next`` from a different worker thread each time, and grad mode is per thread."""
    while True:
        with torch.no_grad():
            try:
                piece = next(pieces)
            except StopIteration:
                return
        yield piece


class ModelHub:
    """The latest version of every servable model in a registry (or of the refs asked for).

    Args:
        root: the registry folder (``litlab export`` writes it).
        refs: ``name`` or ``name@v2`` entries to serve; default: every model's latest version.
        max_image_bytes: the upload limit of ``classify`` / ``explain_image``.
    """

    def __init__(
        self,
        root: str | Path = "models",
        refs: list[str] | None = None,
        max_image_bytes: int = MAX_IMAGE_BYTES,
    ) -> None:
        self.root, self.max_image_bytes = Path(root), max_image_bytes
        self.max_audio_bytes = MAX_AUDIO_BYTES
        self.models: dict[str, Served] = {}
        self.skipped: dict[str, str] = {}  # name -> why it is not served
        for ref in refs if refs is not None else [row["name"] for row in list_models(root)]:
            name = ref.partition("@")[0]
            try:
                kind = recorded_kind(ref, root)  # a kind not served is not even loaded
                if kind is not None and kind not in SERVED_KINDS:
                    self.skipped[name] = f"a {kind}: nothing to serve it with"
                    continue
                loaded = load(ref, root)  # config.json, weights, DataModule state, metrics: once
            except RegistryError as err:
                self.skipped[name] = str(err)
                continue
            if loaded.kind not in SERVED_KINDS:
                self.skipped[name] = f"a {loaded.kind}: nothing to serve it with"
                continue
            model = loaded.model
            try:
                served = Served(name, loaded.version, loaded.kind, model, loaded.data)
                served.describe()  # class names etc. must come from the export, not the data
            except Exception as err:  # noqa: BLE001 - e.g. MissingDataError, KeyError
                self.skipped[name] = f"cannot describe its inputs without its data ({err})"
                continue
            for p in model.parameters():  # no request ever trains; gradients are for inputs
                p.requires_grad_(False)
            served.metric = loaded.metric
            self.models[name] = served

    # --- looking models up ----------------------------------------------------------------

    def get(self, name: str, kind: TaskKind) -> Served:
        served = self.models.get(name)
        if served is None:
            known = ", ".join(sorted(self.models)) or "none"
            raise InputError(f"no model named {name!r} is served (served: {known})", 404)
        if served.kind != kind:
            raise InputError(f"{name!r} is a {served.kind}, not {article(kind)}", 422)
        return served

    def names(self, kind: TaskKind, chat: bool | None = None) -> list[str]:
        return [
            s.name
            for s in self.models.values()
            if s.kind == kind and (chat is None or s.chat == chat)
        ]

    def describe(self) -> list[dict]:
        return [s.describe() for s in self.models.values()]

    def _others(self, name: str) -> dict[str, str | None]:
        """The other text models and their languages (``common/language.py``): the ones a
        language warning may suggest instead."""
        return {n: model_language(s.data) for n, s in self.models.items()
                if s.kind == TEXT and n != name}  # fmt: skip

    # --- images ---------------------------------------------------------------------------

    def classify(self, name: str, blob: bytes, top_k: int = 5) -> dict:
        """Top-k classes of an uploaded image: ``{"model", "top": [{"label", "prob"}]}``."""
        served = self.get(name, IMAGE)
        image = read_image(blob, self.max_image_bytes)
        with served.lock, evaluating(served.model), torch.no_grad():
            x = served.data.encode_images([image]).to(device_of(served.model))
            probs = served.model(x).float().softmax(dim=-1)[0]
        p, i = probs.topk(min(top_k, probs.numel()))
        top = [{"label": served.data.classes[c], "prob": v} for c, v in zip(i.tolist(), p.tolist())]
        return {"model": f"{served.name}@{served.version}", "top": top}

    def explain_image(self, name: str, blob: bytes, top_k: int = 3) -> dict:
        """Top classes and a Grad-CAM figure (PNG bytes) of an uploaded image."""
        served = self.get(name, IMAGE)
        image = read_image(blob, self.max_image_bytes)
        with served.lock, DRAWING:  # the figure is made in there too
            exp = explain_images(served.model, served.data, [image], top_k=top_k)[0]
        top = [{"label": c, "prob": p} for c, p in exp.top]
        return {"model": f"{served.name}@{served.version}", "top": top,
                "gradcam_png": png(exp.figures["gradcam"])}  # fmt: skip

    # --- text -----------------------------------------------------------------------------

    def _encode(self, served: Served, text: str):
        text = text.strip()
        if not text:
            raise InputError("the text is empty", 422)
        batch = served.data.encode_texts([text])
        if int(batch.lengths[0]) == 0:
            raise InputError("the text has no token the model knows", 422)
        return batch

    def sentiment(self, name: str, text: str, attributions: bool = True, n_steps: int = 20) -> dict:
        """Class probabilities of a text, a warning when the text is mostly outside the
        model's language or vocabulary (else None) and, optionally, each word's
        integrated-gradients attribution to the predicted class (positive: pushed towards
        it; a word's tokens summed, ``common/pieces.py``)."""
        served = self.get(name, TEXT)
        model, data = served.model, served.data
        ids, lengths = (t.to(device_of(model)) for t in self._encode(served, text))
        with served.lock, evaluating(model):
            if attributions:
                att = integrated_gradients(
                    model, model.embedding_layer(), ids, lengths, data.pad_id, n_steps=n_steps
                )
                probs = att.probs[0]
            else:
                with torch.no_grad():
                    probs = model(ids, lengths).float().softmax(dim=-1)[0]
        out = {
            "model": f"{served.name}@{served.version}",
            "label": data.classes[int(probs.argmax())],
            "probs": dict(zip(data.classes, probs.tolist())),
        }
        n = int(lengths[0])
        out["warning"] = language_warning(data, text, ids[0, :n].tolist(), self._others(name))
        if attributions:
            out["tokens"], out["scores"] = words_and_scores(
                text_pieces(data, ids[0, :n], att.scores[0, :n])
            )
        return out

    def explain_text(self, name: str, text: str, n_steps: int = 50) -> dict:
        """The pictures of ``litlab explain`` for one text: word attributions (PNG and
        HTML), for models with attention one attention figure per layer, and the language
        warning of ``sentiment``."""
        served = self.get(name, TEXT)
        self._encode(served, text)  # the same checks as sentiment()
        others = self._others(name)
        with served.lock, DRAWING:
            exp = explain_texts(served.model, served.data, [text.strip()], n_steps, others)[0]
        return {
            "model": f"{served.name}@{served.version}",
            "top": [{"label": c, "prob": p} for c, p in exp.top],
            "warning": exp.warning,
            "html": exp.html,
            "figures_png": {k: png(fig) for k, fig in exp.figures.items()},
        }

    # --- generation -----------------------------------------------------------------------

    def _ids(self, served: Served, text: str) -> torch.Tensor:
        tokenizer = served.data.tokenizer
        try:
            ids = tokenizer.encode(text)
        except ValueError as err:  # a character vocabulary meets a character it never saw
            raise InputError(f"the prompt cannot be encoded: {err}", 422) from err
        if not ids:
            raise InputError("the prompt is empty", 422)
        return torch.tensor([ids], dtype=torch.long, device=device_of(served.model))

    def generate(
        self,
        name: str,
        prompt: str,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int | None = 40,
        top_p: float | None = None,
        seed: int = 0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """The continuation of ``prompt``, in pieces as it is sampled (prompt not included).
        Checks run now, so a bad request fails before the first piece is sent."""
        served = self.get(name, LM)
        ids = self._ids(served, prompt)
        model: LanguageModelSource = served.model
        g = torch.Generator(device=device_of(served.model)).manual_seed(seed)
        pieces = stream_text(
            model, served.data.tokenizer, ids, max_new_tokens, temperature, top_k, top_p, g,
            stops=[s for s in stop or [] if s],
        )  # fmt: skip
        return _each_without_grad(pieces)

    def speakers(
        self, name: str, user: str | None = None, bot: str | None = None
    ) -> tuple[str, str]:
        """The names of the two sides: those given, else the model's data's defaults
        (사용자 / 챗봇 for the Korean chatbot, YOU / ROMEO for the plays)."""
        defaults = default_speakers(self.get(name, LM).data)
        return user or defaults[0], bot or defaults[1]

    def chat(
        self,
        name: str,
        history: list[tuple[str, str]],
        message: str,
        user: str | None = None,
        bot: str | None = None,
        seed: int = 0,
        **sampling: float | int | None,
    ) -> Iterator[str]:
        """The bot's reply to ``message`` after ``history`` ([(speaker, text)], oldest first,
        speakers being ``user`` or ``bot``; None: ``speakers()``), in pieces. The server
        keeps no conversation: the caller sends the history each time. A message the model
        cannot read (empty, only emoji or unknown characters) is refused before streaming."""
        served = self.get(name, LM)
        if not served.chat:
            raise InputError(f"{name!r} was not trained on dialogue; it cannot chat", 422)
        try:
            session = ChatSession(served.model, served.data, user, bot, seed=seed, **sampling)
            session.user_turn(message)
        except ValueError as err:  # a name it cannot spell, a message it cannot read
            raise InputError(str(err), 422) from err
        session.history = [(speaker, session.clean(text)) for speaker, text in history]
        return _each_without_grad(session.stream(message))

    # --- audio ------------------------------------------------------------------------------

    def classify_audio(
        self, name: str, blob: bytes, top_k: int = 3, explain: bool = False
    ) -> dict:
        """The top digits of an uploaded recording, a clipping warning and, with ``explain``,
        the spectrogram with Grad-CAM as PNG bytes (``serve/audio.py``)."""
        from litlab.serve.audio import classify_audio

        return classify_audio(self.get(name, AUDIO), blob, top_k, explain, self.max_audio_bytes)

    # --- summaries --------------------------------------------------------------------------

    def summarize(self, name: str, text: str, ratio: float | None = None) -> dict:
        """The extractive summary of an article and every sentence's score
        (``serve/summaries.py``)."""
        from litlab.serve.summaries import summarize

        return summarize(self.get(name, SUMMARY), text, ratio)
