"""ExtractiveDataModule: articles as (sentences x tokens) id grids with a 0/1 label per sentence.

    dm = ExtractiveDataModule(dataset="bbc")    # BBC News Summary, 80/10/10 by category
    batch = next(iter(dm.train_dataloader()))
    batch.ids (B, S, T), batch.lengths (B, S), batch.labels (B, S), batch.index (B,)

Each article is split into sentences (``corpus.py``), each sentence is encoded with a
byte-level BPE trained on the training articles only, and cut to ``max_tokens``; an article
keeps its first ``max_sentences`` sentences (the model scores no later ones; they are never
selected, and ``truncated`` says how many were dropped). A sentence's label is 1 when the
reference summary holds it. Padding sentences have length 0 (the model and the loss mask
them out). ``index`` points back into ``articles(split)``, where evaluation finds the raw
sentences and the reference for ROUGE.

``budget_ratio``: the word budget every extractive method fills, as a share of the article's
words; by default the training split's mean summary share (45 % for BBC), measured here.
"""

from __future__ import annotations

import statistics
from typing import Literal, NamedTuple

import lightning as L
import torch
from torch import Tensor

from litlab.common.data import SplitLoaders, resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.extractive import n_words
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.summarization.corpus import Article, read_bbc, split_articles
from litlab.sequence.summarization.predict import SummaryCodec, pad_documents
from litlab.sequence.tokenizers import SubwordTokenizer


class DocumentBatch(NamedTuple):
    ids: Tensor  # (B, S, T) token ids, pad_id past each sentence
    lengths: Tensor  # (B, S) tokens per sentence; 0 for padding sentences
    labels: Tensor  # (B, S) 1 = in the reference summary (0 for padding)
    index: Tensor  # (B,) positions in articles(split)


class ExtractiveDataModule(SummaryCodec, SplitLoaders, L.LightningDataModule):
    """Sentence-labelled articles for extractive summarization (see the module docstring).
    The tokenizer, the budget and ``batch`` (new articles as input) are ``SummaryCodec``'s
    (``predict.py``), which ``litlab summarize`` and serve/ load without Lightning.

    Args:
        dataset: ``bbc`` (BBC News Summary; the only corpus large enough to train on).
        root: data root (``--data.root``, else ``$DATA_DIR``, else ``./data``).
        vocab_size: BPE vocabulary, trained on the training articles.
        max_sentences, max_tokens: the grid's size per article and per sentence.
        batch_size: articles per batch.
        val_fraction, test_fraction, seed: the stratified split (``split_articles``).
        budget_ratio: word budget as a share of the article; None = measured on train.
        subset: use only this many articles per split (tests, quick runs).
    """

    def __init__(
        self,
        dataset: Literal["bbc"] = "bbc",
        root: str | None = None,
        vocab_size: int = 8000,
        max_sentences: int = 48,
        max_tokens: int = 64,
        batch_size: int = 16,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        budget_ratio: float | None = None,
        subset: int | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_positive("--data.init_args", vocab_size=vocab_size, max_sentences=max_sentences,
                       max_tokens=max_tokens, batch_size=batch_size, subset=subset)
        if budget_ratio is not None and not 0 < budget_ratio <= 1:
            raise ConfigError(
                f"--data.init_args.budget_ratio must be in (0, 1], got {budget_ratio}"
            )
        self.save_hyperparameters()
        self.tokenizer: SubwordTokenizer | None = None
        self._articles: dict[str, list[Article]] = {}
        self._encoded: dict[str, list[list[list[int]]]] = {}
        self._budget_ratio = budget_ratio

    # --- the corpus ---------------------------------------------------------------------

    def articles(self, split: str) -> list[Article]:
        """The raw articles of ``train``, ``val`` or ``test`` (what ROUGE is computed on)."""
        if not self._articles:
            hp = self.hparams
            corpus = read_bbc(resolve_data_root(hp.root))
            parts = split_articles(corpus, hp.val_fraction, hp.test_fraction, hp.seed)
            self._articles = {
                s: part[: hp.subset] if hp.subset else part
                for s, part in zip(("train", "val", "test"), parts)
            }
        return self._articles[split]

    @property
    def budget_ratio(self) -> float:
        """The summary's share of the article's words that every method may fill."""
        if self._budget_ratio is None:
            shares = [
                sum(n_words(a.sentences[i]) for i in a.summary) / max(1, n_words(a.text))
                for a in self.articles("train")
            ]
            self._budget_ratio = round(statistics.fmean(shares), 3)
        return self._budget_ratio

    def setup(self, stage: str | None = None) -> None:
        if self._encoded:
            return
        if self.tokenizer is None:  # a restored checkpoint brings its own tokenizer
            texts = [" " + s for a in self.articles("train") for s in a.sentences]
            self.tokenizer = SubwordTokenizer.train(texts, self.hparams.vocab_size)
        for split in ("train", "val", "test"):
            self._encoded[split] = self.encode_articles(
                [a.sentences for a in self.articles(split)]
            )

    def prepare_data(self) -> None:
        self.articles("train")  # extraction happens once, in the main process

    # --- loaders ------------------------------------------------------------------------

    def _collate(self, items: list[tuple[int, list[list[int]], list[int]]]) -> DocumentBatch:
        index, docs, labels = zip(*items)
        ids, lengths = pad_documents(list(docs), self.pad_id)
        grid = torch.zeros_like(lengths)
        for b, lab in enumerate(labels):
            grid[b, : len(lab)] = torch.tensor(lab)
        return DocumentBatch(ids, lengths, grid, torch.tensor(index))

    def _loader(self, split: str) -> ResumableDataLoader:
        self.setup()
        articles, docs = self.articles(split), self._encoded[split]
        items = [(i, d, a.labels()[: len(d)]) for i, (a, d) in enumerate(zip(articles, docs))]
        return ResumableDataLoader(
            items, batch_size=self.hparams.batch_size, shuffle=split == "train",
            collate_fn=self._collate, num_workers=self.hparams.num_workers,
        )  # fmt: skip

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The BPE vocabulary size and sentence positions (LitlabCLI fills them into the net)."""
        return {"vocab_size": int(init_args.get("vocab_size") or 8000),
                "max_sentences": int(init_args.get("max_sentences") or 48)}
