"""Multi-head attention, written out by hand (the lesson) beside the fused kernel. Plain PyTorch.

One ``MultiHeadAttention`` serves every transformer in litlab:

* causal self-attention in the GPT decoder (no token sees the future), with a key/value
  cache for generation;
* bidirectional self-attention in encoders, with a padding mask on the keys;
* cross-attention in an encoder-decoder: queries from the decoder, keys and values from the
  encoder's output (``memory``).

It computes the same numbers two ways (tested equal):

* fused: ``F.scaled_dot_product_attention`` (FlashAttention / memory-efficient kernels on a
  GPU), used for training; it never materialises the (T, T) weights, so it cannot return them;
* explicit, when ``need_weights=True``: ``softmax(q k^T / sqrt(d_head)) v`` step by step,
  returning the weights for attention maps (the uvadlc tutorial's ``return_attention``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass
class KVCache:
    """Keys and values of the tokens read so far, for one layer: (B, heads, T_past, d_head).

    During generation each new token only needs its own query; its keys and values are
    appended here, so a step costs O(T) attention instead of re-running the whole context.
    """

    k: Tensor | None = None
    v: Tensor | None = None

    @property
    def length(self) -> int:
        return 0 if self.k is None else self.k.shape[2]

    @property
    def past(self) -> int:
        """Position of the next token: the tokens held (``StaticKVCache`` may say a tensor)."""
        return self.length

    def visible(self) -> Tensor | None:
        """Which held keys a query may see besides the causal rule: all of them here."""
        return None

    def append(self, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
        """Add the new (B, heads, T_new, d_head) keys/values; return all of them."""
        if self.k is not None:
            k, v = torch.cat([self.k, k], dim=2), torch.cat([self.v, v], dim=2)
        self.k, self.v = k, v
        return k, v


class RotaryEmbedding(nn.Module):
    """RoPE (Su et al. 2021): rotate each pair of query/key features by an angle that grows
    with the position, so ``q . k`` depends only on how far apart the two tokens are."""

    def __init__(self, head_dim: int, max_len: int, base: float = 10000.0) -> None:
        super().__init__()
        if head_dim % 2:
            raise ValueError(f"RoPE needs an even head size, got {head_dim}")
        inv_freq = base ** (-torch.arange(0, head_dim, 2).float() / head_dim)  # (d/2,)
        angles = torch.outer(torch.arange(max_len).float(), inv_freq)  # (max_len, d/2)
        self.register_buffer("cos", angles.cos(), persistent=False)
        self.register_buffer("sin", angles.sin(), persistent=False)

    def forward(self, x: Tensor, offset: int | Tensor = 0) -> Tensor:
        """x (B, heads, T, d_head) at positions offset .. offset + T - 1.

        ``offset`` may be a 0-dim tensor on x's device (a CUDA-graph decoding step, see
        ``transformer/decoding.py``): the rows are then gathered there, never read on the host.
        """
        t = x.shape[2]
        if isinstance(offset, Tensor):
            rows = offset.view(-1) + torch.arange(t, device=x.device)  # (T,)
            cos, sin = self.cos[rows], self.sin[rows]
        else:
            cos, sin = self.cos[offset : offset + t], self.sin[offset : offset + t]  # (T, d/2)
        x1, x2 = x[..., 0::2].float(), x[..., 1::2].float()  # the two halves of each pair
        rotated = torch.stack([x1 * cos - x2 * sin, x1 * sin + x2 * cos], dim=-1)
        return rotated.flatten(-2).type_as(x)


class MultiHeadAttention(nn.Module):
    """``n_heads`` attention heads of size ``d_model // n_heads``, side by side.

    Args:
        d_model: width of the token vectors.
        n_heads: number of heads (must divide ``d_model``).
        dropout: on the attention weights (training only) and on the output.
        bias: biases in the projections (nanoGPT: off, slightly better and faster).
        causal: position i may attend only to positions <= i.
        rope: rotary position embedding applied to queries and keys (self-attention only).
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        dropout: float = 0.0,
        bias: bool = False,
        causal: bool = False,
        rope: RotaryEmbedding | None = None,
    ) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.causal, self.dropout = n_heads, causal, dropout
        # queries, keys and values in one (3C, C) matrix: one matmul for self-attention
        # (nanoGPT's c_attn); cross-attention applies its first third and the rest apart
        self.in_proj = nn.Linear(d_model, 3 * d_model, bias=bias)
        self.proj = nn.Linear(d_model, d_model, bias=bias)  # back into the residual stream
        self.out_drop = nn.Dropout(dropout)
        self.rope = rope

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args, **kwargs) -> None:
        # checkpoints written before queries, keys and values shared one matrix held
        # ``query`` (C, C) and ``key_value`` (2C, C); stacked, they are ``in_proj``
        for kind in ("weight", "bias"):
            q, kv = f"{prefix}query.{kind}", f"{prefix}key_value.{kind}"
            if q in state_dict and kv in state_dict:
                state_dict[f"{prefix}in_proj.{kind}"] = torch.cat(
                    [state_dict.pop(q), state_dict.pop(kv)]
                )
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def _heads(self, x: Tensor) -> Tensor:
        b, t, c = x.shape
        return x.view(b, t, self.n_heads, c // self.n_heads).transpose(1, 2)  # (B, nh, T, hs)

    def _mask(
        self, tq: int, tk: int, past: int, key_mask: Tensor | None, device: torch.device
    ) -> Tensor | None:
        """Boolean (B or 1, 1, Tq, Tk), True where a query may look; None when all may."""
        mask = None
        if self.causal and tq > 1:
            # query i sits at position past + i and sees keys 0 .. past + i
            rows = torch.arange(tq, device=device)[:, None] + past
            mask = (torch.arange(tk, device=device)[None, :] <= rows)[None, None]
        if key_mask is not None:  # (B, Tk), True for real tokens
            keys = key_mask[:, None, None, :].bool()
            mask = keys if mask is None else mask & keys
        return mask

    def forward(
        self,
        x: Tensor,
        memory: Tensor | None = None,
        key_mask: Tensor | None = None,
        cache: KVCache | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Attend from x (B, Tq, C) to itself, or to ``memory`` (B, Tk, C) for cross-attention.

        ``key_mask`` (B, Tk): True for real keys, False for padding. ``cache``: keys/values of
        earlier tokens (self-attention), extended in place (a ``KVCache``, or a
        ``StaticKVCache`` whose position may be a device tensor). Returns the output
        (B, Tq, C) and, with ``need_weights``, the weights (B, heads, Tq, Tk), each row
        summing to 1.
        """
        b, tq, c = x.shape
        if memory is None:
            q, k, v = self.in_proj(x).split(c, dim=2)
        else:
            w, bias = self.in_proj.weight, self.in_proj.bias
            q = F.linear(x, w[:c], None if bias is None else bias[:c])
            kv = F.linear(memory, w[c:], None if bias is None else bias[c:])
            k, v = kv.split(c, dim=2)
        q, k, v = self._heads(q), self._heads(k), self._heads(v)  # (B, nh, T, hs)
        past = cache.past if cache is not None else 0  # an int, or a 0-dim device tensor
        if self.rope is not None:
            q, k = self.rope(q, past), self.rope(k, past)
        filled = None
        if cache is not None:
            k, v = cache.append(k, v)
            filled = cache.visible()  # (1, 1, 1, Tk) when the cache hands over empty slots too
        mask = self._mask(tq, k.shape[2], past, key_mask, x.device)
        if filled is not None:
            mask = filled if mask is None else mask & filled
        p = self.dropout if self.training else 0.0

        weights = None
        if need_weights:  # the explicit path: what the fused kernel does, one step at a time
            scores = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (B, nh, Tq, Tk)
            if mask is not None:
                scores = scores.masked_fill(~mask, float("-inf"))
            weights = scores.softmax(dim=-1)
            y = F.dropout(weights, p, self.training) @ v  # (B, nh, Tq, hs)
        elif mask is not None and key_mask is None and filled is None and past == 0:
            y = F.scaled_dot_product_attention(q, k, v, dropout_p=p, is_causal=True)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
        y = y.transpose(1, 2).reshape(b, tq, c)  # heads side by side again: (B, Tq, C)
        return self.out_drop(self.proj(y)), weights
