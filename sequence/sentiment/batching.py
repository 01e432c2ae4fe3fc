"""Text batches: cleaning, raw splits, padding and length-bucketed batch sampling.

Plain PyTorch, used by ``TextClassificationDataModule`` (``text_classification.py``).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch.utils.data import Sampler

from litlab.common.protocols import TokenBatch

_BR = re.compile(r"<br\s*/?>", re.IGNORECASE)


def clean_text(text: str) -> str:
    """IMDB reviews hold HTML line breaks (``<br />``): make them spaces, squeeze whitespace."""
    return " ".join(_BR.sub(" ", text).split())


@dataclass
class TextSplits:
    """Raw texts and integer labels as the data set ships them (no validation split yet)."""

    train_texts: list[str]
    train_labels: list[int]
    test_texts: list[str]
    test_labels: list[int]
    sources: list[Path] = field(default_factory=list)  # files the cache key is built from


def unflatten(values: list[int], lengths: list[int]) -> list[list[int]]:
    """A flat list cut back into rows of the given lengths."""
    out, start = [], 0
    for n in lengths:
        out.append(values[start : start + n])
        start += n
    return out


class BucketBatchSampler(Sampler[list[int]]):
    """Batches of similar length: shuffle, cut into chunks of ``bucket_size`` batches, sort each
    chunk by length, slice it into batches, shuffle the batches. ``shuffle=False`` sorts the
    whole set (evaluation order does not change any metric). Single-device only.
    """

    def __init__(
        self, lengths: list[int], batch_size: int, shuffle: bool, bucket_size: int = 50
    ) -> None:
        self.lengths, self.batch_size, self.shuffle = lengths, batch_size, shuffle
        self.chunk = batch_size * bucket_size if shuffle else max(len(lengths), 1)

    def __iter__(self) -> Iterator[list[int]]:
        n, bs = len(self.lengths), self.batch_size
        order = torch.randperm(n).tolist() if self.shuffle else list(range(n))
        batches = []
        for start in range(0, n, self.chunk):
            part = sorted(order[start : start + self.chunk], key=self.lengths.__getitem__)
            batches += [part[i : i + bs] for i in range(0, len(part), bs)]
        if self.shuffle:
            batches = [batches[i] for i in torch.randperm(len(batches)).tolist()]
        return iter(batches)

    def __len__(self) -> int:
        n, bs = len(self.lengths), self.batch_size
        full, rest = divmod(n, self.chunk)
        return full * -(-self.chunk // bs) + -(-rest // bs)


def pad_tokens(rows: list[list[int]], pad_id: int) -> TokenBatch:
    """Pad to the longest row: ids (B, T), lengths (B,)."""
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.full((len(rows), int(lengths.max())), pad_id, dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    return TokenBatch(ids, lengths)
