"""Sound in: reading a recording and the one preprocessing every audio path shares.

Training (``litlab.audio.data`` decodes the data set with it), ``litlab explain`` and
``litlab serve`` all turn a recording into what the model was trained on with the same two
calls, so a clip sounds the same to the model wherever it comes from:

    wave, rate = read_audio(path_or_bytes)        # (channels, samples) float32 in [-1, 1]
    clip = prepare(wave, rate)                    # (8000,) mono, 8 kHz, exactly 1 s

``prepare`` mixes the channels down (their mean), resamples to ``sample_rate``
(torchaudio's windowed-sinc resampler) and fits the result to ``seconds``: a shorter
recording is padded with silence on both sides (centred), a longer one is cut to the
window of that length with the most energy, which is where the spoken digit is in a
recording with silence or breathing around it. No threshold to tune, and the same rule for
a 0.2-s data-set clip and a 20-s phone recording.

Problems a user can cause raise :class:`AudioError` with a ``reason`` (``empty``,
``unreadable``, ``too_long``, ``no_samples``, ``silent``) that serve/ turns into an HTTP
status; clipping is not an error but is measured (:func:`clipped_share`) and reported.

torchaudio and soundfile come with the ``audio`` extra; without them :func:`require_audio`
raises a ConfigError that names it (one line, exit status 2 from the ``litlab`` command).
"""

from __future__ import annotations

import io
from pathlib import Path

import torch
from torch import Tensor

from litlab.common.errors import ConfigError

try:  # the [audio] extra
    import soundfile
    import torchaudio
except ImportError:  # pragma: no cover - exercised only without the extra
    soundfile = torchaudio = None

SAMPLE_RATE = 8000  # the Free Spoken Digit Dataset's rate: telephone speech
CLIP_SECONDS = 1.0  # 99 % of its clips are shorter (the longest is 2.3 s)
MAX_SECONDS = 30.0  # a longer recording is refused: say one digit
SILENCE_PEAK = 1e-4  # -80 dBFS: below this a recording holds nothing to classify
FULL_SCALE = 0.999  # a sample at or above this magnitude is clipped
EXTRA_HINT = "pip install 'litlab[audio]' (torchaudio and soundfile)"


class AudioError(ValueError):
    """A recording that cannot be classified; ``reason`` says why, for serve/'s status code."""

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def require_audio() -> None:
    """Raise a ConfigError naming the ``audio`` extra when torchaudio or soundfile is missing."""
    if torchaudio is None or soundfile is None:
        raise ConfigError(f"the audio domain needs the [audio] extra: {EXTRA_HINT}")


def read_audio(
    source: str | Path | bytes, max_seconds: float = MAX_SECONDS
) -> tuple[Tensor, int]:
    """A recording (a path or the bytes of WAV, FLAC, OGG or MP3) -> (channels, samples)
    float32 in [-1, 1] and its sample rate. The length is checked from the header before
    anything is decoded, so a 10-minute upload costs nothing."""
    require_audio()
    if isinstance(source, bytes | bytearray):
        if not source:
            raise AudioError("the upload is empty: send a WAV file", "empty")
        name, opened = "the upload", lambda: io.BytesIO(source)
    else:
        name, opened = str(source), lambda: str(source)
    try:
        info = soundfile.info(opened())
        if info.frames <= 0 or info.samplerate <= 0 or info.channels <= 0:
            raise AudioError(f"{name} holds no samples (a zero-length recording)", "no_samples")
        seconds = info.frames / info.samplerate
        if seconds > max_seconds:
            raise AudioError(
                f"{name} is {seconds:.1f} s long; the limit is {max_seconds:.0f} s: "
                "cut out the part with the spoken digit",
                "too_long",
            )
        data, rate = soundfile.read(opened(), dtype="float32", always_2d=True)  # (N, C)
    except AudioError:
        raise
    except (RuntimeError, ValueError, TypeError, OSError, EOFError) as err:  # LibsndfileError
        raise AudioError(
            f"{name} is not a readable recording (WAV, FLAC, OGG or MP3): {err}", "unreadable"
        ) from err
    if data.shape[0] == 0:
        raise AudioError(f"{name} holds no samples (a zero-length recording)", "no_samples")
    wave = torch.from_numpy(data.T.copy())  # (C, N)
    return torch.nan_to_num(wave).clamp(-1, 1), int(rate)


def mix_down(wave: Tensor) -> Tensor:
    """(C, N) or (N,) -> (N,): the mean of the channels."""
    return wave.float().mean(dim=0) if wave.ndim == 2 else wave.float()


def resample(wave: Tensor, rate: int, target: int = SAMPLE_RATE) -> Tensor:
    """(..., N) from ``rate`` to ``target`` samples per second (identity when equal)."""
    require_audio()
    if rate == target:
        return wave
    return torchaudio.functional.resample(wave, rate, target)


def fit_length(wave: Tensor, length: int) -> Tensor:
    """(N,) -> (length,): centred zero padding, or the ``length`` window of most energy."""
    n = wave.shape[-1]
    if n < length:
        left = (length - n) // 2
        return torch.nn.functional.pad(wave, (left, length - n - left))
    if n == length:
        return wave
    energy = torch.cat([wave.new_zeros(1), wave.double().square().cumsum(0)])  # (N + 1,)
    window = energy[length:] - energy[:-length]  # energy of wave[i : i + length], (N - L + 1,)
    start = int(window.argmax())
    return wave[start : start + length]


def prepare(
    wave: Tensor, rate: int, sample_rate: int = SAMPLE_RATE, seconds: float = CLIP_SECONDS
) -> Tensor:
    """The one preprocessing: any channels, rate and length -> a mono clip (samples,) at
    ``sample_rate`` of exactly ``seconds``. Training, explain and serve all call it."""
    mono = resample(mix_down(wave), rate, sample_rate)
    return fit_length(mono, round(sample_rate * seconds)).contiguous()


def check_not_silent(wave: Tensor, name: str = "the recording") -> None:
    """Raise AudioError (``silent``) for a recording whose peak is below -80 dBFS."""
    peak = float(wave.abs().max()) if wave.numel() else 0.0
    if peak < SILENCE_PEAK:
        raise AudioError(
            f"{name} is silent (peak {peak:.1e}, below -80 dBFS): there is nothing to classify; "
            "check the microphone",
            "silent",
        )


def clipped_share(wave: Tensor) -> float:
    """The share of samples at full scale (clipping distorts the sound; 0.0 for a clean one)."""
    return float((wave.abs() >= FULL_SCALE).float().mean()) if wave.numel() else 0.0


def clipping_warning(wave: Tensor, threshold: float = 0.001) -> str | None:
    """A sentence when more than ``threshold`` of the samples are clipped, else None."""
    share = clipped_share(wave)
    if share <= threshold:
        return None
    return (
        f"{100 * share:.1f} % of the samples are clipped (at full scale): the recording is too "
        "loud and distorted, so the answer may be off; record further from the microphone"
    )


def wav_bytes(clip: Tensor, sample_rate: int = SAMPLE_RATE) -> bytes:
    """A mono clip (N,) in [-1, 1] as the bytes of a 16-bit PCM WAV file."""
    require_audio()
    buf = io.BytesIO()
    soundfile.write(buf, clip.detach().cpu().float().clamp(-1, 1).numpy(), sample_rate,
                    subtype="PCM_16", format="WAV")  # fmt: skip
    return buf.getvalue()
