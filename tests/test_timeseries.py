"""Time-series forecasting: windows, a scaler that never sees the test span, the seasonal-naive
baseline, an LSTM that learns, and the forecast plot in a real fit."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
import torch
from conftest import REPO, SHARED_DATA, real_data
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litlab.common.cli import run as litlab
from litlab.sequence.timeseries.data import ForecastDataModule, make_windows, seasonal_naive
from litlab.sequence.timeseries.models import LSTMForecaster


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """One intra-op thread: these small recurrent steps are faster on one core, and much
    faster when the CPU is shared (two spinning OpenMP threads on two busy cores crawl)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def test_windows_pair_each_history_with_the_values_that_follow_it():
    values = torch.arange(30.0)
    hist, target, origins = make_windows(values, window=5, horizon=3, first_target=10, stop=20)
    assert hist.shape == (8, 5) and target.shape == (8, 3)
    assert origins.tolist() == list(range(10, 18))  # every target ends before index 20
    assert hist[0].tolist() == [5, 6, 7, 8, 9] and target[0].tolist() == [10, 11, 12]
    assert target[-1].tolist() == [17, 18, 19]


def test_datamodule_spans_are_chronological_and_targets_stay_in_their_span(tiny_root: Path):
    dm = ForecastDataModule(root=str(tiny_root), series="airline")  # 144 months, 12 val, 24 test
    dm.setup()
    assert [dm.span(s) for s in ("train", "val", "test")] == [(0, 108), (108, 120), (120, 144)]
    hist, target, origins = dm.windows("train")
    assert hist.shape == (108 - 36 + 1, 24) and target.shape == (73, 12)
    assert int(origins.max()) + 12 <= 108  # no training target reaches the validation span
    _, val_target, val_origins = dm.windows("val")
    assert val_origins.tolist() == [108] and val_target.shape == (1, 12)
    _, test_target, test_origins = dm.windows("test")
    assert test_origins.tolist() == list(range(120, 133)) and test_target.shape == (13, 12)


def _copy_series(src: Path, dest: Path, scale_last: int, factor: float) -> Path:
    """The tiny airline file with its last ``scale_last`` values multiplied by ``factor``."""
    (dest / "timeseries").mkdir(parents=True)
    lines = (src / "timeseries" / "airline_passengers.csv").read_text().splitlines()
    head, rows = lines[0], lines[1:]
    cut = len(rows) - scale_last
    rows = rows[:cut] + [f"{r.split(',')[0]},{float(r.split(',')[1]) * factor}" for r in rows[cut:]]
    (dest / "timeseries" / "airline_passengers.csv").write_text("\n".join([head, *rows]) + "\n")
    return dest


def test_scaler_and_training_windows_never_see_the_test_or_validation_span(
    tiny_root: Path, tmp_path: Path
):
    changed = _copy_series(tiny_root, tmp_path / "changed", scale_last=36, factor=10.0)
    a = ForecastDataModule(root=str(tiny_root), series="airline")
    b = ForecastDataModule(root=str(changed), series="airline")
    a.setup(), b.setup()
    assert not torch.equal(a.values, b.values)  # the later spans really differ
    assert (a.scaler.mean, a.scaler.std) == (b.scaler.mean, b.scaler.std)
    for x, y in zip(a.windows("train"), b.windows("train")):
        assert torch.equal(x, y)
    # and the statistics are those of the training span alone, after the log
    train = a.values[:108].log()
    assert a.scaler.mean == pytest.approx(float(train.mean()))
    assert a.scaler.std == pytest.approx(float(train.std()))


def test_scaling_round_trips_and_travels_in_the_state_dict(tiny_root: Path):
    dm = ForecastDataModule(root=str(tiny_root), series="airline")
    dm.setup()
    restored = ForecastDataModule(root="/nonexistent")
    restored.load_state_dict(dm.state_dict())
    scaled = dm.scaler.transform(dm.values)
    assert torch.allclose(restored.inverse_transform(scaled).double(), dm.values, rtol=1e-5)


