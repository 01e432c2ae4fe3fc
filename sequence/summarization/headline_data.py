"""HeadlineDataModule: BBC articles' first sentences -> their headline, as seq2seq batches.

    dm = HeadlineDataModule()                       # the extractive task's split (corpus.py)
    (src, target) = next(iter(dm.train_dataloader()))
    src.ids (B, S), src.lengths (B,), target (B, T): <s> headline </s>, padded

The source is an article's first ``source_sentences`` sentences, cut to
``max_source_tokens`` (headlines are written from the lead: on the training split 58 % of a
headline's distinct words occur in its first three sentences, 71 % anywhere in the
article); the target is the headline (``Article.title``), cut to ``max_target_tokens``. One
byte-level BPE, trained on the training articles and headlines only, encodes both sides: a
shared vocabulary is what lets a pointer-generator copy a source token straight into the
output (``sequence/seq2seq/pointer.py``). ``<s>`` and ``</s>`` get the two ids after the
BPE's own, so ``vocab_size`` is the BPE's plus two.

The split is ``split_articles``' (80/10/10 by category, seed 0), so headline and extractive
numbers are measured on the same test articles. Satisfies ``Seq2SeqData`` (the alignment
and sample callbacks) and adds ``decode`` and ``encode_texts`` for new articles.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor

from litlab.common.data import SplitLoaders, resolve_data_root
from litlab.common.errors import check_positive
from litlab.common.extractive import split_sentences
from litlab.common.protocols import TokenBatch, ready
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.summarization.corpus import Article, read_bbc, split_articles
from litlab.sequence.tokenizers import SubwordTokenizer, tokenizer_from_state

SPLITS = ("train", "val", "test")


def pad_rows(rows: list[list[int]], pad_id: int) -> Tensor:
    """Id lists -> (B, max length) padded with ``pad_id``."""
    ids = torch.full((len(rows), max(map(len, rows))), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return ids


class HeadlineDataModule(SplitLoaders, L.LightningDataModule):
    """Lead sentences -> headline pairs of BBC News Summary (see the module docstring).

    Args:
        root: data root (``--data.root``, else ``$DATA_DIR``, else ``./data``).
        vocab_size: BPE vocabulary (at most; ``<s>``/``</s>`` come on top).
        source_sentences, max_source_tokens: how much of the article the model reads.
        max_target_tokens: longest headline kept, in tokens (BBC's longest: 9 words).
        batch_size: pairs per training batch (evaluation uses 4x).
        val_fraction, test_fraction, seed: the stratified split (``split_articles``).
        subset: use only this many articles per split (tests, quick runs).
    """

    def __init__(
        self,
        root: str | None = None,
        vocab_size: int = 8000,
        source_sentences: int = 3,
        max_source_tokens: int = 120,
        max_target_tokens: int = 24,
        batch_size: int = 32,
        val_fraction: float = 0.1,
        test_fraction: float = 0.1,
        seed: int = 0,
        subset: int | None = None,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        check_positive("--data.init_args", vocab_size=vocab_size, batch_size=batch_size,
                       source_sentences=source_sentences, max_source_tokens=max_source_tokens,
                       max_target_tokens=max_target_tokens, subset=subset)
        self.save_hyperparameters()
        self.tokenizer: SubwordTokenizer | None = None
        self._articles: dict[str, list[Article]] = {}
        self._pairs: dict[str, list[tuple[list[int], list[int]]]] = {}

    # --- sizes and special ids (Seq2SeqData) --------------------------------------------------

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The largest vocabulary the data can have, and the padding id (LitlabCLI fills them
        into the net; the trained BPE may come out smaller on a small corpus)."""
        return {"vocab_size": int(init_args.get("vocab_size") or 8000) + 2, "pad_id": 0}

    @property
    def vocab_size(self) -> int:
        return ready(self.tokenizer, self, "vocab_size").vocab_size + 2

    @property
    def pad_id(self) -> int:
        return ready(self.tokenizer, self, "pad_id").pad_id

    @property
    def bos_id(self) -> int:
        return ready(self.tokenizer, self, "bos_id").vocab_size

    @property
    def eos_id(self) -> int:
        return ready(self.tokenizer, self, "eos_id").vocab_size + 1

    # --- the corpus ---------------------------------------------------------------------------

    def articles(self, split: str) -> list[Article]:
        """The raw articles of ``train``, ``val`` or ``test`` (``title`` is the headline)."""
        if not self._articles:
            hp = self.hparams
            parts = split_articles(read_bbc(resolve_data_root(hp.root)), hp.val_fraction,
                                   hp.test_fraction, hp.seed)
            self._articles = {s: p[: hp.subset] if hp.subset else p for s, p in zip(SPLITS, parts)}
        return self._articles[split]

    def prepare_data(self) -> None:
        self.articles("train")  # extraction happens once, in the main process

    def setup(self, stage: str | None = None) -> None:
        if self._pairs:
            return
        if self.tokenizer is None:  # a restored checkpoint brings its own tokenizer
            train = self.articles("train")
            texts = [s for a in train for s in a.sentences] + [a.title for a in train]
            self.tokenizer = SubwordTokenizer.train(texts, self.hparams.vocab_size)
        for split in SPLITS:
            articles = self.articles(split)
            sources = self._encode_sources([a.sentences for a in articles])
            targets = self._encode_targets([a.title for a in articles])
            self._pairs[split] = list(zip(sources, targets))

    # --- encoding -----------------------------------------------------------------------------

    def _encode_sources(self, documents: list[list[str]]) -> list[list[int]]:
        hp, tok = self.hparams, ready(self.tokenizer, self, "tokenizer")
        leads = [" ".join(sentences[: hp.source_sentences]) for sentences in documents]
        # an empty article still gets one token, so the encoder has something to read
        return [ids[: hp.max_source_tokens] or [self.eos_id] for ids in tok.encode_batch(leads)]

    def _encode_targets(self, headlines: list[str]) -> list[list[int]]:
        tok, n = ready(self.tokenizer, self, "tokenizer"), self.hparams.max_target_tokens
        return [[self.bos_id, *ids[:n], self.eos_id] for ids in tok.encode_batch(headlines)]

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        """New articles (plain text, headline line excluded) -> the TokenBatch the model reads."""
        rows = self._encode_sources([split_sentences(t) for t in texts])
        return TokenBatch(pad_rows(rows, self.pad_id), torch.tensor([len(r) for r in rows]))

    def decode(self, ids: Tensor) -> str:
        """Output ids (T,) -> text, up to the first ``</s>``; ``<s>`` and padding dropped."""
        out = []
        for i in ids.tolist():
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(i)
        return self.tokenizer.decode(out)

    def token_strings(self, ids: Tensor) -> list[str]:
        names = {self.bos_id: "<s>", self.eos_id: "</s>"}
        return [names.get(i) or self.tokenizer.token_strings([i])[0] for i in ids.tolist()]

    # --- loaders ------------------------------------------------------------------------------

    def _collate(self, pairs: list[tuple[list[int], list[int]]]) -> tuple[TokenBatch, Tensor]:
        sources = [s for s, _ in pairs]
        src = TokenBatch(pad_rows(sources, self.pad_id), torch.tensor([len(s) for s in sources]))
        return src, pad_rows([t for _, t in pairs], self.pad_id)

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """The first ``n`` articles of ``split`` (fixed: the split is seeded)."""
        self.setup()
        return self._collate(self._pairs[split][:n])

    def _loader(self, split: str) -> ResumableDataLoader:
        self.setup()
        train = split == "train"
        return ResumableDataLoader(
            self._pairs[split], batch_size=self.hparams.batch_size * (1 if train else 4),
            shuffle=train, collate_fn=self._collate, num_workers=self.hparams.num_workers,
        )  # fmt: skip

    # --- what a checkpoint keeps, so new articles can be encoded without the data -------------

    def state_dict(self) -> dict:
        self.setup()
        return {"tokenizer": self.tokenizer.state()}

    def load_state_dict(self, state: dict) -> None:
        self.tokenizer = tokenizer_from_state(state["tokenizer"])
        self._pairs = {}
