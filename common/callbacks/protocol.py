"""The protocol between LightningModules / DataModules and the picture callbacks.

Callbacks never reach into hidden attributes: they ask for what they need through these
documented methods, and fail early with a message naming the missing one. A new domain
that wants the pictures implements the methods; nothing in ``common/`` changes.

DataModule side (``ProbeData``): a fixed batch of evaluation images and a way to show them.
Module side (``FeatureMapSource``): which layers to show as feature maps.
Step outputs: ``validation_step`` / ``test_step`` return a dict with ``preds`` (B,) and
``target`` (B,) class indices (used by the confusion matrix).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from torch import Tensor, nn


@runtime_checkable
class ProbeData(Protocol):
    """A DataModule that can hand out fixed, labelled evaluation images."""

    classes: list[str]

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed normalised images (n, C, H, W) and their labels (n,)."""
        ...

    def denormalize(self, images: Tensor) -> Tensor:
        """Normalised images -> [0, 1] for display."""
        ...


@runtime_checkable
class FeatureMapSource(Protocol):
    """A LightningModule that names the layers whose outputs are worth looking at."""

    def feature_map_layers(self, n: int = 2) -> dict[str, nn.Module]: ...


def require(obj: object, protocol: type, who: str) -> None:
    """Raise a TypeError naming what ``obj`` lacks to serve ``who``."""
    if obj is None or not isinstance(obj, protocol):
        names = [n for n in vars(protocol) if not n.startswith("_")]
        names += list(getattr(protocol, "__annotations__", {}))
        missing = [n for n in names if not hasattr(obj, n)] if obj is not None else []
        raise TypeError(
            f"{who} needs a {protocol.__name__} ({type(obj).__name__} lacks {missing or 'it'}); "
            f"see common/callbacks/protocol.py"
        )
