"""Character-level (or subword) language models built on recurrent cells. Plain PyTorch.

``RNNLanguageModel`` reads token ids and predicts, at every position, the next token:

    ids (B, T) -> embedding (B, T, E) -> RNN / LSTM / GRU layers (B, T, H) -> logits (B, T, V)

The recurrent state summarises everything read so far, so generation feeds one new token
at a time and carries the state forward: O(1) work per new token, whatever the context
length (a transformer without a KV cache re-reads the whole context instead).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import torch
from torch import Tensor, nn

from litlab.common.sampling import append_tokens, sample_next

Cell = Literal["rnn", "lstm", "gru"]
CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

# LSTM state is (h, c), each (num_layers, B, H); RNN and GRU state is h (num_layers, B, H)
State = Tensor | tuple[Tensor, Tensor]


class RNNLanguageModel(nn.Module):
    """An embedding, ``num_layers`` recurrent layers and a linear read-out to the vocabulary.

    Args:
        vocab_size: number of token ids (at least the tokenizer's vocabulary).
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``.
        embed_dim: size of the token vectors.
        hidden_size: size of the recurrent state per layer.
        num_layers: stacked recurrent layers.
        dropout: on the embeddings, between layers and before the read-out.
        tie_weights: share the embedding matrix (V, E) with the read-out (Press & Wolf 2017):
            fewer parameters and usually a lower loss. The read-out maps the last hidden state
            to V logits with a (V, E) matrix, so when ``hidden_size != embed_dim`` a linear
            projection H -> E is inserted first.
    """

    def __init__(
        self,
        vocab_size: int = 65,
        cell: Cell = "lstm",
        embed_dim: int = 256,
        hidden_size: int = 256,
        num_layers: int = 2,
        dropout: float = 0.1,
        tie_weights: bool = True,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}: use one of {sorted(CELLS)}")
        self.cell = cell
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.drop = nn.Dropout(dropout)
        self.rnn = CELLS[cell](
            embed_dim,
            hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        out_dim = embed_dim if tie_weights else hidden_size
        self.proj = nn.Linear(hidden_size, embed_dim) if out_dim != hidden_size else nn.Identity()
        self.head = nn.Linear(out_dim, vocab_size)
        if tie_weights:
            self.head.weight = self.embed.weight  # one (V, E) matrix, two uses
        if cell == "lstm":
            # forget-gate bias 1 (Jozefowicz et al. 2015): remember by default at the start;
            # gate order in PyTorch is input, forget, cell, output
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        p[hidden_size : 2 * hidden_size].fill_(1.0)

    @property
    def vocab_size(self) -> int:
        return self.embed.num_embeddings

    def forward(self, ids: Tensor, state: State | None = None) -> tuple[Tensor, State]:
        """ids (B, T) [+ state from a previous call] -> logits (B, T, V), new state."""
        x = self.drop(self.embed(ids))  # (B, T, E)
        out, state = self.rnn(x, state)  # (B, T, H)
        logits = self.head(self.proj(self.drop(out)))  # (B, T, V)
        return logits, state

    @torch.no_grad()
    def generate_iter(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        vocab_limit: int | None = None,
    ) -> Iterator[Tensor]:
        """Yield ``max_new_tokens`` new tokens (B,), one at a time, after the prompt ids (B, T).

        The prompt is read once; each new token then costs one step of the recurrence.
        ``vocab_limit``: sample only ids below it (a tokenizer smaller than the embedding).
        Call in eval mode (dropout off).
        """
        if max_new_tokens <= 0:
            return
        logits, state = self(ids)  # read the whole prompt once
        for i in range(max_new_tokens):
            last = logits[:, -1, :vocab_limit]  # (B, V)
            nxt = sample_next(last, temperature, top_k, top_p, generator)  # (B,)
            yield nxt
            if i + 1 < max_new_tokens:
                logits, state = self(nxt[:, None], state)  # one step: (B, 1) -> (B, 1, V)

    def generate(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        vocab_limit: int | None = None,
    ) -> Tensor:
        """Prompt ids (B, T) -> ids (B, T + max_new_tokens): the prompt and its continuation."""
        return append_tokens(
            ids,
            self.generate_iter(
                ids, max_new_tokens, temperature, top_k, top_p, generator, vocab_limit
            ),
        )