def test_seasonal_naive_is_exact_on_a_purely_periodic_series():
    season = torch.rand(12, generator=torch.Generator().manual_seed(0)) * 100
    t = torch.arange(200)
    values = season[t % 12]  # exactly periodic, period 12
    for horizon in (5, 12, 18):  # shorter, equal to and longer than one season
        hist, target, _ = make_windows(values, 24, horizon, 24, 200)
        assert torch.equal(seasonal_naive(hist, 12, horizon), target)
    hist, target, _ = make_windows(values + t * 0.5, 24, 12, 24, 200)  # a trend breaks it
    assert (seasonal_naive(hist, 12, 12) - target).abs().mean() > 1.0


def test_lstm_forecaster_learns_a_sine():
    torch.manual_seed(0)
    t = torch.arange(400.0)
    values = torch.sin(2 * math.pi * t / 20)
    hist, target, _ = make_windows(values, 30, 10, 30, 400)
    net = LSTMForecaster(horizon=10, hidden=32)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    first = torch.nn.functional.mse_loss(net(hist), target).item()
    for _ in range(150):
        loss = torch.nn.functional.mse_loss(net(hist), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.01 < first  # the variance of the target is 0.5
    assert net(hist).shape == (len(hist), 10)


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_forecast_plot_and_baseline_scores_land_in_tensorboard(tiny_root: Path, in_tmp: Path):
    cli = litlab([
        "fit", "--config", str(REPO / "experiments" / "sequence" / "airline_lstm.yaml"),
        f"--data.root={tiny_root}", "--trainer.max_epochs=2",
        "--trainer.enable_progress_bar=false",
    ])
    run = in_tmp / "logs" / "sequence" / "airline_lstm" / "version_0"
    events = _events(run)
    images = events.Images("val/forecast")
    assert len(images) >= 1 and images[0].width > 300
    assert len(events.Images("test/forecast")) == 1
    # the baseline's error, by hand from the file: each test month (1959-01 + 0..12 windows,
    # 12 months ahead) forecast by the same month a year earlier; the tiny series is trend x
    # seasonality, so repeating last year is off by the trend
    rows = (tiny_root / "timeseries" / "airline_passengers.csv").read_text().splitlines()[1:]
    v = [float(r.split(",")[1]) for r in rows]
    errors = [abs(v[o + h] - v[o + h - 12]) for o in range(120, 133) for h in range(12)]
    expected = sum(errors) / len(errors)
    assert expected == pytest.approx(29.96, abs=0.01)
    logged = events.Scalars("test/mae_seasonal_naive")
    assert len(logged) == 1 and logged[0].value == pytest.approx(expected, rel=1e-5)
    metrics = cli.trainer.callback_metrics
    assert float(metrics["test/mae_seasonal_naive"]) == pytest.approx(expected, rel=1e-5)
    assert {"test/mae", "test/rmse", "test/rmse_seasonal_naive"} <= set(events.Tags()["scalars"])


def test_real_airline_series_and_its_1960_seasonal_naive_error():
    real_data("timeseries/airline_passengers.csv")
    dm = ForecastDataModule(root=str(SHARED_DATA), series="airline")
    dm.setup()
    assert len(dm.values) == 144 and dm.times[0] == "1949-01" and dm.times[-1] == "1960-12"
    assert dm.times[dm.span("test")[0]] == "1959-01"
    hist, target, origins = dm.windows("test")
    last = dm.seasonal_naive(hist[-1:])  # forecast 1960 from 1959: the textbook example
    assert dm.times[int(origins[-1])] == "1960-01"
    mae = (last - dm.inverse_transform(target[-1:])).abs().mean().item()
    assert mae == pytest.approx(574 / 12, abs=1e-3)  # sum of |1960 - 1959| month by month


def test_real_sunspots_series_loads_without_a_log(tmp_path: Path):
    shutil.copy(real_data("timeseries/sunspots.csv"), tmp_path / "sunspots.csv")
    dm = ForecastDataModule(root=str(tmp_path), series="sunspots")  # the flat layout works too
    dm.setup()
    assert len(dm.values) == 309 and dm.times[0] == "1700" and not dm.scaler.log
    hist, target, _ = dm.windows("test")
    assert hist.shape[1:] == (44,) and target.shape[1:] == (11,)
    with pytest.raises(ValueError, match="positive"):
        ForecastDataModule(root=str(tmp_path), series="sunspots", transform="log").setup()
