"""Univariate forecasting data: the airline-passengers and sunspots series behind one class.

The series is cut in time, never shuffled: ``train | val | test``, the test span being the
last ``test_size`` points. A sample is a window: ``window`` past values (the history) and
the ``horizon`` values that follow (the target). Training windows lie inside the training
span; a validation or test window may take its history from earlier spans (that is what a
forecaster at that date would know) but its whole target lies inside its span.

Scaling, ``log`` (optional: turns multiplicative seasonality additive) then standardisation,
is fitted on the training span only, so nothing about the test years leaks into training.
Its statistics are in :meth:`ForecastDataModule.state_dict`, so a checkpoint alone can
forecast new histories.
"""

from __future__ import annotations

import csv
import math
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from litlab.common.data import SplitLoaders, locate_dataset, resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.resume import ResumableDataLoader


@dataclass(frozen=True)
class SeriesSpec:
    """Where a series lives and its forecasting defaults."""

    file: str
    url: str  # the canonical copy, fetched when online
    period: int  # the seasonal-naive baseline repeats the last `period` values
    horizon: int
    window: int
    val_size: int
    test_size: int
    transform: Literal["log", "none"]


SERIES = {
    # monthly 1949-1960; test = 1959-1960, val = 1958; multiplicative seasonality -> log
    "airline": SeriesSpec(
        "airline_passengers.csv",
        "https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv",
        period=12, horizon=12, window=24, val_size=12, test_size=24, transform="log",
    ),
    # yearly 1700-2008; the solar cycle is about 11 years (it varies: 9 to 14)
    "sunspots": SeriesSpec(
        "sunspots.csv",
        "https://raw.githubusercontent.com/statsmodels/statsmodels/main/"
        "statsmodels/datasets/sunspots/sunspots.csv",
        period=11, horizon=11, window=44, val_size=22, test_size=22, transform="none",
    ),
}


def read_series(path: Path) -> tuple[list[str], Tensor]:
    """A two-column CSV with a header (time, value) -> time labels and float64 values."""
    with open(path, newline="") as f:
        rows = [r for r in csv.reader(f) if r][1:]
    return [r[0] for r in rows], torch.tensor([float(r[1]) for r in rows], dtype=torch.float64)


@dataclass
class SeriesScaler:
    """``(log(x) if log else x - mean) / std``, with mean and std from the training span."""

    log: bool
    mean: float = 0.0
    std: float = 1.0

    def fit(self, values: Tensor) -> SeriesScaler:
        if self.log and bool((values <= 0).any()):
            raise ValueError("transform='log' needs positive values: use transform='none'")
        x = values.log() if self.log else values
        self.mean, self.std = float(x.mean()), max(float(x.std()), 1e-8)
        return self

    def transform(self, values: Tensor) -> Tensor:
        x = values.log() if self.log else values
        return ((x - self.mean) / self.std).float()

    def inverse(self, scaled: Tensor) -> Tensor:
        x = scaled.double() * self.std + self.mean
        return (x.exp() if self.log else x).float()


def make_windows(values: Tensor, window: int, horizon: int, first_target: int, stop: int):
    """Every (history, target) pair whose target starts at ``first_target`` or later and ends
    before ``stop``: histories (M, window), targets (M, horizon), origins (M,) where an origin
    is the index of the first target value."""
    origins = torch.arange(max(first_target, window), stop - horizon + 1)
    idx = origins[:, None] + torch.arange(-window, horizon)[None, :]  # (M, window + horizon)
    both = values[idx] if len(origins) else values.new_zeros(0, window + horizon)
    return both[:, :window], both[:, window:], origins


def seasonal_naive(history: Tensor, period: int, horizon: int) -> Tensor:
    """Repeat the last season: the forecast for step h is the value one period before it.
    history (M, W) in original units -> forecasts (M, horizon)."""
    if history.shape[-1] < period:
        raise ValueError(f"the history window ({history.shape[-1]}) is shorter than the period")
    season = history[..., -period:]
    reps = math.ceil(horizon / period)
    return season.repeat(*([1] * (season.dim() - 1)), reps)[..., :horizon]


