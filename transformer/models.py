"""A GPT: decoder-only transformer language model, in the spirit of nanoGPT's model.py.

Plain PyTorch, read top to bottom:

    ids (B, T) -> token embedding + position (B, T, C) -> n_layer pre-norm Blocks, each with
    causal multi-head self-attention and an MLP -> LayerNorm -> head tied to the embedding
    -> logits (B, T, V)

The attention and blocks live in ``transformer/attention.py`` and ``transformer/layers.py``.
Generation (``generate_iter``) reads the prompt once and then feeds one token at a time
through a key/value cache (``transformer/decoding.py``: allocated once, and on a GPU each
step replayed as one CUDA graph); ``use_cache=False`` re-reads the whole context each step
(the naive way, kept for comparison and tests: greedy outputs are identical while the text
fits the block).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from litlab.common.sampling import append_tokens, sample_next
from litlab.transformer.attention import KVCache, RotaryEmbedding
from litlab.transformer.decoding import CachedDecoder, StaticKVCache
from litlab.transformer.layers import Block, PositionalEncoding, PositionEmbedding


@dataclass
class GPTConfig:
    """The whole architecture in one place (defaults: nanoGPT's shakespeare_char model)."""

    vocab_size: int = 65
    block_size: int = 256  # longest context, in tokens
    n_layer: int = 6
    n_head: int = 6
    n_embd: int = 384
    dropout: float = 0.2
    bias: bool = False  # in Linear and LayerNorm layers (nanoGPT: False is a bit better)
    pos_encoding: PositionalEncoding = "learned"
    tie_weights: bool = True  # the head shares the token embedding matrix (V, C)


class GPT(nn.Module):
    """Decoder-only transformer language model; ``forward(ids) -> logits`` (B, T, V)."""

    def __init__(self, config: GPTConfig) -> None:
        super().__init__()
        self.config = c = config
        self.tok_emb = nn.Embedding(c.vocab_size, c.n_embd)
        self.pos_emb = PositionEmbedding(c.pos_encoding, c.block_size, c.n_embd)
        self.drop = nn.Dropout(c.dropout)
        # one RoPE table shared by all layers (non-persistent buffers: nothing to save)
        rope = (
            RotaryEmbedding(c.n_embd // c.n_head, c.block_size)
            if c.pos_encoding == "rope"
            else None
        )
        self.blocks = nn.ModuleList(
            Block(c.n_embd, c.n_head, c.dropout, c.bias, causal=True, rope=rope)
            for _ in range(c.n_layer)
        )
        self.ln_f = nn.LayerNorm(c.n_embd, bias=c.bias)
        self.head = nn.Linear(c.n_embd, c.vocab_size, bias=False)
        if c.tie_weights:
            self.head.weight = self.tok_emb.weight  # one (V, C) matrix, two uses
        self.apply(self._init_weights)
        # GPT-2: the projections back into the residual stream get std 0.02 / sqrt(2 n_layer),
        # since every block adds two of them and the stream's variance would grow with depth
        for name, p in self.named_parameters():
            if name.endswith((".attn.proj.weight", ".mlp.proj.weight")):  # not in_proj
                nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * c.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    @property
    def vocab_size(self) -> int:
        return self.config.vocab_size

    @property
    def block_size(self) -> int:
        return self.config.block_size

    def num_params(self) -> int:
        """Parameters, counting the tied embedding once (nanoGPT's number, with positions)."""
        return sum(p.numel() for p in self.parameters())

    def forward(
        self,
        ids: Tensor,
        caches: list[KVCache] | list[StaticKVCache] | None = None,
        need_weights: bool = False,
    ) -> Tensor | tuple[Tensor, dict[str, Tensor]]:
        """ids (B, T) -> logits (B, T, V); with ``need_weights`` also {"layer<i>": (B, nh, T, T)}.

        ``caches``: one KVCache per layer holding the tokens before ``ids``; they are
        extended in place, and positions continue after them.
        """
        b, t = ids.shape
        past = caches[0].past if caches else 0  # a tensor while a CUDA graph records a step
        if isinstance(past, int) and past + t > self.block_size:
            raise ValueError(
                f"{past + t} tokens exceed the block size {self.block_size}: crop the context"
            )
        x = self.tok_emb(ids) + self.pos_emb(t, past, ids.device)  # (B, T, C)
        x = self.drop(x)
        maps: dict[str, Tensor] = {}
        for i, block in enumerate(self.blocks):
            cache = caches[i] if caches else None
            x, w = block(x, cache=cache, need_weights=need_weights)
            if need_weights:
                maps[f"layer{i}"] = w["self"]
        logits = self.head(self.ln_f(x))  # (B, T, V)
        return (logits, maps) if need_weights else logits

    def attention_maps(self, ids: Tensor) -> dict[str, Tensor]:
        """Self-attention weights of every layer, (B, heads, T, T), rows summing to 1."""
        return self(ids[:, -self.block_size :], need_weights=True)[1]

    # --- generation -----------------------------------------------------------------------

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
        use_cache: bool = True,
        graphs: bool | None = None,
    ) -> Iterator[Tensor]:
        """Yield ``max_new_tokens`` new tokens (B,) one by one after the prompt ids (B, T).

        With the cache, each step runs the network on one token (``CachedDecoder``; on CUDA
        replayed as a CUDA graph unless ``graphs=False``). Nothing here copies a token to
        the host: the caller decides when to look (``litlab.common.sampling.on_host``), so
        on a GPU the loop runs ahead of the device. When the cache holds a full block, the
        last half block is re-read into it: positions must stay below ``block_size``. (The
        naive path slides its window by one token every step instead, so beyond the block
        size the two see slightly different contexts.) Call in eval mode.
        """
        if max_new_tokens <= 0:
            return
        if not use_cache:
            context = ids
            for _ in range(max_new_tokens):
                logits = self(context[:, -self.block_size :])
                nxt = sample_next(logits[:, -1, :vocab_limit], temperature, top_k, top_p, generator)
                yield nxt
                context = torch.cat([context, nxt[:, None]], dim=1)
            return
        decoder = CachedDecoder(self, ids.shape[0], ids.device, graphs)
        n = ids.shape[1]
        seq = torch.empty(ids.shape[0], n + max_new_tokens, dtype=ids.dtype, device=ids.device)
        seq[:, :n] = ids  # the prompt and every token so far: what a re-read takes its window from
        logits = decoder.prefill(ids[:, -self.block_size :])  # (B, V)
        for i in range(max_new_tokens):
            nxt = sample_next(logits[:, :vocab_limit], temperature, top_k, top_p, generator)
            yield nxt
            seq[:, n] = nxt
            n += 1
            if i + 1 == max_new_tokens:
                break
            if decoder.full:  # read the last half block into the emptied cache
                logits = decoder.prefill(seq[:, n - self.block_size // 2 : n])
            else:
                logits = decoder.step(nxt)

    def generate(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
        vocab_limit: int | None = None,
        use_cache: bool = True,
        graphs: bool | None = None,
    ) -> Tensor:
        """Prompt ids (B, T) -> ids (B, T + max_new_tokens): the prompt and its continuation."""
        return append_tokens(
            ids,
            self.generate_iter(
                ids, max_new_tokens, temperature, top_k, top_p, generator, vocab_limit, use_cache,
                graphs,
            ),
        )  # fmt: skip
