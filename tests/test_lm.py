"""Language models on Shakespeare: nanoGPT's split, windows, state, training and metrics."""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import SHARED_DATA, real_data

from litlab.common.callbacks.text_samples import TextSampleCallback
from litlab.common.data import MissingDataError
from litlab.common.language_model import LanguageModel
from litlab.common.optim import step_schedule, warmup_cosine
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.sequence.lm.models import RNNLanguageModel

REAL_TEXT = "shakespeare/input.txt"  # in shared/data


def nanogpt_split(text: str) -> tuple[list[str], list[int], list[int]]:
    """nanoGPT's data/shakespeare_char/prepare.py, line for line."""
    chars = sorted(set(text))
    stoi = {ch: i for i, ch in enumerate(chars)}
    n = len(text)
    train_ids = [stoi[c] for c in text[: int(n * 0.9)]]
    val_ids = [stoi[c] for c in text[int(n * 0.9) :]]
    return chars, train_ids, val_ids


def test_char_split_is_nanogpts_shakespeare_char(tiny_root: Path):
    dm = ShakespeareDataModule(root=str(tiny_root))
    dm.setup()
    text = (tiny_root / "shakespeare" / "input.txt").read_text()
    chars, train_ids, val_ids = nanogpt_split(text)
    assert dm.tokenizer.chars == chars
    assert dm.train_data.tolist() == train_ids
    assert dm.val_data.tolist() == val_ids


def test_real_tiny_shakespeare_has_65_symbols_and_the_90_percent_cut():
    path = real_data(REAL_TEXT)
    dm = ShakespeareDataModule(root=str(SHARED_DATA))
    dm.setup()
    n = len(path.read_text())
    assert n == 1_115_394
    assert dm.tokenizer.vocab_size == 65
    assert dm.tokenizer.decode([0, 1]) == "\n "
    assert len(dm.train_data) == int(n * 0.9) == 1_003_854
    assert len(dm.val_data) == n - int(n * 0.9)


def test_bpe_is_trained_on_the_training_part_and_round_trips(tiny_root: Path):
    dm = ShakespeareDataModule(root=str(tiny_root), tokenizer="bpe", vocab_size=300)
    dm.setup()
    text = (tiny_root / "shakespeare" / "input.txt").read_text()
    cut = int(len(text) * 0.9)
    assert 256 < dm.tokenizer.vocab_size <= 300
    assert dm.tokenizer.decode(dm.train_data.tolist()) == text[:cut]
    assert dm.tokenizer.decode(dm.val_data.tolist()) == text[cut:]
    assert len(dm.train_data) < cut  # subwords: fewer tokens than characters


def test_training_windows_are_the_text_shifted_by_one(tiny_root: Path):
    dm = ShakespeareDataModule(root=str(tiny_root), block_size=32, batch_size=4, steps_per_epoch=3)
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == y.shape == (4, 32)
    assert torch.equal(x[:, 1:], y[:, :-1])
    data = dm.train_data.tolist()
    text = "".join(map(chr, data))
    for row in torch.cat([x, y[:, -1:]], dim=1):  # each window + its last target is in the text
        assert "".join(map(chr, row.tolist())) in text
    assert len(dm.train_dataloader()) == 3


def test_validation_windows_are_fixed_and_training_windows_are_not(tiny_root: Path):
    dm = ShakespeareDataModule(
        root=str(tiny_root), block_size=16, batch_size=4, val_batches=2, steps_per_epoch=2
    )
    val1 = torch.cat([x for x, _ in dm.val_dataloader()])
    val2 = torch.cat([x for x, _ in dm.val_dataloader()])
    assert val1.shape == (8, 16) and torch.equal(val1, val2)
    loader = dm.train_dataloader()
    epoch1 = torch.cat([x for x, _ in loader])
    epoch2 = torch.cat([x for x, _ in loader])
    assert not torch.equal(epoch1, epoch2)


def test_tokenizer_travels_in_the_state_dict(tiny_root: Path, tmp_path: Path):
    dm = ShakespeareDataModule(root=str(tiny_root))
    state = dm.state_dict()
    fresh = ShakespeareDataModule(root=str(tmp_path / "nothing_here"))
    fresh.load_state_dict(state)  # no data needed to encode a prompt any more
    assert fresh.tokenizer.encode("ROMEO:") == dm.tokenizer.encode("ROMEO:")
    assert fresh.prompt == "ROMEO:"


def test_missing_text_names_the_expected_file(tmp_path: Path):
    dm = ShakespeareDataModule(root=str(tmp_path))
    with pytest.raises(MissingDataError, match="shakespeare/input.txt"):
        dm.setup()


