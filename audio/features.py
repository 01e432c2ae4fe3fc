"""What the networks hear: log-mel spectrograms or normalised waveforms, computed on whole
batches on the device (like ``vision/augment.py`` for images), and the training-time
augmentations of both.

Plain PyTorch + torchaudio transforms, no Lightning: ``AudioFeatures`` is an ``nn.Module``
the DataModule applies in ``on_after_batch_transfer``, and the same module encodes a clip
for ``litlab explain`` and serve/.

Shapes: clips (B, T) float in [-1, 1] -> log-mel (B, 1, n_mels, frames) for the CNN, or
waveforms (B, 1, T) for the M5. With 8 kHz clips of 1 s, a 25 ms window (200 samples, FFT
of 256) and a 10 ms hop: 101 frames of 40 mel bands, the classic speech front end.

A new voice differs from the training voices mostly in two ways, and each has its remedy
here: a longer or shorter vocal tract moves every formant up or down in frequency
(``warp_frequencies``: vocal-tract-length perturbation, VTLP, in training), and a voice and
its microphone colour the spectrum with their own average envelope (``norm="band"``: each
mel band's mean over the sounding frames subtracted, cepstral mean normalisation).
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litlab.common.audio_io import require_audio

Kind = Literal["logmel", "waveform"]
Norm = Literal["clip", "band"]
SOUNDING_DB = 50.0  # band norm: a frame holds sound if its loudest band is this near the peak


def standardize(x: Tensor, dims: tuple[int, ...]) -> Tensor:
    """Zero mean, unit variance per clip over ``dims``: a recording's loudness and its
    microphone's gain (a constant in dB) drop out; silence stays zero."""
    mean = x.mean(dim=dims, keepdim=True)
    std = x.std(dim=dims, keepdim=True).clamp_min(1e-5)
    return (x - mean) / std


def band_centre(db: Tensor, sounding_db: float = SOUNDING_DB) -> Tensor:
    """Log-mel (B, F, N) in dB -> each band minus its mean over the clip's sounding frames.

    What is constant over the utterance in a band is the average spectral envelope of the
    speaker's vocal tract and of the microphone (a constant per band in dB): subtracting it is
    cepstral mean normalisation of speech recognition. The sounding frames (loudest band
    within ``sounding_db`` of the clip's peak) give the means, so the centred silence of a
    short clip does not dilute them. Means only, no variance per band: a band that barely
    varies would have its noise blown up to unit variance; the clip is standardised after.
    """
    frame_peak = db.amax(dim=-2, keepdim=True)  # (B, 1, N)
    sounding = (frame_peak >= db.amax(dim=(-2, -1), keepdim=True) - sounding_db).float()
    count = sounding.sum(dim=-1, keepdim=True).clamp_min(1)  # (B, 1, 1)
    return db - (db * sounding).sum(dim=-1, keepdim=True) / count  # (B, F, N)


def warp_frequencies(spec: Tensor, factors: Tensor, boundary: float = 0.8) -> Tensor:
    """Vocal-tract-length perturbation (Jaitly & Hinton 2013) of linear-frequency
    spectrograms (B, F, N): clip b's frequency f moves to ``factors[b] * f``, a longer or
    shorter vocal tract, up to ``boundary`` of the Nyquist frequency; above it a second
    straight line ends at the Nyquist frequency, so no band falls off the top or stays empty.

    Written by hand because it teaches: each output bin reads the input at the inverse of the
    piecewise-linear warp, interpolating between the two neighbouring bins. Factors above 1
    move energy up (formants of a shorter tract), below 1 down.
    """
    b, f, _ = spec.shape
    top = float(f - 1)  # the Nyquist bin
    alpha = factors.to(spec.device, spec.dtype)[:, None]  # (B, 1)
    knee_out = boundary * top * alpha.clamp(max=1.0)  # where the first line ends, output side
    out_bins = torch.arange(f, device=spec.device, dtype=spec.dtype)[None, :]  # (1, F)
    low = out_bins / alpha
    high = top - (top - knee_out / alpha) * (top - out_bins) / (top - knee_out)
    src = torch.where(out_bins <= knee_out, low, high).clamp(0, top)  # (B, F): input bin
    lo = src.floor().long().clamp(max=f - 2)
    w = (src - lo)[..., None]  # (B, F, 1)

    def rows(i: Tensor) -> Tensor:  # (B, F) bin indices -> those rows of spec (B, F, N)
        return spec.gather(1, i[..., None].expand(-1, -1, spec.shape[-1]))

    return rows(lo) * (1 - w) + rows(lo + 1) * w


