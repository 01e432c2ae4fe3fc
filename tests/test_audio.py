"""The audio domain: the one preprocessing, the features, the FSDD loader and its splits,
Grad-CAM over spectrograms and waveforms, and bad recordings. Training, export, explain and
the baseline on the tiny spoken digits: tests/test_audio_run.py."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_data import SPEAKERS, digit_tone, wav
from torch import nn

from litlab.audio.data import FSDDDataModule
from litlab.audio.features import (
    AudioFeatures,
    SpecAugment,
    band_centre,
    random_shift,
    random_speed,
    standardize,
    warp_frequencies,
)
from litlab.audio.models import M5, SpecCNN
from litlab.common import audio_io
from litlab.common.attribution import grad_cam
from litlab.common.audio_explain import cam_on_spectrogram
from litlab.common.audio_io import AudioError, prepare, read_audio
from litlab.common.data import MissingDataError
from litlab.common.errors import ConfigError


def chirp(rate: int, seconds: float = 0.6) -> torch.Tensor:
    """The same continuous sound sampled at any rate: two tones under 4 kHz in a smooth
    envelope, so 8 kHz loses nothing of it."""
    t = torch.arange(round(seconds * rate), dtype=torch.float64) / rate
    envelope = torch.sin(math.pi * t / seconds) ** 2
    sound = 0.4 * torch.sin(2 * math.pi * 440 * t) + 0.2 * torch.sin(2 * math.pi * 1800 * t)
    return (sound * envelope).float()


# --- the one preprocessing ------------------------------------------------------------------


def test_prepare_mixes_down_resamples_and_centres_a_short_recording():
    left = chirp(44100, 0.5)
    stereo = torch.stack([left, torch.zeros_like(left)])  # one channel silent
    clip = prepare(stereo, 44100)
    assert clip.shape == (8000,)
    sound = torch.nonzero(clip.abs() > 1e-3).flatten()
    middle = (sound[0] + sound[-1]) / 2
    assert abs(int(middle) - 4000) < 200  # centred in the second
    assert float(clip.abs().max()) == pytest.approx(float(left.abs().max()) / 2, rel=0.05)


def test_a_long_recording_keeps_the_second_where_the_sound_is():
    wave = torch.zeros(8000 * 6)
    word = chirp(8000, 0.4)
    wave[8000 * 4 : 8000 * 4 + len(word)] = word  # a digit 4 s into 6 s of silence
    clip = prepare(wave, 8000)
    assert clip.shape == (8000,)
    assert float(clip.square().sum()) == pytest.approx(float(word.square().sum()), rel=1e-4)


def test_the_same_sound_at_8_and_44_1_khz_gives_the_same_features():
    features = AudioFeatures("logmel")
    low = features.spectrogram_db(prepare(chirp(8000), 8000)[None])
    high = features.spectrogram_db(prepare(chirp(44100), 44100)[None])
    loud = low > low.amax() - 40  # where the sound is (the floor differs by rounding)
    assert (low - high).abs()[loud].mean() < 0.5  # dB
    x_low, x_high = features(prepare(chirp(8000), 8000)[None]), features(
        prepare(chirp(44100), 44100)[None]
    )
    assert torch.corrcoef(torch.stack([x_low.flatten(), x_high.flatten()]))[0, 1] > 0.99


# --- features -------------------------------------------------------------------------------


def test_logmel_shapes_and_decibel_range():
    clips = torch.stack([prepare(chirp(8000), 8000), torch.zeros(8000)])
    features = AudioFeatures("logmel", n_mels=40)
    db = features.spectrogram_db(clips)
    assert db.shape == (2, 40, 101)  # 40 mel bands, 10 ms hop over 1 s (centred frames)
    top = db[0].amax()
    assert db[0].amin() >= top - 80 - 1e-4 and top > 0  # floored 80 dB under the peak
    x = features(clips)
    assert x.shape == (2, 1, 40, 101)
    assert x[0].mean().abs() < 1e-4 and float(x[0].std()) == pytest.approx(1, abs=1e-3)
    assert torch.isfinite(x).all()  # silence stays finite
    assert AudioFeatures("waveform")(clips).shape == (2, 1, 8000)


def test_augmentations_keep_shapes_and_change_the_clip():
    clips = torch.stack([prepare(chirp(8000), 8000)] * 4)
    torch.manual_seed(0)
    shifted = random_shift(clips, 800)
    assert shifted.shape == clips.shape and not torch.equal(shifted, clips)
    assert torch.allclose(random_speed(clips, 0.0), clips)
    faster = random_speed(clips, 0.2)
    assert faster.shape == clips.shape and not torch.allclose(faster, clips)
    x = AudioFeatures()(clips)
    masked = SpecAugment(freq=8, time=20)(x.clone())
    assert (masked == 0).sum() > (x == 0).sum()


def _peak_band(db: torch.Tensor) -> torch.Tensor:
    """(B, F, N) -> (B,) the frequency band with the most energy over time."""
    return db.mean(dim=-1).argmax(dim=-1)


def test_vocal_tract_warp_keeps_shapes_and_moves_energy_along_the_frequency_axis():
    t = torch.arange(8000) / 8000
    tone = (0.3 * torch.sin(2 * math.pi * 1000 * t) * torch.sin(math.pi * t) ** 2)[None]
    features = AudioFeatures("logmel")
    spec = features.mel.spectrogram(tone)  # (1, 129, 101): 31.25 Hz bins, 1 kHz is bin 32
    assert torch.allclose(warp_frequencies(spec, torch.tensor([1.0])), spec, atol=1e-6)
    warped = warp_frequencies(spec.repeat(3, 1, 1), torch.tensor([0.9, 1.0, 1.1]))
    assert warped.shape == (3, 129, 101)
    assert _peak_band(warped).tolist() == [29, 32, 35]  # 900 Hz, 1 kHz, 1.1 kHz
    assert (warped >= 0).all()  # interpolated power stays power
    # through the mel filter bank the same way: a shorter vocal tract sounds higher
    db = features.spectrogram_db(tone.repeat(3, 1), torch.tensor([0.85, 1.0, 1.15]))
    low, same, high = _peak_band(db).tolist()
    assert low < same < high and same == _peak_band(features.spectrogram_db(tone)).item()
    assert features(tone.repeat(3, 1), torch.tensor([0.85, 1.0, 1.15])).shape == (3, 1, 40, 101)


def test_band_norm_removes_a_constant_colouring_of_the_spectrum():
    g = torch.Generator().manual_seed(0)
    db = -30 * torch.rand(2, 40, 101, generator=g)  # sounding frames within 30 dB of the peak
    db[..., :30] = db[..., -30:] = -80.0  # the centred silence around the word
    colour = torch.linspace(-6, 6, 40)[None, :, None]  # another voice / microphone: dB per band
    assert torch.allclose(band_centre(db + colour), band_centre(db), atol=1e-4)
    assert not torch.allclose(standardize(db + colour, (-2, -1)), standardize(db, (-2, -1)),
                              atol=1e-2)  # fmt: skip
    # the band means come from the sounding frames only: a longer silence changes nothing
    sounding = band_centre(db)[..., 30:-30]
    assert sounding.mean(dim=-1).abs().max() < 1e-4
    clips = torch.stack([prepare(chirp(8000), 8000)] * 2)
    x = AudioFeatures("logmel", norm="band")(clips)
    assert x.shape == (2, 1, 40, 101) and torch.isfinite(x).all()
    assert x[0].mean().abs() < 1e-4 and float(x[0].std()) == pytest.approx(1, abs=1e-3)


# --- the FSDD DataModule --------------------------------------------------------------------


def test_own_split_puts_takes_0_to_4_in_test_and_every_speaker_everywhere(tiny_root: Path):
    dm = FSDDDataModule(root=str(tiny_root), val_size=10)
    dm.setup()
    test_clips, test_digits = dm.arrays("test")
    assert len(test_digits) == 10 * len(SPEAKERS) * 5  # takes 0-4
    assert len(dm.arrays("train")[1]) + len(dm.arrays("val")[1]) == 10 * len(SPEAKERS) * 3
    assert test_clips.dtype == torch.int16 and test_clips.shape[1] == 8000
    assert dm.split_speakers("test") == dm.split_speakers("train") == sorted(SPEAKERS)
    x = dm.encode_clips(test_clips[:4])
    assert x.shape == (4, 1, 40, 101)
    clips, labels = dm.probe_clips(10, split="test")
    assert labels.tolist() == list(range(10)) and clips.abs().max() <= 1


def test_leave_one_speaker_out_keeps_the_voice_out_of_training(tiny_root: Path):
    dm = FSDDDataModule(root=str(tiny_root), held_out_speaker="theo", val_size=10,
                        features="waveform")  # fmt: skip
    dm.setup()
    assert dm.split_speakers("test") == ["theo"]
    assert "theo" not in dm.split_speakers("train") + dm.split_speakers("val")
    assert len(dm.arrays("test")[1]) == 10 * 8  # all of theo's clips
    assert dm.encode_clips(dm.arrays("test")[0][:3]).shape == (3, 1, 8000)


def test_a_validation_speaker_is_never_trained_on(tiny_root: Path):
    dm = FSDDDataModule(root=str(tiny_root), held_out_speaker="theo", val_speaker="jackson")
    dm.setup()
    assert dm.split_speakers("train") == ["george"]
    assert dm.split_speakers("val") == ["jackson"] and dm.split_speakers("test") == ["theo"]
    assert len(dm.arrays("val")[1]) == 10 * 8  # every clip of jackson's
    # with the own split: jackson's takes 0-4 stay in test, the rest validate, none trains
    own = FSDDDataModule(root=str(tiny_root), val_speaker="jackson")
    own.setup()
    assert "jackson" not in own.split_speakers("train")
    assert own.split_speakers("val") == ["jackson"] and len(own.arrays("val")[1]) == 10 * 3
    assert own.split_speakers("test") == sorted(SPEAKERS)
    trained = set(own.train_idx.tolist())
    assert not trained & (set(own.val_idx.tolist()) | set(own.test_idx.tolist()))
    assert own.state_dict()["val_speaker"] == "jackson"


def test_an_unknown_speaker_is_named_with_the_choices(tiny_root: Path):
    with pytest.raises(ConfigError, match="'bob' is not an FSDD speaker: use one of george"):
        FSDDDataModule(root=str(tiny_root), held_out_speaker="bob")
    with pytest.raises(ConfigError, match="val_speaker 'bob' is not an FSDD speaker"):
        FSDDDataModule(root=str(tiny_root), val_speaker="bob")
    with pytest.raises(ConfigError, match="'theo' is also the held-out test speaker"):
        FSDDDataModule(root=str(tiny_root), held_out_speaker="theo", val_speaker="theo")
    with pytest.raises(ConfigError, match="norm 'cmvn': use 'clip' or 'band'"):
        FSDDDataModule(root=str(tiny_root), norm="cmvn")
    with pytest.raises(ConfigError, match="warp 1.5"):
        FSDDDataModule(root=str(tiny_root), warp=1.5)


def test_missing_data_names_the_archive(tmp_path: Path):
    dm = FSDDDataModule(root=str(tmp_path))
    with pytest.raises(MissingDataError, match="free_spoken_digits.tar.gz"):
        dm.setup()


def test_the_training_batch_is_augmented_and_the_validation_batch_is_not(tiny_root: Path):
    dm = FSDDDataModule(root=str(tiny_root), val_size=10)
    dm.setup()
    clips = dm.arrays("val")[0][:4]
    torch.manual_seed(0)
    assert torch.equal(dm.encode_clips(clips), dm.encode_clips(clips))
    assert not torch.equal(dm.encode_clips(clips, train=True), dm.encode_clips(clips))
    # the vocal-tract warp alone (no shift, speed or masks) changes a training batch only
    warped = FSDDDataModule(root=str(tiny_root), val_size=10, shift_seconds=0, speed=0,
                            freq_mask=0, time_mask=0, warp=0.2, norm="band")  # fmt: skip
    warped.setup()
    plain = warped.encode_clips(clips)
    assert torch.equal(plain, warped.encode_clips(clips))
    assert not torch.allclose(warped.encode_clips(clips, train=True), plain, atol=1e-3)


def test_without_the_audio_extra_one_line_names_it(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(audio_io, "torchaudio", None)
    with pytest.raises(ConfigError, match=r"\[audio\] extra: pip install 'litlab\[audio\]'"):
        FSDDDataModule()


# --- Grad-CAM finds the evidence --------------------------------------------------------------


def _train(net: nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int = 150) -> nn.Module:
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    for _ in range(steps):
        loss = nn.functional.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net.eval()


def test_gradcam_on_a_toy_spectrogram_model_peaks_where_the_class_is_decided(one_thread):
    """Class 1 spectrograms hold a bright patch at mel bins 24-31, frames 60-75; class 0 the
    same patch at bins 4-11, frames 15-30. Grad-CAM for each peaks inside its patch."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(96, 1, 40, 101, generator=g) * 0.5
    y = torch.arange(96) % 2
    x[y == 1, :, 24:32, 60:76] += 3.0
    x[y == 0, :, 4:12, 15:31] += 3.0
    torch.manual_seed(0)
    net = _train(SpecCNN(num_classes=2, widths=(8, 16, 16, 16), dropout=0.0), x, y)
    cam = grad_cam(net, net.gradcam_layer(), x[:6], y[:6])  # (6, 40, 101)
    assert cam.shape == (6, 40, 101)
    for i, label in enumerate(y[:6].tolist()):
        f, t = divmod(int(cam[i].argmax()), 101)
        bins, frames = ((24, 32), (60, 76)) if label else ((4, 12), (15, 31))
        # one cell of the 10 x 25 map is 4 bins x 4 frames: within a cell of the patch
        assert bins[0] - 4 <= f < bins[1] + 4 and frames[0] - 6 <= t < frames[1] + 6, (f, t)


