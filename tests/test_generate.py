"""Sampling rules, recurrent generation, and ``litlab generate`` on a real checkpoint."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from litlab.common.cli import run as litlab
from litlab.common.generate import main as generate
from litlab.common.sampling import filter_logits, sample_next
from litlab.sequence.lm.models import RNNLanguageModel

REPO = Path(__file__).resolve().parents[1]


def test_temperature_zero_is_argmax_and_deterministic():
    logits = torch.randn(8, 50, generator=torch.Generator().manual_seed(0))
    a = sample_next(logits, temperature=0.0, generator=torch.Generator().manual_seed(1))
    b = sample_next(logits, temperature=0.0, generator=torch.Generator().manual_seed(2))
    assert torch.equal(a, logits.argmax(dim=-1)) and torch.equal(a, b)


def test_top_k_never_samples_outside_the_k_likeliest():
    logits = torch.randn(4, 30, generator=torch.Generator().manual_seed(0))
    allowed = logits.topk(5, dim=-1).indices  # (4, 5)
    g = torch.Generator().manual_seed(0)
    draws = torch.stack([sample_next(logits, 2.0, top_k=5, generator=g) for _ in range(500)])
    for row in range(4):
        seen = set(draws[:, row].tolist())
        assert seen <= set(allowed[row].tolist())
        assert len(seen) == 5  # a high temperature reaches all of them


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = torch.tensor([[0.5, 0.3, 0.15, 0.05]])
    kept = filter_logits(probs.log(), top_p=0.7).isfinite()
    assert kept.tolist() == [[True, True, False, False]]  # 0.5 < 0.7 <= 0.5 + 0.3
    for p in (0.01, 5e-324):  # the likeliest always stays, even when p is 0 in float32
        kept = filter_logits(probs.log(), top_p=p).isfinite()
        assert kept.tolist() == [[True, False, False, False]]
    g = torch.Generator().manual_seed(0)
    draws = {int(sample_next(probs.log(), 1.0, top_p=0.7, generator=g)) for _ in range(300)}
    assert draws == {0, 1}


def test_same_seed_same_sample():
    logits = torch.randn(2, 40)
    a = [sample_next(logits, 1.0, generator=torch.Generator().manual_seed(3)) for _ in range(2)]
    assert torch.equal(a[0], a[1])


def small_lm(cell: str) -> RNNLanguageModel:
    torch.manual_seed(0)
    return RNNLanguageModel(20, cell, embed_dim=8, hidden_size=12, num_layers=2).eval()


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_generation_adds_exactly_max_new_tokens(cell: str):
    net = small_lm(cell)
    prompt = torch.randint(20, (3, 4))
    out = net.generate(prompt, 17, temperature=1.0, top_k=5)
    assert out.shape == (3, 4 + 17) and torch.equal(out[:, :4], prompt)
    assert net.generate(prompt, 0).shape == (3, 4)


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_carrying_the_state_equals_rereading_the_whole_context(cell: str):
    net = small_lm(cell)
    ids = torch.randint(20, (2, 5))
    fast = net.generate(ids, 12, temperature=0.0)
    slow = ids
    with torch.no_grad():
        for _ in range(12):  # what a model without state would do: read everything again
            logits, _ = net(slow)
            slow = torch.cat([slow, logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(fast, slow)


@pytest.fixture(scope="module")
def lm_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of a two-step fit of the char LSTM experiment on the tiny text."""
    import os

    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("gen"))
    try:
        litlab(
            [
                "fit",
                "--config",
                str(REPO / "experiments" / "sequence" / "shakespeare_char_lstm.yaml"),
                f"--data.root={tiny_root}",
                "--data.init_args.batch_size=4",
                "--data.init_args.block_size=16",
                "--data.init_args.steps_per_epoch=2",
                "--data.init_args.val_batches=1",
                "--model.init_args.net.init_args.hidden_size=16",
                "--model.init_args.net.init_args.embed_dim=16",
                "--trainer.max_epochs=1",
                "--trainer.enable_progress_bar=false",
            ]
        )
        return next(Path.cwd().glob("logs/sequence/shakespeare_char_lstm/*/checkpoints/best.ckpt"))
    finally:
        os.chdir(cwd)


def test_litlab_generate_prints_a_continuation(lm_checkpoint: Path, capsys):
    args = ["--ckpt", str(lm_checkpoint), "--prompt", "ROMEO:", "--max-new-tokens", "40"]
    assert generate(args + ["--seed", "1"]) == 0
    first = capsys.readouterr().out
    assert first.startswith("ROMEO:") and len(first.rstrip("\n")) >= len("ROMEO:") + 30
    assert generate(args + ["--seed", "1"]) == 0
    assert capsys.readouterr().out == first  # the seed fixes the sample


def test_litlab_generate_greedy_and_several_samples(lm_checkpoint: Path, capsys):
    args = ["--ckpt", str(lm_checkpoint), "--max-new-tokens", "10", "--temperature", "0"]
    assert generate(args + ["--num-samples", "2"]) == 0
    out = capsys.readouterr().out
    parts = out.split("--- sample 2 ---\n")
    assert out.startswith("--- sample 1 ---\n") and len(parts) == 2
    assert parts[0].removeprefix("--- sample 1 ---\n") == parts[1]  # greedy: the same twice


def test_litlab_generate_rejects_unknown_characters_without_a_traceback(
    lm_checkpoint: Path, capsys
):
    status = generate(["--ckpt", str(lm_checkpoint), "--prompt", "ROMEO: \u2603"])
    err = capsys.readouterr().err
    assert status == 2 and "cannot be encoded" in err and "Traceback" not in err


def test_litlab_generate_rejects_a_missing_checkpoint(tmp_path: Path, capsys):
    assert generate(["--ckpt", str(tmp_path / "none.ckpt")]) == 2
    err = capsys.readouterr().err
    assert "no checkpoint" in err and "Traceback" not in err


def test_litlab_generate_rejects_an_image_classifier(tiny_root: Path, in_tmp: Path, capsys):
    litlab(
        [
            "fit",
            "--config",
            str(REPO / "experiments" / "vision" / "mnist_mlp.yaml"),
            f"--data.root={tiny_root}",
            "--data.init_args.val_size=40",
            "--data.init_args.batch_size=8",
            "--trainer.max_epochs=1",
            "--trainer.limit_train_batches=1",
            "--trainer.limit_val_batches=1",
            "--test=false",
            "--trainer.enable_progress_bar=false",
        ]
    )
    ckpt = next(in_tmp.glob("logs/vision/mnist_mlp/*/checkpoints/last.ckpt"))
    capsys.readouterr()
    assert generate(["--ckpt", str(ckpt)]) == 2
    err = capsys.readouterr().err
    assert "not a language model" in err and "Traceback" not in err


def test_litlab_generate_via_the_cli_exits_non_zero_on_error(tmp_path: Path):
    with pytest.raises(SystemExit) as exc:
        litlab(["generate", "--ckpt", str(tmp_path / "none.ckpt")])
    assert exc.value.code == 2
