"""Spoken digits the scikit-learn way: MFCC statistics + a linear model or an SVM, beside the
deep runs, on the data set's own split and on each leave-one-speaker-out split.

    litlab baseline --dataset fsdd                      # own split + the 6 LOSO splits
    litlab baseline --dataset fsdd --audio-splits own theo

The features are the speech-recognition classic before deep learning: 20 MFCCs per 10 ms
frame (torchaudio's ``MFCC``, the same 25 ms windows and 40 mel bands as the CNN's
spectrogram) and their deltas, summarised over the frames that hold sound (the centred
padding of ``prepare`` left out) by mean, standard deviation, minimum and maximum: 160
numbers per clip, whatever its length. Every model sees the clips of the DataModule's own
splits (training minus validation, same seed), so the rows compare with the CNN and the M5.

``results/audio_fsdd.md`` (``--out``) gets the table of every split: each baseline's test
accuracy, and each deep experiment's (``audio/fsdd_cnn``, ``audio/fsdd_m5``, and their
``..._loso_<speaker>`` runs) read from the TensorBoard logs with its training time, and the
mean over the six speakers.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from litlab.audio.data import SPEAKERS, FSDDDataModule

AUDIO_MODELS = ["mfcc_logreg", "mfcc_svm"]
DEEP = ["audio/fsdd_cnn", "audio/fsdd_m5"]  # LOSO runs: <experiment>_loso_<speaker>


def mfcc_statistics(clips: torch.Tensor, sample_rate: int = 8000) -> np.ndarray:
    """int16 or float clips (N, T) -> (N, 160): MFCCs and deltas summarised over sounding
    frames (mean, std, min, max)."""
    import torchaudio.functional as AF
    import torchaudio.transforms as T

    x = clips.float() / 32768 if clips.dtype == torch.int16 else clips.float()
    melkwargs = {"n_fft": 256, "win_length": 200, "hop_length": 80, "n_mels": 40, "f_min": 20.0}
    mfcc = T.MFCC(sample_rate, n_mfcc=20, melkwargs=melkwargs)(x)  # (N, 20, frames)
    feats = torch.cat([mfcc, AF.compute_deltas(mfcc)], dim=1)  # (N, 40, frames)
    power = T.MelSpectrogram(sample_rate, **melkwargs)(x).sum(dim=1)  # (N, frames)
    sounding = power > 1e-6 * power.amax(dim=1, keepdim=True).clamp_min(1e-12)  # (N, frames)
    mask = sounding[:, None, :]
    count = mask.sum(-1).clamp_min(1)
    mean = (feats * mask).sum(-1) / count
    std = (((feats - mean[..., None]) ** 2 * mask).sum(-1) / count).sqrt()
    big = torch.finfo(feats.dtype).max
    low = feats.masked_fill(~mask, big).amin(-1)
    high = feats.masked_fill(~mask, -big).amax(-1)
    return torch.cat([mean, std, low, high], dim=1).numpy()


def _model(name: str, seed: int):
    if name == "mfcc_logreg":
        return make_pipeline(StandardScaler(), LogisticRegression(C=1.0, max_iter=2000))
    return make_pipeline(StandardScaler(), SVC(C=10.0, gamma="scale", random_state=seed))


def run_audio_baselines(
    root: str | None,
    splits: list[str],
    models: list[str] = AUDIO_MODELS,
    val_size: int = 300,
    seed: int = 0,
) -> list[dict]:
    """One row per split and model: ``dataset`` is ``fsdd`` (own split) or
    ``fsdd-loso-<speaker>``, with test accuracy and fit seconds. ``val_size``: as in the
    experiments (those clips are left out of training here too)."""
    rows = []
    for split in splits:
        held_out = None if split == "own" else split
        dm = FSDDDataModule(root=root, held_out_speaker=held_out, val_size=val_size)
        dm.setup()
        x_train, y_train = dm.arrays("train")
        x_test, y_test = dm.arrays("test")
        f_train, f_test = mfcc_statistics(x_train), mfcc_statistics(x_test)
        dataset = "fsdd" if held_out is None else f"fsdd-loso-{held_out}"
        for name in models:
            model = _model(name, seed)
            t = time.perf_counter()
            model.fit(f_train, y_train.numpy())
            seconds = time.perf_counter() - t
            acc = float((model.predict(f_test) == y_test.numpy()).mean())
            rows.append({"dataset": dataset, "model": name, "test_acc": acc,
                         "train_seconds": round(seconds, 1), "train_size": len(y_train),
                         "test_size": len(y_test)})  # fmt: skip
            print(f"{dataset:22s} {name:12s} test acc {acc:.4f}  ({seconds:.1f} s)", flush=True)
    return rows


def deep_run(log_root: Path, experiment: str) -> dict | None:
    """The newest finished run of ``experiment`` (one with a real ``test/acc``): accuracy and
    training minutes (first to last event of its fit, the test included)."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for run in sorted((log_root / experiment).glob("version_*"), reverse=True):
        acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
        acc.Reload()
        scalars = acc.Tags()["scalars"]
        # step 0: the hparams tab's placeholder, logged when the fit starts (still running)
        tested = [e for e in acc.Scalars("test/acc") if e.step > 0] if "test/acc" in scalars else []
        if not tested:
            continue
        times = [e.wall_time for tag in scalars for e in acc.Scalars(tag)]
        return {"test_acc": tested[-1].value,
                "minutes": (max(times) - min(times)) / 60, "run": str(run)}  # fmt: skip
    return None


