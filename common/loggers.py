"""Hyper-parameters for whichever Lightning logger a run is configured with.

TensorBoard's HParams tab links hyper-parameters to metrics, so ``TensorBoardLogger``
takes ``log_hyperparams(params, metrics)``; every other logger (``CSVLogger``,
``WandbLogger``, ...) takes ``log_hyperparams(params)`` alone, and was given TensorBoard's
signature before (a ``TypeError`` at fit start with ``--trainer.logger CSVLogger``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger


def log_hparams(module: L.LightningModule, metrics: Mapping[str, float]) -> None:
    """Log ``module.hparams`` to every logger of its trainer; TensorBoard also gets the
    ``metrics`` (placeholders the run later fills) that its HParams tab links them to."""
    params: Any = module.hparams
    for logger in module.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(params, dict(metrics))
        else:
            logger.log_hyperparams(params)
