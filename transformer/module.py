"""GPTLanguageModel: the shared language-model LightningModule, plus attention maps.

Training, metrics (loss, perplexity, bits per character), AdamW with decay/no-decay groups
(fused on CUDA where Lightning allows it), warm-up + cosine schedule, optional
``torch.compile`` and sampling all come from ``litlab.common.language_model.LanguageModel``: an
RNN
and a GPT are trained by the same code, so their curves compare. What a transformer adds
is ``attention_maps`` (``AttentionSource`` in ``common/protocols.py``): per layer,
one (T, T) map per head, drawn by ``AttentionMapCallback`` as ``val/attention/layer<i>``.
"""

from __future__ import annotations

from torch import Tensor

from litlab.common.attribution import evaluating
from litlab.common.language_model import LanguageModel
from litlab.common.protocols import TokenBatch


class GPTLanguageModel(LanguageModel):
    """A ``LanguageModel`` whose net (``litlab.transformer.models.GPT``) can show its attention."""

    def attention_maps(self, inputs: TokenBatch | Tensor) -> dict[str, Tensor]:
        """{"layer<i>": (B, heads, T, T)} for ids (B, T); rows sum to 1, upper triangle 0."""
        ids = inputs.ids if isinstance(inputs, TokenBatch) else inputs
        with evaluating(self):
            return self.net.attention_maps(ids)
