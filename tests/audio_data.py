"""Tiny spoken-digit data in the FSDD format: ``audio/free_spoken_digits.tar.gz`` holding
``recordings/{digit}_{speaker}_{take}.wav`` (8 kHz mono 16-bit PCM), as in shared/data.

Each "digit" is a tone whose pitch says the class (300 + 250 * digit Hz) with a speaker's
own loudness and length, and a little noise, so a model can learn it in a few steps.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import numpy as np
import soundfile

SPEAKERS = ("george", "jackson", "theo")
TAKES = 8  # takes 0-4 are the test split, 5-7 train
RATE = 8000


def digit_tone(digit: int, seconds: float, rate: int = RATE, amplitude: float = 0.5,
               seed: int = 0) -> np.ndarray:  # fmt: skip
    """A tone at the digit's pitch with a smooth envelope and noise, float32 (N,)."""
    g = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.sin(np.pi * t / seconds) ** 2
    tone = np.sin(2 * np.pi * (300 + 250 * digit) * t) * envelope * amplitude
    return (tone + g.normal(0, 0.01, len(t))).astype(np.float32)


def wav(samples: np.ndarray, rate: int = RATE, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    soundfile.write(buf, samples, rate, subtype=subtype, format="WAV")
    return buf.getvalue()


def write_fsdd(root: Path, speakers=SPEAKERS, takes: int = TAKES) -> Path:
    """``root/audio/free_spoken_digits.tar.gz`` with 10 digits x speakers x takes clips."""
    archive = root / "audio" / "free_spoken_digits.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tf:
        for s, speaker in enumerate(speakers):
            for digit in range(10):
                for take in range(takes):
                    seed = (s * 10 + digit) * 100 + take
                    clip = digit_tone(digit, 0.3 + 0.05 * ((take + s) % 4), amplitude=0.3 + 0.2 * s,
                                      seed=seed)  # fmt: skip
                    data = wav(clip)
                    info = tarfile.TarInfo(f"recordings/{digit}_{speaker}_{take}.wav")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
    return archive
