"""Optimiser helpers shared by every domain's LightningModule."""

from __future__ import annotations

from torch import nn


def decay_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters in two groups, as in nanoGPT: weight decay on matrices and
    kernels (``ndim >= 2``: linear, conv, embedding weights), none on biases and norm scales
    (1-D), which decay would only pull towards zero without regularising anything useful.
    The groups are named, so the learning-rate monitor logs ``lr-<Optimizer>/weights``.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    return [
        {
            "name": "weights",
            "params": [p for p in params if p.ndim >= 2],
            "weight_decay": weight_decay,
        },
        {"name": "norms_biases", "params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
