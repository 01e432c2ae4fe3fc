"""Every experiment YAML runs as it is (fast_dev_run) on tiny data in its canonical format."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from conftest import REPO

from litlab.common.cli import run as litlab

CONFIGS = sorted((REPO / "experiments").glob("*/*.yaml"))
RUNNABLE = [c for c in CONFIGS if c.parent.name != "overlays"]


def test_there_is_a_config_for_each_vision_experiment_the_readme_promises():
    names = {c.stem for c in RUNNABLE if c.parent.name == "vision"}
    expected = {
        "mnist_mlp",
        "mnist_cnn",
        "cifar10_cnn",
        "cifar10_resnet20",
        "cifar10_resnet18",
        "cifar10_fast",
        "cifar10_quick",
        "cifar10_transfer",
        "cifar100_resnet18",
    }
    assert expected <= names


def test_there_is_a_config_for_each_sequence_experiment_the_issue_names():
    names = {c.stem for c in RUNNABLE if c.parent.name == "sequence"}
    expected = {
        "shakespeare_char_lstm",
        "shakespeare_char_gru",
        "shakespeare_char_rnn",
        "rnn_long_range",
        "imdb_bilstm",
        "sst2_bilstm",
        "nsmc_bilstm",
        "airline_lstm",
        "sunspots_lstm",
        "dates_seq2seq",
    }
    assert expected <= names


@pytest.mark.parametrize("config", RUNNABLE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_opens_with_a_teaching_header(config: Path):
    head = config.read_text().splitlines()[:6]
    assert head and all(line.startswith("#") for line in head[:3]), "header comment missing"
    assert any(
        "Result" in line or "result" in line for line in config.read_text().splitlines()[:15]
    )


def test_there_is_a_config_for_each_transformer_experiment_the_issue_names():
    names = {c.stem for c in RUNNABLE if c.parent.name == "transformer"}
    expected = {
        "shakespeare_char_gpt",
        "shakespeare_char_gpt_cpu",
        "shakespeare_bpe_gpt",
        "dates_transformer",
        "imdb_transformer",
        "nsmc_transformer",
        "shakespeare_chat",
        "sst2_minilm",
        "imdb_minilm",
        "imdb_minilm_cpu",
        "nsmc_mlm",
        "nsmc_finetune",
    }
    assert expected <= names


def test_there_is_a_config_for_each_audio_experiment_the_issue_names():
    names = {c.stem for c in RUNNABLE if c.parent.name == "audio"}
    assert {"fsdd_cnn", "fsdd_m5"} <= names


# per domain: what makes a config fit the tiny data sets of conftest.tiny_root
TINY_ARGS = {
    "vision": ["--data.init_args.val_size=40", "--data.init_args.batch_size=8"],
    "audio": ["--data.init_args.val_size=10", "--data.init_args.batch_size=8"],
}


@pytest.mark.parametrize("config", RUNNABLE, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_config_runs_with_fast_dev_run(config: Path, tiny_root: Path, in_tmp: Path):
    cfg = yaml.safe_load(config.read_text())
    args = [
        "fit",
        "--config",
        str(config),
        "--trainer.fast_dev_run=true",
        f"--data.root={tiny_root}",
        *TINY_ARGS.get(config.parent.name, ["--data.init_args.batch_size=8"]),
    ]
    if "cifar100" in cfg["data"]["class_path"].lower():
        args[-2] = "--data.init_args.val_size=100"
    if cfg["model"].get("init_args", {}).get("pretrained"):  # a warm start: its own test
        args.append("--model.init_args.pretrained=null")  # (tests/test_pretrained.py)
    cli = litlab(args)  # raises on any wiring error: wrong class path, shape mismatch, callback
    assert cli.trainer.state.finished and cli.trainer.global_step == 1  # one real training step


# what each overlay does to a run on tiny MNIST (260 training images, batches of 4: 65 an epoch)
OVERLAY_STEPS = {"debug": 1, "overfit": 60 * 4, "profile": 30, "quick": 2 * int(65 * 0.25)}


@pytest.mark.parametrize(
    "overlay", sorted((REPO / "experiments" / "overlays").glob("*.yaml")), ids=lambda p: p.stem
)
def test_overlays_compose_with_an_experiment(overlay: Path, tiny_root: Path, in_tmp: Path):
    """Every key an overlay sets reaches the Trainer or the DataModule; no flag overrides them."""
    base = REPO / "experiments" / "vision" / "mnist_mlp.yaml"
    cli = litlab(
        [
            "fit",
            "--config",
            str(base),
            "--config",
            str(overlay),
            f"--data.root={tiny_root}",
            "--data.init_args.val_size=40",
            "--data.init_args.batch_size=4",
            "--trainer.callbacks=[]",  # the pictures: 60 epochs of them under overfit
            "--trainer.enable_progress_bar=false",
            "--test=false",
        ]
    )
    values = yaml.safe_load(overlay.read_text())
    trainer = cli.trainer
    for key, value in values.get("trainer", {}).items():
        if key == "profiler":
            assert type(trainer.profiler).__name__.lower() == f"{value}profiler"
        elif key == "fast_dev_run":
            assert trainer.fast_dev_run is value
        else:
            assert getattr(trainer, key) == value, key
    for key, value in values.get("data", {}).get("init_args", {}).items():
        assert cli.datamodule.hparams[key] == value, key
    base_epochs = 1 if trainer.fast_dev_run else 12  # the base config's, where unset
    assert trainer.max_epochs == values["trainer"].get("max_epochs", base_epochs)
    assert trainer.global_step == OVERLAY_STEPS[overlay.stem]
    runs = list((in_tmp / "logs" / "vision" / "mnist_mlp").glob("version_*"))
    assert overlay.stem == "debug" or len(runs) == 1  # named after the experiment, not the overlay
