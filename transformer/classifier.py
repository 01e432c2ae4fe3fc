"""A transformer-encoder text classifier in plain PyTorch: the BiRNN's job without recurrence.

    ids (B, T) -> embedding + positions -> n x Block (bidirectional self-attention)
               -> LayerNorm -> pool -> dropout -> linear -> logits (B, K)

Every token attends to every real token at once (padding is masked out of the keys), so
the text vector does not depend on how much padding the batch added. Pooling is either the
masked mean over the real tokens (``"mean"``) or the output of a learned ``[CLS]`` vector put
in front of the text (``"cls"``, as BERT does).

As the BiRNN's, padding is found from ``lengths``, never from the ids: integrated gradients
run the model on an all-padding baseline with the real lengths and must see the same masks.
``TextClassifier`` (``litlab.sequence.sentiment.module``) trains it; ``embedding`` is where token
attributions are taken and ``attention_maps`` feeds the attention-map callback.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from litlab.transformer.attention import RotaryEmbedding
from litlab.transformer.layers import Block, PositionalEncoding, PositionEmbedding


class TransformerClassifier(nn.Module):
    """Transformer encoder + pooling + linear; ``forward(ids, lengths) -> logits``.

    Args:
        vocab_size: embedding rows; at least the tokenizer's vocabulary size.
        num_classes: output logits.
        d_model, n_heads, n_layers: width, heads per layer, depth.
        dropout: on embeddings, attention weights, block outputs and before the head.
        max_len: longest text (in tokens) the position encoding covers.
        pos_encoding: ``"sinusoidal"`` (fixed), ``"learned"`` or ``"rope"``.
        pad_id: the padding id, whose embedding stays zero (the attributions' baseline).
        pooling: ``"mean"`` over the real tokens, or ``"cls"``: a learned first token.
    """

    def __init__(
        self,
        vocab_size: int = 8000,
        num_classes: int = 2,
        d_model: int = 128,
        n_heads: int = 4,
        n_layers: int = 2,
        dropout: float = 0.1,
        max_len: int = 512,
        pos_encoding: PositionalEncoding = "sinusoidal",
        pad_id: int = 0,
        pooling: Literal["mean", "cls"] = "mean",
    ) -> None:
        super().__init__()
        if pooling not in ("mean", "cls"):
            raise ValueError(f"pooling must be 'mean' or 'cls', got {pooling!r}")
        self.pooling = pooling
        # nn.Embedding's N(0, 1) rows are unit-size features, the sinusoids' scale: no rescaling
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=pad_id)
        self.cls = nn.Parameter(torch.randn(d_model)) if pooling == "cls" else None
        n_pos = max_len + (pooling == "cls")
        self.pos = PositionEmbedding(pos_encoding, n_pos, d_model)
        rope = RotaryEmbedding(d_model // n_heads, n_pos) if pos_encoding == "rope" else None
        self.drop = nn.Dropout(dropout)
        self.blocks = nn.ModuleList(
            Block(d_model, n_heads, dropout, rope=rope) for _ in range(n_layers)
        )
        self.ln_f = nn.LayerNorm(d_model)
        self.head = nn.Linear(d_model, num_classes)

    def encode(
        self, ids: Tensor, lengths: Tensor, need_weights: bool = False
    ) -> tuple[Tensor, Tensor, list[Tensor]]:
        """Token states (B, T', C), mask (B, T') (True = real) and, with ``need_weights``, each
        layer's self-attention (B, heads, T', T'). T' = T, or T + 1 with ``[CLS]`` first."""
        positions = torch.arange(ids.shape[1], device=ids.device)
        mask = positions[None, :] < lengths.to(ids.device)[:, None]  # (B, T)
        x = self.embedding(ids)  # (B, T, C): integrated gradients hook this output
        if self.cls is not None:
            x = torch.cat([self.cls.expand(len(ids), 1, -1).to(x.dtype), x], dim=1)
            mask = torch.cat([mask.new_ones(len(ids), 1), mask], dim=1)
        x = self.drop(x + self.pos(x.shape[1], device=ids.device))
        maps = []
        for block in self.blocks:
            x, w = block(x, key_mask=mask, need_weights=need_weights)
            maps += [w["self"]] if need_weights else []
        return self.ln_f(x), mask, maps

    def pool(self, h: Tensor, mask: Tensor) -> Tensor:
        """States (B, T', C) -> one vector per text (B, C)."""
        if self.cls is not None:
            return h[:, 0]
        m = mask[..., None].to(h.dtype)  # (B, T', 1)
        return (h * m).sum(dim=1) / m.sum(dim=1).clamp_min(1.0)

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        h, mask, _ = self.encode(ids, lengths)
        return self.head(self.drop(self.pool(h, mask)))  # (B, num_classes)

    @torch.no_grad()
    def attention_maps(self, ids: Tensor, lengths: Tensor) -> dict[str, Tensor]:
        """``{"layer0": (B, heads, T, T), ...}``: who attends to whom among the text tokens;
        rows and columns of padding are zero.

        With ``[CLS]`` its row and column are cut out (rows then sum to 1 minus the weight on
        ``[CLS]``) and ``"cls"`` (B, heads, 1, T) adds what ``[CLS]`` read in the last layer.
        """
        _, mask, maps = self.encode(ids, lengths, need_weights=True)
        real = mask[:, None, :, None] & mask[:, None, None, :]  # (B, 1, T', T')
        maps = [w * real for w in maps]
        if self.cls is None:
            return {f"layer{i}": w for i, w in enumerate(maps)}
        out = {f"layer{i}": w[:, :, 1:, 1:] for i, w in enumerate(maps)}
        out["cls"] = maps[-1][:, :, :1, 1:]
        return out