def test_tied_weights_share_one_matrix_and_project_when_sizes_differ():
    same = RNNLanguageModel(30, "gru", embed_dim=16, hidden_size=16, num_layers=1)
    assert same.head.weight is same.embed.weight and isinstance(same.proj, torch.nn.Identity)
    wide = RNNLanguageModel(30, "lstm", embed_dim=16, hidden_size=24, num_layers=1)
    assert wide.head.weight is wide.embed.weight and wide.proj.in_features == 24
    logits, (h, c) = wide(torch.randint(30, (2, 5)))
    assert logits.shape == (2, 5, 30) and h.shape == c.shape == (1, 2, 24)


def unigram_entropy(ids: torch.Tensor) -> float:
    counts = torch.tensor(list(Counter(ids.flatten().tolist()).values()), dtype=torch.float)
    p = counts / counts.sum()
    return float(-(p * p.log()).sum())


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_a_language_model_overfits_one_batch(tiny_root: Path, cell: str):
    torch.manual_seed(0)
    dm = ShakespeareDataModule(root=str(tiny_root), block_size=48, batch_size=4)
    x, y = next(iter(dm.train_dataloader()))
    net = RNNLanguageModel(dm.tokenizer.vocab_size, cell, 32, 64, num_layers=1, dropout=0.0)
    model = LanguageModel(net)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        loss = model.loss(x, y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    # a model that only knew character frequencies could not go below the unigram entropy
    assert model.loss(x, y).item() < 0.3 * unigram_entropy(y)


def test_warmup_then_cosine_schedule():
    assert warmup_cosine(0, 10, 100, 0.1) == pytest.approx(0.1)
    assert warmup_cosine(9, 10, 100, 0.1) == pytest.approx(1.0)
    assert warmup_cosine(55, 10, 100, 0.1) == pytest.approx(0.55)
    assert warmup_cosine(100, 10, 100, 0.1) == pytest.approx(0.1)


def test_fit_logs_loss_perplexity_and_bits_per_character(tiny_root: Path, in_tmp: Path):
    torch.manual_seed(0)
    dm = ShakespeareDataModule(
        root=str(tiny_root), block_size=32, batch_size=8, steps_per_epoch=20, val_batches=2
    )
    dm.setup()  # the tokenizer is read from the data here; the property never reads
    net = RNNLanguageModel(dm.tokenizer.vocab_size, "lstm", 32, 32, num_layers=1)
    samples = TextSampleCallback(max_new_tokens=20)
    trainer = L.Trainer(
        max_epochs=2,
        logger=L.pytorch.loggers.TensorBoardLogger(in_tmp),
        callbacks=[samples],
        enable_checkpointing=False,
        enable_progress_bar=False,
        gradient_clip_val=1.0,
    )
    trainer.fit(LanguageModel(net, lr=1e-2, warmup_steps=5), datamodule=dm)
    m = trainer.callback_metrics
    assert float(m["val/loss"]) < math.log(dm.tokenizer.vocab_size)  # learnt something
    assert float(m["val/ppl"]) == pytest.approx(math.exp(float(m["val/loss"])), rel=1e-4)
    assert float(m["val/bpc"]) == pytest.approx(float(m["val/loss"]) / math.log(2), rel=1e-4)
    assert float(m["val/loss_best"]) <= float(m["val/loss"]) + 1e-6
    assert samples.last_text.startswith("ROMEO:") and len(samples.last_text) == 6 + 20


def test_smoke_fit_on_real_tiny_shakespeare(in_tmp: Path):
    real_data(REAL_TEXT)
    torch.manual_seed(0)
    dm = ShakespeareDataModule(
        root=str(SHARED_DATA), block_size=32, batch_size=16, steps_per_epoch=30, val_batches=2
    )
    net = RNNLanguageModel(65, "lstm", 32, 64, num_layers=1, dropout=0.0)
    trainer = L.Trainer(
        max_epochs=1, logger=False, enable_checkpointing=False, enable_progress_bar=False
    )
    trainer.fit(LanguageModel(net, lr=1e-2, warmup_steps=5), datamodule=dm)
    # uniform guessing over 65 symbols is ln 65 = 4.17; character frequencies alone about 3.3
    assert float(trainer.callback_metrics["val/loss"]) < 3.4


@pytest.mark.parametrize("total", [1, 2, 3, 5, 10, 37])
def test_the_onecycle_schedule_works_for_any_run_length(total: int):
    """Regression: 5 steps with a 20 % warm-up made OneCycleLR divide by zero (a one-step
    warm-up phase), so a tiny run of 40 articles in batches of 8 could not start."""
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    sched = step_schedule(opt, "onecycle", total)["lr_scheduler"]["scheduler"]
    lrs = []
    for _ in range(total):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert max(lrs) <= 1.0 + 1e-9 and all(lr > 0 for lr in lrs)
