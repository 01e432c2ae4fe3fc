"""The inference halves of audio (no Lightning): what a trained spoken-digit network and its
data do for ``litlab explain`` and serve/, and what ``AudioClassifier`` (``module.py``) and
``FSDDDataModule`` (``data.py``) inherit (``common/inference.py`` says why).

- :class:`AudioPredictor`: ``forward`` (features -> logits) and the layer Grad-CAM looks at
  (``gradcam_layer``; ``GradCamSource`` in ``common/protocols.py``).
- :class:`AudioCodec`: the class names, speakers and feature settings a checkpoint keeps, and
  ``encode_clips`` / ``spectrogram`` (``AudioInputs``): prepared clips -> the network's input,
  the same computation in training, ``litlab explain`` and serve/.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from litlab.audio.features import (
    AudioFeatures,
    SpecAugment,
    random_shift,
    random_speed,
    random_warp_factors,
)
from litlab.common.audio_io import SAMPLE_RATE
from litlab.common.inference import DataCodec, InferenceModule
from litlab.common.protocols import ready

DIGITS = [str(d) for d in range(10)]
N_MELS = 40  # FSDDDataModule's default, for checkpoints that did not record theirs


class AudioPredictor(InferenceModule):
    """A trained audio network: inputs (B, 1, n_mels, frames) or (B, 1, T) -> logits."""

    def forward(self, x: Tensor) -> Tensor:
        """Features (B, 1, ...) -> logits (B, num_classes): one pass of the plain network."""
        return self.net(x)

    # --- protocol for the pictures (common/protocols.py) --------------------------------

    def gradcam_layer(self) -> nn.Module:
        """The network's own choice (``gradcam_layer()``), else its last convolution."""
        if hasattr(self.net, "gradcam_layer"):
            return self.net.gradcam_layer()
        convs = [m for m in self.net.modules() if isinstance(m, nn.Conv1d | nn.Conv2d)]
        if not convs:
            raise TypeError(f"{type(self.net).__name__} has no convolution for Grad-CAM")
        return convs[-1]


def _as_float(clips: Tensor) -> Tensor:
    """int16 clips or float clips in [-1, 1] (B, T) -> float (B, T) in [-1, 1]."""
    return clips.float() / 32768 if clips.dtype == torch.int16 else clips.float()


class AudioCodec(DataCodec):
    """Classes, speakers and the feature settings: the DataModule's (``hparams``, ``data``),
    or restored from a checkpoint's state (``restored``). The feature and augmentation
    modules are built on first use (the DataModule builds its own in ``__init__``)."""

    data: dict | None = None  # the DataModule's decoded recordings (audio/data.py)
    restored: dict | None = None  # from a checkpoint: see state_dict()
    features: AudioFeatures | None = None
    spec_augment: SpecAugment | None = None

    @property
    def classes(self) -> list[str]:
        if self.data is None and self.restored is not None:
            return list(self.restored["classes"])
        return list(DIGITS)

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def sample_rate(self) -> int:
        return int(self.hparams.get("sample_rate", SAMPLE_RATE))

    @property
    def clip_seconds(self) -> float:
        return float(self.hparams.get("clip_seconds", 1.0))

    @property
    def speakers(self) -> list[str]:
        if self.data is None and self.restored is not None:
            return list(self.restored["speakers"])
        return list(ready(self.data, self, "speakers")["speaker_names"])

    def feature_maker(self) -> AudioFeatures:
        """The module that turns clips into the network's input (``audio/features.py``)."""
        if self.features is None:
            hp = self.hparams
            self.features = AudioFeatures(
                hp.get("features", "logmel"), self.sample_rate, hp.get("n_mels", N_MELS),
                norm=hp.get("norm", "clip"),
            )  # fmt: skip
        return self.features

    def _spec_augment(self) -> SpecAugment:
        if self.spec_augment is None:
            hp = self.hparams
            self.spec_augment = SpecAugment(hp.get("freq_mask", 8), hp.get("time_mask", 20))
        return self.spec_augment

    def encode_clips(self, clips: Tensor, train: bool = False) -> Tensor:
        """Prepared clips (B, T), int16 or float in [-1, 1] -> the network's input; with
        ``train``, augmented. ``litlab explain`` and serve/ call it on ``prepare``'s output."""
        x = _as_float(clips)
        hp = self.hparams
        augment = train and hp.get("augment", True)
        features = self.feature_maker().to(x.device)
        warp = None  # (B,) frequency-axis factors: vocal-tract length perturbation
        if augment:
            shift = round(hp.get("shift_seconds", 0.1) * self.sample_rate)
            x = random_speed(random_shift(x, shift), hp.get("speed", 0.1))
            if hp.get("warp", 0.0) > 0 and features.kind == "logmel":
                warp = random_warp_factors(len(x), hp.warp)
        feats = features(x, warp=warp)
        if augment and features.kind == "logmel":
            feats = self._spec_augment()(feats)
        return feats

    def spectrogram(self, clips: Tensor) -> Tensor:
        """Prepared clips (B, T) -> log-mel power in dB (B, n_mels, frames), for figures."""
        x = _as_float(clips)
        return self.feature_maker().to(x.device).spectrogram_db(x)

    # --- what a checkpoint keeps, so new clips can be prepared without the data -------------

    def state_dict(self) -> dict[str, Any]:
        if self.data is None and self.restored is None:
            self.setup()  # the DataModule's: a method may read the data, properties never do
        return {
            "classes": self.classes,
            "speakers": self.speakers,
            "held_out_speaker": self.hparams.get("held_out_speaker"),
            "val_speaker": self.hparams.get("val_speaker"),
            "sample_rate": self.sample_rate,
            "clip_seconds": self.clip_seconds,
            "features": self.feature_maker().kind,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.restored = dict(state)
