"""The audio domain end to end on the tiny spoken digits (tests/audio_data.py): a real fit
with the audio callbacks, export -> load with identical logits, ``litlab explain`` on WAV
files, and the MFCC baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from audio_data import digit_tone, wav
from conftest import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from litlab.common.audio_io import prepare, read_audio
from litlab.common.checkpoints import load_trained
from litlab.common.cli import run as litlab
from litlab.common.explain import run_explain
from litlab.common.registry import load
from litlab.common.registry_export import export
from litlab.experiments.audio_baselines import audio_table, mfcc_statistics, run_audio_baselines


@pytest.fixture(scope="module")
def cnn_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Six epochs of fsdd_cnn (its callbacks drawing every epoch) on the tiny digits."""
    work = tmp_path_factory.mktemp("fsdd_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab([
            "fit", "--config", str(REPO / "experiments" / "audio" / "fsdd_cnn.yaml"),
            f"--data.root={tiny_root}", "--data.init_args.val_size=20",
            "--data.init_args.batch_size=10", "--trainer.max_epochs=6",
            "--model.init_args.lr=0.01",
            "--trainer.enable_progress_bar=false",
            "--trainer.callbacks=" + json.dumps([  # the YAML's, drawing every 2nd epoch
                {"class_path": "litlab.common.callbacks.ConfusionMatrixCallback"},
                {"class_path": "litlab.common.callbacks.AudioSamplesCallback",
                 "init_args": {"num_clips": 10, "every_n_epochs": 2}},
            ]),
        ])  # fmt: skip
    return work / "logs" / "audio" / "fsdd_cnn" / "version_0"


def test_tensorboard_gets_confusion_matrix_spectrograms_gradcam_and_the_clips(cnn_run: Path):
    events = EventAccumulator(str(cnn_run), size_guidance={"images": 0, "audio": 0, "scalars": 0})
    events.Reload()
    tags = events.Tags()
    assert {"val/confusion_matrix", "test/confusion_matrix", "val/spectrograms",
            "val/gradcam_spectrogram"} <= set(tags["images"])  # fmt: skip
    assert len(events.Images("val/gradcam_spectrogram")) == 3  # every second epoch
    clips = [t for t in tags["audio"] if t.startswith("val/clip/")]
    assert len(clips) == 10 and events.Audio(clips[0])[0].sample_rate == 8000
    assert {"val/acc", "val/acc_class/7", "test/acc"} <= set(tags["scalars"])


def test_the_tiny_digits_are_learned(cnn_run: Path):
    events = EventAccumulator(str(cnn_run), size_guidance={"scalars": 0})
    events.Reload()
    assert events.Scalars("test/acc")[-1].value > 0.3  # chance: 0.1 (tones, 6 epochs of 7 steps)


def test_export_then_load_gives_identical_logits(cnn_run: Path, tmp_path: Path):
    ckpt = cnn_run / "checkpoints" / "best.ckpt"
    folder = export(ckpt, "fsdd-cnn", tmp_path / "models")
    loaded = load("fsdd-cnn", tmp_path / "models")
    assert str(loaded.kind) == "audio classifier" and loaded.data.classes == list("0123456789")
    model, data = load_trained(ckpt)
    clips = torch.stack([prepare(torch.from_numpy(digit_tone(d, 0.4)), 8000) for d in range(4)])
    with torch.no_grad():
        expected = model(data.encode_clips(clips))
        got = loaded.model(loaded.data.encode_clips(clips))
    assert torch.equal(got, expected)
    config = json.loads((folder / "config.json").read_text())
    assert config["registry"]["kind"] == "audio classifier"


def test_explain_on_wav_files_writes_the_spectrogram_with_gradcam(
    cnn_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    good = tmp_path / "seven.wav"
    good.write_bytes(wav(digit_tone(7, 0.5, rate=44100), rate=44100))  # any rate works
    stereo = tmp_path / "two_stereo.wav"
    tone = digit_tone(2, 0.4)
    stereo.write_bytes(wav(np.stack([tone, tone], axis=1)))
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF not really a wav")
    status = run_explain(str(cnn_run / "checkpoints" / "best.ckpt"),
                         [str(good), str(stereo), str(bad)], str(tmp_path / "out"))  # fmt: skip
    assert status == 2  # one input could not be read; the others are explained
    assert "skipped" in capsys.readouterr().err
    assert (tmp_path / "out" / "seven.gradcam.png").stat().st_size > 10_000
    predictions = json.loads((tmp_path / "out" / "predictions.json").read_text())
    assert set(predictions) == {"seven", "two_stereo"}
    assert len(predictions["seven"]["top"]) == 3
    # the same answer as the prepared clip through the checkpoint's own DataModule
    model, data = load_trained(cnn_run / "checkpoints" / "best.ckpt")
    wave, rate = read_audio(good)
    with torch.no_grad():
        probs = model(data.encode_clips(prepare(wave, rate)[None])).softmax(-1)[0]
    assert predictions["seven"]["top"][0][0] == data.classes[int(probs.argmax())]
    assert predictions["seven"]["top"][0][1] == pytest.approx(float(probs.max()), abs=1e-5)


def test_mfcc_baseline_learns_the_tones_on_each_split(tiny_root: Path, tmp_path: Path):
    clips = torch.stack([prepare(torch.from_numpy(digit_tone(d, 0.3)), 8000) for d in range(2)])
    feats = mfcc_statistics(clips)
    assert feats.shape == (2, 160) and np.isfinite(feats).all()
    rows = run_audio_baselines(str(tiny_root), ["own", "theo"], ["mfcc_logreg"], val_size=20)
    assert [r["dataset"] for r in rows] == ["fsdd", "fsdd-loso-theo"]
    assert all(r["test_acc"] > 0.5 for r in rows)
    other = {"dataset": "mnist", "model": "logreg", "test_acc": 0.9}  # baselines.json's others
    table = audio_table([*rows, other], tmp_path / "no-logs")
    assert "| LOSO: theo |" in table and "(1 of 6)" in table  # the mean says what it averages