def audio_table(rows: list[dict], log_root: Path) -> str:
    """Markdown: one row per split, one column per model; the LOSO mean at the bottom."""
    splits = ["own", *SPEAKERS]
    rows = [r for r in rows if r["dataset"].startswith("fsdd") and r["model"] in AUDIO_MODELS]
    base = {(r["dataset"], r["model"]): r for r in rows}
    names = sorted({r["model"] for r in rows}, key=AUDIO_MODELS.index)
    head = ["split", *names, *(d.split("/")[1] for d in DEEP)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    loso: dict[str, list[float]] = {h: [] for h in head[1:]}
    for split in splits:
        dataset = "fsdd" if split == "own" else f"fsdd-loso-{split}"
        cells = []
        for name in names:
            r = base.get((dataset, name))
            cells.append(f"{100 * r['test_acc']:.2f} %" if r else "-")
            if r and split != "own":
                loso[name].append(r["test_acc"])
        for exp in DEEP:
            run = deep_run(log_root, exp if split == "own" else f"{exp}_loso_{split}")
            cells.append(f"{100 * run['test_acc']:.2f} % ({run['minutes']:.1f} min)" if run
                         else "-")  # fmt: skip
            if run and split != "own":
                loso[exp.split("/")[1]].append(run["test_acc"])
        label = "own split (takes 0-4)" if split == "own" else f"LOSO: {split}"
        lines.append("| " + " | ".join([label, *cells]) + " |")
    means = [f"{100 * np.mean(v):.2f} % ({len(v)} of 6)" if v else "-" for v in loso.values()]
    lines.append("| " + " | ".join(["LOSO mean", *means]) + " |")
    return "\n".join(lines) + "\n"


def write_report(rows: list[dict], log_root: Path, out: Path) -> str:
    table = audio_table(rows, log_root)
    out.mkdir(parents=True, exist_ok=True)
    text = ("# Spoken digits (FSDD): test accuracy per split\n\n"
            "Deep runs: test accuracy of the best checkpoint (training minutes, fit + test). "
            "LOSO: leave-one-speaker-out, all 500 clips of that speaker are the test set.\n\n"
            + table)  # fmt: skip
    (out / "audio_fsdd.md").write_text(text)
    return table
