"""GPTPredictor: the inference half of ``GPTLanguageModel`` (no Lightning): sampling, from
``LanguagePredictor``, plus the attention maps of every layer and head (``AttentionSource``
in ``common/protocols.py``). ``litlab generate``, ``chat`` and serve/ load it on its own
(``common/inference.py``); ``GPTLanguageModel`` (``module.py``) inherits it.
"""

from __future__ import annotations

from torch import Tensor

from litlab.common.attribution import evaluating
from litlab.common.language_predictor import LanguagePredictor
from litlab.common.protocols import TokenBatch


class GPTPredictor(LanguagePredictor):
    """A trained GPT (``litlab.transformer.models.GPT``) that can show its attention."""

    def attention_maps(self, inputs: TokenBatch | Tensor) -> dict[str, Tensor]:
        """{"layer<i>": (B, heads, T, T)} for ids (B, T); rows sum to 1, upper triangle 0."""
        ids = inputs.ids if isinstance(inputs, TokenBatch) else inputs
        with evaluating(self):
            return self.net.attention_maps(ids)
