"""FeatureMapCallback: what the first convolution layers respond to, for a few fixed images."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import FeatureMapSource, ProbeData
from litlab.common.viz import feature_map_figure


class FeatureMapCallback(FigureCallback):
    """For ``num_images`` fixed validation images, the first ``max_channels`` channels of
    each layer named by the module's ``feature_map_layers(num_layers)``, logged as
    ``val/feature_maps/<layer>/<i>``. Forward hooks are registered only while reading the
    activations and always removed; the figures are drawn on the background drawing thread.
    """

    def __init__(
        self,
        num_images: int = 2,
        num_layers: int = 2,
        max_channels: int = 15,
        every_n_epochs: int = 1,
    ) -> None:
        super().__init__(every_n_epochs)
        self.num_images, self.num_layers, self.max_channels = num_images, num_layers, max_channels
        self.probe: Tensor | None = None  # chosen once: the same images every drawing

    def collect(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> tuple[Tensor, dict[str, Tensor]]:
        dm = trainer.datamodule
        require(dm, ProbeData, type(self).__name__)
        require(pl_module, FeatureMapSource, type(self).__name__)
        layers = pl_module.feature_map_layers(self.num_layers)
        captured: dict[str, Tensor] = {}
        handles = [
            # setdefault: keep the first call only (test-time augmentation calls the net twice)
            layer.register_forward_hook(lambda m, i, o, name=name: captured.setdefault(name, o))
            for name, layer in layers.items()
        ]
        try:
            if self.probe is None:
                self.probe = dm.probe_batch(self.num_images)[0]
            pl_module(self.probe.to(pl_module.device))
        finally:
            for h in handles:
                h.remove()
        # only the channels drawn go to the CPU: (n, max_channels, H, W) per layer
        acts = {name: a[:, : self.max_channels].float().cpu() for name, a in captured.items()}
        return dm.denormalize(self.probe), acts

    def draw(self, collected: tuple[Tensor, dict[str, Tensor]]) -> Iterator[tuple[str, Figure]]:
        shown, captured = collected
        for name, acts in captured.items():  # acts: (n, C, H, W)
            for i in range(len(shown)):
                fig = feature_map_figure(
                    shown[i], acts[i], f"{name} (image {i})", self.max_channels
                )
                yield f"val/feature_maps/{name}/{i}", fig
