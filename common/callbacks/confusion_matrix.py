"""ConfusionMatrixCallback: which classes the model confuses, drawn every validation epoch."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor
from torchmetrics.classification import MulticlassConfusionMatrix

from litlab.common.callbacks.base import FigureCallback
from litlab.common.viz import confusion_matrix_figure


class ConfusionMatrixCallback(FigureCallback):
    """Accumulates ``preds``/``target`` from the validation (and test) step outputs into a
    torchmetrics confusion matrix and logs it as ``val/confusion_matrix`` (and
    ``test/confusion_matrix``), rows normalised. Class names come from the DataModule's
    ``classes`` when it has them.
    """

    def __init__(self, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.matrix: MulticlassConfusionMatrix | None = None
        self._computed: Tensor | None = None

    def _update(self, pl_module: L.LightningModule, outputs: Any) -> None:
        if not isinstance(outputs, dict) or "preds" not in outputs or "target" not in outputs:
            raise TypeError(
                "ConfusionMatrixCallback needs validation_step/test_step to return a dict with "
                "'preds' and 'target' (see common/protocols.py)"
            )
        if self.matrix is None:
            num_classes = pl_module.hparams.get("num_classes")
            # validate_args=False: its checks read the batch on the host (a GPU wait per batch)
            self.matrix = MulticlassConfusionMatrix(num_classes, validate_args=False).to(
                pl_module.device
            )
        self.matrix.update(outputs["preds"], outputs["target"])

    def _classes(self, trainer: L.Trainer) -> list[str]:
        names = getattr(trainer.datamodule, "classes", None)
        return list(names) if names else [str(i) for i in range(self.matrix.num_classes)]

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> tuple:
        stage = "test" if trainer.testing else "val"
        return stage, self._computed.cpu(), self._classes(trainer)

    def draw(self, collected: tuple) -> Iterator[tuple[str, Figure]]:
        stage, matrix, classes = collected
        yield f"{stage}/confusion_matrix", confusion_matrix_figure(matrix, classes)

    def on_validation_batch_end(
        self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0
    ):
        if not trainer.sanity_checking:
            self._update(pl_module, outputs)

    def on_test_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0):
        self._update(pl_module, outputs)

    def _compute_and_log(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._computed = self.matrix.compute()  # on every rank: under DDP this syncs them
        self.log_figures(trainer, pl_module)  # rank zero only

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.matrix is not None and self._due(trainer):
            self._compute_and_log(trainer, pl_module)
        self._reset()

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self.matrix is not None:
            self._compute_and_log(trainer, pl_module)
        self._reset()

    def _reset(self) -> None:
        if self.matrix is not None:
            self.matrix.reset()
