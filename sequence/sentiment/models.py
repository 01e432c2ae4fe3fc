"""A text classifier in plain PyTorch: embedding -> bidirectional RNN over packed sequences
-> attention pooling -> dropout -> linear.

Two details carry the lesson:

* **Packing.** A batch is padded to its longest text. ``pack_padded_sequence`` makes the RNN
  skip the padding, so each text's states are exactly those of the text alone. The backward
  direction matters most: run over the padded batch, it would read the padding before the
  last real word. Here each direction is its own one-way RNN and the backward one reads every
  text reversed *within its length* (``reverse_within``), so the two directions are as in
  ``nn.LSTM(bidirectional=True)`` over a packed batch.
* **Attention pooling.** One learned query scores every time step, ``softmax`` turns the
  scores into weights over the real tokens, and the text vector is the weighted sum of the
  RNN states. The weights are an explanation for free (``pool_weights``).

``pack=False`` runs the same RNNs over the padded batch instead. A one-way RNN over a batch
padded at the end computes the same states at the real positions (step t reads only tokens
<= t), so the outputs are identical (tests/test_sentiment.py checks it), and on a CPU the fused
padded LSTM kernel is about 10x faster than the per-step packed one. On CUDA, cuDNN runs
packed batches natively: keep ``pack=True`` there.

Padding is always found from ``lengths``, never from the ids: integrated gradients run the
model on an all-padding baseline with the real lengths and must see the same masks.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence


def padding_mask(lengths: Tensor, max_len: int) -> Tensor:
    """(B, T) True at padded positions (t >= length)."""
    return torch.arange(max_len, device=lengths.device)[None, :] >= lengths[:, None]


class AttentionPooling(nn.Module):
    """Weighted average of states (B, T, D) by a learned query: ``q . tanh(W h_t)``."""

    def __init__(self, dim: int, attn_dim: int = 128) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, attn_dim)
        self.query = nn.Parameter(torch.randn(attn_dim) / attn_dim**0.5)

    def weights(self, h: Tensor, lengths: Tensor) -> Tensor:
        """(B, T) softmax weights over the real tokens; zero at padding."""
        scores = torch.tanh(self.proj(h)) @ self.query  # (B, T)
        scores = scores.masked_fill(padding_mask(lengths, h.shape[1]), float("-inf"))
        return scores.softmax(dim=-1)

    def forward(self, h: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor]:
        w = self.weights(h, lengths)
        return torch.einsum("bt,btd->bd", w, h), w  # (B, D), (B, T)


def reverse_within(x: Tensor, lengths: Tensor) -> Tensor:
    """Reverse each sequence of x (B, T, D) over its first ``length`` steps; padding stays put."""
    t = torch.arange(x.shape[1], device=x.device)[None, :]  # (1, T)
    n = lengths.to(x.device)[:, None]  # (B, 1)
    idx = torch.where(t < n, n - 1 - t, t)  # (B, T)
    return x.gather(1, idx[:, :, None].expand_as(x))


class BiRNNLayer(nn.Module):
    """One bidirectional layer: a forward and a backward one-way LSTM/GRU, states concatenated."""

    def __init__(self, input_size: int, hidden_size: int, cell: str, pack: bool = True) -> None:
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.fwd = rnn(input_size, hidden_size, batch_first=True)
        self.bwd = rnn(input_size, hidden_size, batch_first=True)
        self.pack = pack

    def _run(self, rnn: nn.RNNBase, x: Tensor, lengths: Tensor) -> Tensor:
        if not self.pack:
            return rnn(x)[0]
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        return pad_packed_sequence(rnn(packed)[0], batch_first=True, total_length=x.shape[1])[0]

    def forward(self, x: Tensor, lengths: Tensor) -> Tensor:
        """x (B, T, D) -> states (B, T, 2H); the backward half read each text from its end."""
        h_fwd = self._run(self.fwd, x, lengths)
        h_bwd = reverse_within(self._run(self.bwd, reverse_within(x, lengths), lengths), lengths)
        h = torch.cat([h_fwd, h_bwd], dim=-1)
        return h.masked_fill(padding_mask(lengths.to(x.device), x.shape[1])[..., None], 0.0)


class BiRNNClassifier(nn.Module):
    """Bidirectional LSTM or GRU with attention pooling; ``forward(ids, lengths) -> logits``.

    Args:
        vocab_size: embedding rows; at least the tokenizer's vocabulary size.
        num_classes: output logits.
        embed_dim, hidden_size, num_layers: sizes (the pooled vector has ``2 * hidden_size``).
        cell: ``"lstm"`` or ``"gru"``.
        dropout: before the output layer (and between stacked RNN layers).
        embed_dropout: on the embeddings (a cheap, strong regulariser for text).
        pack: packed sequences (see the module docstring; ``False`` is faster on CPU).
        pad_id: the padding id, whose embedding stays zero.
    """

    def __init__(
        self,
        vocab_size: int = 8000,
        num_classes: int = 2,
        embed_dim: int = 128,
        hidden_size: int = 128,
        num_layers: int = 1,
        cell: Literal["lstm", "gru"] = "lstm",
        dropout: float = 0.3,
        embed_dropout: float = 0.1,
        pack: bool = True,
        pad_id: int = 0,
    ) -> None:
        super().__init__()
        if cell not in ("lstm", "gru"):
            raise ValueError(f"cell must be 'lstm' or 'gru', got {cell!r}")
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.embed_dropout = nn.Dropout(embed_dropout)
        sizes = [embed_dim] + [2 * hidden_size] * (num_layers - 1)
        self.layers = nn.ModuleList(BiRNNLayer(d, hidden_size, cell, pack) for d in sizes)
        self.pool = AttentionPooling(2 * hidden_size)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, num_classes)

    def encode(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """RNN states (B, T, 2H) for ids (B, T); zeros at padded positions."""
        h = self.embed_dropout(self.embedding(ids))  # (B, T, E)
        for i, layer in enumerate(self.layers):
            h = layer(self.dropout(h) if i else h, lengths)
        return h

    def pool_weights(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Attention-pooling weights (B, T): how much each token's state enters the vector."""
        return self.pool.weights(self.encode(ids, lengths), lengths.to(ids.device))

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        pooled, _ = self.pool(self.encode(ids, lengths), lengths.to(ids.device))  # (B, 2H)
        return self.head(self.dropout(pooled))  # (B, num_classes)
