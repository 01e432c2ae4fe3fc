"""User errors end a litlab command with exit status 2 and a few lines; bugs keep a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from litlab.common.cli import main

MNIST = REPO / "experiments" / "vision" / "mnist_cnn.yaml"
GPT = REPO / "experiments" / "transformer" / "shakespeare_char_gpt_cpu.yaml"


def _fit(tiny_root: Path, *extra: str, config: Path = MNIST) -> list[str]:
    return ["fit", "--config", str(config), f"--data.root={tiny_root}",
            "--data.init_args.val_size=40", "--data.init_args.batch_size=16",
            "--trainer.max_epochs=1", "--trainer.enable_progress_bar=false", "--test=false",
            *extra]  # fmt: skip


def _short_error(argv: list[str], capsys, monkeypatch, cwd: Path) -> str:
    """Run ``litlab argv``: it must exit 2 and print at most a few lines, no traceback."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("LITLAB_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("litlab: ")
    assert len(err.strip().splitlines()) <= 8
    return err


@pytest.fixture(scope="module")
def mnist_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fit")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        main(_fit(tiny_root))
    return next(work.glob("logs/*/*/version_0/checkpoints/last.ckpt"))


def test_a_missing_ckpt_path_is_one_sentence(tiny_root, tmp_path, capsys, monkeypatch):
    missing = tmp_path / "nope.ckpt"
    err = _short_error(_fit(tiny_root, f"--ckpt_path={missing}"), capsys, monkeypatch, tmp_path)
    assert f"--ckpt_path {missing}: no such file" in err


def test_a_garbage_ckpt_path_is_refused_before_the_trainer_reads_it(
    tiny_root, tmp_path, capsys, monkeypatch
):
    bad = tmp_path / "garbage.ckpt"
    bad.write_bytes(b"not a checkpoint at all")
    err = _short_error(_fit(tiny_root, f"--ckpt_path={bad}"), capsys, monkeypatch, tmp_path)
    assert "is not a litlab checkpoint that can be read" in err and str(bad) in err


def test_a_checkpoint_of_another_model_is_named_as_such(
    mnist_ckpt, tiny_root, tmp_path, capsys, monkeypatch
):
    argv = _fit(tiny_root, f"--ckpt_path={mnist_ckpt}", config=GPT)[:3] + [
        f"--data.root={tiny_root}", f"--ckpt_path={mnist_ckpt}", "--trainer.max_steps=1"]
    err = _short_error(argv, capsys, monkeypatch, tmp_path)
    assert "holds a ImageClassifier, but this config builds a GPTLanguageModel" in err


def test_an_accelerator_this_machine_lacks_is_one_message(
    tiny_root, tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("torch.cuda.is_available", lambda: False)
    monkeypatch.setattr("torch.cuda.device_count", lambda: 0)
    err = _short_error(_fit(tiny_root, "--trainer.accelerator=gpu"), capsys, monkeypatch, tmp_path)
    assert "not available" in err.lower() or "gpu" in err.lower()


def test_missing_offline_data_shows_the_files_it_would_accept_and_nothing_else(
    tmp_path, capsys, monkeypatch
):
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("LITLAB_OFFLINE", "1")  # no download: the offline message
    err = _short_error(_fit(empty), capsys, monkeypatch, tmp_path)
    assert "MNIST data not found under data root" in err and str(empty) in err


def test_debug_shows_the_traceback_of_the_same_error(tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from litlab.common.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="no such file"):
        main(_fit(tiny_root, f"--ckpt_path={tmp_path / 'nope.ckpt'}", "--debug"))
    monkeypatch.setenv("LITLAB_DEBUG", "1")
    with pytest.raises(CheckpointError, match="no such file"):
        main(_fit(tiny_root, f"--ckpt_path={tmp_path / 'nope.ckpt'}"))


def test_an_unexpected_exception_is_not_hidden(tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "litlab.vision.module.ImageClassifier.training_step",
        lambda *a, **k: (_ for _ in ()).throw(ZeroDivisionError("a bug")),
    )
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(_fit(tiny_root))
