"""AudioSamplesCallback: fixed validation clips as spectrograms, Grad-CAM and sound."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from matplotlib.figure import Figure
from torch import Tensor

from litlab.common.attribution import grad_cam
from litlab.common.audio_explain import cam_on_spectrogram
from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import AudioData, GradCamSource
from litlab.common.viz import spectrogram_figure


class AudioSamplesCallback(FigureCallback):
    """For ``num_clips`` fixed validation clips (the DataModule's ``probe_clips``, cycling
    through the classes), every ``every_n_epochs`` epochs:

    - ``val/spectrograms``: their log-mel spectrograms titled "predicted (true)" with the
      probability, mistakes in red;
    - ``val/gradcam_spectrogram``: Grad-CAM for the predicted class over each spectrogram
      (the module's ``gradcam_layer()``): which time and frequency region decided it;
    - the clips themselves in TensorBoard's audio tab (``val/clip/<i>``, once: they do not
      change), to listen to what the model got wrong.

    Needs an ``AudioData`` DataModule and a ``GradCamSource`` module (common/protocols.py).
    """

    def __init__(self, num_clips: int = 10, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_clips = num_clips
        self.probe: tuple[Tensor, Tensor] | None = None
        self._audio_logged = False

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, AudioData, type(self).__name__)
        require(pl_module, GradCamSource, type(self).__name__)
        pl_module.gradcam_layer()
        if self.probe is None:
            self.probe = trainer.datamodule.probe_clips(self.num_clips)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure]]:
        dm = trainer.datamodule
        clips, labels = (t.to(pl_module.device) for t in self.probe)
        x = dm.encode_clips(clips)
        probs = pl_module(x).float().softmax(dim=-1)
        preds = probs.argmax(dim=-1)
        specs = dm.spectrogram(clips)  # (N, F, T)
        titles, colors = [], []
        for i, (p, t) in enumerate(zip(preds.tolist(), labels.tolist())):
            right = p == t
            titles.append(f"{dm.classes[p]} {probs[i, p]:.2f}" + ("" if right else
                                                                   f" ({dm.classes[t]})"))
            colors.append("green" if right else "red")
        seconds = dm.clip_seconds
        yield "val/spectrograms", spectrogram_figure(
            specs, titles, colors=colors, seconds=seconds,
            suptitle="log-mel spectrograms: predicted (true)",
        )  # fmt: skip
        cams = cam_on_spectrogram(grad_cam(pl_module, pl_module.gradcam_layer(), x, preds),
                                  tuple(specs.shape[-2:]))  # fmt: skip
        yield "val/gradcam_spectrogram", spectrogram_figure(
            specs, titles, cams=cams, colors=colors, seconds=seconds,
            suptitle="Grad-CAM for the predicted digit: where the evidence is",
        )  # fmt: skip

    def log_figures(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().log_figures(trainer, pl_module)
        if self._audio_logged or not trainer.is_global_zero:
            return
        tb = next((lg for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if tb is None:
            return
        clips, labels = self.probe
        rate = trainer.datamodule.sample_rate
        for i, (clip, label) in enumerate(zip(clips, labels.tolist())):
            tb.experiment.add_audio(f"val/clip/{i}_digit_{label}", clip[None].cpu(),
                                    trainer.global_step, sample_rate=rate)  # fmt: skip
        self._audio_logged = True
