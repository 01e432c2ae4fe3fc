"""FSDDDataModule: the Free Spoken Digit Dataset (digits 0-9 said by 6 speakers) as clips.

Files are ``recordings/{digit}_{speaker}_{take}.wav`` (8 kHz mono 16-bit, 0.14-2.3 s). Every
clip goes once through ``litlab.common.audio_io.prepare`` (mono, 8 kHz, exactly 1 s: the
function explain and serve use too) and the whole set is cached as one int16 tensor
(3,000 x 8,000: 48 MB), like the decoded images of ``vision/``. Batches of int16 clips are
moved to the device, then augmented (time shift, speed) and turned into log-mel
spectrograms with SpecAugment, or normalised waveforms, there (``on_after_batch_transfer``,
``audio/features.py``): no worker processes, nothing waits on Python per clip.

Splits:
- ``held_out_speaker: null``: the data set's own split, takes 0-4 of every speaker for test
  (300 clips) and takes 5-49 for training (2,700), ``val_size`` of them held out (seeded);
  every test voice was also heard in training.
- ``held_out_speaker: theo`` (any of the six): leave-one-speaker-out, all 500 clips of that
  speaker are the test set and the other five speakers' clips train (and validate): what a
  user hears when a new voice speaks.
- ``val_speaker: jackson`` (with either split): that speaker's training clips are the
  validation set and never trained on, so validation accuracy (and the best checkpoint)
  measures a voice the model has not heard, without looking at the test speaker. Choose
  recipes for new voices with it, never with the held-out speaker's test accuracy.

What explain and serve/ need of the data (class names, speakers, ``encode_clips``,
``spectrogram``, the checkpointed state) is its Lightning-free half, ``AudioCodec`` in
``audio/predict.py``.

Data root rules as everywhere (``common/data.py``): an extracted ``recordings/`` folder,
the offline archive ``audio/free_spoken_digits.tar.gz`` of shared/data, or, online, the
release archive from the data set's GitHub repository (Jakobovski/free-spoken-digit-dataset).
"""

from __future__ import annotations

import re
import tarfile
import urllib.request
from pathlib import Path

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset
from tqdm import tqdm

from litlab.audio.features import AudioFeatures, Kind, Norm, SpecAugment
from litlab.audio.predict import DIGITS, AudioCodec
from litlab.common.audio_io import SAMPLE_RATE, prepare, read_audio, require_audio
from litlab.common.data import (
    SplitLoaders,
    cache_dir,
    cache_key,
    locate_dataset,
    resolve_data_root,
)
from litlab.common.errors import ConfigError, check_positive
from litlab.common.resume import ResumableDataLoader
from litlab.common.tensor_cache import cached_object

SPEAKERS = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
NAME_RE = re.compile(r"(\d)_([A-Za-z]+)_(\d+)\.wav")
VERSION = "1.0.10"
URL = f"https://github.com/Jakobovski/free-spoken-digit-dataset/archive/refs/tags/v{VERSION}.tar.gz"
LAYOUTS = ["free_spoken_digits/recordings", "recordings",
           f"free-spoken-digit-dataset-{VERSION}/recordings", "audio/recordings"]  # fmt: skip
ARCHIVES = ["audio/free_spoken_digits.tar.gz", "free_spoken_digits.tar.gz"]
SPLIT_NULL = {"held_out_speaker": "the data set's own split",
              "val_speaker": "random training clips validate"}  # fmt: skip


def _download(root: Path) -> None:
    """The release archive from GitHub, extracted under ``root`` (online only)."""
    root.mkdir(parents=True, exist_ok=True)
    archive = root / f"free-spoken-digit-dataset-{VERSION}.tar.gz"
    urllib.request.urlretrieve(URL, archive)
    with tarfile.open(archive) as tf:
        tf.extractall(root, filter="data")


def read_recordings(folder: Path, sample_rate: int, seconds: float) -> dict[str, Tensor]:
    """Every ``{digit}_{speaker}_{take}.wav`` of ``folder`` prepared -> clips (N, T) int16,
    digits (N,), speaker index (N,), takes (N,), in file-name order; speakers listed."""
    files = sorted(p for p in folder.iterdir() if NAME_RE.fullmatch(p.name))
    if not files:
        raise ConfigError(f"{folder} holds no {{digit}}_{{speaker}}_{{take}}.wav recordings")
    names = [NAME_RE.fullmatch(p.name).groups() for p in files]
    speakers = sorted({s for _, s, _ in names})
    clips = torch.empty(len(files), round(sample_rate * seconds), dtype=torch.int16)
    for i, path in enumerate(tqdm(files, desc="decoding FSDD", unit="clip", leave=False)):
        wave, rate = read_audio(path)
        clips[i] = (prepare(wave, rate, sample_rate, seconds) * 32767).round().to(torch.int16)
    return {
        "clips": clips,
        "digits": torch.tensor([int(d) for d, _, _ in names]),
        "speakers": torch.tensor([speakers.index(s) for _, s, _ in names]),
        "takes": torch.tensor([int(t) for _, _, t in names]),
        "speaker_names": speakers,
    }


