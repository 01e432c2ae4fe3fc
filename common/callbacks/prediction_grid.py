"""PredictionGridCallback: fixed validation images with predicted and true labels."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import ProbeData
from litlab.common.viz import prediction_grid


class PredictionGridCallback(FigureCallback):
    """A grid of ``num_images`` fixed validation images, titled "predicted (true)", mistakes
    in red, under the tag ``val/predictions``. The same images every epoch, so the grid
    shows learning progress. Needs a DataModule that follows ``ProbeData``.
    """

    def __init__(self, num_images: int = 32, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_images = num_images

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure]]:
        dm = trainer.datamodule
        require(dm, ProbeData, type(self).__name__)
        images, targets = dm.probe_batch(self.num_images)
        preds = pl_module(images.to(pl_module.device)).argmax(dim=-1).cpu()
        yield "val/predictions", prediction_grid(dm.denormalize(images), preds, targets, dm.classes)
