"""Tiny text data and models that implement the picture-callback protocol, for tests.

The task: a sentence of neutral words holds one sentiment word; the label says which kind.
A model that learns it must attend to, and attribute its prediction to, that one word, so
the explanations have a known right answer. ``ToyRNNClassifier`` (bidirectional LSTM with
attention pooling) and ``ToyAttentionClassifier`` (one explicit self-attention layer,
optionally causal) stand in for sequence/ and transformer/ models.
"""

from __future__ import annotations

import math
import random

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
from torch.utils.data import DataLoader

from litlab.common.protocols import TokenBatch

NEUTRAL = "the film was a story and plot it is this with of actors scene".split()
POSITIVE, NEGATIVE = ["good", "great", "fine"], ["bad", "awful", "dull"]
VOCAB = ["<pad>", "<unk>", *NEUTRAL, *POSITIVE, *NEGATIVE]


def make_sentence(rng: random.Random) -> tuple[list[str], int]:
    label = rng.randrange(2)
    words = [rng.choice(NEUTRAL) for _ in range(rng.randint(4, 11))]
    words.insert(rng.randint(0, len(words)), rng.choice(POSITIVE if label else NEGATIVE))
    return words, label


def padding(ids: Tensor, lengths: Tensor) -> Tensor:
    """(B, T) True at padded positions, from the lengths (an all-padding baseline keeps them)."""
    return torch.arange(ids.shape[1], device=ids.device)[None, :] >= lengths.to(ids.device)[:, None]


class ToyTextDataModule(L.LightningDataModule):
    """Word-level toy sentiment data; batches are ``(TokenBatch, labels)``."""

    classes = ["negative", "positive"]
    pad_id = 0

    def __init__(self, n_train: int = 256, n_val: int = 64, batch_size: int = 32) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.vocab = list(VOCAB)
        rng = random.Random(0)
        self.train = [make_sentence(rng) for _ in range(n_train)]
        self.val = [make_sentence(rng) for _ in range(n_val)]

    def state_dict(self) -> dict:
        return {"vocab": self.vocab}

    def load_state_dict(self, state: dict) -> None:
        self.vocab = list(state["vocab"])

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        index = {w: i for i, w in enumerate(self.vocab)}
        rows = [[index.get(w, 1) for w in t.lower().split()] or [1] for t in texts]
        ids = torch.zeros(len(rows), max(map(len, rows)), dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return TokenBatch(ids, torch.tensor([len(r) for r in rows]))

    def token_strings(self, ids: Tensor) -> list[str]:
        return [("" if i == 0 else " ") + self.vocab[t] for i, t in enumerate(ids.tolist())]

    def _collate(self, items: list[tuple[list[str], int]]) -> tuple[TokenBatch, Tensor]:
        batch = self.encode_texts([" ".join(w) for w, _ in items])
        return batch, torch.tensor([y for _, y in items])

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        return self._collate(self.val[:n])

    def train_dataloader(self) -> DataLoader:
        bs = self.hparams.batch_size
        return DataLoader(self.train, bs, shuffle=True, collate_fn=self._collate)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val, self.hparams.batch_size, collate_fn=self._collate)


class _ToyClassifier(L.LightningModule):
    """Shared training code: cross-entropy, ``val/acc``, Adam."""

    def embedding_layer(self) -> nn.Module:
        return self.embed

    def _step(self, batch: tuple[TokenBatch, Tensor], stage: str) -> dict[str, Tensor]:
        inputs, y = batch
        logits = self(*inputs)
        loss = F.cross_entropy(logits, y)
        preds = logits.argmax(dim=-1)
        self.log(f"{stage}/loss", loss)
        self.log(f"{stage}/acc", (preds == y).float().mean())
        return {"loss": loss, "preds": preds, "target": y}

    def training_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> dict[str, Tensor]:
        return self._step(batch, "val")

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


class ToyRNNClassifier(_ToyClassifier):
    """Embedding -> packed bidirectional LSTM -> attention pooling -> linear."""

    def __init__(self, vocab_size: int = len(VOCAB), dim: int = 16, lr: float = 0.02) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.rnn = nn.LSTM(dim, dim, batch_first=True, bidirectional=True)
        self.score = nn.Linear(2 * dim, 1)
        self.head = nn.Linear(2 * dim, 2)

    def _pool_weights(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        packed = pack_padded_sequence(
            self.embed(ids), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        h, _ = pad_packed_sequence(self.rnn(packed)[0], batch_first=True, total_length=ids.shape[1])
        scores = self.score(h).squeeze(-1)  # (B, T)
        scores = scores.masked_fill(padding(ids, lengths), float("-inf"))
        return h, scores.softmax(dim=-1)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        h, w = self._pool_weights(ids, lengths)
        return self.head((w.unsqueeze(-1) * h).sum(dim=1))

    def attention_maps(self, inputs: TokenBatch) -> dict[str, Tensor]:
        _, w = self._pool_weights(*inputs)
        return {"pool": w[:, None, None, :]}  # (B, 1 head, 1 query, T)


class ToyAttentionClassifier(_ToyClassifier):
    """Embedding + positions -> one explicit multi-head self-attention layer -> mean pool."""

    def __init__(
        self, vocab_size: int = len(VOCAB), dim: int = 16, heads: int = 2, causal: bool = False,
        lr: float = 0.02,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.embed = nn.Embedding(vocab_size, dim, padding_idx=0)
        self.pos = nn.Embedding(32, dim)
        self.qkv = nn.Linear(dim, 3 * dim)
        self.head = nn.Linear(dim, 2)

    def _attend(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        b, t = ids.shape
        h = self.hparams.heads
        x = self.embed(ids) + self.pos(torch.arange(t, device=ids.device))
        q, k, v = self.qkv(x).view(b, t, 3, h, -1).permute(2, 0, 3, 1, 4)  # 3 x (B, h, T, d)
        scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (B, h, T, T)
        mask = padding(ids, lengths)[:, None, None, :]  # padded keys
        if self.hparams.causal:  # a query never sees later keys
            mask = mask | torch.ones(t, t, dtype=torch.bool, device=ids.device).triu(1)
        w = scores.masked_fill(mask, float("-inf")).softmax(dim=-1)
        return x + (w @ v).transpose(1, 2).reshape(b, t, -1), w

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        x, _ = self._attend(ids, lengths)
        keep = (~padding(ids, lengths)).unsqueeze(-1).float()
        return self.head((x * keep).sum(dim=1) / keep.sum(dim=1))

    def attention_maps(self, inputs: TokenBatch) -> dict[str, Tensor]:
        return {"layer0": self._attend(*inputs)[1]}
