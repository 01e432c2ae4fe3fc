"""A GRU encoder-decoder with additive (Bahdanau) attention, written out by hand.

Plain PyTorch (no Lightning). The pieces, in the order data flows through them:

* ``Encoder``: embedding -> bidirectional GRU over the packed source; every source position
  gets a state (B, S, 2H) that knows its neighbourhood on both sides.
* ``AdditiveAttention``: for the decoder state s and each source state h_j,
  score_j = v . tanh(W s + U h_j); softmax over the real (unpadded) positions gives the
  alignment a_j, and the context is sum_j a_j h_j (Bahdanau et al. 2015).
* ``Seq2SeqGRU.step``: one decoder step: attend with the previous state, feed the previous
  output token's embedding and the context to a GRU cell, predict the next token from the
  new state, the context and the embedding.

Training uses teacher forcing (the decoder is fed the true previous token); inference feeds
its own prediction back, greedily (``greedy``) or keeping the ``beam`` best partial outputs
(``beam_search``).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from litlab.common.beam import beam_search


class AdditiveAttention(nn.Module):
    """Bahdanau attention: query (B, H), keys (B, S, K) -> context (B, K), weights (B, S)."""

    def __init__(self, query_dim: int, key_dim: int, dim: int) -> None:
        super().__init__()
        self.w_query = nn.Linear(query_dim, dim, bias=False)
        self.w_key = nn.Linear(key_dim, dim, bias=False)
        self.v = nn.Linear(dim, 1, bias=False)

    def project_keys(self, keys: Tensor) -> Tensor:
        """U h_j, computed once per source sentence: (B, S, K) -> (B, S, dim)."""
        return self.w_key(keys)

    def forward(
        self, query: Tensor, keys: Tensor, projected: Tensor, pad_mask: Tensor
    ) -> tuple[Tensor, Tensor]:
        scores = self.v(torch.tanh(self.w_query(query)[:, None, :] + projected)).squeeze(-1)
        weights = scores.masked_fill(pad_mask, float("-inf")).softmax(dim=-1)  # (B, S)
        return torch.bmm(weights[:, None, :], keys).squeeze(1), weights


class Seq2SeqGRU(nn.Module):
    """Bidirectional GRU encoder, GRU decoder with additive attention.

    Args:
        vocab_size: shared source/target character vocabulary (litlab fit fills it, and
            pad_id, from the DataModule).
        pad_id: padding id (ignored by the embedding and masked out of the attention).
        embed_dim, hidden: sizes; the encoder is bidirectional, so its states are 2 * hidden.
        dropout: on embeddings and before the output layer.
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        pad_id: int | None = None,
        embed_dim: int = 64,
        hidden: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        if vocab_size is None or pad_id is None:  # litlab fit fills them in from the data
            raise ValueError(f"{type(self).__name__} needs vocab_size and pad_id")
        self.vocab_size, self.pad_id = vocab_size, pad_id
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.encoder = nn.GRU(embed_dim, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, hidden)  # encoder summary -> first decoder state
        self.attention = AdditiveAttention(hidden, 2 * hidden, hidden)
        self.cell = nn.GRUCell(embed_dim + 2 * hidden, hidden)
        self.out = nn.Linear(hidden + 2 * hidden + embed_dim, vocab_size)
        self.drop = nn.Dropout(dropout)

    # --- encoder -------------------------------------------------------------------------------

    def encode(self, ids: Tensor, lengths: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Source (B, S) -> states (B, S, 2H), projected keys, pad mask (B, S), first state
        (B, H)."""
        packed = pack_padded_sequence(
            self.drop(self.embed(ids)), lengths.cpu(), batch_first=True, enforce_sorted=False
        )
        out, last = self.encoder(packed)  # last: (2, B, H), forward and backward directions
        states, _ = pad_packed_sequence(out, batch_first=True, total_length=ids.shape[1])
        positions = torch.arange(ids.shape[1], device=ids.device)
        pad_mask = positions[None, :] >= lengths.to(ids.device)[:, None]  # (B, S)
        first = torch.tanh(self.bridge(torch.cat([last[0], last[1]], dim=-1)))
        return states, self.attention.project_keys(states), pad_mask, first

    def start(self, ids: Tensor, lengths: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """What every decoder step reads (``memory``: batch-first tensors, repeated per beam)
        and the first decoder state (B, H)."""
        states, projected, pad_mask, state = self.encode(ids, lengths)
        return (states, projected, pad_mask), state

    # --- decoder -------------------------------------------------------------------------------

    def step(
        self, prev: Tensor, state: Tensor, memory: tuple[Tensor, Tensor, Tensor]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """One decoder step: previous tokens (B,) and state (B, H) -> logits (B, V), new state,
        attention weights (B, S) over the source."""
        states, projected, pad_mask = memory
        context, weights = self.attention(state, states, projected, pad_mask)  # (B, 2H), (B, S)
        emb = self.drop(self.embed(prev))  # (B, E)
        state = self.cell(torch.cat([emb, context], dim=-1), state)
        logits = self.out(self.drop(torch.cat([state, context, emb], dim=-1)))
        return logits, state, weights

    def forward(self, ids: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher forcing: source (B, S) and the target shifted right, ``<s> y1 .. y_{T-1}``
        (B, T) -> logits (B, T, V) for ``y1 .. y_T``."""
        memory, state = self.start(ids, lengths)
        logits = []
        for t in range(target_in.shape[1]):
            step_logits, state, _ = self.step(target_in[:, t], state, memory)
            logits.append(step_logits)
        return torch.stack(logits, dim=1)

    @torch.no_grad()
    def greedy(
        self, ids: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int
    ) -> tuple[Tensor, Tensor]:
        """Most likely token at each step -> outputs (B, max_len) (``eos`` then padding) and
        attention weights (B, max_len, S)."""
        memory, state = self.start(ids, lengths)
        prev = torch.full((len(ids),), bos, dtype=torch.long, device=ids.device)
        done = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
        outputs, weights = [], []
        for _ in range(max_len):
            logits, state, w = self.step(prev, state, memory)
            prev = logits.argmax(dim=-1).masked_fill(done, self.pad_id)
            outputs.append(prev)
            weights.append(w.masked_fill(done[:, None], 0.0))
            done |= prev == eos
        return torch.stack(outputs, dim=1), torch.stack(weights, dim=1)

    @torch.no_grad()
    def beam_search(
        self, ids: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int, beam: int = 4,
        length_penalty: float = 0.0, no_repeat_ngram: int = 0,
    ) -> Tensor:
        """The best of ``beam`` partial outputs per input (B, max_len); see ``beam.py``."""
        memory, state = self.start(ids, lengths)
        memory = tuple(m.repeat_interleave(beam, dim=0) for m in memory)
        state = state.repeat_interleave(beam, dim=0)  # (B*K, H)

        def step(prev: Tensor) -> Tensor:
            nonlocal state
            logits, state, _ = self.step(prev, state, memory)
            return logits

        def reorder(rows: Tensor) -> None:
            nonlocal state
            state = state[rows]

        return beam_search(
            step, reorder, len(ids), beam, bos, eos, self.pad_id, max_len, ids.device,
            length_penalty, no_repeat_ngram,
        )
