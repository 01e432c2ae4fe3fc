"""AttentionMapCallback: who attends to whom, per layer and head, for a fixed sequence."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import AttentionSource, TokenBatch, TokenProbe
from litlab.common.viz import attention_figure, query_labels, trim


class AttentionMapCallback(FigureCallback):
    """Heat maps of the module's ``attention_maps(inputs)`` for ``num_texts`` fixed texts.

    One figure per layer (one panel per head, tokens on both axes; rows are queries) per
    drawing, tagged ``val/attention/<layer>`` (``.../<i>`` with more than one text). Weights
    are drawn as the model produced them: a causal decoder shows an empty upper triangle.
    Sequences are cut to ``max_tokens`` so the labels stay readable.
    """

    def __init__(self, num_texts: int = 1, max_tokens: int = 48, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_texts, self.max_tokens = num_texts, max_tokens
        self.probe: tuple[TokenBatch, object] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, TokenProbe, type(self).__name__)
        require(pl_module, AttentionSource, type(self).__name__)
        if self.probe is None:
            self.probe = trainer.datamodule.probe_batch(self.num_texts)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure]]:
        dm = trainer.datamodule
        batch = TokenBatch(*(t.to(pl_module.device) for t in self.probe[0]))
        maps = pl_module.attention_maps(batch)
        seq_len = batch.ids.shape[1]
        for i in range(len(batch.ids)):
            n = int(batch.lengths[i])
            tokens = dm.token_strings(batch.ids[i, : min(n, self.max_tokens)])
            suffix = f"/{i}" if len(batch.ids) > 1 else ""
            for name, weights in maps.items():
                w = trim(weights[i], n, seq_len, self.max_tokens)
                queries = query_labels(w, tokens)
                title = f"{name}: {w.shape[0]} head(s), epoch {trainer.current_epoch}"
                yield f"val/attention/{name}{suffix}", attention_figure(w, tokens, queries, title)
