"""GradientFlowCallback: how much learning signal reaches back in time, per cell type."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import GradientFlowSource
from litlab.common.viz import plt  # Agg backend set there


def gradient_flow_figure(curves: dict[str, Tensor], title: str = "") -> Figure:
    """||dL/dh_t|| (log scale) against the distance T - t, one line per curve."""
    fig, ax = plt.subplots(figsize=(6.4, 4.0), layout="constrained")
    for label, norms in curves.items():
        norms = norms.detach().float().cpu().flip(0)  # index d = distance from the last step
        ax.semilogy(range(len(norms)), norms.clamp_min(1e-30).numpy(), label=label)
    ax.set_xlabel("distance back in time  T - t  (steps)")
    ax.set_ylabel("||dL / dh_t||  (batch mean)")
    ax.set_title(title or "gradient reaching the hidden state t steps back")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


class GradientFlowCallback(FigureCallback):
    """Every ``every_n_epochs`` validation epochs, plot the module's ``hidden_gradient_norms``
    for ``num_sequences`` fixed validation sequences under ``val/gradient_flow``.

    A vanilla RNN's curve falls by orders of magnitude within a few dozen steps (vanishing
    gradients): the loss cannot teach it anything about the start of the sequence. LSTM and
    GRU curves stay flat far longer.
    """

    def __init__(self, num_sequences: int = 64, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_sequences = num_sequences
        self.probe: tuple[Tensor, Tensor] | None = None
        self.last_curves: dict[str, Tensor] | None = None  # for tests and notebooks

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(pl_module, GradientFlowSource, type(self).__name__)
        if self.probe is None:
            x, y = next(iter(trainer.datamodule.val_dataloader()))
            self.probe = x[: self.num_sequences], y[: self.num_sequences]

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        x, y = (t.to(pl_module.device) for t in self.probe)
        self.last_curves = pl_module.hidden_gradient_norms(x, y)
        title = f"gradient flow, epoch {trainer.current_epoch} (T = {x.shape[1]})"
        yield "val/gradient_flow", gradient_flow_figure(self.last_curves, title)
