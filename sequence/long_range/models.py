"""A recurrent regressor for long-range tasks, and the gradient that reaches back in time.

Plain PyTorch. ``hidden_gradient_norms`` measures ||dL/dh_t||, the size of the learning
signal the loss sends back to the hidden state t steps ago. For a vanilla RNN, going one
step back multiplies it by W_hh^T diag(tanh'), so it shrinks geometrically whenever that
product's norm is below 1 (and explodes above 1): the vanishing-gradient problem (Bengio
et al. 1994). The LSTM's cell state is updated by addition, gated by the forget gate, so a
path with a factor close to 1 per step exists.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class RecurrentRegressor(nn.Module):
    """Sequences (B, T, input_size) -> one number each (B,), read from the last hidden state."""

    def __init__(
        self,
        cell: Literal["rnn", "lstm", "gru"] = "lstm",
        input_size: int = 2,
        hidden_size: int = 128,
        num_layers: int = 1,
    ) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown cell {cell!r}: use one of {sorted(CELLS)}")
        self.cell = cell
        self.rnn = CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, 1)
        if cell == "lstm":
            # forget-gate bias 1 (Gers et al. 2000; Jozefowicz et al. 2015): start out
            # remembering; PyTorch's gate order is input, forget, cell, output
            for name, p in self.rnn.named_parameters():
                if name.startswith("bias_ih"):
                    with torch.no_grad():
                        p[hidden_size : 2 * hidden_size].fill_(1.0)

    def forward(self, x: Tensor) -> Tensor:
        out, _ = self.rnn(x)  # (B, T, H): the last layer's hidden state at every step
        return self.head(out[:, -1]).squeeze(-1)  # (B,)


def hidden_gradient_norms(model: RecurrentRegressor, x: Tensor, y: Tensor) -> Tensor:
    """Mean over the batch of ||dL/dh_t|| for t = 1..T (T,), with L the MSE of the output.

    The network is unrolled one step at a time (same weights) so that every hidden state
    h_t (all layers; the LSTM's h, not its cell state c) is a tensor we can differentiate by.
    The gradient includes every path from h_t to the loss, i.e. through all later steps.
    Index -1 is the last step (distance 0), index 0 the first (distance T - 1).
    """
    # cuDNN computes RNN gradients only in training mode; this runs in eval mode too
    with torch.enable_grad(), torch.backends.cudnn.flags(enabled=False):
        state, hs = None, []
        for t in range(x.shape[1]):
            _, state = model.rnn(x[:, t : t + 1], state)
            h = state[0] if isinstance(state, tuple) else state  # (layers, B, H)
            hs.append(h)
        # read out from the returned state (its top layer equals the output at step T), so
        # that the last h_T is part of the graph too
        loss = F.mse_loss(model.head(hs[-1][-1]).squeeze(-1), y)
        grads = torch.autograd.grad(loss, hs)
    # per sequence: norm over layers and units; then the batch mean (scaled by B because the
    # MSE averages over the batch, so each sequence's own gradient is B times larger)
    norms = [g.transpose(0, 1).flatten(1).norm(dim=1).mean() * x.shape[0] for g in grads]
    return torch.stack(norms).detach()
