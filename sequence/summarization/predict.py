"""The inference halves of extractive summarization (no Lightning): what ``litlab summarize``
and serve/ need of a trained summarizer and its data, and what ``ExtractiveSummarizer``
(``module.py``) and ``ExtractiveDataModule`` (``data.py``) inherit (``common/inference.py``).

- :class:`SummarizerPredictor`: ``sentence_scores`` (``SentenceScorer`` in
  ``common/protocols.py``) and the word budget it was trained with (``budget_ratio``).
- :class:`SummaryCodec`: the tokenizer and budget a checkpoint keeps, ``batch``: new
  articles (lists of sentences) as the model's input, and ``lexicon`` (``SummaryData``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from litlab.common.attribution import evaluating
from litlab.common.inference import DataCodec, InferenceModule, device_of
from litlab.common.protocols import ready
from litlab.sequence.tokenizers import tokenizer_from_state


def pad_documents(docs: list[list[list[int]]], pad_id: int) -> tuple[Tensor, Tensor]:
    """Documents of sentences of ids -> ids (B, S, T), lengths (B, S)."""
    s = max(len(d) for d in docs)
    t = max((len(sent) for d in docs for sent in d), default=1) or 1
    ids = torch.full((len(docs), s, t), pad_id, dtype=torch.long)
    lengths = torch.zeros(len(docs), s, dtype=torch.long)
    for b, doc in enumerate(docs):
        for i, sent in enumerate(doc):
            ids[b, i, : len(sent)] = torch.tensor(sent, dtype=torch.long)
            lengths[b, i] = len(sent)
    return ids, lengths


class SummarizerPredictor(InferenceModule):
    """A trained sentence scorer ``net(ids (B, S, T), lengths (B, S)) -> logits (B, S)`` and
    ``budget_ratio``, the data's word budget, kept as a buffer in every checkpoint."""

    budget_ratio: Tensor

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T), lengths (B, S) -> logits (B, S); padding sentences get -1e4."""
        return self.net(ids, lengths).masked_fill(lengths == 0, -1e4)

    # --- what summarize / serve / the callbacks ask (SentenceScorer) --------------------

    @torch.inference_mode()
    def sentence_scores(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """ids (B, S, T), lengths (B, S) -> probabilities (B, S); 0 for padding sentences."""
        device = device_of(self)
        with evaluating(self):
            logits = self(ids.to(device), lengths.to(device))
        return torch.sigmoid(logits).masked_fill(lengths.to(device) == 0, 0.0).cpu()


class SummaryCodec(DataCodec):
    """The BPE tokenizer (trained by the DataModule, or restored), the word budget and the
    encoding of new articles with ``hparams.max_sentences`` and ``.max_tokens``."""

    language = "en"
    tokenizer: Any = None  # SubwordTokenizer, once known
    _budget_ratio: float | None = None

    @property
    def budget_ratio(self) -> float:
        """The summary's share of the article's words that every method may fill."""
        return ready(self._budget_ratio, self, "budget_ratio")

    @property
    def pad_id(self) -> int:
        return ready(self.tokenizer, self, "pad_id").pad_id

    @property
    def vocab_size(self) -> int:
        return ready(self.tokenizer, self, "vocab_size").vocab_size

    def encode_articles(self, documents: list[list[str]]) -> list[list[list[int]]]:
        """Sentences -> ids, at most ``max_sentences`` per document and ``max_tokens`` each
        (an empty sentence becomes one unknown-free pad-free token: its first byte id)."""
        tok = ready(self.tokenizer, self, "tokenizer")
        hp = self.hparams
        out = []
        for sentences in documents:
            # a space before every sentence, so its first word is cut into the pieces it
            # has inside a sentence ("ĠMarsh", not "Mar" + "sh"): one word, one id sequence
            rows = tok.encode_batch([" " + s for s in sentences[: hp.max_sentences]])
            out.append([r[: hp.max_tokens] or [tok.pad_id + 1] for r in rows])
        return out

    def batch(self, documents: list[list[str]]) -> tuple[Tensor, Tensor]:
        """New articles (lists of sentences) as the model's input: ids (B, S, T), lengths."""
        return pad_documents(self.encode_articles(documents), self.pad_id)

    def lexicon(self) -> tuple[list[str], list[list[int]]]:
        """What a word-level view of the ids needs (``graph.WordGraph``): every piece as the
        tokenizer stores it ("Ġprofits"), and the piece ids of English stop words as they
        appear inside a sentence and at its start, lower- and capitalised (none for Korean:
        its particles are part of the word)."""
        tok = ready(self.tokenizer, self, "tokenizer")
        pieces = [tok.tok.id_to_token(i) or "" for i in range(tok.vocab_size)]
        if self.language != "en":
            return pieces, []
        from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS  # only when asked

        # and words of one letter or digit, which scikit-learn's tokens skip
        words = [*sorted(ENGLISH_STOP_WORDS), *"abcdefghijklmnopqrstuvwxyz0123456789"]
        forms = [f for w in words for f in (w, w.capitalize())]
        return pieces, tok.encode_batch([*forms, *(" " + f for f in forms)])

    # --- what a checkpoint keeps, so new articles can be encoded without the data -----------

    def state_dict(self) -> dict:
        if self.tokenizer is None:
            self.setup()  # the DataModule's: trains the tokenizer from the data
        return {"tokenizer": self.tokenizer.state(), "budget_ratio": self.budget_ratio}

    def load_state_dict(self, state: dict) -> None:
        self.tokenizer = tokenizer_from_state(state["tokenizer"])
        self._budget_ratio = float(state["budget_ratio"])
        self._encoded = {}  # a DataModule's splits, encoded with the tokenizer it had
