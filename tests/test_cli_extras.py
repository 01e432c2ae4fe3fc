"""The extra subcommands (env, baseline) and the hardware-dependent defaults."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO

from litlab.common import cli as cli_module
from litlab.common import env
from litlab.common.cli import run as litlab
from litlab.experiments import baselines


class _FakeGPU:
    name, total_memory, major, minor = "Fake H200", 141 * 2**30, 9, 0


@pytest.mark.parametrize(
    ("cuda", "bf16", "choice"),
    [(True, True, "cuda, precision -> bf16-mixed"), (True, False, "cuda, precision -> 16-mixed"),
     (False, False, "cpu, precision -> 32-true")],
)  # fmt: skip
def test_env_reports_the_trainers_choice_on_this_machine(monkeypatch, capsys, cuda, bf16, choice):
    """The report names the accelerator and precision the Trainer picks, for each hardware."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: int(cuda))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: _FakeGPU)
    litlab(["env"])
    out = capsys.readouterr().out
    assert f"torch       {torch.__version__}" in out
    assert f"trainer     accelerator=auto -> {choice}\n" in out + "\n"
    if cuda:
        assert f"cuda:0      Fake H200, 141 GiB, compute 9.0, bf16 {'yes' if bf16 else 'no'}" in out


@pytest.mark.parametrize(
    ("cuda", "bf16", "expected"),
    [(True, True, "bf16-mixed"), (True, False, "16-mixed"), (False, False, "32-true")],
)
def test_precision_follows_the_hardware(monkeypatch, cuda, bf16, expected):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: cuda)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16)
    assert env.default_precision() == expected
    assert env.default_precision("cpu") == "32-true"  # asking for the CPU never gets bf16


def test_cli_sets_precision_only_when_the_config_leaves_it_unset(tiny_root, in_tmp, monkeypatch):
    """The CLI asks env.default_precision (here: a GPU's answer, which differs from Lightning's
    32-true default) for the configured accelerator, unless the config names a precision."""
    asked = []

    def gpu_precision(accelerator: str) -> str:
        asked.append(accelerator)
        return "bf16-mixed"  # runs on a CPU too

    monkeypatch.setattr(cli_module, "default_precision", gpu_precision)
    base = [
        "fit",
        "--config",
        str(REPO / "experiments" / "vision" / "mnist_mlp.yaml"),
        f"--data.root={tiny_root}",
        "--data.init_args.val_size=40",
        "--trainer.fast_dev_run=true",
    ]
    assert litlab(base).trainer.precision == "bf16-mixed" and asked == ["auto"]
    assert litlab([*base, "--trainer.accelerator=cpu"]).trainer.precision == "bf16-mixed"
    assert asked == ["auto", "cpu"]
    assert litlab([*base, "--trainer.precision=32-true"]).trainer.precision == "32-true"
    assert asked == ["auto", "cpu"]  # not asked when the config sets it


def test_baseline_trains_scikit_learn_on_the_same_split_and_writes_tables(tiny_root, in_tmp):
    out = in_tmp / "results"
    baselines.main(
        ["--dataset", "mnist", "--root", str(tiny_root), "--val-size", "40", "--out", str(out)]
    )
    data = json.loads((out / "baselines.json").read_text())
    rows = {r["model"]: r for r in data["baselines"]}
    assert set(rows) == {"logreg", "random_forest"}
    assert rows["logreg"]["train_size"] == 260 and rows["logreg"]["test_size"] == 50
    # brightness encodes the class, 22 grey levels apart with +-20 noise: every test image
    # (5 per class) is right; chance is 0.1
    assert all(r["test_acc"] == 1.0 for r in rows.values()), rows
    assert "| mnist | logreg | scikit-learn | 100.00 % |" in (out / "baselines.md").read_text()
    (out / "baselines.md").unlink()
    baselines.main(["--table-only", "--out", str(out)])  # no training, same rows
    table = (out / "baselines.md").read_text()
    assert "| mnist | random_forest | scikit-learn | 100.00 % |" in table


def test_comparison_table_gives_points_over_the_best_baseline():
    base = [
        {"dataset": "mnist", "model": "logreg", "test_acc": 0.92},
        {"dataset": "mnist", "model": "random_forest", "test_acc": 0.97},
    ]
    deep = [{"dataset": "mnist", "model": "mnist_cnn", "test_acc": 0.994}]
    table = baselines.comparison_markdown(base, deep)
    assert "| mnist | mnist_cnn | deep (litlab) | 99.40 % | +2.40 points |" in table


def test_console_script_exits_zero_after_a_successful_fit(tiny_root, in_tmp):
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
