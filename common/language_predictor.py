"""LanguagePredictor: the inference half of ``LanguageModel`` (no Lightning): continue token
sequences with a trained RNN or GPT (``LanguageModelSource`` in ``common/protocols.py``).

``litlab generate``, ``litlab chat`` and serve/ load it on its own (``common/inference.py``);
``litlab.common.language_model.LanguageModel`` inherits it, so the sample callback and the
commands sample with the same code. The network offers ``generate`` and ``generate_iter``
with the arguments of ``litlab.common.sampling.sample_next`` plus ``vocab_limit``: the
tokenizer's vocabulary size, kept as a buffer in every checkpoint, so ids the tokenizer cannot
decode are never sampled.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from litlab.common.attribution import evaluating
from litlab.common.inference import InferenceModule


class LanguagePredictor(InferenceModule):
    """A trained next-token network ``net(ids) -> logits`` (or a tuple starting with them),
    and ``vocab_limit``, the tokenizer's size (0: sample from the whole output)."""

    _compiled: nn.Module | None = None  # LanguageModel's torch.compile'd net, while training
    vocab_limit: Tensor

    def forward(self, ids: Tensor) -> Tensor:
        """ids (B, T) -> logits (B, T, V)."""
        net = self._compiled if self._compiled is not None else self.net
        out = net(ids)
        return out[0] if isinstance(out, tuple) else out

    @property
    def block_size(self) -> int | None:
        """Longest context the net reads (a GPT's ``block_size``); None: no limit (RNNs)."""
        return getattr(self.net, "block_size", None)

    def _limit(self) -> int | None:
        return int(self.vocab_limit) or None

    # --- protocol: LanguageModelSource (common/protocols.py) ----------------------

    def generate_iter(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> Iterator[Tensor]:
        """Yield new tokens (B,) one by one after prompt ids (B, T), in eval mode."""
        with evaluating(self):
            yield from self.net.generate_iter(
                ids, max_new_tokens, temperature, top_k, top_p, generator, self._limit()
            )

    def generate(
        self,
        ids: Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        top_p: float | None = None,
        generator: torch.Generator | None = None,
    ) -> Tensor:
        """Prompt ids (B, T) -> (B, T + max_new_tokens), in eval mode (dropout off)."""
        with evaluating(self):
            return self.net.generate(
                ids, max_new_tokens, temperature, top_k, top_p, generator, self._limit()
            )
