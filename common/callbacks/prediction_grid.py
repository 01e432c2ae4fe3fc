"""PredictionGridCallback: fixed validation images with predicted and true labels."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import ProbeData
from litlab.common.viz import prediction_grid


class PredictionGridCallback(FigureCallback):
    """A grid of ``num_images`` fixed validation images, titled "predicted (true)", mistakes
    in red, under the tag ``val/predictions``. The same images every epoch, so the grid
    shows learning progress. Needs a DataModule that follows ``ProbeData``. The grid is
    drawn on the background drawing thread (``base.FigureCallback``).
    """

    def __init__(self, num_images: int = 32, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_images = num_images
        self.probe: tuple[Tensor, Tensor] | None = None  # chosen once: the same every drawing

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> tuple:
        dm = trainer.datamodule
        require(dm, ProbeData, type(self).__name__)
        if self.probe is None:
            self.probe = dm.probe_batch(self.num_images)
        images, targets = self.probe
        preds = pl_module(images.to(pl_module.device)).argmax(dim=-1).cpu()
        return dm.denormalize(images), preds, targets, list(dm.classes)

    def draw(self, collected: tuple) -> Iterator[tuple[str, Figure]]:
        yield "val/predictions", prediction_grid(*collected)
