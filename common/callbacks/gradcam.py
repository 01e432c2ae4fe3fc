"""GradCamCallback: where a CNN looks, for fixed validation images, every few epochs."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.attribution import grad_cam
from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import GradCamSource, ProbeData
from litlab.common.viz import gradcam_figure


class GradCamCallback(FigureCallback):
    """Grad-CAM (captum ``LayerGradCam``) for ``num_images`` fixed validation images.

    The module names the layer (``gradcam_layer()``, see ``common/protocols.py``);
    the images are chosen once at setup (the DataModule's ``probe_batch``, a few per class)
    so that epochs compare. Each drawing logs one grid, ``val/gradcam``: the images, the
    map for the predicted class and the map for the true class, overlaid with a colour map.

    The maps are computed inside Lightning's validation with gradients switched on for their
    own duration, in eval mode with every train/eval flag restored, with captum's hooks
    removed after each call, and on global rank zero only; the figure is drawn on the
    background drawing thread. Cost at the defaults (8 images, every epoch): see
    ``benchmarks/callback_overhead.py`` and the README.
    """

    def __init__(self, num_images: int = 8, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_images = num_images
        self.probe: tuple[Tensor, Tensor] | None = None

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, ProbeData, type(self).__name__)
        require(pl_module, GradCamSource, type(self).__name__)
        pl_module.gradcam_layer()  # fail now, not after the first epoch, if there is none
        if self.probe is None:
            self.probe = trainer.datamodule.probe_batch(self.num_images)

    def collect(self, trainer: L.Trainer, pl_module: L.LightningModule) -> tuple:
        images, labels = (t.to(pl_module.device) for t in self.probe)
        probs = pl_module(images).float().softmax(dim=-1)
        preds = probs.argmax(dim=-1)
        layer = pl_module.gradcam_layer()
        cam_pred = grad_cam(pl_module, layer, images, preds).cpu()
        cam_true = grad_cam(pl_module, layer, images, labels).cpu()
        classes = trainer.datamodule.classes
        probs, preds, labels = probs.cpu(), preds.tolist(), labels.tolist()
        titles = [
            [f"{classes[p]} {probs[i, p]:.2f}" for i, p in enumerate(preds)],
            [f"{classes[t]} {probs[i, t]:.2f}" for i, t in enumerate(labels)],
        ]
        shown = trainer.datamodule.denormalize(self.probe[0]).clamp(0, 1)
        return shown, [cam_pred, cam_true], titles

    def draw(self, collected: tuple) -> Iterator[tuple[str, Figure]]:
        yield "val/gradcam", gradcam_figure(*collected)
