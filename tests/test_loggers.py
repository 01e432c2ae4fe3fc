"""Any Lightning logger works by configuration; TensorBoard stays the default."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from conftest import REPO

from litlab.common.cli import run as litlab

MNIST = REPO / "experiments" / "vision" / "mnist_cnn.yaml"


def _fit(work: Path, tiny_root: Path, *extra: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", "--config", str(MNIST), f"--data.root={tiny_root}",
                "--data.init_args.val_size=40", "--data.init_args.batch_size=16",
                "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false",
                "--test=false", *extra])  # fmt: skip


def test_a_whole_fit_runs_with_the_csv_logger(tiny_root: Path, tmp_path: Path):
    with pytest.warns(UserWarning, match="no TensorBoardLogger, nothing drawn"):
        _fit(tmp_path, tiny_root, "--trainer.logger=CSVLogger",
             f"--trainer.logger.init_args.save_dir={tmp_path / 'csv'}")  # fmt: skip
    (metrics,) = (tmp_path / "csv").glob("lightning_logs/version_0/metrics.csv")
    rows = list(csv.DictReader(metrics.open()))
    val_acc = [float(r["val/acc"]) for r in rows if r.get("val/acc")]
    assert len(val_acc) == 1 and 0.0 <= val_acc[0] <= 1.0
    hparams = (metrics.parent / "hparams.yaml").read_text()
    assert "lr:" in hparams and "val/acc_best" not in hparams  # TensorBoard's metrics stay there
    assert not (tmp_path / "logs").exists()  # no TensorBoard run beside the CSV one


def test_a_whole_fit_runs_with_wandb_offline(
    tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    pytest.importorskip("wandb", reason="the optional tracker: pip install wandb")
    monkeypatch.setenv("WANDB_MODE", "offline")  # no account, nothing sent
    monkeypatch.setenv("WANDB_SILENT", "true")
    _fit(tmp_path, tiny_root, "--trainer.logger=WandbLogger",
         "--trainer.logger.init_args.offline=true",
         f"--trainer.logger.init_args.save_dir={tmp_path}")  # fmt: skip
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1 and runs[0].stat().st_size > 0
