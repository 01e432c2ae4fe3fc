"""One recording through an audio classifier: its top classes, and Grad-CAM over its
spectrogram. ``litlab explain`` (``common/explain.py``) and serve/ (``serve/audio.py``) both
call :func:`classify_clip`, after the one preprocessing of ``common/audio_io.py``, so a file
explained on the command line and the same file uploaded to the server get the same answer.

Plain torch and the protocols: ``AudioInputs`` data (a DataModule or its Lightning-free half
``audio/predict.py``: its ``encode_clips`` makes the network's input, its ``spectrogram`` the
picture) and a module with ``gradcam_layer()``; no Lightning import, nothing of
``litlab.audio`` itself.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from matplotlib.figure import Figure
from torch import Tensor, nn

from litlab.common.attribution import evaluating, grad_cam
from litlab.common.audio_io import check_not_silent, clipping_warning, prepare
from litlab.common.contracts import require
from litlab.common.inference import device_of
from litlab.common.protocols import AudioInputs, GradCamSource
from litlab.common.viz import spectrogram_figure

ORDINALS = ("1st", "2nd", "3rd", "4th", "5th")


@dataclass
class AudioAnswer:
    """The top classes of one recording, why it may be off, and (if asked) the picture."""

    top: list[tuple[str, float]]
    warning: str | None
    seconds: float  # of the recording as sent
    figure: Figure | None = None


def cam_on_spectrogram(cam: Tensor, shape: tuple[int, int]) -> Tensor:
    """Grad-CAM maps at the network input's resolution -> the spectrogram's (N, F, T). A 2-D
    map (a spectrogram network) is resized; a 1-D map (N, samples) of a waveform network,
    which can only say *when*, is resized along time and spread over every frequency."""
    if cam.ndim == 2:  # (N, samples)
        cam = F.interpolate(cam[:, None], size=shape[1], mode="linear")[:, 0]  # (N, T)
        return cam[:, None, :].expand(-1, shape[0], -1)
    return F.interpolate(cam[:, None], size=shape, mode="bilinear")[:, 0]


def classify_clip(
    model: nn.Module,
    data: AudioInputs,
    wave: Tensor,
    rate: int,
    top_k: int = 3,
    explain: bool = False,
) -> AudioAnswer:
    """A recording (channels, samples) at ``rate`` -> its ``top_k`` classes, a warning when
    it clips (else None) and, with ``explain``, a figure: the spectrogram, then Grad-CAM for
    each top class over it. A silent recording raises ``AudioError``."""
    require(data, AudioInputs, "classifying audio")
    check_not_silent(wave)
    warning = clipping_warning(wave)
    clip = prepare(wave, rate, data.sample_rate, data.clip_seconds)[None]  # (1, T)
    device = device_of(model)
    x = data.encode_clips(clip.to(device))
    with evaluating(model), torch.no_grad():
        probs = model(x).float().softmax(dim=-1)[0]
    k = min(top_k, probs.numel())
    p, i = probs.topk(k)
    top = [(data.classes[c], v) for c, v in zip(i.tolist(), p.tolist())]
    answer = AudioAnswer(top, warning, wave.shape[-1] / rate)
    if explain:
        answer.figure = _figure(model, data, clip.to(device), x, i[: len(ORDINALS)], top)
    return answer


def _figure(
    model: nn.Module, data: AudioInputs, clip: Tensor, x: Tensor, classes: Tensor, top: list
) -> Figure:
    require(model, GradCamSource, "Grad-CAM over a spectrogram")
    spec = data.spectrogram(clip)  # (1, F, T)
    layer = model.gradcam_layer()
    with evaluating(model):
        cams = [grad_cam(model, layer, x, [c]) for c in classes.tolist()]  # each (1, ...)
    cams = torch.cat([cam_on_spectrogram(c, tuple(spec.shape[-2:])) for c in cams])
    specs = torch.cat([spec, spec.expand(len(cams), -1, -1)])
    titles = ["log-mel spectrogram (dB)"]
    titles += [f"{ORDINALS[r]}: {name} {prob:.2f}" for r, (name, prob) in enumerate(top)]
    return spectrogram_figure(
        specs, titles, cams=[None, *cams], ncols=len(specs), seconds=data.clip_seconds,
        suptitle="Grad-CAM over the spectrogram: which time and frequency decided each digit",
    )  # fmt: skip
