"""The protocol between LightningModules / DataModules and the picture callbacks.

Callbacks never reach into hidden attributes: they ask for what they need through these
documented methods, and fail early with a message naming the missing one. A new domain
that wants the pictures implements the methods; nothing in ``common/`` changes.

Inputs: a batch is ``(inputs, labels)``. Image inputs are one tensor (B, C, H, W) and the
module is called as ``module(images)``; text inputs are a ``TokenBatch`` (ids, lengths) and
the module is called as ``module(ids, lengths)``, i.e. ``module(*inputs)``.

=======================  ====================================  ===============================
who                      implements                            used by
=======================  ====================================  ===============================
DataModule               ``ProbeData``: ``classes``,           prediction grid, feature maps,
                         ``probe_batch``, ``denormalize``      Grad-CAM
DataModule               ``ImageInputs``: + ``encode_images``  ``litlab explain`` on images
DataModule               ``TokenProbe``: ``probe_batch``,      attention maps
                         ``token_strings``
DataModule               ``TextData``: ``TokenProbe`` +        token attributions, ``litlab
                         ``classes``, ``pad_id``,              explain`` on text
                         ``encode_texts``
LightningModule          ``FeatureMapSource``                  feature maps
LightningModule          ``GradCamSource``                     Grad-CAM
LightningModule          ``AttentionSource``                   attention maps
LightningModule          ``TokenAttributionSource``            token attributions
DataModule               ``LanguageData``: ``tokenizer``,      text samples, ``litlab
                         ``prompt``                            generate``
LightningModule          ``LanguageModelSource``: ``generate`` text samples, ``litlab generate``,
                         (+ ``block_size``, see                ``litlab chat``
                         ``context_size``)
DataModule               ``DialogueData``: ``LanguageData`` +  ``litlab chat``, serve/
                         ``turn_boundary``, ``speaker_tag``,
                         ``format_turn``
DataModule               ``ForecastData``                      forecast plot
DataModule               ``Seq2SeqData``                       alignment heat maps
LightningModule          ``AlignmentSource``                   alignment heat maps
LightningModule          ``GradientFlowSource``                gradient norm against distance
=======================  ====================================  ===============================

Step outputs: ``validation_step`` / ``test_step`` return a dict with ``preds`` (B,) and
``target`` (B,) class indices (used by the confusion matrix).

Whatever a DataModule needs to encode new inputs after training (class names, normalisation,
a tokenizer's vocabulary) belongs in its ``state_dict()``: Lightning stores it in every
checkpoint, and ``litlab explain`` / serve/ rebuild the DataModule from it without the data.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class ProbeData(Protocol):
    """A DataModule that can hand out fixed, labelled evaluation images."""

    classes: list[str]

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed normalised images (n, C, H, W) and their labels (n,)."""
        ...

    def denormalize(self, images: Tensor) -> Tensor:
        """Normalised images -> [0, 1] for display."""
        ...


@runtime_checkable
class ImageInputs(ProbeData, Protocol):
    """Image data that can also prepare new images the way the model was trained on them."""

    def encode_images(self, images: list[Tensor]) -> Tensor:
        """uint8 images (C, H, W) of any size -> one normalised batch (N, C, H, W)."""
        ...


class TokenBatch(NamedTuple):
    """Padded token ids (B, T) and the true lengths (B,) of a text batch."""

    ids: Tensor
    lengths: Tensor


@runtime_checkable
class TokenProbe(Protocol):
    """Token data with fixed probe sequences and displayable tokens (attention maps)."""

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """``n`` fixed evaluation texts as a TokenBatch, and their labels or targets."""
        ...

    def token_strings(self, ids: Tensor) -> list[str]:
        """One displayable string per id (n,), e.g. " good" for a word after a space."""
        ...


@runtime_checkable
class TextData(TokenProbe, Protocol):
    """A text-classification DataModule: probe texts, token strings, classes and an encoder."""

    classes: list[str]
    pad_id: int

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        """Raw strings -> the TokenBatch the model takes."""
        ...


