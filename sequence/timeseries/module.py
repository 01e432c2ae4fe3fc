"""Forecaster: trains a forecasting network and scores it against the seasonal-naive baseline.

The loss is the mean squared error on the scaled values; the scores are in the series' own
units (passengers, sunspot number), after undoing the DataModule's scaling: MAE and RMSE on
every validation / test window, and the same two for the seasonal-naive forecast ("this
year's values will be last year's") on exactly the same windows. A model that does not beat
that baseline has learnt nothing useful.

Logged keys: ``train/loss``, ``val/loss``, ``val/mae``, ``val/rmse``, ``val/mae_best``,
``val/mae_seasonal_naive``, ``val/rmse_seasonal_naive`` and the same under ``test/``.
The DataModule must offer ``inverse_transform``, ``seasonal_naive`` and ``horizon``
(``ForecastData`` in common/protocols.py), as ``litlab.sequence.timeseries.data`` does.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MeanAbsoluteError, MeanSquaredError, MetricCollection, MinMetric

from litlab.common.contracts import require
from litlab.common.errors import check_positive
from litlab.common.loggers import log_hparams
from litlab.common.optim import step_schedule
from litlab.common.protocols import ForecastData


def _errors() -> MetricCollection:
    return MetricCollection({"mae": MeanAbsoluteError(), "rmse": MeanSquaredError(squared=False)})


class Forecaster(L.LightningModule):
    """Fit ``net`` (history (B, W) -> forecast (B, horizon), scaled) with MSE and AdamW.

    Args:
        net: the forecasting network, e.g. ``litlab.sequence.timeseries.models.LSTMForecaster``.
        lr: initial learning rate (cosine decay); weight_decay: AdamW's.
    """

    def __init__(self, net: nn.Module, lr: float = 3e-3, weight_decay: float = 1e-4) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr)
        self.save_hyperparameters()
        self.net = net
        for stage in ("val", "test"):
            setattr(self, f"{stage}_model", _errors().clone(prefix=f"{stage}/"))
            setattr(
                self, f"{stage}_naive",
                _errors().clone(prefix=f"{stage}/", postfix="_seasonal_naive"),
            )
        self.val_mae_best = MinMetric()

    def forward(self, history: Tensor) -> Tensor:
        """Scaled history (B, W) -> scaled forecast (B, horizon)."""
        return self.net(history)

    def on_fit_start(self) -> None:
        dm = self.trainer.datamodule
        require(dm, ForecastData, type(self).__name__)
        horizon = getattr(self.net, "horizon", dm.horizon)
        if horizon != dm.horizon:
            raise ValueError(
                f"the network forecasts {horizon} steps but the data's horizon is {dm.horizon}: "
                "set model.init_args.net.init_args.horizon to match data.init_args.horizon"
            )
        if self.logger is not None:
            log_hparams(self, {"val/mae_best": 0.0, "test/mae": 0.0})

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        history, target = batch
        loss = F.mse_loss(self(history), target)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def _eval_step(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        history, target = batch
        pred = self(history)
        self.log(f"{stage}/loss", F.mse_loss(pred, target), prog_bar=stage == "val")
        dm = self.trainer.datamodule
        # scores in the series' own units; the baseline sees the same history
        truth = dm.inverse_transform(target)
        naive = dm.seasonal_naive(history)
        model_errors = getattr(self, f"{stage}_model")
        naive_errors = getattr(self, f"{stage}_naive")
        model_errors.update(dm.inverse_transform(pred).flatten(), truth.flatten())
        naive_errors.update(naive.to(truth).flatten(), truth.flatten())
        self.log_dict(model_errors, prog_bar=stage == "val")
        self.log_dict(naive_errors)
        return {"preds": pred.detach(), "target": target}

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._eval_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_mae_best.update(self.val_model["mae"].compute())
        self.log("val/mae_best", self.val_mae_best.compute())

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        # cosine decay to zero over the run (per step); works for any run length, even 1 step
        return step_schedule(opt, "cosine", self.trainer.estimated_stepping_batches)
