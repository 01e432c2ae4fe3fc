"""Transformer building blocks shared by the GPT, the encoder-decoder and the classifier.

* ``MLP``: the position-wise feed-forward network (width x4, GELU).
* ``Block``: a pre-norm transformer block, ``x + attn(ln(x))`` then ``x + mlp(ln(x))``;
  pre-norm (GPT-2) keeps an identity path from input to output, so deep stacks train
  without warm-up tricks. A decoder block of an encoder-decoder adds cross-attention.
* ``positional_encoding``: learned (GPT-2) or sinusoidal (Vaswani et al. 2017) vectors added
  to the token embeddings; ``"rope"`` adds nothing here and rotates queries and keys inside
  the attention instead (``litlab.transformer.attention.RotaryEmbedding``).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
from torch import Tensor, nn

from litlab.transformer.attention import KVCache, MultiHeadAttention, RotaryEmbedding

PositionalEncoding = Literal["learned", "sinusoidal", "rope"]


class MLP(nn.Module):
    """d_model -> 4 d_model -> GELU -> d_model, then dropout."""

    def __init__(self, d_model: int, dropout: float = 0.0, bias: bool = False) -> None:
        super().__init__()
        self.fc = nn.Linear(d_model, 4 * d_model, bias=bias)
        self.act = nn.GELU()
        self.proj = nn.Linear(4 * d_model, d_model, bias=bias)  # back into the residual stream
        self.drop = nn.Dropout(dropout)

    def forward(self, x: Tensor) -> Tensor:
        return self.drop(self.proj(self.act(self.fc(x))))


class Block(nn.Module):
    """Pre-norm block: self-attention (+ cross-attention when ``cross``) and an MLP.

    Args:
        d_model, n_heads, dropout, bias: as ``MultiHeadAttention``.
        causal: the self-attention sees only the past (decoders).
        cross: add cross-attention to an encoder's output (``memory``) after self-attention.
        rope: rotary embedding for the self-attention's queries and keys.
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = False,
        causal: bool = False,
        cross: bool = False,
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        self.ln_1 = nn.LayerNorm(d_model, bias=bias)
        self.attn = MultiHeadAttention(d_model, n_heads, dropout, bias, causal, rope)
        self.ln_cross = nn.LayerNorm(d_model, bias=bias) if cross else None
        self.cross_attn = MultiHeadAttention(d_model, n_heads, dropout, bias) if cross else None
        self.ln_2 = nn.LayerNorm(d_model, bias=bias)
        self.mlp = MLP(d_model, dropout, bias)

    def forward(
        self,
        x: Tensor,
        key_mask: Tensor | None = None,
        memory: Tensor | None = None,
        memory_mask: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """x (B, T, C) -> (B, T, C), and {"self": ..., "cross": ...} weights when asked.

        ``key_mask`` (B, T) marks real tokens of x; ``memory`` (B, S, C) is the encoder's
        output with ``memory_mask`` (B, S); ``cache`` holds the self-attention's past.
        """
        maps: dict[str, Tensor] = {}
        h, w = self.attn(self.ln_1(x), key_mask=key_mask, cache=cache, need_weights=need_weights)
        x = x + h
        if w is not None:
            maps["self"] = w
        if self.cross_attn is not None:
            if memory is None:
                raise ValueError("a decoder block with cross-attention needs the encoder memory")
            h, w = self.cross_attn(
                self.ln_cross(x), memory=memory, key_mask=memory_mask, need_weights=need_weights
            )
            x = x + h
            if w is not None:
                maps["cross"] = w
        x = x + self.mlp(self.ln_2(x))
        return x, maps


def sinusoidal_table(max_len: int, d_model: int) -> Tensor:
    """(max_len, d_model): sin on even features, cos on odd, wavelengths 2 pi .. 10000 * 2 pi."""
    pos = torch.arange(max_len).float()[:, None]  # (T, 1)
    freq = torch.exp(-math.log(10000.0) * torch.arange(0, d_model, 2).float() / d_model)
    table = torch.zeros(max_len, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class PositionEmbedding(nn.Module):
    """Vectors added to the token embeddings so the model knows where each token stands.

    ``learned``: one trained vector per position (GPT-2). ``sinusoidal``: a fixed table, no
    parameters. ``rope``: zeros here (positions enter the attention as rotations instead).
    """

    def __init__(self, kind: PositionalEncoding, max_len: int, d_model: int) -> None:
        super().__init__()
        if kind not in ("learned", "sinusoidal", "rope"):
            raise ValueError(f"unknown positional encoding {kind!r}: learned, sinusoidal or rope")
        self.kind, self.max_len = kind, max_len
        self.table = nn.Embedding(max_len, d_model) if kind == "learned" else None
        if kind == "sinusoidal":
            self.register_buffer("fixed", sinusoidal_table(max_len, d_model), persistent=False)

    def forward(
        self, t: int, offset: int | Tensor = 0, device: torch.device | None = None
    ) -> Tensor:
        """(T, d_model) vectors for positions offset .. offset + T - 1 (0 for RoPE).

        ``offset`` may be a 0-dim tensor on the device (a CUDA-graph decoding step): the
        vectors are then gathered there, and the caller has checked the range.
        """
        if isinstance(offset, Tensor):
            rows = offset.view(-1) + torch.arange(t, device=offset.device)  # (T,)
            if self.kind == "learned":
                return self.table(rows)
            return self.fixed[rows] if self.kind == "sinusoidal" else torch.zeros((), device=device)
        if offset + t > self.max_len:
            raise ValueError(
                f"positions up to {offset + t} exceed the block size {self.max_len}: crop the input"
            )
        if self.kind == "learned":
            return self.table(torch.arange(offset, offset + t, device=device))
        if self.kind == "sinusoidal":
            return self.fixed[offset : offset + t]
        return torch.zeros((), device=device)
