"""LongRangeModule: regress the adding problem with an RNN, LSTM or GRU, and show why.

Logged keys: ``train/loss``, ``val/loss`` (MSE; the trivial baseline is 1/6 ~ 0.167),
``val/loss_best``, ``val/acc`` (fraction of answers within 0.04 of the truth, the usual
"solved" criterion) and the same under ``test/``. ``hidden_gradient_norms`` (the
``GradientFlowSource`` protocol) feeds ``GradientFlowCallback``: ||dL/dh_t|| against the
distance T - t for this model and, for comparison, for fresh networks of every cell type.
"""

from __future__ import annotations

from typing import Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor
from torchmetrics import MinMetric

from litlab.common.errors import check_positive
from litlab.sequence.long_range.models import CELLS, RecurrentRegressor, hidden_gradient_norms

TOLERANCE = 0.04


class LongRangeModule(L.LightningModule):
    """An adding-problem regressor whose cell is a config switch.

    Args:
        cell: ``"rnn"`` (tanh), ``"lstm"`` or ``"gru"``: ``--model.init_args.cell=rnn``.
        hidden_size, num_layers: size of the recurrent network.
        lr: Adam learning rate (gradient clipping is the Trainer's ``gradient_clip_val``).
        compare_cells: also draw the gradient flow of untrained networks of the other cells.
    """

    def __init__(
        self,
        cell: Literal["rnn", "lstm", "gru"] = "lstm",
        hidden_size: int = 128,
        num_layers: int = 1,
        lr: float = 1e-3,
        compare_cells: bool = True,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr)
        self.save_hyperparameters()
        self.net = RecurrentRegressor(cell, 2, hidden_size, num_layers)
        self.val_loss_best = MinMetric()

    def forward(self, x: Tensor) -> Tensor:
        """Sequences (B, T, 2) -> predicted sums (B,)."""
        return self.net(x)

    def _step(self, batch: tuple[Tensor, Tensor], stage: str) -> Tensor:
        x, y = batch
        pred = self(x)
        loss = F.mse_loss(pred, y)
        train = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=train, on_epoch=True, prog_bar=True)
        solved = ((pred - y).abs() < TOLERANCE).float().mean()
        self.log(f"{stage}/acc", solved, on_step=False, on_epoch=True, prog_bar=not train)
        return loss

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_loss_best.update(self.trainer.callback_metrics["val/loss"])
        self.log("val/loss_best", self.val_loss_best.compute(), prog_bar=True)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)

    # --- protocol: GradientFlowSource (common/protocols.py) ------------------------

    def hidden_gradient_norms(self, inputs: Tensor, targets: Tensor) -> dict[str, Tensor]:
        """Label -> ||dL/dh_t|| (T,) for t = 1..T: this network, and fresh ones of each cell."""
        hp = self.hparams
        curves = {f"{hp.cell} (this run)": hidden_gradient_norms(self.net, inputs, targets)}
        if hp.compare_cells:
            with torch.random.fork_rng(devices=[]):  # the same fresh weights every epoch
                torch.manual_seed(0)
                for cell in CELLS:
                    fresh = RecurrentRegressor(cell, 2, hp.hidden_size, hp.num_layers)
                    fresh = fresh.to(inputs.device)
                    curves[f"{cell} (untrained)"] = hidden_gradient_norms(fresh, inputs, targets)
        return curves
