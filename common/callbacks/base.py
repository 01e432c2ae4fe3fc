"""FigureCallback: the shape every picture callback shares.

Every ``every_n_epochs`` validation epochs (never during the sanity check), on global rank
zero only, it draws figures and writes them to the TensorBoard logger under the global step.
Anything that needs all processes under DDP (a metric's ``compute()`` syncs them) must happen
before ``log_figures``, on every rank.
Subclasses implement :meth:`figures`. Drawing runs in eval mode under ``torch.no_grad``
(explanations that need gradients switch them back on, see ``common/attribution.py``); every
submodule's train/eval flag is restored afterwards. ``seconds`` keeps how long each drawing
took, which ``benchmarks/callback_overhead.py`` compares with the epoch time.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure

from litlab.common.attribution import evaluating
from litlab.common.viz import figure_to_tensor


class FigureCallback(L.Callback):
    """Base class: draw ``figures()`` every ``every_n_epochs`` and log them as images."""

    def __init__(self, every_n_epochs: int = 1) -> None:
        self.every_n_epochs = every_n_epochs
        self.seconds: list[float] = []

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        """Yield (tag, figure) pairs; a string instead of a figure goes to the text tab."""
        raise NotImplementedError

    def _due(self, trainer: L.Trainer) -> bool:
        """Whether this epoch draws (the same answer on every rank)."""
        if trainer.sanity_checking:
            return False
        last = trainer.max_epochs is not None and trainer.current_epoch + 1 >= trainer.max_epochs
        return (trainer.current_epoch + 1) % self.every_n_epochs == 0 or last

    def log_figures(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        tb = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tb is None:
            rank_zero_warn(f"{type(self).__name__}: no TensorBoardLogger, nothing drawn")
            return
        start = time.perf_counter()
        with evaluating(pl_module), torch.no_grad():
            for tag, fig in self.figures(trainer, pl_module):
                if isinstance(fig, str):
                    tb.experiment.add_text(tag, fig, trainer.global_step)
                else:  # as an image tensor: the image tab shows it like any picture
                    tb.experiment.add_image(tag, figure_to_tensor(fig), trainer.global_step)
        self.seconds.append(time.perf_counter() - start)

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._due(trainer):
            self.log_figures(trainer, pl_module)
