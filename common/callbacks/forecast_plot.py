"""ForecastPlotCallback: the series, the truth and the forecasts over the validation or test
span, with the seasonal-naive forecast beside the model's."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lightning as L
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import ForecastData


def forecast_figure(
    times: Sequence[str],
    values: Tensor,
    origins: Sequence[int],
    forecasts: Tensor,
    baseline: Tensor | None = None,
    span: tuple[int, int] | None = None,
    context: int = 48,
    title: str = "",
) -> Figure:
    """The last ``context`` points before ``span`` and the span itself; one forecast line
    (horizon,) per origin in ``forecasts`` (M, horizon), and dashed ``baseline`` ones."""
    start, stop = span if span is not None else (min(origins), len(values))
    first = max(0, start - context)
    x = torch.arange(first, stop)
    fig, ax = plt.subplots(figsize=(9, 3.6))
    ax.plot(x, values[first:stop], color="0.3", lw=1.2, label="observed")
    ax.axvspan(start - 0.5, stop - 0.5, color="0.9", zorder=0)
    for k, origin in enumerate(origins):
        steps = torch.arange(origin, origin + forecasts.shape[-1])
        ax.plot(steps, forecasts[k], color="tab:blue", lw=1.8, label="model" if k == 0 else None)
        if baseline is not None:
            ax.plot(steps, baseline[k], color="tab:orange", lw=1.2, ls="--",
                    label="seasonal naive" if k == 0 else None)
    ticks = list(range(first, stop, max(1, (stop - first) // 8)))
    ax.set_xticks(ticks, [times[t] for t in ticks], fontsize=7)
    ax.legend(fontsize=7, loc="upper left")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return fig


class ForecastPlotCallback(FigureCallback):
    """Forecasts from non-overlapping origins across the span (one horizon after another).

    Draws ``val/forecast`` at the end of validation epochs and ``test/forecast`` after
    testing. Needs a ``ForecastData`` DataModule; the module is called as ``module(history)``.

    Args:
        context: points of history shown before the span.
        baseline: also draw the seasonal-naive forecast (the data's ``seasonal_naive``).
    """

    def __init__(self, context: int = 48, baseline: bool = True, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.context, self.baseline = context, baseline
        self.split = "val"

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, ForecastData, type(self).__name__)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure]]:
        dm = trainer.datamodule
        history, _, origins = dm.windows(self.split)
        horizon = dm.horizon
        start = int(origins[0])
        keep = ((origins - start) % horizon == 0).nonzero().flatten()  # one horizon apart
        history, origins = history[keep], origins[keep]
        pred = dm.inverse_transform(pl_module(history.to(pl_module.device)).cpu())
        naive = None
        if self.baseline:
            naive = dm.seasonal_naive(history)
        title = f"{self.split} span, epoch {trainer.current_epoch}: model vs seasonal naive"
        yield f"{self.split}/forecast", forecast_figure(
            dm.times, dm.values.float(), origins.tolist(), pred, naive,
            dm.span(self.split), self.context, title,
        )

    def on_test_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.split = "test"
        try:
            self.log_figures(trainer, pl_module)
        finally:
            self.split = "val"