def _check(obj: dict) -> None:
    if not isinstance(obj, dict) or obj["clips"].dtype != torch.int16:
        raise ValueError("not an FSDD cache")
    if not len(obj["clips"]) == len(obj["digits"]) == len(obj["speakers"]) == len(obj["takes"]):
        raise ValueError("lengths differ")


class FSDDDataModule(AudioCodec, SplitLoaders, L.LightningDataModule):
    """Spoken digits as 1-s clips, log-mel spectrograms or waveforms computed on the device.

    Args:
        root: data root (default ``$DATA_DIR``, else ``./data``).
        held_out_speaker: None: the data set's own split (takes 0-4 test); a speaker's name:
            leave-one-speaker-out (that speaker is the whole test set).
        val_speaker: None: ``val_size`` random training clips validate; a speaker's name
            (not the held-out one): that speaker's training clips validate and none of
            them trains, a new voice to choose recipes and checkpoints by.
        features: ``"logmel"`` (B, 1, n_mels, frames) or ``"waveform"`` (B, 1, T).
        batch_size: training batch size; evaluation uses ``2 * batch_size``.
        val_size: training clips held out for validation (seeded by ``seed``); unused
            with ``val_speaker``.
        sample_rate, clip_seconds: what every clip is prepared to.
        n_mels: mel bands of the spectrogram.
        augment: time shift and speed in training; SpecAugment masks for log-mel.
        shift_seconds: largest random shift either way.
        speed: largest relative speed change (0.1: 0.9x to 1.1x).
        warp: log-mel only: largest vocal-tract-length perturbation of the frequency axis
            (0.1: every frequency times 0.9 to 1.1, formants of another voice); 0 is off.
        freq_mask, time_mask: widest SpecAugment masks (mel bins, frames); 0 turns one off.
        norm: log-mel only: ``"clip"`` (standardised as a whole) or ``"band"`` (each mel
            band's mean over the sounding frames removed first: the voice's and
            microphone's average envelope; ``audio/features.py: band_centre``).
    """

    def __init__(
        self,
        root: str | None = None,
        held_out_speaker: str | None = None,
        val_speaker: str | None = None,
        features: Kind = "logmel",
        batch_size: int = 64,
        val_size: int = 300,
        sample_rate: int = SAMPLE_RATE,
        clip_seconds: float = 1.0,
        n_mels: int = 40,
        augment: bool = True,
        shift_seconds: float = 0.1,
        speed: float = 0.1,
        warp: float = 0.0,
        freq_mask: int = 8,
        time_mask: int = 20,
        norm: Norm = "clip",
        seed: int = 0,
    ) -> None:
        super().__init__()
        require_audio()
        check_positive("--data.init_args", batch_size=batch_size, val_size=val_size,
                       sample_rate=sample_rate, clip_seconds=clip_seconds)  # fmt: skip
        for option, name in (("held_out_speaker", held_out_speaker), ("val_speaker", val_speaker)):
            if name is not None and name not in SPEAKERS:
                raise ConfigError(
                    f"--data.init_args.{option} {name!r} is not an FSDD speaker: use one of "
                    f"{', '.join(SPEAKERS)} (or null: {SPLIT_NULL[option]})"
                )
        if val_speaker is not None and val_speaker == held_out_speaker:
            raise ConfigError(
                f"--data.init_args.val_speaker {val_speaker!r} is also the held-out test "
                "speaker: validate on another voice (or null for random training clips)"
            )
        if norm not in ("clip", "band"):
            raise ConfigError(f"--data.init_args.norm {norm!r}: use 'clip' or 'band'")
        if warp < 0 or warp >= 1:
            raise ConfigError(f"--data.init_args.warp {warp}: give 0 (off) up to below 1, e.g. 0.1")
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self.features = AudioFeatures(features, sample_rate, n_mels, norm=norm)
        self.spec_augment = SpecAugment(freq_mask, time_mask)
        self.data: dict | None = None
        self.restored: dict | None = None

    # --- what the model may ask (common/protocols.py); properties never read the data -------
    # (classes, sample_rate, clip_seconds, speakers: the half's, ``audio/predict.py``)

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        return {"num_classes": len(DIGITS)}

    # --- loading ----------------------------------------------------------------------------

    def locate(self) -> Path:
        return locate_dataset(self.root, "Free Spoken Digit Dataset", LAYOUTS, ARCHIVES,
                              download=_download)  # fmt: skip

    def prepare_data(self) -> None:
        self.setup()

    def setup(self, stage: str | None = None) -> None:
        if self.data is not None:
            return
        folder = self.locate()
        hp = self.hparams
        key = cache_key(folder, extra=f"{hp.sample_rate}|{hp.clip_seconds}|v1")
        path = cache_dir("fsdd") / f"fsdd-{key}.pt"
        self.data = cached_object(
            path, lambda: read_recordings(folder, hp.sample_rate, hp.clip_seconds), _check
        )
        self.train_idx, self.val_idx, self.test_idx = self._split()

    def _speaker(self, name: str) -> Tensor:
        """(N,) bool: the clips of speaker ``name``."""
        d = self.data
        if name not in d["speaker_names"]:
            raise ConfigError(f"no recordings of {name!r} in the data")
        return d["speakers"] == d["speaker_names"].index(name)

    def _split(self) -> tuple[Tensor, Tensor, Tensor]:
        d, hp = self.data, self.hparams
        if hp.held_out_speaker is None:
            test = d["takes"] < 5
        else:
            test = self._speaker(hp.held_out_speaker)
        if hp.val_speaker is not None:  # a voice never trained on validates
            val = self._speaker(hp.val_speaker) & ~test
            train = ~test & ~val
            return (torch.nonzero(train).flatten(), torch.nonzero(val).flatten(),
                    torch.nonzero(test).flatten())  # fmt: skip
        train_all = torch.nonzero(~test).flatten()
        n = len(train_all)
        if not 0 < hp.val_size < n:
            raise ConfigError(
                f"--data.init_args.val_size {hp.val_size} leaves no training clips: the training "
                f"split holds {n}; give a val_size between 1 and {n - 1}"
            )
        perm = train_all[torch.randperm(n, generator=torch.Generator().manual_seed(hp.seed))]
        return perm[hp.val_size :], perm[: hp.val_size], torch.nonzero(test).flatten()

    def arrays(self, split: str) -> tuple[Tensor, Tensor]:
        """int16 clips (N, T) and digits (N,) of ``"train"``, ``"val"`` or ``"test"``."""
        self.setup()
        idx = {"train": self.train_idx, "val": self.val_idx, "test": self.test_idx}[split]
        return self.data["clips"][idx], self.data["digits"][idx]

    def split_speakers(self, split: str) -> list[str]:
        """The speakers whose clips are in ``split`` (the leave-one-out check)."""
        self.setup()
        idx = {"train": self.train_idx, "val": self.val_idx, "test": self.test_idx}[split]
        names = self.data["speaker_names"]
        return sorted({names[i] for i in self.data["speakers"][idx].tolist()})

    def _loader(self, split: str) -> DataLoader:
        clips, digits = self.arrays(split)
        train = split == "train"
        bs = self.hparams.batch_size * (1 if train else 2)
        return ResumableDataLoader(
            TensorDataset(clips, digits), batch_size=bs, shuffle=train,
            drop_last=train and len(digits) > bs,  # equal steps keep BatchNorm sane
            pin_memory=torch.cuda.is_available(),
        )  # fmt: skip

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    # --- on the device (encode_clips, spectrogram: the half's) ------------------------------

    def on_after_batch_transfer(self, batch: tuple[Tensor, Tensor], dataloader_idx: int):
        clips, digits = batch
        train = self.trainer is not None and self.trainer.training
        return self.encode_clips(clips, train=train), digits

    # --- the picture-callback protocol (common/protocols.py: AudioData) ---------------------

    def probe_clips(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed clips (n, T) float in [-1, 1] cycling through the digits, and labels."""
        clips, digits = self.arrays(split)
        per_class = [torch.nonzero(digits == c).flatten().tolist() for c in range(10)]
        picked = [idxs[r] for r in range(n) for idxs in per_class if r < len(idxs)][:n]
        idx = torch.tensor(picked, dtype=torch.long)
        return clips[idx].float() / 32768, digits[idx]

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """The same clips as the network's inputs, and labels."""
        clips, digits = self.probe_clips(n, split)
        return self.encode_clips(clips), digits
