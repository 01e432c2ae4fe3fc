"""Broken data is named, never used: truncated archives and .gz files, half-extracted and
corrupt caches, and DataModule settings that cannot work."""

from __future__ import annotations

import gzip
import logging
import shutil
import tarfile
import zipfile
from pathlib import Path

import pytest
import torch
from conftest import real_data, write_cifar10_pickles, write_mnist_idx
from test_cli_errors import _fit, _short_error

from litlab.common.data import CorruptDataError, MissingDataError, extract_archive
from litlab.common.errors import ConfigError
from litlab.common.tensor_cache import load_cached, save_cached

REDO = "re-copy or delete it"


def _truncate(path: Path, keep: float = 0.5) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def test_a_truncated_real_mnist_gz_is_named_by_litlab_fit(tmp_path, capsys, monkeypatch):
    raw = tmp_path / "root" / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                 "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):  # fmt: skip
        shutil.copy(real_data(f"mnist/MNIST/raw/{name}.gz"), raw)
    bad = _truncate(raw / "t10k-images-idx3-ubyte.gz")
    monkeypatch.setenv("LITLAB_CACHE", str(tmp_path / "cache"))
    err = _short_error(_fit(tmp_path / "root"), capsys, monkeypatch, tmp_path)
    assert f"{bad} is corrupt or truncated (EOFError" in err and REDO in err


def test_a_truncated_real_cifar10_archive_is_named(tmp_path, monkeypatch):
    from litlab.vision.data import CIFAR10DataModule

    (tmp_path / "cifar10").mkdir()
    bad = tmp_path / "cifar10" / "cifar10_jpg.tar.gz"
    shutil.copy(real_data("cifar10/cifar10_jpg.tar.gz"), bad)
    _truncate(bad, keep=0.05)  # ends a few thousand images in
    monkeypatch.setenv("LITLAB_CACHE", str(tmp_path / "cache"))
    with pytest.raises(CorruptDataError, match=REDO) as err:
        CIFAR10DataModule(root=str(tmp_path)).setup()
    assert str(bad) in str(err.value)
    assert not list((tmp_path / "cache").rglob("*.pt"))  # nothing half-decoded was cached


def test_a_truncated_canonical_archive_is_named_and_leaves_no_cache(tmp_path):
    src = write_cifar10_pickles(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname="cifar-10-batches-py")
    _truncate(archive, keep=0.6)
    dest = tmp_path / "extracted"
    with pytest.raises(CorruptDataError, match=REDO) as err:
        extract_archive(archive, dest)
    assert str(archive) in str(err.value)
    assert not dest.exists() and not list(tmp_path.glob("*partial*"))  # no half-extracted copy


def test_two_processes_extracting_the_same_archive_at_once_both_get_the_folder(tmp_path):
    """Two trainings started together (say, two leave-one-speaker-out runs) extract the same
    archive into the same cache folder: neither may fail or see a half-written folder."""
    import multiprocessing as mp

    src = write_cifar10_pickles(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname="cifar-10-batches-py")
    dest = tmp_path / "extracted"
    with mp.get_context("spawn").Pool(4) as pool:
        folders = pool.starmap(extract_archive, [(archive, dest)] * 4)
    assert folders == [dest] * 4
    want = sorted(p.name for p in src.iterdir())
    assert sorted(p.name for p in (dest / "cifar-10-batches-py").iterdir()) == want
    assert (dest / ".complete").exists() and not list(tmp_path.glob("*partial*"))


def test_a_zip_whose_member_fails_its_crc_is_named(tmp_path):
    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("train/cat/1.txt", b"A" * 1000)
    data = bytearray(archive.read_bytes())
    data[data.index(b"A" * 100) + 50] = ord("B")  # one byte of the member's data changes
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptDataError, match="fails its CRC check"):
        extract_archive(archive, tmp_path / "out")


def test_a_half_extracted_cache_is_extracted_again(tmp_path):
    src = write_cifar10_pickles(tmp_path / "src")
    archive = tmp_path / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(src, arcname="cifar-10-batches-py")
    dest = tmp_path / "extracted"
    (dest / "cifar-10-batches-py").mkdir(parents=True)  # a crash left this, with no marker
    (dest / "cifar-10-batches-py" / "data_batch_1").write_bytes(b"half")
    out = extract_archive(archive, dest)
    assert (out / ".complete").exists()
    assert (out / "cifar-10-batches-py" / "data_batch_1").read_bytes() == (
        src / "data_batch_1"
    ).read_bytes()


def test_a_truncated_plain_idx_file_and_a_truncated_pickle_are_named(tmp_path):
    from litlab.vision.datasets import read_cifar_pickles, read_mnist_idx

    raw = write_mnist_idx(tmp_path, gz=False)
    bad = _truncate(raw / "train-images-idx3-ubyte", keep=0.9)
    with pytest.raises(CorruptDataError, match="its header promises") as err:
        read_mnist_idx(raw)
    assert str(bad) in str(err.value)
    folder = write_cifar10_pickles(tmp_path / "c")
    _truncate(folder / "data_batch_3")
    with pytest.raises(CorruptDataError, match=f"data_batch_3 is corrupt.*{REDO}"):
        read_cifar_pickles(folder)


