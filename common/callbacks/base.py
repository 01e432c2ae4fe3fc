"""FigureCallback: the shape every picture callback shares.

Every ``every_n_epochs`` validation epochs (never during the sanity check), on global rank
zero only, it draws figures and writes them to the TensorBoard logger under the global step.
Anything that needs all processes under DDP (a metric's ``compute()`` syncs them) must happen
before ``log_figures``, on every rank.

Subclasses implement either :meth:`figures` (read the model and draw, on the training thread),
or the pair :meth:`collect` and :meth:`draw`: ``collect`` reads what the pictures need from
the model on the training thread (small tensors, copied to the CPU) and ``draw`` turns that
into figures on a background thread, so matplotlib's work (most of a drawing's cost) runs
beside training instead of stopping it. Drawings are finished before fit, validation or test
ends, and one drawing thread serves all callbacks (matplotlib's pyplot is not thread-safe);
a callback that draws on the training thread first waits for it. An error in a background
drawing is raised on the training thread at the next drawing or at the end. When a run
crashes, the drawings in flight are finished before Lightning closes the logger
(``on_exception``), and their errors give way to the crash's own.

Model work runs in eval mode under ``torch.no_grad`` (explanations that need gradients switch
them back on, see ``common/attribution.py``); every submodule's train/eval flag is restored
afterwards. ``seconds`` keeps how long each drawing held up training; ``draw_seconds`` how long
each background drawing took; ``benchmarks/callback_overhead.py`` compares them with the epoch.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.trainer.states import TrainerFn
from lightning.pytorch.utilities import rank_zero_warn
from matplotlib.figure import Figure

from litlab.common.attribution import evaluating
from litlab.common.viz import figure_to_tensor

_DRAWER: ThreadPoolExecutor | None = None  # the one drawing thread, made on first use
_PENDING: list[Future] = []


def _drawer() -> ThreadPoolExecutor:
    global _DRAWER
    if _DRAWER is None:
        _DRAWER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="litlab-figures")
    return _DRAWER


def wait_for_drawings(raise_errors: bool = True) -> float:
    """Block until every background drawing is written; re-raise the first error (or, with
    ``raise_errors=False``, drop errors: the run they belong to has already failed). Returns
    the seconds waited."""
    start = time.perf_counter()
    pending, _PENDING[:] = list(_PENDING), []
    for future in pending:
        if raise_errors:
            future.result()
        else:
            future.exception()  # waits, and keeps the error off the caller's thread
    return time.perf_counter() - start


class FigureCallback(L.Callback):
    """Base class: draw every ``every_n_epochs`` validation epochs and log the figures as images."""

    def __init__(self, every_n_epochs: int = 1) -> None:
        self.every_n_epochs = every_n_epochs
        self.seconds: list[float] = []  # per drawing: time on the training thread
        self.draw_seconds: list[float] = []  # per background drawing: time on the drawing thread
        self.waited = 0.0  # seconds the end of fit/validation/test waited for drawings

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        """Yield (tag, figure) pairs; a string instead of a figure goes to the text tab."""
        yield from self.draw(self.collect(trainer, pl_module))

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> Any:
        """What :meth:`draw` needs, read on the training thread (CPU tensors, names)."""
        raise NotImplementedError

    def draw(self, collected: Any) -> Iterator[tuple[str, Figure | str]]:
        """(tag, figure) pairs from ``collect``'s result; runs on the drawing thread."""
        raise NotImplementedError

    def _in_background(self) -> bool:
        return type(self).draw is not FigureCallback.draw

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
        writer, step = tb.experiment, trainer.global_step  # made here, on the training thread
        start = time.perf_counter()
        if self._in_background():
            self._raise_failed()
            with evaluating(pl_module), torch.no_grad():
                collected = self.collect(trainer, pl_module)
            _PENDING.append(_drawer().submit(self._write, writer, self.draw(collected), step))
        else:
            self.waited += wait_for_drawings()  # pyplot: one thread draws at a time
            with evaluating(pl_module), torch.no_grad():
                self._write(writer, self.figures(trainer, pl_module), step, timed=False)
        self.seconds.append(time.perf_counter() - start)

    def _write(self, writer: Any, figures: Iterator, step: int, timed: bool = True) -> None:
        start = time.perf_counter()
        for tag, fig in figures:
            if isinstance(fig, str):
                writer.add_text(tag, fig, step)
            else:  # as an image tensor: the image tab shows it like any picture
                writer.add_image(tag, figure_to_tensor(fig), step)
        if timed:
            self.draw_seconds.append(time.perf_counter() - start)

    def _raise_failed(self) -> None:
        """Re-raise an error of an earlier background drawing, here on the training thread."""
        for future in [f for f in _PENDING if f.done()]:
            _PENDING.remove(future)
            future.result()

    def _finish(self) -> None:
        self.waited += wait_for_drawings()

    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if self._due(trainer):
            self.log_figures(trainer, pl_module)

    def on_validation_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.state.fn == TrainerFn.VALIDATING:  # `litlab validate`, not fit's validation
            self._finish()

    def on_fit_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # drawings left by a run that crashed earlier in this process are not this run's
        wait_for_drawings(raise_errors=False)

    def on_exception(
        self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException
    ) -> None:
        # Lightning closes the loggers right after this hook: finish the drawings in flight
        # while their writer is open; their own errors must not hide the one that stopped us
        self.waited += wait_for_drawings(raise_errors=False)

    def on_fit_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish()

    def on_test_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._finish()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._finish()  # also after an interruption: nothing is drawn after the logger closes