@runtime_checkable
class FeatureMapSource(Protocol):
    """A LightningModule that names the layers whose outputs are worth looking at."""

    def feature_map_layers(self, n: int = 2) -> dict[str, nn.Module]: ...


def require(obj: object, protocol: type, who: str) -> None:
    """Raise a TypeError naming what ``obj`` lacks to serve ``who``."""
    if obj is None or not isinstance(obj, protocol):
        names = [n for n in vars(protocol) if not n.startswith("_")]
        names += list(getattr(protocol, "__annotations__", {}))
        missing = [n for n in names if not hasattr(obj, n)] if obj is not None else []
        raise TypeError(
            f"{who} needs a {protocol.__name__} ({type(obj).__name__} lacks {missing or 'it'}); "
            f"see common/protocols.py"
        )


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
        ...


@runtime_checkable
class TokenAttributionSource(Protocol):
    """A text classifier, ``forward(ids, lengths) -> logits``, with an embedding layer.

    Integrated gradients are taken at the output of ``embedding_layer()``.
    """

    def embedding_layer(self) -> nn.Module: ...


# --- language models (litlab.sequence.lm, transformer): samples and ``litlab generate`` ------

from torch import Generator  # noqa: E402  (appended section; only used in annotations)


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
        ...


def context_size(model: object) -> int | None:
    """The longest token context ``model`` reads (its ``block_size``); None: no limit."""
    size = getattr(model, "block_size", None)
    return int(size) if size is not None else None


@runtime_checkable
class DialogueData(LanguageData, Protocol):
    """Language data made of speaker-tagged turns (``sequence/lm/dialogue.py``), for chat.

    ``format_turn(s, t)`` starts with ``speaker_tag(s)`` and ends with ``turn_boundary``,
    which occurs nowhere else in a formatted turn; a reply is sampled after the bot's tag
    until the boundary. ``turn_boundary`` is None when the data is not dialogue.
    """

    @property
    def turn_boundary(self) -> str | None: ...

    def speaker_tag(self, speaker: str) -> str:
        """What opens a turn, e.g. ``"ROMEO:"``."""
        ...

    def format_turn(self, speaker: str, text: str) -> str:
        """One whole turn, e.g. ``"ROMEO: But, soft!\\n"``."""
        ...


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
        ...

    def windows(self, split: str) -> tuple[Tensor, Tensor, Tensor]:
        """Scaled histories (M, window), scaled targets (M, horizon), and origins (M,): the
        index in ``values`` of each window's first target point."""
        ...

    def inverse_transform(self, scaled: Tensor) -> Tensor:
        """Scaled values (any shape) -> original units."""
        ...

    def seasonal_naive(self, history: Tensor) -> Tensor:
        """The baseline: scaled histories (M, window) -> forecasts (M, horizon), original units."""
        ...


@runtime_checkable
class Seq2SeqData(Protocol):
    """A sequence-to-sequence DataModule: batches ``(TokenBatch(src ids, src lengths),
    target ids (B, T_out))``, targets framed by ``bos_id`` ... ``eos_id`` and padded."""

    pad_id: int
    bos_id: int
    eos_id: int

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """``n`` fixed evaluation inputs and their target ids."""
        ...

    def token_strings(self, ids: Tensor) -> list[str]:
        """One displayable string per id (n,)."""
        ...


@runtime_checkable
class AlignmentSource(Protocol):
    """An encoder-decoder that shows where each output token looked in the input."""

    def alignments(self, inputs: TokenBatch) -> tuple[Tensor, Tensor]:
        """Greedy output ids (B, T_out), ending in ``eos`` then padding, and the decoder's
        attention over the input (B, heads, T_out, T_src) that produced them; each row sums
        to 1 over the real input tokens (one head for RNN attention; one map per head, or
        the average over layers, for a transformer's cross-attention)."""
        ...


@runtime_checkable
class GradientFlowSource(Protocol):
    """A recurrent model that can measure how much gradient reaches each past hidden state."""

    def hidden_gradient_norms(self, inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Curve label -> ||dL/dh_t|| (T,) for t = 1..T (index -1: the last step)."""
        ...