def test_gradcam_on_a_toy_waveform_model_peaks_when_the_class_is_heard(one_thread):
    """A burst of 1 kHz early in the clip is class 0, late is class 1: the 1-D map of M5
    peaks at the burst, and spread over the spectrogram it marks that time for every band."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(32, 1, 8000, generator=g) * 0.05
    y = torch.arange(32) % 2
    t = torch.arange(1200) / 8000
    burst = torch.sin(2 * math.pi * 1000 * t)
    x[y == 0, 0, 1000:2200] += burst
    x[y == 1, 0, 5600:6800] += burst
    torch.manual_seed(0)
    net = _train(M5(num_classes=2, channels=(8, 8, 16, 16), first_stride=8, dropout=0.0), x, y,
                 steps=100)  # fmt: skip
    cam = grad_cam(net, net.gradcam_layer(), x[:2], y[:2])  # (2, 8000)
    assert cam.shape == (2, 8000)
    assert 700 <= int(cam[0].argmax()) < 2500 and 5300 <= int(cam[1].argmax()) < 7100
    on_spec = cam_on_spectrogram(cam, (40, 101))
    assert on_spec.shape == (2, 40, 101) and torch.equal(on_spec[:, 0], on_spec[:, 39])


# --- bad recordings -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"", "empty"),
        (b"this is not a sound file at all", "unreadable"),
        (wav(np.zeros(0, dtype=np.float32)), "no_samples"),  # a header and no frames
        (wav(np.zeros(8000 * 600, dtype=np.float32)), "too_long"),  # ten minutes
    ],
    ids=["empty", "not-audio", "zero-length", "ten-minutes"],
)
def test_a_bad_recording_says_what_is_wrong(blob: bytes, reason: str):
    with pytest.raises(AudioError) as err:
        read_audio(blob)
    assert err.value.reason == reason and len(str(err.value).splitlines()) == 1


def test_a_96_khz_24_bit_stereo_file_is_read_and_prepared_like_any_other():
    tone = digit_tone(3, 0.5, rate=96000)
    blob = wav(np.stack([tone, tone], axis=1), rate=96000, subtype="PCM_24")
    wave, rate = read_audio(blob)
    assert rate == 96000 and wave.shape == (2, 48000)
    clip = prepare(wave, rate)
    reference = prepare(torch.from_numpy(digit_tone(3, 0.5)), 8000)
    assert clip.shape == (8000,) and torch.allclose(clip, reference, atol=0.05)


def test_silence_is_refused_and_clipping_is_reported():
    with pytest.raises(AudioError, match="silent") as err:
        audio_io.check_not_silent(torch.zeros(1, 8000))
    assert err.value.reason == "silent"
    loud = (torch.from_numpy(digit_tone(5, 0.5)) * 10).clamp(-1, 1)
    assert audio_io.clipping_warning(loud) is not None and "clipped" in audio_io.clipping_warning(
        loud
    )
    assert audio_io.clipping_warning(torch.from_numpy(digit_tone(5, 0.5))) is None
