"""TextClassificationDataModule: the machinery every text-classification data set shares.

A subclass (``sequence/sentiment/data.py``) only says where its files are and how to read
them (``read() -> TextSplits``). This class then

1. holds out ``val_size`` training texts for validation (fixed by ``seed``);
2. trains a BPE tokenizer (``litlab.sequence.tokenizers.SubwordTokenizer``) on the remaining
   training texts only, cached on disk by data + settings, and kept in ``state_dict()`` so a
   checkpoint alone can encode new text;
3. encodes every text once, truncated to ``max_length`` tokens;
4. serves batches ``(TokenBatch(ids (B, T), lengths (B,)), labels (B,))`` padded to the
   longest text of the batch. With ``bucket=True`` the training batches are drawn from
   length-sorted buckets, so little compute goes into padding.

It also implements the ``TextData`` and ``TokenProbe`` protocols of ``common/protocols.py``
(``classes``, ``pad_id``, ``token_strings``, ``encode_texts``, ``probe_batch``), which the
token-attribution and attention callbacks and ``litlab explain`` use. What inference needs
(the tokenizer, classes, ``encode_texts``) is inherited from
``litlab.sequence.sentiment.predict.TextCodec``, which explain and serve/ load without
Lightning.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from litlab.common.data import SplitLoaders, cache_dir, cache_key, resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.hub import resolve_pretrained
from litlab.common.protocols import TokenBatch
from litlab.common.resume import ResumableDataLoader
from litlab.common.tensor_cache import cached_object
from litlab.sequence.sentiment.batching import BucketBatchSampler, TextSplits, unflatten
from litlab.sequence.sentiment.predict import TextCodec
from litlab.sequence.tokenizers import SubwordTokenizer, tokenizer_from_state
from litlab.sequence.wordpiece import PretrainedTokenizer

SPLITS = ("train", "val", "test")


class TextClassificationDataModule(TextCodec, SplitLoaders, L.LightningDataModule):
    """Shared machinery; subclasses implement :meth:`read` (and set ``classes``; a Korean one
    inherits ``KoreanTextCodec`` for its ``kind`` and ``language``).

    Args:
        root: data root (default ``$DATA_DIR``, else ``./data``).
        batch_size: training batch size; evaluation uses ``2 * batch_size``.
        val_size: training texts held out for validation (at most a tenth of them).
        max_length: longest token sequence kept; longer texts are truncated.
        truncation: keep the ``"head"``, the ``"tail"`` or the ``"head_tail"`` (a quarter from
            the start, the rest from the end: reviews tend to conclude with the verdict).
        vocab_size: BPE vocabulary size (the model's ``vocab_size`` must be at least this).
        lowercase: lowercase before tokenizing (smaller vocabulary, "Great" = "great").
        bucket: length-bucketed training batches (less padding, faster on CPU).
        pretrained_tokenizer: use this pretrained model's own tokenizer (``"minilm"``, a
            Hugging Face folder or, online, a Hub name; see ``litlab.common.hub``) instead of
            training a BPE; ``vocab_size`` and ``lowercase`` are then the model's. It also
            names the model for the network (``model_name``), so a YAML says it once.
        subset: keep only this many (random) training and test texts: quick looks, smoke tests.
        seed: fixes the validation split (and the subset).
    """

    name = "text"

    def __init__(
        self,
        root: str | None = None,
        batch_size: int = 64,
        val_size: int = 2000,
        max_length: int = 256,
        truncation: Literal["head", "tail", "head_tail"] = "head",
        vocab_size: int = 8000,
        lowercase: bool = False,
        bucket: bool = True,
        num_workers: int = 0,
        subset: int | None = None,
        seed: int = 0,
        pretrained_tokenizer: str | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args",
            batch_size=batch_size,
            val_size=val_size,
            max_length=max_length,
            vocab_size=vocab_size,
            subset=subset,
        )
        if pretrained_tokenizer and max_length < 3:
            raise ConfigError(
                f"--data.init_args.max_length={max_length} leaves no room for a text between "
                "the pretrained model's [CLS] and [SEP]: use at least 3"
            )
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self.tokenizer: SubwordTokenizer | None = None
        self.splits: dict[str, tuple[list[str], list[int]]] | None = None
        self.encoded: dict[str, tuple[list[list[int]], list[int]]] = {}

    # --- what subclasses provide ------------------------------------------------------------

    def read(self) -> TextSplits:
        """Find the files (downloading when online and allowed) and read texts and labels."""
        raise NotImplementedError

    # --- texts, split and tokenizer -----------------------------------------------------------

    def texts(self, split: str) -> tuple[list[str], list[int]]:
        """Raw texts and labels of ``"train"`` (minus validation), ``"val"`` or ``"test"``."""
        if self.splits is None:
            raw = self.read()
            if self.hparams.subset:
                raw = self._subset(raw, self.hparams.subset)
            n = len(raw.train_texts)
            n_val = min(self.hparams.val_size, max(1, n // 10))
            g = torch.Generator().manual_seed(self.hparams.seed)
            perm = torch.randperm(n, generator=g).tolist()

            def pick(idx: list[int]) -> tuple[list[str], list[int]]:
                return [raw.train_texts[i] for i in idx], [raw.train_labels[i] for i in idx]

            self.splits = {
                "train": pick(perm[n_val:]),
                "val": pick(perm[:n_val]),
                "test": (raw.test_texts, raw.test_labels),
            }
            self._sources = raw.sources
        return self.splits[split]

    def _subset(self, raw: TextSplits, n: int) -> TextSplits:
        g = torch.Generator().manual_seed(self.hparams.seed + 1)
        tr = torch.randperm(len(raw.train_texts), generator=g)[:n].tolist()
        te = torch.randperm(len(raw.test_texts), generator=g)[:n].tolist()
        return TextSplits(
            [raw.train_texts[i] for i in tr],
            [raw.train_labels[i] for i in tr],
            [raw.test_texts[i] for i in te],
            [raw.test_labels[i] for i in te],
            raw.sources,
        )

    def _tokenizer_cache(self) -> Path:
        hp = self.hparams
        settings = (
            f"{self.name}|{self.kind}|{hp.vocab_size}|{hp.lowercase}|{hp.val_size}|{hp.seed}|"
            f"{hp.subset}|{hp.pretrained_tokenizer or ''}"
        )
        return (
            cache_dir("tokenizers")
            / f"{self.name}-{cache_key(*self._sources, extra=settings)}.json"
        )

    def _train_tokenizer(self) -> SubwordTokenizer | PretrainedTokenizer:
        texts, _ = self.texts("train")  # never the validation or test texts
        path = self._tokenizer_cache()
        if self.hparams.pretrained_tokenizer:  # the model's own; written out for the ids cache
            tok = PretrainedTokenizer.from_folder(
                resolve_pretrained(self.hparams.pretrained_tokenizer)
            )
        elif path.exists():
            return tokenizer_from_state({"kind": "subword", "json": path.read_text("utf-8")})
        else:
            tok = SubwordTokenizer.train(
                texts, self.hparams.vocab_size, kind=self.kind, lowercase=self.hparams.lowercase
            )
        tmp = path.with_suffix(".partial")
        tmp.write_text(tok.state()["json"], encoding="utf-8")
        tmp.replace(path)  # never a half-written cache file
        return tok

    def prepare_data(self) -> None:
        self.setup()  # extraction and tokenizer training happen once, in this process

    def setup(self, stage: str | None = None) -> None:
        if self.encoded:
            return
        self.texts("train")
        if self.tokenizer is None:  # a restored checkpoint brings its own tokenizer
            self.tokenizer = self._train_tokenizer()
        full = self._encode_all()
        for split in ("train", "val", "test"):
            self.encoded[split] = ([self._truncate(r) for r in full[split]], self.texts(split)[1])

    def _encode_all(self) -> dict[str, list[list[int]]]:
        """Every split's untruncated ids; cached beside the tokenizer (50k IMDB reviews take a
        minute to encode on 2 CPU cores, loading them a second). A broken cache is rebuilt."""
        saved = self._tokenizer_cache()

        def encode() -> dict[str, tuple[Tensor, Tensor]]:  # flat ids and row lengths: compact
            full = {s: self.tokenizer.encode_batch(self.texts(s)[0]) for s in SPLITS}
            return {
                s: (torch.tensor([i for r in rows for i in r], dtype=torch.int32),
                    torch.tensor([len(r) for r in rows]))
                for s, rows in full.items()
            }  # fmt: skip

        def check(flat: dict) -> None:
            if any(int(n.sum()) != len(v) for v, n in flat.values()) or set(flat) != set(SPLITS):
                raise ValueError("the row lengths do not add up to the ids")

        ours = saved.exists() and self.tokenizer.state()["json"] == saved.read_text("utf-8")
        flat = cached_object(saved.with_suffix(".ids.pt"), encode, check) if ours else encode()
        return {s: unflatten(v.tolist(), o.tolist()) for s, (v, o) in flat.items()}

    # --- batches -----------------------------------------------------------------------------

    def _collate(self, items: list[tuple[list[int], int]]) -> tuple[TokenBatch, Tensor]:
        rows, labels = zip(*items)
        return self.pad(list(rows), self.pad_id), torch.tensor(labels)

    def _loader(self, split: str) -> DataLoader:
        self.setup()
        rows, labels = self.encoded[split]
        items = list(zip(rows, labels))
        train = split == "train"
        bs = self.hparams.batch_size * (1 if train else 2)
        workers = self.hparams.num_workers
        common = {"collate_fn": self._collate, "num_workers": workers}
        common["persistent_workers"] = workers > 0
        if self.hparams.bucket or not train:
            sampler = BucketBatchSampler([len(r) for r in rows], bs, shuffle=train)
            return ResumableDataLoader(items, batch_sampler=sampler, **common)
        return ResumableDataLoader(items, batch_size=bs, shuffle=True, **common)

    # --- the text protocol (common/protocols.py); the rest is TextCodec's --------------

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The classes and the BPE vocabulary size (LitlabCLI fills them into the model)."""
        values: dict[str, int | str] = {"num_classes": len(cls.classes)}
        name = init_args.get("pretrained_tokenizer")
        if name:  # the pretrained model's vocabulary, and its name for the network
            tok = PretrainedTokenizer.from_folder(resolve_pretrained(name))
            values.update(vocab_size=tok.vocab_size, model_name=str(name))
        elif init_args.get("vocab_size"):
            values["vocab_size"] = int(init_args["vocab_size"])
        return values

    def probe_batch(
        self, n: int, split: str = "val", max_tokens: int = 64
    ) -> tuple[TokenBatch, Tensor]:
        """``n`` fixed texts cycling through the classes, short ones first (readable figures)."""
        self.setup()
        rows, labels = self.encoded[split]
        per_class = []
        for c in range(len(self.classes)):
            idx = [i for i, y in enumerate(labels) if y == c]
            short = [i for i in idx if len(rows[i]) <= max_tokens]
            per_class.append(short + [i for i in idx if len(rows[i]) > max_tokens])
        picked: list[int] = []
        for rank in range(n):
            picked += [idx[rank] for idx in per_class if rank < len(idx)]
        picked = picked[:n]
        return self.pad([rows[i] for i in picked], self.pad_id), torch.tensor(
            [labels[i] for i in picked]
        )
