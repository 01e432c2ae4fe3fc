"""GPTLanguageModel: the shared language-model LightningModule, plus attention maps.

Training, metrics (loss, perplexity, bits per character), AdamW with decay/no-decay groups
(fused on CUDA where Lightning allows it), warm-up + cosine schedule, optional
``torch.compile`` and sampling all come from ``litlab.common.language_model.LanguageModel``: an
RNN
and a GPT are trained by the same code, so their curves compare. What a transformer adds
is ``attention_maps`` (``AttentionSource`` in ``common/protocols.py``): per layer,
one (T, T) map per head, drawn by ``AttentionMapCallback`` as ``val/attention/layer<i>``. It
is inherited from ``litlab.transformer.predict.GPTPredictor``, the Lightning-free half that
``litlab generate`` and serve/ load.
"""

from __future__ import annotations

from litlab.common.language_model import LanguageModel
from litlab.transformer.predict import GPTPredictor


class GPTLanguageModel(GPTPredictor, LanguageModel):
    """A ``LanguageModel`` whose net (``litlab.transformer.models.GPT``) can show its attention."""
