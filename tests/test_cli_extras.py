"""The extra subcommands (env, baseline) and the hardware-dependent defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from litlab.common import env
from litlab.common.cli import run as litlab
from litlab.experiments import baselines


def test_env_reports_the_trainers_choice_on_this_machine(capsys):
    litlab(["env"])
    out = capsys.readouterr().out
    assert f"torch       {torch.__version__}" in out
    expected = env.default_precision()
    assert f"precision -> {expected}" in out


@pytest.mark.parametrize(
    ("cuda", "bf16", "expected"),
    [(True, True, "bf16-mixed"), (True, False, "16-mixed"), (False, False, "32-true")],
)
def test_precision_follows_the_hardware(monkeypatch, cuda, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert env.default_precision() == expected
    assert env.default_precision("cpu") == "32-true"  # asking for the CPU never gets bf16


def test_cli_sets_precision_only_when_the_config_leaves_it_unset(tiny_root, in_tmp):
    base = [
        "fit",
        "--config",
        "experiments/vision/mnist_mlp.yaml",
        f"--data.root={tiny_root}",
        "--data.init_args.val_size=40",
        "--trainer.fast_dev_run=true",
    ]
    from conftest import REPO

    base[2] = str(REPO / base[2])
    assert litlab(base).trainer.precision == "32-true"
    assert litlab([*base, "--trainer.precision=bf16-mixed"]).trainer.precision == "bf16-mixed"


def test_baseline_trains_scikit_learn_on_the_same_split_and_writes_tables(tiny_root, in_tmp):
    out = in_tmp / "results"
    baselines.main(
        ["--dataset", "mnist", "--root", str(tiny_root), "--val-size", "40", "--out", str(out)]
    )
    data = json.loads((out / "baselines.json").read_text())
    rows = {r["model"]: r for r in data["baselines"]}
    assert set(rows) == {"logreg", "random_forest"}
    assert rows["logreg"]["train_size"] == 260 and rows["logreg"]["test_size"] == 50
    assert all(r["test_acc"] > 0.5 for r in rows.values())  # brightness encodes the class
    assert "| mnist | logreg | scikit-learn |" in (out / "baselines.md").read_text()
    (out / "baselines.md").unlink()
    baselines.main(["--table-only", "--out", str(out)])  # no training, same rows
    assert "| mnist | random_forest | scikit-learn |" in (out / "baselines.md").read_text()


def test_comparison_table_gives_points_over_the_best_baseline():
    base = [
        {"dataset": "mnist", "model": "logreg", "test_acc": 0.92},
        {"dataset": "mnist", "model": "random_forest", "test_acc": 0.97},
    ]
    deep = [{"dataset": "mnist", "model": "mnist_cnn", "test_acc": 0.994}]
    table = baselines.comparison_markdown(base, deep)
    assert "| mnist | mnist_cnn | deep (litlab) | 99.40 % | +2.40 points |" in table


def test_console_script_exits_zero_after_a_successful_fit(tiny_root, in_tmp):
    from conftest import REPO

    script = Path(sys.executable).parent / "litlab"
    if not script.exists():
        pytest.skip("litlab console script not installed (pip install -e .)")
    cmd = [
        str(script),
        "fit",
        "--config",
        str(REPO / "experiments/vision/mnist_mlp.yaml"),
        f"--data.root={tiny_root}",
        "--data.init_args.val_size=40",
        "--trainer.fast_dev_run=true",
    ]
    done = subprocess.run(cmd, cwd=in_tmp, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
