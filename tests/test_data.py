"""The data layer: readers for each canonical format, caching, splits, augmentation, errors."""

from __future__ import annotations

import gzip
import struct
import tarfile

import numpy as np
import pytest
import torch
from conftest import (
    CIFAR10_CLASSES,
    SHARED_DATA,
    class_images,
    real_data,
    tar_folder,
    write_image_folder,
    write_mnist_idx,
)

from litlab.common.data import MissingDataError, extract_archive, resolve_data_root
from litlab.vision import augment
from litlab.vision.data import (
    CIFAR10DataModule,
    CIFAR100DataModule,
    ImageFolderDataModule,
    MNISTDataModule,
)
from litlab.vision.datasets import read_image_folder, read_image_source


def test_data_root_prefers_argument_then_env_then_cwd(monkeypatch, tmp_path):
    monkeypatch.setenv("DATA_DIR", str(tmp_path / "env"))
    assert resolve_data_root(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_data_root(None) == tmp_path / "env"
    monkeypatch.delenv("DATA_DIR")
    monkeypatch.chdir(tmp_path)
    assert resolve_data_root(None) == tmp_path / "data"


def test_cifar10_pickles_give_images_labels_and_class_names(tiny_root):
    dm = CIFAR10DataModule(root=str(tiny_root), val_size=50)
    dm.setup()
    s = dm.splits
    assert s.train_images.shape == (300, 3, 32, 32) and s.train_images.dtype == torch.uint8
    assert s.test_images.shape == (50, 3, 32, 32)
    assert dm.classes == CIFAR10_CLASSES
    assert torch.bincount(s.train_labels).tolist() == [30] * 10


def test_cifar100_uses_fine_labels(tiny_root):
    dm = CIFAR100DataModule(root=str(tiny_root), val_size=50)
    dm.setup()
    assert dm.num_classes == 100 and dm.classes[7] == "c07"
    assert dm.splits.train_labels.max() == 99


@pytest.mark.parametrize("gz", [True, False])
def test_mnist_idx_files_gzipped_or_not(tmp_path, gz):
    write_mnist_idx(tmp_path, gz=gz)
    dm = MNISTDataModule(root=str(tmp_path), val_size=20)
    dm.setup()
    s = dm.splits
    assert s.train_images.shape == (300, 1, 28, 28) and s.train_images.dtype == torch.uint8
    # every pixel and label as written (conftest.write_mnist_idx: seed 0 train, seed 1 test)
    for (images, labels), seed, n in (((s.train_images, s.train_labels), 0, 30),
                                      ((s.test_images, s.test_labels), 1, 5)):  # fmt: skip
        x, y = class_images(n, 10, 1, 28, seed)
        assert torch.equal(images, torch.from_numpy(x)) and labels.tolist() == y.tolist()
    assert dm.flip is False  # mirrored digits are different digits


def _idx(path) -> np.ndarray:
    """An idx file read with nothing but its header: magic (dims in the 4th byte), sizes."""
    data = gzip.decompress(path.read_bytes())
    dims = data[3]
    shape = struct.unpack(f">{dims}I", data[4 : 4 + 4 * dims])
    return np.frombuffer(data, np.uint8, offset=4 + 4 * dims).reshape(shape).copy()


def test_real_mnist_is_read_pixel_for_pixel():
    raw = real_data("mnist/MNIST/raw/train-images-idx3-ubyte.gz").parent
    dm = MNISTDataModule(root=str(SHARED_DATA))
    dm.setup()
    s = dm.splits
    assert s.train_labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]  # the famous first 5
    assert s.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
    assert torch.bincount(s.test_labels).tolist() == [980, 1135, 1032, 1010, 982, 892, 958,
                                                      1028, 974, 1009]  # fmt: skip
    assert s.train_images[0, 0, 14, 13:18].tolist() == [81, 240, 253, 253, 119]
    assert int(s.train_images[0].sum()) == 27525
    for images, labels, prefix in ((s.train_images, s.train_labels, "train"),
                                   (s.test_images, s.test_labels, "t10k")):  # fmt: skip
        pixels = torch.from_numpy(_idx(raw / f"{prefix}-images-idx3-ubyte.gz"))
        assert torch.equal(images[:, 0], pixels)
        assert labels.tolist() == _idx(raw / f"{prefix}-labels-idx1-ubyte.gz").tolist()


def test_image_folder_and_its_archive_decode_identically(tmp_path):
    folder = write_image_folder(tmp_path)
    archive = tar_folder(folder, tmp_path / "images.tar.gz", arcname="myset")  # leading folder
    a, b = read_image_folder(folder), read_image_folder(archive)
    assert a.classes == b.classes == ["cat", "dog", "frog"]
    assert torch.equal(a.train_images, b.train_images) and torch.equal(a.test_labels, b.test_labels)
    assert a.train_images.shape == (36, 3, 32, 32)


