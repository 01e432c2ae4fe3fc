"""The inference halves of text classification (no Lightning): what a trained sentiment model
and its data do for ``litlab explain``, ``litlab score`` and serve/, and what ``TextClassifier``
(``module.py``) and every ``TextClassificationDataModule`` inherit (``common/inference.py``).

- :class:`TextPredictor`: ``forward(ids, lengths)`` and what the pictures need:
  ``embedding_layer`` (token attributions) and ``attention_maps``.
- :class:`TextCodec`: the tokenizer and class names a checkpoint keeps, truncation as in
  training, ``encode_texts`` and ``token_strings`` (``TextData`` in ``common/protocols.py``);
  :class:`KoreanTextCodec` for NSMC's Korean BPE.
"""

from __future__ import annotations

from typing import Any, Literal

from torch import Tensor, nn

from litlab.common.inference import DataCodec, InferenceModule
from litlab.common.protocols import TokenBatch, ready
from litlab.sequence.sentiment.batching import clean_text, pad_tokens
from litlab.sequence.tokenizers import tokenizer_from_state


class TextPredictor(InferenceModule):
    """A trained text network, ``net(ids, lengths) -> logits`` with an ``embedding`` layer."""

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Token ids (B, T) and lengths (B,) -> logits (B, num_classes)."""
        return self.net(ids, lengths)

    # --- protocol for the pictures (common/protocols.py) --------------------------------

    def embedding_layer(self) -> nn.Module:
        """Where integrated gradients attribute: the token embedding."""
        return self.net.embedding

    def attention_maps(self, inputs: TokenBatch) -> dict[str, Tensor]:
        """The net's own ``attention_maps(ids, lengths)`` when it has them (a transformer:
        ``{"layer0": (B, heads, T, T), ...}``), else ``{"pool": (B, 1 head, 1 query, T)}``:
        the attention-pooling weights."""
        ids, lengths = inputs
        if hasattr(self.net, "attention_maps"):
            return self.net.attention_maps(ids, lengths)
        return {"pool": self.net.pool_weights(ids, lengths)[:, None, None, :]}


class TextCodec(DataCodec):
    """Tokenizer and class names (trained or read by the DataModule, or restored from a
    checkpoint) and the encoding of new text with the ``max_length`` and ``truncation`` the
    model was trained with."""

    classes: list[str] = ["negative", "positive"]
    kind: Literal["byte_level", "korean"] = "byte_level"  # the BPE the DataModule trains
    language = "en"  # what the language warning compares with (common/language.py)
    tokenizer: Any = None  # SubwordTokenizer or PretrainedTokenizer, once known

    pad = staticmethod(pad_tokens)

    # --- what a checkpoint keeps, so new text can be encoded without the data ----------------

    def state_dict(self) -> dict:
        if self.tokenizer is None:
            self.setup()  # the DataModule's: reads the data and trains the tokenizer
        return {"tokenizer": self.tokenizer.state(), "classes": list(self.classes)}

    def load_state_dict(self, state: dict) -> None:
        if self.tokenizer is not None and self.tokenizer.state() != state["tokenizer"]:
            self.encoded = {}  # encoded with another tokenizer: encode again on demand
        self.tokenizer = tokenizer_from_state(state["tokenizer"])
        self.classes = list(state["classes"])

    # --- the text protocol (common/protocols.py) ---------------------------------------------

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def pad_id(self) -> int:
        return ready(self.tokenizer, self, "pad_id").pad_id  # never tokenizes the data

    @property
    def vocab_size(self) -> int:
        """The trained tokenizer's vocabulary (at most ``hparams.vocab_size``)."""
        return ready(self.tokenizer, self, "vocab_size").vocab_size

    def _truncate(self, ids: list[int]) -> list[int]:
        """At most ``max_length`` ids, a pretrained model's ``[CLS]``/``[SEP]`` included."""
        m = self.hparams.max_length - getattr(self.tokenizer, "n_special", 0)
        if len(ids) <= m:
            kept = ids or [self.tokenizer.unk_id]  # an empty text is one unknown token
        elif self.hparams.truncation == "head":
            kept = ids[:m]
        elif self.hparams.truncation == "tail":
            kept = ids[-m:]
        else:
            head = m // 4
            kept = ids[:head] + ids[len(ids) - (m - head) :]
        add_special = getattr(self.tokenizer, "add_special", None)
        return add_special(kept) if add_special is not None else kept

    def _encode(self, texts: list[str]) -> list[list[int]]:
        return [self._truncate(ids) for ids in self.tokenizer.encode_batch(texts)]

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        if self.tokenizer is None:
            self.setup()
        return self.pad(self._encode([clean_text(t) for t in texts]), self.pad_id)

    def token_strings(self, ids: Tensor) -> list[str]:
        return self.tokenizer.token_strings(ids.tolist())


class KoreanTextCodec(TextCodec):
    """Korean reviews: BPE over Hangul syllables (NSMC)."""

    kind = "korean"
    language = "ko"