class ForecastDataModule(SplitLoaders, L.LightningDataModule):
    """Windows of one series; batches are ``(history (B, window), target (B, horizon))``,
    both scaled. ``None`` arguments take the series' defaults in :data:`SERIES`.

    Args:
        root: data root holding ``timeseries/<file>.csv`` (default ``$DATA_DIR``, ``./data``).
        series: ``"airline"`` or ``"sunspots"``.
        window: history length; horizon: steps forecast at once.
        val_size, test_size: points in the validation and test spans (the last ones).
        transform: ``"log"`` or ``"none"`` before standardisation.
    """

    def __init__(
        self,
        root: str | None = None,
        series: Literal["airline", "sunspots"] = "airline",
        batch_size: int = 16,
        window: int | None = None,
        horizon: int | None = None,
        val_size: int | None = None,
        test_size: int | None = None,
        transform: Literal["log", "none"] | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args",
            batch_size=batch_size,
            window=window,
            horizon=horizon,
            val_size=val_size,
            test_size=test_size,
        )
        self.save_hyperparameters()
        if series not in SERIES:
            raise ValueError(f"unknown series {series!r}: choose one of {sorted(SERIES)}")
        spec = SERIES[series]
        self.root = resolve_data_root(root)
        self.spec = spec
        self.period = spec.period
        self.window = window or spec.window
        self.horizon = horizon or spec.horizon
        self.val_size = val_size or spec.val_size
        self.test_size = test_size or spec.test_size
        self.scaler = SeriesScaler(log=(transform or spec.transform) == "log")
        self.times: list[str] = []
        self.values: Tensor | None = None  # (N,) original units

    def locate(self) -> Path:
        def download(root: Path) -> None:
            (root / "timeseries").mkdir(parents=True, exist_ok=True)
            urllib.request.urlretrieve(self.spec.url, root / "timeseries" / self.spec.file)

        return locate_dataset(
            self.root,
            f"{self.hparams.series} series",
            layouts=[f"timeseries/{self.spec.file}", self.spec.file],
            download=download,
        )

    def setup(self, stage: str | None = None) -> None:
        if self.values is not None:
            return
        self.times, self.values = read_series(self.locate())
        n = len(self.values)
        if n - self.val_size - self.test_size < self.window + self.horizon:
            raise ConfigError(
                f"--data.init_args.val_size {self.val_size} and test_size {self.test_size} leave "
                f"{n - self.val_size - self.test_size} of the {n} points of {self.hparams.series} "
                f"for training, fewer than one window + horizon ({self.window} + "
                f"{self.horizon}): use a smaller val_size, test_size or window"
            )
        self.scaler.fit(self.values[: self.span("train")[1]])  # the training span only

    def span(self, split: str) -> tuple[int, int]:
        """[start, stop) indices of ``"train"``, ``"val"`` or ``"test"`` in the series."""
        n = len(self.values)
        bounds = {
            "train": (0, n - self.val_size - self.test_size),
            "val": (n - self.val_size - self.test_size, n - self.test_size),
            "test": (n - self.test_size, n),
        }
        return bounds[split]

    def windows(self, split: str) -> tuple[Tensor, Tensor, Tensor]:
        """Scaled histories (M, window), scaled targets (M, horizon) and origins (M,)."""
        self.setup()
        start, stop = self.span(split)
        # training windows may not look past the training span, evaluation ones may look back
        series = self.values[:stop] if split == "train" else self.values
        hist, target, origins = make_windows(series, self.window, self.horizon, start, stop)
        if len(origins) == 0:
            raise ValueError(f"the {split} span is shorter than the horizon ({self.horizon})")
        return self.scaler.transform(hist), self.scaler.transform(target), origins

    def inverse_transform(self, scaled: Tensor) -> Tensor:
        """Scaled values (any shape) -> original units."""
        return self.scaler.inverse(scaled)

    def seasonal_naive(self, history: Tensor) -> Tensor:
        """The baseline on scaled histories (M, window) -> forecasts (M, horizon), real units."""
        return seasonal_naive(self.inverse_transform(history), self.period, self.horizon)

    def _loader(self, split: str) -> DataLoader:
        hist, target, _ = self.windows(split)
        train = split == "train"
        return ResumableDataLoader(
            TensorDataset(hist, target), batch_size=self.hparams.batch_size, shuffle=train
        )

    # --- what a checkpoint keeps, so new histories can be scaled without the data -----------

    def state_dict(self) -> dict:
        return {
            "series": self.hparams.series,
            "log": self.scaler.log,
            "mean": self.scaler.mean,
            "std": self.scaler.std,
            "window": self.window,
            "horizon": self.horizon,
            "period": self.period,
        }

    def load_state_dict(self, state: dict) -> None:
        self.scaler = SeriesScaler(state["log"], state["mean"], state["std"])
        self.window, self.horizon, self.period = state["window"], state["horizon"], state["period"]
