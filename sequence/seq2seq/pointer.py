"""A pointer-generator GRU (See et al. 2017): attention that can also copy source tokens.

Plain PyTorch (no Lightning), written by hand because the mechanism is the lesson. It is
``Seq2SeqGRU`` (``models.py``) with one change at the output of every decoder step:

    p_gen    = sigmoid(w . [context, state, embedding])            (B, 1)
    P_vocab  = softmax(out([state, context, embedding]))           (B, V)  generate a token
    P_copy   = sum of the attention on every source position       (B, V)  copy a token
               holding that token (scatter_add of the weights)
    P        = p_gen * P_vocab + (1 - p_gen) * P_copy              a distribution: sums to 1

On a small corpus (1,779 BBC articles) a name seen a handful of times ("Greenspan",
"Domecq") is hard to *generate* from a softmax row that was rarely trained, but easy to
*copy*: the attention already points at it. See et al. extend the vocabulary with each
article's out-of-vocabulary words; byte-level BPE has no unknown tokens, so every source
token is already in the shared vocabulary and the copy distribution needs no extension.

``step`` returns log P, not logits. They are valid logits: ``log_softmax(log P) = log P``,
so ``Seq2SeqModule``'s cross-entropy, greedy argmax and ``common/beam.py`` work unchanged.
``copy=False`` switches the mixture off (P = P_vocab): the same network and decoding without
copying, for a fair comparison.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from litlab.sequence.seq2seq.models import Seq2SeqGRU


class PointerGeneratorGRU(Seq2SeqGRU):
    """``Seq2SeqGRU`` whose every step mixes generating and copying (module docstring).

    Args:
        vocab_size, pad_id: the shared source/target vocabulary (the data fills them in).
        embed_dim, hidden, dropout: as ``Seq2SeqGRU``.
        copy: False = plain attention (P_vocab only), the ablation.
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        pad_id: int | None = None,
        embed_dim: int = 128,
        hidden: int = 128,
        dropout: float = 0.2,
        copy: bool = True,
    ) -> None:
        super().__init__(vocab_size, pad_id, embed_dim, hidden, dropout)
        self.copy = copy
        # how much to generate rather than copy, from what the step knows (See et al. eq. 8)
        self.gate = nn.Linear(2 * hidden + hidden + embed_dim, 1)
        self.last_p_gen: Tensor | None = None  # (B,) of the latest step, for inspection

    def start(self, ids: Tensor, lengths: Tensor) -> tuple[tuple[Tensor, ...], Tensor]:
        """The GRU's memory plus the source ids (B, S): where copied probability lands."""
        memory, state = super().start(ids, lengths)
        return (*memory, ids), state

    def step(
        self, prev: Tensor, state: Tensor, memory: tuple[Tensor, ...]
    ) -> tuple[Tensor, Tensor, Tensor]:
        """Previous tokens (B,) and state (B, H) -> log P (B, V), new state, attention (B, S)."""
        states, projected, pad_mask, src = memory
        context, weights = self.attention(state, states, projected, pad_mask)  # (B, 2H), (B, S)
        emb = self.drop(self.embed(prev))  # (B, E)
        state = self.cell(torch.cat([emb, context], dim=-1), state)
        features = torch.cat([state, context, emb], dim=-1)  # (B, H + 2H + E)
        vocab = self.out(self.drop(features)).softmax(dim=-1)  # (B, V)
        if not self.copy:
            return vocab.clamp_min(1e-12).log(), state, weights
        p_gen = torch.sigmoid(self.gate(features))  # (B, 1)
        # attention on padding is exactly 0, so padded source ids add nothing
        copied = torch.zeros_like(vocab).scatter_add(1, src, weights)  # (B, V)
        mixed = p_gen * vocab + (1 - p_gen) * copied
        self.last_p_gen = p_gen.detach().squeeze(-1)
        return mixed.clamp_min(1e-12).log(), state, weights

    @torch.no_grad()
    def copy_share(self, ids: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        """1 - p_gen at every teacher-forced step (B, T): how much of each output was copied."""
        if not self.copy:
            return torch.zeros(target_in.shape, device=ids.device)
        memory, state = self.start(ids, lengths)
        shares = []
        for t in range(target_in.shape[1]):
            _, state, _ = self.step(target_in[:, t], state, memory)
            shares.append(1 - self.last_p_gen)
        return torch.stack(shares, dim=1)
