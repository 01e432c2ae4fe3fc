"""A transformer encoder-decoder (Vaswani et al. 2017), pre-norm, in plain PyTorch.

The same job as ``litlab.sequence.seq2seq.models.Seq2SeqGRU`` with attention everywhere instead of
recurrence; the data flows top to bottom:

* one token embedding shared by source, target and the output layer (tied weights), scaled
  by sqrt(d_model) so tokens and positions start at the same size;
* encoder: ``Block``s with bidirectional self-attention; padding never enters, because the
  keys are masked by the source lengths;
* decoder: ``Block``s with causal self-attention over the target read so far and
  cross-attention to the encoder's output (``memory``), masked the same way;
* a final LayerNorm and the tied output head.

Training is teacher forcing in one parallel pass (the causal mask stands in for the GRU's
loop). Decoding runs one token at a time with a key/value cache per decoder layer, greedily
(``greedy``) or keeping the ``beam`` best partial outputs (``beam_search``). Both have
``Seq2SeqGRU``'s signatures, so ``Seq2SeqModule`` trains either.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from litlab.common.beam import beam_search
from litlab.transformer.attention import KVCache, RotaryEmbedding
from litlab.transformer.layers import Block, PositionalEncoding, PositionEmbedding


class Seq2SeqTransformer(nn.Module):
    """Pre-norm transformer encoder-decoder with tied embeddings.

    Args:
        vocab_size: shared source/target vocabulary (litlab fit fills it, and pad_id, from
            the DataModule).
        pad_id: padding id (masked out of every attention).
        d_model, n_heads: width and heads of every block.
        n_encoder_layers, n_decoder_layers: depth of each side.
        dropout: on embeddings, attention weights and block outputs.
        max_len: longest source or target the position encoding covers.
        pos_encoding: ``"sinusoidal"`` (fixed), ``"learned"`` or ``"rope"`` (rotary, in the
            self-attention; on the dates it learns the digits' order far faster).
    """

    def __init__(
        self,
        vocab_size: int | None = None,
        pad_id: int | None = None,
        d_model: int = 128,
        n_heads: int = 4,
        n_encoder_layers: int = 3,
        n_decoder_layers: int = 3,
        dropout: float = 0.1,
        max_len: int = 64,
        pos_encoding: PositionalEncoding = "sinusoidal",
    ) -> None:
        super().__init__()
        if vocab_size is None or pad_id is None:  # litlab fit fills them in from the data
            raise ValueError(f"{type(self).__name__} needs vocab_size and pad_id")
        self.vocab_size, self.pad_id, self.d_model = vocab_size, pad_id, d_model
        self.embed = nn.Embedding(vocab_size, d_model)
        self.pos = PositionEmbedding(pos_encoding, max_len, d_model)
        rope = RotaryEmbedding(d_model // n_heads, max_len) if pos_encoding == "rope" else None
        self.drop = nn.Dropout(dropout)
        self.encoder = nn.ModuleList(
            Block(d_model, n_heads, dropout, rope=rope) for _ in range(n_encoder_layers)
        )
        self.ln_memory = nn.LayerNorm(d_model)  # pre-norm blocks leave the stream unnormalised
        self.decoder = nn.ModuleList(
            Block(d_model, n_heads, dropout, causal=True, cross=True, rope=rope)
            for _ in range(n_decoder_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.embed.weight  # tied: one vector per token, read and written
        self._init_weights()

    def _init_weights(self) -> None:
        # Vaswani et al.'s init: embedding rows of norm ~1 (times sqrt(d) in ``_embed``:
        # unit-size features, like the sinusoids) and Xavier-uniform linear layers. GPT-2's
        # N(0, 0.02) leaves the blocks' outputs tiny beside such embeddings: on the dates the
        # decoder then ignored the source for hundreds of steps (loss stuck near 1.0).
        nn.init.normal_(self.embed.weight, std=self.d_model**-0.5)
        for name, p in self.named_parameters():
            if p.ndim == 2 and name.startswith(("encoder", "decoder")):
                nn.init.xavier_uniform_(p)

    def _embed(self, ids: Tensor, offset: int = 0) -> Tensor:
        """ids (B, T) at positions offset .. offset + T - 1 -> (B, T, C)."""
        x = self.embed(ids) * math.sqrt(self.d_model)
        return self.drop(x + self.pos(ids.shape[1], offset, ids.device))

    # --- encoder -------------------------------------------------------------------------------

    def encode(
        self, ids: Tensor, lengths: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Source (B, S) -> memory (B, S, C), source mask (B, S) (True = real token) and, with
        ``need_weights``, each layer's self-attention (B, heads, S, S)."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        mask = positions[None, :] < lengths.to(ids.device)[:, None]  # (B, S)
        x, maps = self._embed(ids), []
        for block in self.encoder:
            x, w = block(x, key_mask=mask, need_weights=need_weights)
            maps += [w["self"]] if need_weights else []
        return self.ln_memory(x), mask, maps

    # --- decoder -------------------------------------------------------------------------------

    def decode(
        self,
        target_in: Tensor,
        memory: Tensor,
        memory_mask: Tensor,
        caches: list[KVCache] | None = None,
        need_weights: bool = False,
    ) -> tuple[Tensor, list[Tensor]]:
        """Target tokens (B, T) -> logits (B, T, V) and, with ``need_weights``, each layer's
        cross-attention (B, heads, T, S).

        With ``caches`` (one per decoder layer) ``target_in`` holds only the new tokens; the
        earlier ones are read from the caches, which grow by T. Target padding needs no mask:
        it only ever follows ``</s>``, and the causal mask hides the future from every token.
        """
        offset = caches[0].length if caches else 0
        y, cross = self._embed(target_in, offset), []
        for i, block in enumerate(self.decoder):
            cache = caches[i] if caches else None
            y, w = block(
                y, memory=memory, memory_mask=memory_mask, cache=cache, need_weights=need_weights
            )
            cross += [w["cross"]] if need_weights else []
        return self.head(self.ln_f(y)), cross

    def forward(self, ids: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher forcing: source (B, S) and the target shifted right, ``<s> y1 .. y_{T-1}``
        (B, T) -> logits (B, T, V) for ``y1 .. y_T``, all positions in one pass."""
        memory, mask, _ = self.encode(ids, lengths)
        return self.decode(target_in, memory, mask)[0]

    # --- inference -----------------------------------------------------------------------------

    @torch.no_grad()
    def greedy(
        self, ids: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int
    ) -> tuple[Tensor, Tensor]:
        """Most likely token at each step -> outputs (B, max_len) (``eos`` then padding) and
        the last decoder layer's cross-attention (B, heads, max_len, S), zero after ``eos``.

        The last layer's heads, not an average over layers: heads of one layer are comparable
        maps, while head h of layer 1 and head h of layer 3 have nothing in common.
        """
        memory, mask, _ = self.encode(ids, lengths)
        caches = [KVCache() for _ in self.decoder]
        prev = torch.full((len(ids),), bos, dtype=torch.long, device=ids.device)
        done = torch.zeros(len(ids), dtype=torch.bool, device=ids.device)
        outputs, weights = [], []
        for _ in range(max_len):
            logits, cross = self.decode(prev[:, None], memory, mask, caches, need_weights=True)
            prev = logits[:, -1].argmax(dim=-1).masked_fill(done, self.pad_id)  # (B,)
            outputs.append(prev)
            weights.append(cross[-1][:, :, -1].masked_fill(done[:, None, None], 0.0))  # (B, nh, S)
            done |= prev == eos
        return torch.stack(outputs, dim=1), torch.stack(weights, dim=2)

    @torch.no_grad()
    def beam_search(
        self, ids: Tensor, lengths: Tensor, bos: int, eos: int, max_len: int, beam: int = 4
    ) -> Tensor:
        """The best of ``beam`` partial outputs per input (B, max_len); see
        ``sequence/seq2seq/beam.py``. When beams are re-ranked, the rows of every layer's
        key/value cache follow them."""
        memory, mask, _ = self.encode(ids, lengths)
        memory, mask = memory.repeat_interleave(beam, dim=0), mask.repeat_interleave(beam, dim=0)
        caches = [KVCache() for _ in self.decoder]

        def step(prev: Tensor) -> Tensor:
            return self.decode(prev[:, None], memory, mask, caches)[0][:, -1]  # (B*K, V)

        def reorder(rows: Tensor) -> None:
            for cache in caches:  # each surviving beam keeps its own parent's past
                cache.k, cache.v = cache.k[rows], cache.v[rows]

        return beam_search(
            step, reorder, len(ids), beam, bos, eos, self.pad_id, max_len, ids.device
        )