def test_image_folder_datamodule_measures_its_own_statistics(tmp_path):
    write_image_folder(tmp_path)
    dm = ImageFolderDataModule(path="images", root=str(tmp_path), val_size=6, batch_size=8)
    dm.setup()
    x = dm.splits.train_images[dm.train_idx].float() / 255
    assert dm.mean[0] == pytest.approx(x[:, 0].mean().item(), abs=1e-4)
    images, _ = next(iter(dm.train_dataloader()))
    assert images.dtype == torch.uint8  # tensor loader: normalised after transfer


def test_decoded_images_are_cached_and_reused(tmp_path, monkeypatch):
    folder = write_image_folder(tmp_path)
    first = read_image_source(folder)
    monkeypatch.setattr(
        "litlab.vision.datasets.read_image_folder", lambda *a, **k: pytest.fail("decoded twice")
    )
    second = read_image_source(folder)
    assert torch.equal(first.train_images, second.train_images)


def test_validation_is_split_from_train_never_from_test(tiny_root):
    dm = CIFAR10DataModule(root=str(tiny_root), val_size=50, seed=3)
    dm.setup()
    assert len(dm.val_idx) == 50 and len(dm.train_idx) == 250
    assert set(dm.val_idx.tolist()).isdisjoint(dm.train_idx.tolist())
    again = CIFAR10DataModule(root=str(tiny_root), val_size=50, seed=3)
    again.setup()
    assert torch.equal(dm.val_idx, again.val_idx)  # the split is fixed by the seed


def test_missing_data_error_names_the_expected_files(tmp_path):
    dm = CIFAR10DataModule(root=str(tmp_path))
    with pytest.raises(MissingDataError) as err:
        dm.setup()
    msg = str(err.value)
    assert str(tmp_path / "cifar10" / "cifar10_jpg.tar.gz") in msg
    assert str(tmp_path / "cifar-10-batches-py") in msg
    assert "DATA_DIR" in msg


def test_canonical_archive_is_extracted_into_the_cache_not_the_root(tmp_path, tiny_root):
    root = tmp_path / "root"
    root.mkdir()
    with tarfile.open(root / "cifar-10-python.tar.gz", "w:gz") as tf:
        tf.add(tiny_root / "cifar-10-batches-py", arcname="cifar-10-batches-py")
    dm = CIFAR10DataModule(root=str(root), val_size=10)
    dm.setup()
    assert dm.num_classes == 10
    assert sorted(p.name for p in root.iterdir()) == ["cifar-10-python.tar.gz"]  # root untouched


def test_extract_archive_is_done_once(tmp_path):
    folder = write_image_folder(tmp_path)
    archive = tar_folder(folder, tmp_path / "a.tar.gz")
    out = extract_archive(archive, tmp_path / "out")
    marker = (out / ".complete").stat().st_mtime_ns
    assert extract_archive(archive, tmp_path / "out") == out
    assert (out / ".complete").stat().st_mtime_ns == marker and (out / "train" / "cat").is_dir()


def test_batch_translate_matches_a_padded_crop_per_image():
    torch.manual_seed(0)
    images = torch.randint(0, 256, (64, 3, 8, 8), dtype=torch.uint8)
    out = augment.batch_translate(images, pad=2)
    assert out.shape == images.shape and out.dtype == torch.uint8
    padded = torch.nn.functional.pad(images.float(), (2, 2, 2, 2), mode="reflect")
    for i in range(len(images)):  # each output is one of the 25 crops of its own image
        crops = [padded[i, :, dy : dy + 8, dx : dx + 8] for dy in range(5) for dx in range(5)]
        assert any(torch.equal(out[i].float(), c) for c in crops)
    assert not all(torch.equal(out[i], images[i]) for i in range(len(images)))


def test_batch_flip_mirrors_about_half_the_images():
    images = torch.arange(4 * 5).float().view(1, 1, 4, 5).repeat(1000, 1, 1, 1)
    out = augment.batch_flip(images, torch.Generator().manual_seed(0))
    flipped = (out == images.flip(-1)).flatten(1).all(1)
    kept = (out == images).flatten(1).all(1)
    assert (flipped | kept).all() and 400 < flipped.sum() < 600


def test_normalisation_inverts(tiny_root):
    dm = CIFAR10DataModule(root=str(tiny_root), val_size=50)
    x, y = dm.probe_batch(12)
    assert y[:10].tolist() == list(range(10))  # probe images cycle through the classes
    raw = dm.splits.train_images[dm.val_idx]
    back = (dm.denormalize(x) * 255).round().to(torch.uint8)
    assert any(torch.equal(back[0], r) for r in raw)


def test_real_offline_cifar10_archive_is_found_when_present():
    archive = real_data("cifar10/cifar10_jpg.tar.gz")
    dm = CIFAR10DataModule(root=str(SHARED_DATA))
    assert dm.locate() == archive
