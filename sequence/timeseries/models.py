"""LSTMForecaster: a window of past values -> the next ``horizon`` values, in one pass.

Plain PyTorch (no Lightning), so it can be reused anywhere.

Multi-step forecasting has two classic strategies: *recursive* (predict one step, feed it
back, repeat: errors compound) and *direct multi-output* (one head predicts all ``horizon``
steps at once from the final state). This model is the second; it is simpler and, on short
series like these, usually better.

``relative=True`` makes the network translation-equivariant: it sees the window minus its
last value and predicts the change from that value. A series with a trend (airline) leaves
the range seen in training in the test years; predicting changes instead of levels keeps
the inputs in range, so the LSTM need not extrapolate.
"""

from __future__ import annotations

from torch import Tensor, nn


class LSTMForecaster(nn.Module):
    """history (B, W) scaled -> forecast (B, horizon) scaled.

    Args:
        horizon: steps predicted at once.
        hidden: LSTM width; layers: stacked LSTM layers; dropout: between layers and before
            the head.
        relative: predict the change from the last observed value (see the module docstring).
    """

    def __init__(
        self,
        horizon: int = 12,
        hidden: int = 64,
        layers: int = 1,
        dropout: float = 0.0,
        relative: bool = True,
    ) -> None:
        super().__init__()
        self.horizon, self.relative = horizon, relative
        self.lstm = nn.LSTM(
            1, hidden, num_layers=layers, batch_first=True, dropout=dropout if layers > 1 else 0.0
        )
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, horizon)

    def forward(self, history: Tensor) -> Tensor:
        level = history[:, -1:] if self.relative else history.new_zeros(len(history), 1)  # (B, 1)
        out, _ = self.lstm((history - level).unsqueeze(-1))  # (B, W, hidden)
        return level + self.head(self.drop(out[:, -1]))  # (B, horizon)
