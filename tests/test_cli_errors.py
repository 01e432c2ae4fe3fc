"""User errors end a litlab command with exit status 2 and a few lines; bugs keep a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO

from litlab.common.cli import main

MNIST = REPO / "experiments" / "vision" / "mnist_cnn.yaml"
GPT = REPO / "experiments" / "transformer" / "shakespeare_char_gpt_cpu.yaml"
GT0 = "must be greater than 0, got"
MAX_LINES = 4  # "a few lines": the problem, the value or file, what to do, the --debug hint


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
    assert len([line for line in err.splitlines() if line.strip()]) <= MAX_LINES, err
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


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        ("--data.init_args.batch_size=0", f"--data.init_args.batch_size {GT0} 0"),
        ("--data.init_args.batch_size=-3", f"--data.init_args.batch_size {GT0} -3"),
        ("--data.init_args.val_size=0", f"--data.init_args.val_size {GT0} 0"),
        # the tiny MNIST has 300 training images
        ("--data.init_args.val_size=5000", "--data.init_args.val_size 5000 leaves no training"
         " images: the training set holds 300; give a val_size between 1 and 299"),
        ("--data.init_args.batch_size=abc", "--data.init_args.batch_size: Expected a <class"),
        ("--trainer.max_epochs=abc", "--trainer.max_epochs abc: Expected a <class 'int'>"),
        ("--model.init_args.nope=3", "Option 'nope' is not accepted"),
        ("--nonsense=3", "unrecognized arguments: --nonsense=3"),
    ],
)  # fmt: skip
def test_a_value_that_cannot_work_is_named(extra, named, tiny_root, tmp_path, capsys, monkeypatch):
    err = _short_error(_fit(tiny_root, extra), capsys, monkeypatch, tmp_path)
    assert named in err


def test_a_negative_learning_rate_is_named(tiny_root, tmp_path, capsys, monkeypatch):
    err = _short_error(_fit(tiny_root, "--model.init_args.lr=-1"), capsys, monkeypatch, tmp_path)
    assert "--model.init_args.lr must be greater than 0, got -1" in err


BAD_YAML = "model:\n  class_path: litlab.vision.module.ImageClassifier\n  init_args: {lr: 0.1\n"


def test_a_yaml_syntax_error_names_the_file_and_line(tiny_root, tmp_path, capsys, monkeypatch):
    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_YAML + "trainer:\n  max_epochs: 1\n")
    err = _short_error(["fit", "--config", str(bad)], capsys, monkeypatch, tmp_path)
    assert f"--config {bad}: not valid YAML at line 4, column 8" in err
    assert "did not find expected ',' or '}'" in err


def test_a_missing_config_file_is_named(tmp_path, capsys, monkeypatch):
    err = _short_error(["fit", "--config", "nope.yaml"], capsys, monkeypatch, tmp_path)
    assert "--config: File does not exist" in err and "nope.yaml" in err


@pytest.mark.parametrize(
    ("option", "path", "listed"),
    [
        ("--model.class_path", "litlab.vision.module.Nope", "classes in litlab.vision.module: "),
        ("--data.class_path", "litlab.vision.data.Nope", "MNISTDataModule"),
        ("--model.class_path", "litlab.vision.nope.Net", "model classes live in "),
    ],
)
def test_an_unknown_class_path_lists_the_classes_that_exist(
    option, path, listed, tiny_root, tmp_path, capsys, monkeypatch
):
    err = _short_error(_fit(tiny_root, f"{option}={path}"), capsys, monkeypatch, tmp_path)
    assert f"{option} {path}: " in err and listed in err
    if "module:" in listed:
        assert "ImageClassifier" in err


def test_debug_shows_the_traceback_of_a_parse_error(tmp_path, monkeypatch, capsys):
    from litlab.common.cli_parser import UsageError

    bad = tmp_path / "broken.yaml"
    bad.write_text(BAD_YAML)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(UsageError, match="not valid YAML") as raised:
        main(["fit", "--config", str(bad), "--debug"])
    assert "yaml" in type(raised.value.__cause__.__cause__).__module__  # the parser's own error


def test_debug_shows_the_traceback_of_the_same_error(tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    from litlab.common.checkpoints import CheckpointError

    with pytest.raises(CheckpointError, match="no such file"):
        main(_fit(tiny_root, f"--ckpt_path={tmp_path / 'nope.ckpt'}", "--debug"))
    monkeypatch.setenv("LITLAB_DEBUG", "1")
    with pytest.raises(CheckpointError, match="no such file"):
        main(_fit(tiny_root, f"--ckpt_path={tmp_path / 'nope.ckpt'}"))


def test_a_bug_that_wraps_no_user_error_keeps_its_traceback(tiny_root, tmp_path, monkeypatch):
    """A RuntimeError raised inside a DataModule's setup is litlab's fault: not shortened."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "litlab.vision.datasets.read_mnist_idx",
        lambda raw: (_ for _ in ()).throw(RuntimeError("a bug in the reader")),
    )
    monkeypatch.setenv("LITLAB_CACHE", str(tmp_path / "cache"))  # no cached decode to reuse
    with pytest.raises(RuntimeError, match="a bug in the reader"):
        main(_fit(tiny_root))


def test_an_unexpected_exception_is_not_hidden(tiny_root, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "litlab.vision.module.ImageClassifier.training_step",
        lambda *a, **k: (_ for _ in ()).throw(ZeroDivisionError("a bug")),
    )
    with pytest.raises(ZeroDivisionError, match="a bug"):
        main(_fit(tiny_root))
