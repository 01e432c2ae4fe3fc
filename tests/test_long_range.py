"""The adding problem, the gradient-flow measurement and its TensorBoard figure."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litlab.common.callbacks.gradient_flow import GradientFlowCallback
from litlab.sequence.long_range.data import TRIVIAL_MSE, AddingProblemDataModule, adding_problem
from litlab.sequence.long_range.models import RecurrentRegressor, hidden_gradient_norms
from litlab.sequence.long_range.module import LongRangeModule


def test_adding_problem_marks_one_value_in_each_half_and_sums_them():
    x, y = adding_problem(500, 20, torch.Generator().manual_seed(0))
    assert x.shape == (500, 20, 2) and y.shape == (500,)
    markers = x[..., 1]
    assert torch.equal(markers[:, :10].sum(1), torch.ones(500))
    assert torch.equal(markers[:, 10:].sum(1), torch.ones(500))
    assert torch.allclose((x[..., 0] * markers).sum(1), y)
    # predicting the mean answer gives the trivial baseline, Var(U1 + U2) = 1/6
    assert ((y - 1.0) ** 2).mean().item() == pytest.approx(TRIVIAL_MSE, abs=0.03)


def test_splits_are_fixed_by_the_seed_and_differ_from_each_other():
    a, b = AddingProblemDataModule(seq_len=10), AddingProblemDataModule(seq_len=10)
    xa, _ = a.probe_batch(8)
    assert torch.equal(xa, b.probe_batch(8)[0])
    assert not torch.equal(xa, a.probe_batch(8, split="train")[0])


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_gradient_norms_have_one_value_per_step(cell: str):
    torch.manual_seed(0)
    net = RecurrentRegressor(cell, hidden_size=8, num_layers=2)
    x, y = adding_problem(4, 15, torch.Generator().manual_seed(0))
    norms = hidden_gradient_norms(net, x, y)
    assert norms.shape == (15,) and bool((norms > 0).all())
    assert not any(p.grad is not None for p in net.parameters())  # measuring trains nothing


def test_unrolled_steps_give_the_same_prediction_as_the_fused_rnn():
    torch.manual_seed(0)
    net = RecurrentRegressor("lstm", hidden_size=8, num_layers=2)
    x, _ = adding_problem(3, 12, torch.Generator().manual_seed(0))
    state, out = None, None
    for t in range(12):
        out, state = net.rnn(x[:, t : t + 1], state)
    assert torch.allclose(net.head(out[:, -1]).squeeze(-1), net(x), atol=1e-6)


def test_gradient_vanishes_with_distance_for_an_rnn_with_small_weights():
    torch.manual_seed(0)
    net = RecurrentRegressor("rnn", hidden_size=32)
    with torch.no_grad():
        net.rnn.weight_hh_l0.mul_(0.5)  # spectral norm well below 1: contraction each step
    x, y = adding_problem(16, 20, torch.Generator().manual_seed(0))
    norms = hidden_gradient_norms(net, x, y)  # index 0 is 19 steps back, -1 the last step
    back = norms.flip(0)  # by distance
    assert bool((back[1:] < back[:-1]).all())  # strictly decreasing with distance
    assert 0 < back[-1] < 1e-4 * back[0]  # by orders of magnitude (no underflow yet)


def test_lstm_keeps_more_gradient_far_back_than_rnn_at_init():
    x, y = adding_problem(32, 100, torch.Generator().manual_seed(0))
    far = {}
    for cell in ("rnn", "lstm"):
        torch.manual_seed(0)
        norms = hidden_gradient_norms(RecurrentRegressor(cell, hidden_size=128), x, y)
        far[cell] = float(norms[-51] / norms[-1])  # 50 steps back, relative to the last step
    assert far["lstm"] > 1000 * far["rnn"]


def test_module_learns_a_short_adding_problem_and_draws_the_figure(in_tmp: Path):
    torch.manual_seed(0)
    dm = AddingProblemDataModule(seq_len=8, batch_size=32, train_size=2048, val_size=128)
    flow = GradientFlowCallback(num_sequences=16)
    trainer = L.Trainer(
        max_epochs=4,
        logger=L.pytorch.loggers.TensorBoardLogger(in_tmp),
        callbacks=[flow],
        enable_checkpointing=False,
        enable_progress_bar=False,
        gradient_clip_val=1.0,
    )
    trainer.fit(LongRangeModule(cell="gru", hidden_size=32, lr=1e-2), datamodule=dm)
    assert float(trainer.callback_metrics["val/loss"]) < TRIVIAL_MSE / 4  # it remembers
    assert set(flow.last_curves) == {
        "gru (this run)",
        "rnn (untrained)",
        "lstm (untrained)",
        "gru (untrained)",
    }
    assert all(c.shape == (8,) for c in flow.last_curves.values())
    events = EventAccumulator(str(in_tmp / "lightning_logs" / "version_0"))
    events.Reload()
    assert "val/gradient_flow" in events.Tags()["images"]
