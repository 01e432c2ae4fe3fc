"""The contracts between DataModules, LightningModules, callbacks and ``litlab explain``.

One ordered file: what each side may ask of the other. The checks that enforce it
(``conforms``, ``require``, the fit check, the filling in) are in ``common/contracts.py``.

1. What a LightningModule may ask of its DataModule (``ClassData``, ``VocabData``,
   ``WindowData``, ``ForecastData``, ``Seq2SeqData``): sizes the network must agree with.
   A module says which it was built for in ``data_needs()`` (``ModelNeeds``); at the start
   of every fit the values are compared and the first that disagrees is named in one
   sentence. What the data defines (``DataDefines``) is filled into the model's
   configuration, so an experiment YAML does not repeat it.
2. What callbacks and ``litlab explain`` / serve/ may ask of a DataModule: the ``*Inputs`` /
   ``*Data`` protocols are what inference asks (encoding new inputs: ``ImageInputs``,
   ``AudioInputs``, ``TextData``, ``LanguageData``, ``DialogueData``, ``SummaryData``); the
   ``*Probe`` protocols and ``AudioData`` add what only the training callbacks ask (fixed
   evaluation batches or clips, articles).
3. What callbacks and ``litlab explain`` / serve/ may ask of a LightningModule.

What inference asks (parts 2 and 3, without the probes) is exactly what the Lightning-free
inference halves of ``common/inference.py`` implement: a LightningModule or DataModule
inherits its half, so explain, generate, chat, summarize and serve/ see the same methods
whether they were handed the Lightning object or the half loaded without Lightning.

Inputs: a batch is ``(inputs, labels)``: images (B, C, H, W), called as ``module(images)``,
or a ``TokenBatch`` (ids, lengths), called as ``module(*inputs)``. A classifier's
validation and test steps return ``{"preds": (B,), "target": (B,)}`` (the confusion matrix).

Properties never do I/O: a size known only once the data is read (a trained tokenizer's
``vocab_size``) raises ``NotReadyError`` (:func:`ready`) before ``setup()``. What a
DataModule needs to encode new inputs after training (class names, normalisation, a
tokenizer) belongs in its ``state_dict()``: Lightning stores it in every checkpoint, and
explain / serve/ rebuild the DataModule from it without the data.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol, runtime_checkable

from torch import Generator, Tensor, nn


class NotReadyError(AttributeError):
    """A DataModule value asked for before ``setup()`` or ``load_state_dict()`` made it (an
    AttributeError: ``getattr(obj, name, default)`` treats it as not there yet)."""


def ready(value: Any, owner: object, name: str) -> Any:
    """``value``, or NotReadyError naming ``owner.name`` while it is None (not set up)."""
    if value is None:
        who = f"{type(owner).__name__}.{name}"
        raise NotReadyError(f"{who} is known after setup() or load_state_dict()")
    return value


class TokenBatch(NamedTuple):
    """Padded token ids (B, T) and the true lengths (B,) of a text batch."""

    ids: Tensor
    lengths: Tensor


# --- 1. what a LightningModule may ask of its DataModule -----------------------------------


@runtime_checkable
class DataDefines(Protocol):
    """A DataModule class that defines sizes the model takes, from its configuration (or by
    counting, as a text's characters; never in a property)."""

    @classmethod
    def model_values(cls, init_args: dict[str, Any]) -> dict[str, int | str]:
        """E.g. ``{"num_classes": 10}`` or ``{"vocab_size": 8000, "block_size": 64}``."""


@runtime_checkable
class ModelNeeds(Protocol):
    """A LightningModule that says which data sizes its network was built for."""

    def data_needs(self) -> dict[str, int]:
        """``num_classes``: the data's must be equal; ``vocab_size`` and ``block_size``: the
        data's must be at most this (an embedding table may have spare rows)."""


@runtime_checkable
class ClassData(Protocol):
    """Classification data: class names, in label order."""

    classes: list[str]
    num_classes: int


@runtime_checkable
class VocabData(Protocol):
    """Token data: the tokenizer's vocabulary size and padding id (known after setup)."""

    vocab_size: int
    pad_id: int


@runtime_checkable
class WindowData(Protocol):
    """Language-model data cut into windows of ``block_size`` tokens."""

    block_size: int


# --- 2. what callbacks and ``litlab explain`` / serve/ may ask of a DataModule -------------


@runtime_checkable
class ProbeData(Protocol):
    """Fixed, labelled evaluation images (prediction grid, feature maps, Grad-CAM)."""

    classes: list[str]

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed normalised images (n, C, H, W) and their labels (n,)."""

    def denormalize(self, images: Tensor) -> Tensor:
        """Normalised images -> [0, 1] for display."""


@runtime_checkable
class ImageInputs(Protocol):
    """Image data that prepares new images as in training (``litlab explain``, serve/)."""

    classes: list[str]

    def encode_images(self, images: list[Tensor]) -> Tensor:
        """uint8 images (C, H, W) of any size -> one normalised batch (N, C, H, W)."""

    def denormalize(self, images: Tensor) -> Tensor:
        """Normalised images -> [0, 1] for display."""


@runtime_checkable
class TokenProbe(Protocol):
    """Token data with fixed probe sequences and displayable tokens (attention maps)."""

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """``n`` fixed evaluation texts as a TokenBatch, and their labels or targets."""

    def token_strings(self, ids: Tensor) -> list[str]:
        """One displayable string per id (n,), e.g. " good" for a word after a space."""


@runtime_checkable
class TextData(Protocol):
    """Text-classification data: classes, an encoder, displayable tokens (``litlab explain``
    and ``score`` on text, serve/; the token-attribution callback adds ``TokenProbe``)."""

    classes: list[str]
    pad_id: int

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        """Raw strings -> the TokenBatch the model takes."""

    def token_strings(self, ids: Tensor) -> list[str]:
        """One displayable string per id (n,), e.g. " good" for a word after a space."""


@runtime_checkable
class LanguageData(Protocol):
    """A language-modelling DataModule: the tokenizer that encodes prompts and decodes samples
    (``encode``, ``decode``, ``vocab_size``, see ``sequence/tokenizers.py``), and a default prompt.
    The tokenizer belongs in the DataModule's ``state_dict()``."""

    @property
    def tokenizer(self) -> object: ...

    @property
    def prompt(self) -> str: ...


@runtime_checkable
class DialogueData(LanguageData, Protocol):
    """Language data made of speaker-tagged turns (``sequence/lm/dialogue.py``), for chat.

    ``format_turn(s, t)`` starts with ``speaker_tag(s)`` and ends with ``turn_boundary``,
    which occurs nowhere else in a formatted turn; a reply is sampled after the bot's tag
    until the boundary. ``turn_boundary`` is None when the data is not dialogue. Optionally
    ``default_speakers``: the (user, bot) names chat uses unless told others (the Korean
    chatbot's 사용자 / 챗봇; without it YOU / ROMEO, ``common/chat.py``).
    """

    @property
    def turn_boundary(self) -> str | None: ...

    def speaker_tag(self, speaker: str) -> str:
        """What opens a turn, e.g. ``"ROMEO:"``."""

    def format_turn(self, speaker: str, text: str) -> str:
        """One whole turn, e.g. ``"ROMEO: But, soft!\\n"``."""


@runtime_checkable
class AudioInputs(Protocol):
    """Audio-classification data as inference needs it (``litlab explain``, serve/): clips
    prepared by ``common/audio_io.prepare`` (mono, ``sample_rate``, ``clip_seconds``) and the
    way from clips to the network's input (``audio/predict.py``)."""

    classes: list[str]
    sample_rate: int
    clip_seconds: float

    def encode_clips(self, clips: Tensor, train: bool = False) -> Tensor:
        """Prepared clips (B, T) -> the network's input (log-mel (B, 1, F, N) or (B, 1, T))."""

    def spectrogram(self, clips: Tensor) -> Tensor:
        """Prepared clips (B, T) -> log-mel power in dB (B, n_mels, frames), for figures."""


@runtime_checkable
class AudioData(AudioInputs, Protocol):
    """An audio DataModule (``litlab.audio.data``): ``AudioInputs`` and the fixed evaluation
    clips the audio callback draws."""

    def probe_clips(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed evaluation clips (n, T) float in [-1, 1], and their labels."""


@runtime_checkable
class ForecastData(Protocol):
    """A time-series DataModule: windows of scaled values and the way back to real units.

    Batches are ``(history (B, window), target (B, horizon))``, both scaled; the module is
    called as ``module(history)`` and returns the scaled forecast (B, horizon).
    """

    period: int  # season length of the seasonal-naive baseline
    horizon: int
    times: list[str]  # one label per point of ``values``
    values: Tensor  # the whole series (N,), original units

    def span(self, split: str) -> tuple[int, int]:
        """[start, stop) indices of ``"train"``, ``"val"`` or ``"test"`` in ``values``."""

    def windows(self, split: str) -> tuple[Tensor, Tensor, Tensor]:
        """Scaled histories (M, window), scaled targets (M, horizon), and origins (M,): the
        index in ``values`` of each window's first target point."""

    def inverse_transform(self, scaled: Tensor) -> Tensor:
        """Scaled values (any shape) -> original units."""

    def seasonal_naive(self, history: Tensor) -> Tensor:
        """The baseline: scaled histories (M, window) -> forecasts (M, horizon), original units."""


@runtime_checkable
class Seq2SeqData(Protocol):
    """A sequence-to-sequence DataModule: batches ``(TokenBatch(src ids, src lengths),
    target ids (B, T_out))``, targets framed by ``bos_id`` ... ``eos_id`` and padded."""

    pad_id: int
    bos_id: int
    eos_id: int

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """``n`` fixed evaluation inputs and their target ids."""

    def token_strings(self, ids: Tensor) -> list[str]:
        """One displayable string per id (n,)."""


@runtime_checkable
class Seq2SeqTextData(Seq2SeqData, Protocol):
    """Seq2seq data whose outputs are text to read and score (headlines: ROUGE, samples)."""

    def decode(self, ids: Tensor) -> str:
        """Output ids (T,) -> text, up to the first ``eos_id``; special ids dropped."""


@runtime_checkable
class SummaryData(Protocol):
    """Extractive-summarization data: the word budget every method fills and the encoding of
    new articles (``sequence/summarization/predict.py``; ``litlab summarize``, serve/)."""

    language: str
    budget_ratio: float

    def batch(self, documents: list[list[str]]) -> tuple[Tensor, Tensor]:
        """Documents (lists of sentences) -> ids (B, S, T), lengths (B, S)."""

    def lexicon(self) -> tuple[list[str], list[list[int]]]:
        """The tokenizer's pieces as it stores them and the piece ids of stop words: what a
        network needs to see whole words in the ids (``summarization/graph.py``)."""


@runtime_checkable
class SummaryProbe(SummaryData, Protocol):
    """A summarization DataModule's articles, for ROUGE in training and its callback.
    ``articles(split)`` items have ``sentences`` (list[str]), ``summary`` (indices of the
    reference sentences) and ``reference`` (those sentences, one per line)."""

    def articles(self, split: str) -> list[Any]:
        """The raw articles of a split, in the order its loader's ``index`` refers to."""


# --- 3. what callbacks and ``litlab explain`` / serve/ may ask of a LightningModule ---------


@runtime_checkable
class FeatureMapSource(Protocol):
    """A LightningModule that names the layers whose outputs are worth looking at."""

    def feature_map_layers(self, n: int = 2) -> dict[str, nn.Module]: ...


@runtime_checkable
class GradCamSource(Protocol):
    """An image classifier that names its Grad-CAM layer.

    ``forward(images)`` must run that layer exactly once: a last convolutional stage, whose
    maps still have a spatial layout and already carry class evidence.
    """

    def gradcam_layer(self) -> nn.Module: ...


@runtime_checkable
class AttentionSource(Protocol):
    """A model that can return its attention weights for a batch of inputs."""

    def attention_maps(self, inputs: Tensor | TokenBatch) -> dict[str, Tensor]:
        """Layer name -> weights (B, heads, T_query, T_key); each row sums to 1 over keys.

        Self-attention has T_query = T_key = the input tokens; attention pooling has one
        query (T_query = 1). Padded positions may be zero.
        """


@runtime_checkable
class TokenAttributionSource(Protocol):
    """A text classifier, ``forward(ids, lengths) -> logits``, with an embedding layer.

    Integrated gradients are taken at the output of ``embedding_layer()``.
    """

    def embedding_layer(self) -> nn.Module: ...


@runtime_checkable
class LanguageModelSource(Protocol):
    """A LightningModule that continues token sequences.

    Optionally also ``generate_iter(...)`` with the same arguments, yielding the new tokens
    (B,) one at a time, which ``litlab generate`` uses to print while it samples, and
    ``block_size``: the longest context it reads (None or absent: no limit, as an RNN).
    """

    def generate(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: Generator | None = None,
    ) -> Tensor:
        """Prompt ids (B, T) -> (B, T + max_new_tokens); temperature 0 is greedy."""


@runtime_checkable
class SentenceScorer(Protocol):
    """An extractive summarizer: how strongly each sentence belongs in its document's
    summary. Documents come encoded by the ``SummaryData``'s ``batch``."""

    def sentence_scores(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T), lengths (B, S) -> probabilities (B, S) in [0, 1]; 0 for padding."""


@runtime_checkable
class AlignmentSource(Protocol):
    """An encoder-decoder that shows where each output token looked in the input."""

    def alignments(self, inputs: TokenBatch) -> tuple[Tensor, Tensor]:
        """Greedy output ids (B, T_out), ending in ``eos`` then padding, and the decoder's
        attention over the input (B, heads, T_out, T_src) that produced them; each row sums
        to 1 over the real input tokens (one head for RNN attention; one map per head, or
        the average over layers, for a transformer's cross-attention)."""


@runtime_checkable
class Seq2SeqSource(AlignmentSource, Protocol):
    """An encoder-decoder that writes outputs freely (``Seq2SeqModule``)."""

    def decode(self, inputs: TokenBatch, beam_width: int | None = None) -> Tensor:
        """Output ids (B, T_out), ``eos`` then padding: greedy, or beam search if width > 1."""


@runtime_checkable
class GradientFlowSource(Protocol):
    """A recurrent model that can measure how much gradient reaches each past hidden state."""

    def hidden_gradient_norms(self, inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Curve label -> ||dL/dh_t|| (T,) for t = 1..T (index -1: the last step)."""
