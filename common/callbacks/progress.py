"""ProgressBar: Lightning's progress bar without a wait for the GPU at every step."""

from __future__ import annotations

import math
import time
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar


class ProgressBar(TQDMProgressBar):
    """Lightning's bar, reading the logged numbers at most once per ``metrics_every`` seconds.

    Lightning's own bar shows the values logged with ``prog_bar=True`` (loss, accuracy) after
    every step; reading them turns tensors into Python numbers, which on a GPU waits for the
    device, so the host can never queue the next steps while the GPU works on this one. This
    bar still moves every step, but reads the numbers only when ``metrics_every`` seconds
    have passed since it last did (and at every epoch's and validation's end). On a CPU,
    where a step takes longer than that, it shows fresh numbers after every step, as before.
    ``LitlabCLI`` installs it unless the progress bar is switched off.
    """

    def __init__(
        self, refresh_rate: int = 1, process_position: int = 0, leave: bool = False,
        metrics_every: float = 1.0,
    ) -> None:  # fmt: skip
        super().__init__(refresh_rate, process_position, leave)
        self.metrics_every = metrics_every
        self._shown: dict[str, Any] = {}
        self._read_at = -math.inf
        self._in_step = False

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        now = time.monotonic()
        if self._in_step and now - self._read_at < self.metrics_every:
            return self._shown  # numbers at most metrics_every seconds old, no GPU wait
        self._shown, self._read_at = super().get_metrics(trainer, pl_module), now
        return self._shown

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
        batch_idx: int,
    ) -> None:  # fmt: skip
        self._in_step = True
        try:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
        finally:
            self._in_step = False
