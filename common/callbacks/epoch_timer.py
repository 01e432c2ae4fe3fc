"""EpochTimer: wall-clock seconds per training epoch, logged as ``time/epoch_s``."""

from __future__ import annotations

import time

import lightning as L


class EpochTimer(L.Callback):
    """Times each epoch from its start to the end of its validation and callbacks.

    Logs ``time/epoch_s`` (so TensorBoard shows where a run got slow) and keeps the values
    in ``seconds``; ``benchmarks/callback_overhead.py`` divides the picture callbacks' own
    times by it.
    """

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # in Lightning 2 this runs after the epoch's validation loop and its callbacks
        self.seconds.append(time.perf_counter() - self._start)
        pl_module.log("time/epoch_s", self.seconds[-1])
