"""AudioClassifier: the LightningModule of the spoken-digit networks (``audio/models.py``).

Everything a classifier needs (cross-entropy with label smoothing, accuracy per stage,
per-class accuracy, ``val/acc_best``, the one-cycle schedule, AdamW, ``torch.compile``) is
``litlab.common.classifier.Classifier``; the DataModule has already turned the clips into
the network's input on the device (log-mel spectrograms or waveforms), so this class only
calls the network. Its forward and its Grad-CAM layer (for the callbacks, ``litlab explain``
and serve/) are the Lightning-free half it inherits, ``AudioPredictor`` (``predict.py``).

Logged keys: those of ``Classifier`` (``train/loss``, ``val/acc``, ``val/acc_class/<digit>``,
``test/acc``, ...).
"""

from __future__ import annotations

from torch import Tensor, nn

from litlab.audio.predict import AudioPredictor
from litlab.common.classifier import Classifier, Schedule


class AudioClassifier(AudioPredictor, Classifier):
    """Train an audio network with cross-entropy.

    Args:
        net: inputs (B, 1, n_mels, frames) or (B, 1, T) -> logits (B, num_classes), e.g.
            ``litlab.audio.models.SpecCNN`` or ``M5``.
        num_classes: None: the network's; LitlabCLI fills in the data's.
        lr: peak learning rate (AdamW).
        weight_decay: on kernels and matrices only, not on biases and norms.
        scheduler: ``"onecycle"``, ``"cosine"`` or ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
        compile: ``torch.compile`` the network for the steps.
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int | None = None,
        lr: float = 3e-3,
        weight_decay: float = 0.05,
        scheduler: Schedule = "onecycle",
        warmup: float = 0.1,
        label_smoothing: float = 0.1,
        compile: bool = False,
    ) -> None:
        super().__init__(
            net, num_classes, lr, weight_decay, scheduler, warmup, label_smoothing, compile
        )

    def logits(self, x: Tensor) -> Tensor:
        return self.step_net(x)