class AudioFeatures(nn.Module):
    """Clips (B, T) -> the network's input, the same in training, explain and serve.

    Args:
        kind: ``"logmel"`` (B, 1, n_mels, frames) or ``"waveform"`` (B, 1, T).
        sample_rate: of the clips.
        n_mels, n_fft, win_length, hop_length: the mel spectrogram.
        top_db: the dB floor below the clip's peak (80 dB: quieter detail is noise).
        norm: log-mel only: ``"clip"`` standardises each clip as a whole; ``"band"``
            subtracts each mel band's mean over the sounding frames first
            (``band_centre``: the speaker's and microphone's average envelope removed).
    """

    def __init__(
        self,
        kind: Kind = "logmel",
        sample_rate: int = 8000,
        n_mels: int = 40,
        n_fft: int = 256,
        win_length: int = 200,
        hop_length: int = 80,
        top_db: float = 80.0,
        norm: Norm = "clip",
    ) -> None:
        super().__init__()
        require_audio()
        import torchaudio.transforms as T

        self.kind = kind
        self.mel = T.MelSpectrogram(
            sample_rate, n_fft=n_fft, win_length=win_length, hop_length=hop_length,
            n_mels=n_mels, f_min=20.0, f_max=sample_rate / 2, power=2.0,
        )  # fmt: skip
        self.to_db = T.AmplitudeToDB("power", top_db=None)
        self.top_db = top_db
        if norm not in ("clip", "band"):
            raise ValueError(f"norm must be 'clip' or 'band', not {norm!r}")
        self.norm = norm

    def spectrogram_db(self, clips: Tensor, warp: Tensor | None = None) -> Tensor:
        """(B, T) -> log-mel power in dB (B, n_mels, frames), floored ``top_db`` below each
        clip's own peak: what the figures show. ``warp`` (B,): VTLP factors applied to the
        linear spectrogram before the mel filter bank (training only)."""
        spec = self.mel.spectrogram(clips.float())  # (B, n_fft // 2 + 1, frames) power
        if warp is not None:
            spec = warp_frequencies(spec, warp)
        db = self.to_db(self.mel.mel_scale(spec))
        peak = db.amax(dim=(-2, -1), keepdim=True)
        return torch.maximum(db, peak - self.top_db)

    def forward(self, clips: Tensor, warp: Tensor | None = None) -> Tensor:
        if self.kind == "waveform":
            return standardize(clips.float(), (-1,)).unsqueeze(1)  # (B, 1, T)
        db = self.spectrogram_db(clips, warp)  # (B, F, N)
        if self.norm == "band":
            db = band_centre(db)
        return standardize(db, (-2, -1)).unsqueeze(1)  # (B, 1, F, N)


# --- augmentation (training only), on whole batches ----------------------------------------


def random_shift(clips: Tensor, max_shift: int, generator: torch.Generator | None = None) -> Tensor:
    """Each clip (B, T) moved by up to ``max_shift`` samples either way, zeros shifted in:
    a digit is the same digit said a little earlier or later."""
    if max_shift <= 0:
        return clips
    b, t = clips.shape
    shifts = torch.randint(-max_shift, max_shift + 1, (b, 1), generator=generator)
    idx = torch.arange(t)[None, :] - shifts  # (B, T): where each output sample comes from
    valid = (idx >= 0) & (idx < t)
    idx = idx.clamp(0, t - 1).to(clips.device)
    return clips.gather(1, idx) * valid.to(clips.device)


def random_speed(clips: Tensor, spread: float, generator: torch.Generator | None = None) -> Tensor:
    """Each clip played ``1 +- spread`` times as fast (pitch and tempo together, by linear
    interpolation), centred and cut or padded to its length: a cheap stand-in for other
    voices (vocal-tract length perturbation), which is what a new speaker changes."""
    if spread <= 0:
        return clips
    b, t = clips.shape
    rates = 1 + (torch.rand(b, generator=generator) * 2 - 1) * spread  # (B,)
    # output sample j reads input position c + (j - c) * rate, c the centre
    centre = (t - 1) / 2
    pos = centre + (torch.arange(t)[None, :] - centre) * rates[:, None]  # (B, T)
    grid = (2 * pos / (t - 1) - 1).to(clips.device)  # grid_sample's [-1, 1]
    grid = torch.stack([grid, torch.zeros_like(grid)], dim=-1)[:, None]  # (B, 1, T, 2)
    out = F.grid_sample(clips[:, None, None, :].float(), grid, mode="bilinear",
                        padding_mode="zeros", align_corners=True)  # fmt: skip
    return out[:, 0, 0]


def random_warp_factors(n: int, spread: float, generator: torch.Generator | None = None) -> Tensor:
    """``n`` VTLP factors drawn uniformly from ``1 +- spread`` (0.1: 0.9 to 1.1, the range of
    adult vocal tracts around the average)."""
    return 1 + (torch.rand(n, generator=generator) * 2 - 1) * spread


class SpecAugment(nn.Module):
    """SpecAugment's masks (Park et al. 2019) on log-mel batches (B, 1, F, N): ``masks``
    bands of up to ``freq`` mel bins and up to ``time`` frames set to the clip's mean (zero
    after standardising), drawn independently for every clip."""

    def __init__(self, freq: int = 8, time: int = 20, masks: int = 2) -> None:
        super().__init__()
        import torchaudio.transforms as T

        self.masks = masks
        self.freq = T.FrequencyMasking(freq, iid_masks=True) if freq > 0 else None
        self.time = T.TimeMasking(time, iid_masks=True) if time > 0 else None

    def forward(self, x: Tensor) -> Tensor:
        for _ in range(self.masks):
            if self.freq is not None:
                x = self.freq(x)
            if self.time is not None:
                x = self.time(x)
        return x
