"""Tiny data sets written in the canonical on-disk formats, so the real loaders are tested.

Nothing here downloads: ``LITLAB_OFFLINE`` is set for the whole session, and every data set
is made by the test itself (a few images per class, random pixels with a class-dependent
brightness so that a model can actually learn something from them).
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import tarfile
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from torchvision.io import encode_jpeg, encode_png

os.environ["LITLAB_OFFLINE"] = "1"
REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("DATA_DIR", REPO.parent / "shared" / "data"))
# CI sets LITLAB_REQUIRE_DATA=1: a real-data test whose file is missing fails instead of skipping
REQUIRE_DATA = os.environ.get("LITLAB_REQUIRE_DATA") == "1"

CIFAR10_CLASSES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def real_data(relative: str) -> Path:
    """``SHARED_DATA / relative`` for a real-data test: a skip naming the file where it is
    missing, or a failure under ``LITLAB_REQUIRE_DATA=1``."""
    path = SHARED_DATA / relative
    if not path.exists():
        missing = f"offline data missing: {path} (set DATA_DIR to the shared/data folder)"
        if REQUIRE_DATA:
            pytest.fail(f"LITLAB_REQUIRE_DATA=1 but {missing}", pytrace=False)
        pytest.skip(missing)
    return path


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """Under ``LITLAB_REQUIRE_DATA=1``, a skip that says data is missing, written without
    :func:`real_data` (a ``skipif`` on a path), fails too."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_DATA and report.skipped and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2]).removeprefix("Skipped: ")
        if any(w in reason for w in ("not present", "shared data", "shared/data")):
            report.outcome = "failed"
            report.longrepr = f"LITLAB_REQUIRE_DATA=1 but skipped: {reason} (in {SHARED_DATA})"


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Decoded-tensor caches go to a temporary folder, never to the user's ~/.cache."""
    os.environ["LITLAB_CACHE"] = str(tmp_path_factory.mktemp("cache"))


def class_images(n_per_class: int, num_classes: int, channels: int, size: int, seed: int = 0):
    """uint8 (N, C, H, W) images whose mean brightness encodes the class, and labels."""
    g = np.random.default_rng(seed)
    labels = np.repeat(np.arange(num_classes), n_per_class)
    base = (labels * (200 // max(num_classes - 1, 1)) + 20)[:, None, None, None]
    noise = g.integers(-20, 20, (len(labels), channels, size, size))
    return np.clip(base + noise, 0, 255).astype(np.uint8), labels


def write_cifar10_pickles(root: Path, n_train: int = 30, n_test: int = 5) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    x, y = class_images(n_train, 10, 3, 32)
    order = np.random.default_rng(1).permutation(len(y))
    for i, part in enumerate(np.array_split(order, 5), start=1):
        batch = {"data": x[part].reshape(len(part), -1), "labels": y[part].tolist()}
        (folder / f"data_batch_{i}").write_bytes(pickle.dumps(batch))
    xt, yt = class_images(n_test, 10, 3, 32, seed=2)
    (folder / "test_batch").write_bytes(
        pickle.dumps({"data": xt.reshape(len(yt), -1), "labels": yt.tolist()})
    )
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": CIFAR10_CLASSES}))
    return folder


def write_cifar100_pickles(root: Path, n_train: int = 4, n_test: int = 1) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        x, y = class_images(n, 100, 3, 32, seed)
        rec = {
            "data": x.reshape(len(y), -1),
            "fine_labels": y.tolist(),
            "coarse_labels": (y // 5).tolist(),
        }
        (folder / name).write_bytes(pickle.dumps(rec))
    (folder / "meta").write_bytes(
        pickle.dumps({"fine_label_names": [f"c{i:02d}" for i in range(100)]})
    )
    return folder


def _idx_bytes(array: np.ndarray) -> bytes:
    magic = struct.pack(">BBBB", 0, 0, 0x08, array.ndim)  # 0x08: unsigned byte
    return magic + struct.pack(f">{array.ndim}I", *array.shape) + array.tobytes()


def write_mnist_idx(root: Path, n_train: int = 30, n_test: int = 5, gz: bool = True) -> Path:
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for prefix, n, seed in (("train", n_train, 0), ("t10k", n_test, 1)):
        x, y = class_images(n, 10, 1, 28, seed)
        for kind, arr in (("images-idx3", x[:, 0]), ("labels-idx1", y.astype(np.uint8))):
            data = _idx_bytes(arr)
            name = f"{prefix}-{kind}-ubyte"
            if gz:
                (raw / f"{name}.gz").write_bytes(gzip.compress(data))
            else:
                (raw / name).write_bytes(data)
    return raw


def write_image_folder(
    root: Path, classes=("cat", "dog", "frog"), n_train: int = 12, n_test: int = 4
) -> Path:
    """``root/images/{train,test}/<class>/<i>.jpg|png`` (mixed formats on purpose)."""
    folder = root / "images"
    for split, n, seed in (("train", n_train, 0), ("test", n_test, 1)):
        x, y = class_images(n, len(classes), 3, 32, seed)
        for i, (img, label) in enumerate(zip(x, y)):
            d = folder / split / classes[label]
            d.mkdir(parents=True, exist_ok=True)
            t = torch.from_numpy(img)
            if i % 2:
                (d / f"{i:04d}.png").write_bytes(encode_png(t).numpy().tobytes())
            else:
                (d / f"{i:04d}.jpg").write_bytes(encode_jpeg(t, quality=95).numpy().tobytes())
    return folder


def tar_folder(folder: Path, archive: Path, arcname: str | None = None) -> Path:
    with tarfile.open(archive, "w:gz") as tf:
        for split in ("train", "test"):
            tf.add(folder / split, arcname=f"{arcname}/{split}" if arcname else split)
    return archive


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One data root holding tiny CIFAR-10, CIFAR-100, MNIST and every text / time-series set
    (tests/text_data.py), the summarization corpora (tests/summary_data.py) and spoken digits
    (tests/audio_data.py), in the canonical formats of shared/data."""
    from audio_data import write_fsdd
    from summary_data import write_summaries
    from text_data import write_all_text

    root = tmp_path_factory.mktemp("data")
    write_cifar10_pickles(root)
    write_cifar100_pickles(root)
    write_mnist_idx(root)
    write_all_text(root)
    write_summaries(root)
    write_fsdd(root)
    return root


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Run in a fresh working directory, so ``logs/`` lands in the test's own folder."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


class CrashAfterFirstEpoch(L.Callback):
    """Simulates a crash at the start of the second epoch, after the first one's checkpoint."""

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.current_epoch == 1:
            raise RuntimeError("simulated crash")


@pytest.fixture(scope="session")
def serve_registry(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A registry with one tiny model of each kind serve/ answers (tests/serve_models.py)."""
    from serve_models import build_registry

    return build_registry(tiny_root, tmp_path_factory.mktemp("serve"))


@pytest.fixture(scope="module")
def one_thread():
    """One intra-op thread for a module of small models: small matrices and recurrent steps
    are faster on one core, and much faster when the CPU is shared (two spinning OpenMP
    threads on two busy cores crawl)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
