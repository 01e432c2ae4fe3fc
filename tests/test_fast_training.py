"""A fast training loop (issue 17): batches gathered on the device, pictures drawn beside
training, a progress bar that does not wait for the GPU, and the run's timing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import REPO
from lightning.pytorch.callbacks import TQDMProgressBar
from matplotlib.figure import Figure

from litlab.common.callbacks import ProgressBar
from litlab.common.callbacks.base import FigureCallback
from litlab.common.cli import run as litlab
from litlab.vision.data import CIFAR10DataModule
from litlab.vision.image_data import IndexBatch

QUICK = REPO / "experiments" / "vision" / "cifar10_quick.yaml"


def _fit(root: Path, *extra: str):
    return litlab(
        [
            "fit",
            "--config",
            str(QUICK),
            f"--data.root={root}",
            "--data.init_args.val_size=50",
            "--data.init_args.batch_size=32",
            "--trainer.max_epochs=2",
            "--trainer.enable_progress_bar=false",
            *extra,
        ]
    )


def test_the_device_loader_gives_the_tensor_loaders_batches(tiny_root: Path):
    batches = {}
    for loader in ("tensor", "device"):
        dm = CIFAR10DataModule(root=str(tiny_root), val_size=50, batch_size=32, loader=loader)
        torch.manual_seed(4)
        batches[loader] = [dm.on_after_batch_transfer(b, 0) for b in dm.train_dataloader()]
    first = next(iter(dm.train_dataloader()))
    assert isinstance(first, IndexBatch) and first.split == "train" and first.index.shape == (32,)
    assert len(batches["device"]) == len(batches["tensor"]) == 250 // 32
    for (a, y), (b, z) in zip(batches["tensor"], batches["device"]):
        assert torch.equal(a, b) and torch.equal(y, z)


def test_fit_with_the_device_loader_ends_where_the_tensor_loader_does(tiny_root, in_tmp):
    """Same batches, same augmentation draws: the same weights, and the same pictures."""
    runs = {}
    for loader in ("tensor", "device"):
        cli = _fit(
            tiny_root, f"--data.init_args.loader={loader}", f"--experiment=speed/{loader}",
            "--trainer.callbacks+=litlab.common.callbacks.FitClock", "--test=true",
        )  # fmt: skip
        runs[loader] = cli.model.net.state_dict()
        pictures = [c for c in cli.trainer.callbacks if isinstance(c, FigureCallback)]
        # drawn on the background thread: every picture twice (2 validations), the confusion
        # matrix also after the test
        assert [len(c.draw_seconds) for c in pictures] == [2, 3, 2, 2]
    for key, value in runs["tensor"].items():
        assert torch.equal(value, runs["device"][key]), key
    timing = json.loads((in_tmp / "logs/speed/device/version_0/timing.json").read_text())
    assert timing["steps"] == 2 * (250 // 32) and timing["validations"] == 2
    assert 0 < timing["val_s"] < timing["train_s"] and timing["test_s"] > 0
    assert timing["pictures_background_s"] > 0


class Broken(FigureCallback):
    """Draws on the background thread, and fails there."""

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> int:
        return 1

    def draw(self, collected: int) -> Iterator[tuple[str, Figure]]:
        raise RuntimeError("the drawing failed")
        yield


def test_an_error_in_a_background_drawing_reaches_the_training_thread(tiny_root, in_tmp):
    with pytest.raises(RuntimeError, match="the drawing failed"):
        _fit(
            tiny_root, "--trainer.max_epochs=1", "--test=false",
            "--trainer.callbacks=[]", "--trainer.callbacks+=test_fast_training.Broken",
        )  # fmt: skip


class Slow(FigureCallback):
    """Draws on the background thread, slowly: still drawing when the run crashes."""

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> int:
        return trainer.current_epoch

    def draw(self, collected: int) -> Iterator[tuple[str, Figure]]:
        import time

        from litlab.common.viz import confusion_matrix_figure

        time.sleep(1.5)
        yield "val/slow", confusion_matrix_figure(torch.eye(2), ["a", "b"])


class CrashAtSecondEpoch(L.Callback):
    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


def test_a_crash_while_a_picture_is_drawn_keeps_the_picture_and_spoils_no_later_run(
    tiny_root, in_tmp
):
    """The crash closes the TensorBoard writer: the drawing in flight must be written before
    that, and must not fail the next fit in the same process ("Writer is closed")."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    callbacks = ["--trainer.callbacks=[]", "--trainer.callbacks+=test_fast_training.Slow"]
    with pytest.raises(RuntimeError, match="simulated crash"):
        _fit(tiny_root, "--test=false", *callbacks,
             "--trainer.callbacks+=test_fast_training.CrashAtSecondEpoch")  # fmt: skip
    run = in_tmp / "logs" / "vision" / "cifar10_quick" / "version_0"
    events = EventAccumulator(str(run), size_guidance={"images": 0})
    events.Reload()
    assert "val/slow" in events.Tags()["images"]  # written before the writer closed
    _fit(tiny_root, "--trainer.max_epochs=1", "--test=false", *callbacks)  # no stale error


def test_the_progress_bar_reads_the_logged_numbers_at_most_once_per_interval(monkeypatch):
    reads = []
    monkeypatch.setattr(TQDMProgressBar, "get_metrics", lambda self, t, m: reads.append(1) or {})
    bar = ProgressBar(metrics_every=3600.0)
    bar._in_step = True  # as inside on_train_batch_end
    for _ in range(5):
        bar.get_metrics(None, None)
    assert len(reads) == 1  # the first step reads, the next four reuse it
    bar._in_step = False  # an epoch's or a validation's end: always fresh
    bar.get_metrics(None, None)
    assert len(reads) == 2
    fresh = ProgressBar(metrics_every=0.0)
    fresh._in_step = True
    for _ in range(3):
        fresh.get_metrics(None, None)
    assert len(reads) == 5  # a zero interval: every step, as Lightning's bar


def test_litlab_fit_installs_the_progress_bar_unless_it_is_off(tiny_root, in_tmp):
    cli = litlab(
        ["fit", "--config", str(QUICK), f"--data.root={tiny_root}", "--trainer.fast_dev_run=true",
         "--data.init_args.val_size=50", "--data.init_args.batch_size=32"]
    )  # fmt: skip
    assert isinstance(cli.trainer.progress_bar_callback, ProgressBar)
