"""TokenAttributionCallback: which tokens pushed each prediction, coloured."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.attribution import describe, integrated_gradients
from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.pieces import text_pieces, words_and_scores
from litlab.common.protocols import TextData, TokenAttributionSource, TokenBatch, TokenProbe
from litlab.common.viz import token_attribution_figure, token_attribution_html


class TokenAttributionCallback(FigureCallback):
    """Integrated gradients (captum ``LayerIntegratedGradients``) at the embedding layer for
    ``num_texts`` fixed validation texts, explaining the predicted class against an all-padding
    baseline.

    Logs, per text, a figure ``val/token_attributions/<i>`` (green words pushed towards the
    prediction, red against) and the same as coloured HTML in the text tab
    (``val/token_attributions_html/<i>``), both with the convergence delta. Scores are shown
    on whole words (``common/pieces.py``: a word's tokens summed). Works for LSTMs on
    CUDA (cuDNN is switched off for the backward pass) and for transformer encoders.
    """

    def __init__(self, num_texts: int = 4, n_steps: int = 50, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_texts, self.n_steps = num_texts, n_steps
        self.probe: tuple[TokenBatch, Tensor] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, TextData, type(self).__name__)
        require(trainer.datamodule, TokenProbe, type(self).__name__)  # its fixed texts
        require(pl_module, TokenAttributionSource, type(self).__name__)
        if self.probe is None:
            self.probe = trainer.datamodule.probe_batch(self.num_texts)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        dm = trainer.datamodule
        batch, labels = self.probe
        ids, lengths = (t.to(pl_module.device) for t in batch)
        att = integrated_gradients(
            pl_module, pl_module.embedding_layer(), ids, lengths, dm.pad_id, n_steps=self.n_steps
        )
        for i in range(len(ids)):
            n = int(lengths[i])
            words, scores = words_and_scores(text_pieces(dm, ids[i, :n], att.scores[i, :n]))
            scores = torch.tensor(scores)
            text = describe(att, i, dm.classes, int(labels[i]))
            yield (
                f"val/token_attributions/{i}",
                token_attribution_figure(words, scores, text),
            )
            html = token_attribution_html(words, scores)
            yield f"val/token_attributions_html/{i}", f"<p>{text}</p><p>{html}</p>"
