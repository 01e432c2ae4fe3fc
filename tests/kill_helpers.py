"""What tests/test_resume.py runs inside the processes it kills."""

from __future__ import annotations

import os
import signal
import sys

import lightning as L


class SigkillAtStep(L.Callback):
    """Kills its own process with SIGKILL (no clean-up, no last words) when the optimiser step
    ``$LITLAB_TEST_KILL_AT_STEP`` is about to run: a crash at a known point of an epoch."""

    def on_train_batch_start(self, trainer: L.Trainer, *args: object) -> None:
        if trainer.global_step == int(os.environ["LITLAB_TEST_KILL_AT_STEP"]):
            sys.stdout.flush()
            os.kill(os.getpid(), signal.SIGKILL)


def write_then_die(path: str, half_of: bytes, atomic: bool) -> None:
    """Write the first half of a checkpoint's bytes to ``path`` (atomically or naively), then
    SIGKILL: a crash in the middle of a checkpoint write."""

    def dying_save(obj: object, f) -> None:  # in place of torch.save
        f.write(half_of[: len(half_of) // 2])
        f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if atomic:
        import torch

        from litlab.common import checkpoint_io

        torch.save = dying_save  # atomic_torch_save looks torch.save up when it runs
        checkpoint_io.atomic_torch_save({"never": "complete"}, path)
    else:
        with open(path, "wb") as f:
            dying_save(None, f)
