"""AlignmentCallback: where each output token of an encoder-decoder looked in the input."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import AlignmentSource, Seq2SeqData, TokenBatch
from litlab.common.viz import attention_figure


class AlignmentCallback(FigureCallback):
    """Heat maps of ``alignments(inputs)`` for ``num_texts`` fixed validation inputs.

    Rows are the output tokens the model produced (greedy), columns the input characters;
    tags ``val/alignment/<i>``. Needs a ``Seq2SeqData`` DataModule and an
    ``AlignmentSource`` module (common/protocols.py).
    """

    def __init__(self, num_texts: int = 4, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_texts = num_texts
        self.probe: TokenBatch | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, Seq2SeqData, type(self).__name__)
        require(pl_module, AlignmentSource, type(self).__name__)
        if self.probe is None:
            self.probe = trainer.datamodule.probe_batch(self.num_texts)[0]

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure]]:
        dm = trainer.datamodule
        batch = TokenBatch(*(t.to(pl_module.device) for t in self.probe))
        outputs, weights = pl_module.alignments(batch)  # (B, T), (B, heads, T, S)
        for i in range(len(batch.ids)):
            n_src = int(batch.lengths[i])
            out = outputs[i].tolist()
            n_out = out.index(dm.eos_id) + 1 if dm.eos_id in out else len(out)
            keys = dm.token_strings(batch.ids[i, :n_src].cpu())
            queries = dm.token_strings(outputs[i, :n_out].cpu())
            w = weights[i][:, :n_out, :n_src].float().cpu()
            title = f"{''.join(keys)} -> {''.join(queries[:-1])}  (epoch {trainer.current_epoch})"
            # Hangul is drawn with litlab.common.viz's font fallback when a Korean font is installed
            yield f"val/alignment/{i}", attention_figure(w, keys, queries, title)

    def log_figures(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        with warnings.catch_warnings():  # no Hangul font: boxes, not one warning per glyph
            warnings.filterwarnings("ignore", message="Glyph .* missing from")
            super().log_figures(trainer, pl_module)