def test_a_half_downloaded_mnist_folder_says_which_file_is_missing(tmp_path):
    from litlab.vision.datasets import read_image_source

    raw = write_mnist_idx(tmp_path)
    (raw / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MissingDataError, match="lacks t10k-labels-idx1-ubyte"):
        read_image_source(raw)


def test_a_truncated_nsmc_gz_is_named(tmp_path):
    from litlab.sequence.sentiment.data import _read_tsv

    rows = "id\tdocument\tlabel\n" + "".join(f"{i}\t리뷰 {i} 좋아요\t{i % 2}\n" for i in range(500))
    path = tmp_path / "ratings_train.txt.gz"
    path.write_bytes(gzip.compress(rows.encode()))
    _truncate(path, keep=0.7)
    with pytest.raises(CorruptDataError, match=REDO) as err:
        _read_tsv(path, 1, 2)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("damage", ["flip", "truncate", "no_stamp", "wrong_shape"])
def test_a_corrupt_decoded_image_cache_is_rebuilt_never_used(damage, tmp_path, monkeypatch, caplog):
    from litlab.vision import datasets

    monkeypatch.setenv("LITLAB_CACHE", str(tmp_path / "cache"))
    raw = write_mnist_idx(tmp_path)
    first = datasets.read_image_source(raw)
    (cache,) = (tmp_path / "cache" / "vision").glob("*.pt")
    if damage == "flip":  # torch.load alone would read this and return wrong pixels
        data = bytearray(cache.read_bytes())
        at = data.index(first.train_images.numpy().tobytes()[:64]) + 100
        data[at] ^= 0xFF
        cache.write_bytes(bytes(data))
    elif damage == "truncate":
        _truncate(cache)
    elif damage == "no_stamp":  # written, then the process died before its stamp
        cache.with_name(cache.name + ".sha1").unlink()
    else:  # a sound file of the wrong structure (another version of litlab)
        state = dict(first.__dict__, train_images=first.train_images[:, 0])
        save_cached(state, cache)
    built = []
    real = datasets.read_mnist_idx
    monkeypatch.setattr(datasets, "read_mnist_idx", lambda r: built.append(r) or real(r))
    with caplog.at_level(logging.WARNING, logger="litlab.data"):
        again = datasets.read_image_source(raw)
    assert built == [raw]  # decoded from the source again
    assert torch.equal(again.train_images, first.train_images)
    assert [r.message for r in caplog.records if "is unusable" in r.message][0].startswith(
        f"cache file {cache} is unusable"
    )
    assert load_cached(cache) is not None  # and the rebuilt file is sound


def test_a_corrupt_token_id_cache_is_rebuilt_never_used(tiny_root, tmp_path, monkeypatch, caplog):
    from litlab.sequence.sentiment.data import SST2DataModule

    monkeypatch.setenv("LITLAB_CACHE", str(tmp_path / "cache"))
    first = SST2DataModule(root=str(tiny_root), val_size=4, vocab_size=300)
    first.setup()
    (ids,) = (tmp_path / "cache").rglob("*.ids.pt")
    data = bytearray(ids.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one flipped byte: torch.load might still read it
    ids.write_bytes(bytes(data))
    with caplog.at_level(logging.WARNING, logger="litlab.data"):
        again = SST2DataModule(root=str(tiny_root), val_size=4, vocab_size=300)
        again.setup()
    assert again.encoded == first.encoded  # encoded from the texts again, not read
    assert any(f"cache file {ids} is unusable" in r.message for r in caplog.records)
    assert load_cached(ids) is not None


def test_a_cache_write_that_crashes_leaves_no_file_under_the_real_name(tmp_path, monkeypatch):
    path = tmp_path / "x.pt"

    def crash(obj, f):
        f.write(b"half a file")
        raise KeyboardInterrupt

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(KeyboardInterrupt):
        save_cached({"a": torch.zeros(3)}, path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("cls", "kwargs"),
    [
        ("litlab.vision.data.MNISTDataModule", {}),
        ("litlab.sequence.lm.data.ShakespeareDataModule", {}),
        ("litlab.sequence.sentiment.data.IMDBDataModule", {}),
        ("litlab.sequence.seq2seq.data.DateDataModule", {}),
        ("litlab.sequence.timeseries.data.ForecastDataModule", {}),
        ("litlab.sequence.long_range.data.AddingProblemDataModule", {}),
    ],
)
@pytest.mark.parametrize("batch_size", [0, -2])
def test_every_datamodule_refuses_a_batch_size_below_one(cls, kwargs, batch_size):
    import importlib

    module, name = cls.rsplit(".", 1)
    datamodule = getattr(importlib.import_module(module), name)
    with pytest.raises(ConfigError, match=rf"--data.init_args.batch_size .* got {batch_size}$"):
        datamodule(batch_size=batch_size, **kwargs)


def test_spans_larger_than_the_data_are_named(tiny_root):
    from litlab.sequence.seq2seq.data import DateDataModule
    from litlab.sequence.timeseries.data import ForecastDataModule

    dm = ForecastDataModule(root=str(tiny_root), val_size=100, test_size=40)
    with pytest.raises(ConfigError, match=r"val_size 100 and test_size 40 leave .* of the 144"):
        dm.setup()
    with pytest.raises(ConfigError, match="n_val 30000 and n_test 9000 leave no training"):
        DateDataModule(n_val=30_000, n_test=9_000)
