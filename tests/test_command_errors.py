"""litlab's other commands (generate, chat, explain, export, models, serve, baseline) end a
user's mistake with exit status 2 and a few lines that name it, as ``litlab fit`` does."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_cli_errors import MAX_LINES, _fit

from litlab.common.cli import main


def _exit_2(argv: list[str], capsys, monkeypatch, cwd: Path) -> str:
    """Run ``litlab argv``: exit status 2, at most a few lines, no traceback; returns them."""
    monkeypatch.chdir(cwd)
    monkeypatch.delenv("LITLAB_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    captured = capsys.readouterr()
    out = captured.err + captured.out
    assert "Traceback" not in out and out.startswith("litlab"), out
    assert len([line for line in out.splitlines() if line.strip()]) <= MAX_LINES, out
    return out


@pytest.fixture(scope="module")
def mnist_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("fit")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        main(_fit(tiny_root))
    return next(work.glob("logs/*/*/version_0/checkpoints/last.ckpt"))


# (argv with {missing}, {garbage}, {image_ckpt}, {empty} placeholders, what the output names)
CASES = [
    ("generate --ckpt {missing}", "{missing}"),
    ("generate --ckpt {garbage}", "{garbage}"),
    ("generate --ckpt {image_ckpt}", "not a language model"),
    ("generate --ckpt {missing} --temperature abc", "--temperature: invalid float value: 'abc'"),
    ("generate --ckpt {missing} --num-samples 0", "--num-samples >= 1"),
    ("chat --ckpt {missing}", "{missing}"),
    ("chat --ckpt {image_ckpt}", "{image_ckpt}"),
    ("chat --ckpt {missing} --top-p 2", "--top-p in (0, 1]"),
    ("explain --ckpt {missing} --input x.png --out out", "{missing}"),
    ("explain --ckpt {garbage} --input x.png --out out", "{garbage}"),
    ("explain --ckpt {missing} --input x.png --out out --top-k abc", "--top-k: invalid int"),
    ("explain --ckpt {missing}", "the following arguments are required: --input, --out"),
    ("export --ckpt {missing} --name m --root {empty}", "{missing}"),
    ("export --ckpt {garbage} --name m --root {empty}", "{garbage}"),
    ("export --ckpt {image_ckpt} --name 'no/good' --root {empty}", "no/good"),
    ("models --root {empty} --nope", "unrecognized arguments: --nope"),
    ("serve --root {empty}", "no servable model in {empty}"),
    ("serve --root {empty} --model nope", "no servable model in {empty}"),
    ("serve --port abc", "--port: invalid int value: 'abc'"),
    ("baseline --dataset nope", "--dataset: invalid choice: 'nope'"),
    ("baseline --val-size 0", "--val-size must be greater than 0, got 0"),
    ("baseline --table-only --out {empty}", "{empty}/baselines.json, which does not exist"),
    ("baseline --dataset mnist --root {empty} --models logreg", "MNIST data not found under"),
]


@pytest.mark.parametrize(("command", "named"), CASES, ids=[c for c, _ in CASES])
def test_a_user_error_in_any_command_ends_in_a_few_lines(
    command, named, mnist_ckpt, tmp_path, capsys, monkeypatch
):
    import shlex

    empty = tmp_path / "empty"
    empty.mkdir()
    garbage = tmp_path / "garbage.ckpt"
    garbage.write_bytes(b"not a checkpoint")
    values = {
        "missing": tmp_path / "nope.ckpt", "garbage": garbage, "image_ckpt": mnist_ckpt,
        "empty": empty,
    }  # fmt: skip
    argv = shlex.split(command.format(**values))
    out = _exit_2(argv, capsys, monkeypatch, tmp_path)
    assert named.format(**values) in out


def test_a_bug_inside_a_command_keeps_its_traceback(mnist_ckpt, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(
        "litlab.common.registry_cli.export",
        lambda *a, **k: (_ for _ in ()).throw(RuntimeError("a bug in export")),
    )
    with pytest.raises(RuntimeError, match="a bug in export"):
        main(["export", "--ckpt", str(mnist_ckpt), "--name", "m", "--root", str(tmp_path)])
