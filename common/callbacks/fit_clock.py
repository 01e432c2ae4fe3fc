"""FitClock: where the time of a ``litlab fit`` goes, written to ``timing.json``."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import lightning as L
import torch

from litlab.common.callbacks.base import FigureCallback


def _now(module: L.LightningModule) -> float:
    """The wall clock once the device has done all the work queued so far."""
    if module.device.type == "cuda":
        torch.cuda.synchronize(module.device)
    return time.perf_counter()


class FitClock(L.Callback):
    """Times a fit the way ``benchmarks/cifar10_speed.py`` compares it with a plain loop.

    ``train_s``: from the start of the first training step to the end of training (the last
    epoch's validation, pictures and checkpoints included); ``step_s``: per step, from the
    start of step ``warmup`` to the end of the last one (of a ``max_steps`` run) or of
    training (validations and epoch ends included when they fall inside);
    ``val_s``: the validation loops (with the picture callbacks' work on the training thread,
    ``pictures_s``; their background drawing is ``pictures_background_s``, and what the end
    of fit waited for it ``pictures_waited_s``); ``test_s``: a test after fit, apart. The
    device is synchronised only at these few moments. ``val_curve``: (epoch, ``val/acc``,
    seconds since the first step) after each validation. Written to ``<run folder>/timing.json``
    after fit and again after a test, and printed on one line.
    """

    def __init__(self, warmup: int = 5) -> None:
        self.warmup = warmup
        self.times: dict[str, Any] = {"val_s": 0.0, "validations": 0, "val_curve": []}
        self._t: dict[str, float] = {}

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        step = trainer.global_step
        if "first" not in self._t:
            self._t["first"] = _now(pl_module)
            self._t["first_step"] = step
        if step == self._t["first_step"] + self.warmup:
            self._t["warm"] = _now(pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == trainer.max_steps:  # a max_steps run: its last step ends
            self._t["last"] = _now(pl_module)

    def on_validation_start(self, trainer, pl_module) -> None:
        if not trainer.sanity_checking and "first" in self._t:
            self._t["val"] = _now(pl_module)

    def on_validation_end(self, trainer, pl_module) -> None:
        if "val" in self._t:
            end = _now(pl_module)
            self.times["val_s"] += end - self._t.pop("val")
            self.times["validations"] += 1
            acc = trainer.callback_metrics.get("val/acc")
            if acc is not None:  # (epoch, accuracy, seconds since the first step)
                point = (trainer.current_epoch + 1, round(float(acc), 4), end - self._t["first"])
                self.times["val_curve"].append(point)

    def on_train_end(self, trainer, pl_module) -> None:
        end = _now(pl_module)
        steps = trainer.global_step - self._t.get("first_step", 0)
        self.times.update(train_s=end - self._t.get("first", end), steps=steps)
        if "warm" in self._t and steps > self.warmup:
            last = self._t.get("last", end)  # max_steps: what follows the last step is apart
            self.times["step_s"] = (last - self._t["warm"]) / (steps - self.warmup)

    def on_test_start(self, trainer, pl_module) -> None:
        self._t["test"] = _now(pl_module)

    def on_test_end(self, trainer, pl_module) -> None:
        self.times["test_s"] = _now(pl_module) - self._t.pop("test")

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        pictures = [c for c in trainer.callbacks if isinstance(c, FigureCallback)]
        self.times["pictures_s"] = sum(sum(c.seconds) for c in pictures)
        self.times["pictures_background_s"] = sum(sum(c.draw_seconds) for c in pictures)
        self.times["pictures_waited_s"] = sum(c.waited for c in pictures)
        if trainer.log_dir is None or not trainer.is_global_zero:
            return
        path = Path(trainer.log_dir) / "timing.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.times, indent=1))
        shown = ", ".join(f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                          for k, v in self.times.items())  # fmt: skip
        print(f"FitClock: {shown} -> {path}", flush=True)
