"""Readers that turn image data sets on disk into uint8 tensors, decoded once and cached.

Three on-disk formats are understood, each the canonical one for its data set:

- CIFAR-10/100 python pickles (``cifar-10-batches-py/``, ``cifar-100-python/``), as
  torchvision downloads them;
- MNIST idx files (``MNIST/raw/train-images-idx3-ubyte[.gz]`` ...), gzipped or not;
- image folders ``<split>/<class>/*.jpg|png``, given as a folder or as a .tar.gz/.zip archive
  (the offline CIFAR-10 copy is one; a user's own photos are another).

Everything is held as ``(N, C, H, W)`` uint8 tensors: CIFAR-10 is 150 MB that way, small
enough for RAM (or GPU memory), and decoding 60,000 JPEGs takes a minute we pay only once.
"""

from __future__ import annotations

import gzip
import pickle
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torchvision.io import ImageReadMode, decode_image
from torchvision.transforms.v2 import functional as TF

from litlab.common.data import (
    ARCHIVE_ERRORS,
    CorruptDataError,
    MissingDataError,
    cache_dir,
    cache_key,
)
from litlab.common.tensor_cache import load_cached, save_cached

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")


@dataclass
class ImageSplits:
    """Train and test images of one data set as uint8 tensors, with class names."""

    train_images: Tensor  # (N, C, H, W) uint8
    train_labels: Tensor  # (N,) int64
    test_images: Tensor
    test_labels: Tensor
    classes: list[str]

    def check(self) -> None:
        """Raise ``ValueError`` unless the tensors have the shapes and types decoding gives."""
        for split in ("train", "test"):
            images, labels = getattr(self, f"{split}_images"), getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4 or labels.dim() != 1:
                raise ValueError(f"{split}: images {tuple(images.shape)} {images.dtype}")
            if len(images) != len(labels) or labels.dtype != torch.int64:
                raise ValueError(f"{split}: {len(images)} images, {len(labels)} labels")
            if len(labels) and not 0 <= int(labels.min()) <= int(labels.max()) < len(self.classes):
                raise ValueError(f"{split}: labels outside the {len(self.classes)} classes")

    def save(self, path: Path) -> None:
        save_cached(dict(self.__dict__), path)  # atomic, with a checksum stamp

    @classmethod
    def load(cls, path: Path) -> ImageSplits | None:
        """The splits cached at ``path``, or None (a broken file is deleted, never used)."""
        state = load_cached(path, check=lambda d: cls(**d).check())
        return None if state is None else cls(**state)


def cached(
    name: str, sources: list[Path], build: Callable[[], ImageSplits], extra: str = ""
) -> ImageSplits:
    """Return ``build()``, caching its result under a key made from the source files."""
    path = cache_dir("vision") / f"{name}-{cache_key(*sources, extra=extra)}.pt"
    splits = ImageSplits.load(path)
    if splits is None:
        splits = build()
        splits.save(path)
    return splits


# --- CIFAR pickles -----------------------------------------------------------------------


def _unpickle(path: Path) -> dict:
    try:
        with open(path, "rb") as f:
            return pickle.load(f, encoding="latin1")
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError) as err:  # cut short
        raise CorruptDataError(path, err) from err


def _cifar_arrays(batches: list[dict], label_key: str) -> tuple[Tensor, Tensor]:
    data = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([np.asarray(b[label_key]) for b in batches])
    return torch.from_numpy(data.copy()), torch.from_numpy(labels).long()


def read_cifar_pickles(folder: Path) -> ImageSplits:
    """Read ``cifar-10-batches-py`` or ``cifar-100-python`` (fine labels)."""
    folder = Path(folder)
    if (folder / "batches.meta").exists():  # CIFAR-10
        train = [_unpickle(folder / f"data_batch_{i}") for i in range(1, 6)]
        test = [_unpickle(folder / "test_batch")]
        classes, key = _unpickle(folder / "batches.meta")["label_names"], "labels"
    elif (folder / "meta").exists():  # CIFAR-100
        train, test = [_unpickle(folder / "train")], [_unpickle(folder / "test")]
        classes, key = _unpickle(folder / "meta")["fine_label_names"], "fine_labels"
    else:
        raise FileNotFoundError(
            f"{folder} holds neither batches.meta (CIFAR-10) nor meta (CIFAR-100)"
        )
    xtr, ytr = _cifar_arrays(train, key)
    xte, yte = _cifar_arrays(test, key)
    return ImageSplits(xtr, ytr, xte, yte, list(classes))


# --- MNIST idx ---------------------------------------------------------------------------


def _read_idx(path: Path) -> Tensor:
    """Parse an idx file (big-endian header: magic, then one int32 per dimension)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except ARCHIVE_ERRORS as err:  # a .gz cut short: EOFError, which named no file
        raise CorruptDataError(path, err) from err
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":  # unsigned-byte idx magic
        raise CorruptDataError(path, "not an idx file of unsigned bytes")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise CorruptDataError(path, "it ends inside its header")
    dims = np.frombuffer(raw, dtype=">i4", count=ndim, offset=4)
    expected = 4 + 4 * ndim + int(np.prod(dims))
    if expected != len(raw):  # a plain idx file cut short would reshape wrongly, or fail
        raise CorruptDataError(path, f"{len(raw)} bytes, its header promises {expected}")
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    return torch.from_numpy(data.reshape(*dims).copy())


def _idx_file(raw: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        if (raw / name).exists():
            return raw / name
    # an interrupted download leaves MNIST/raw without some of its files
    raise MissingDataError(
        "MNIST",
        raw,
        [f"{s}.gz" for s in MNIST_STEMS.values()],
        f"{raw} exists but lacks {stem}[.gz]: copy the four files there, or delete the folder",
    )


MNIST_STEMS = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def read_mnist_idx(raw: Path) -> ImageSplits:
    """Read the four MNIST idx files from torchvision's ``MNIST/raw`` folder."""
    t = {k: _read_idx(_idx_file(Path(raw), stem)) for k, stem in MNIST_STEMS.items()}
    return ImageSplits(
        t["train_images"].unsqueeze(1),  # (N, 28, 28) -> (N, 1, 28, 28)
        t["train_labels"].long(),
        t["test_images"].unsqueeze(1),
        t["test_labels"].long(),
        [str(i) for i in range(10)],
    )


# --- image folders and archives ----------------------------------------------------------


def _iter_folder(folder: Path) -> Iterator[tuple[str, bytes]]:
    for p in sorted(folder.rglob("*")):
        if p.suffix.lower() in IMAGE_SUFFIXES:
            yield p.relative_to(folder).as_posix(), p.read_bytes()


def _iter_archive(archive: Path) -> Iterator[tuple[str, bytes]]:
    if zipfile.is_zipfile(archive):
        with zipfile.ZipFile(archive) as zf:
            for name in sorted(zf.namelist()):
                if Path(name).suffix.lower() in IMAGE_SUFFIXES:
                    yield name, zf.read(name)
    else:
        with tarfile.open(archive) as tf:  # streamed once, in archive order
            for m in tf:
                if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES:
                    yield m.name, tf.extractfile(m).read()


def _decode(source: Path, name: str, data: bytes) -> Tensor:
    try:
        return decode_image(torch.frombuffer(bytearray(data), dtype=torch.uint8), ImageReadMode.RGB)
    except (RuntimeError, ValueError) as err:  # a truncated or damaged image file
        where = source / name if source.is_dir() else source
        raise CorruptDataError(where, f"image {name} cannot be decoded: {err}") from err


def read_image_folder(
    source: Path, image_size: int | None = None, splits: tuple[str, str] = ("train", "test")
) -> ImageSplits:
    """Decode ``<split>/<class>/<image>`` from a folder or archive into uint8 tensors.

    Class indices follow the alphabetical order of the class folders (torchvision's
    ImageFolder convention, which for the offline CIFAR-10 copy is the standard label order).
    Images of different sizes need ``image_size`` (each is resized to a square).
    """
    source = Path(source)
    items = _iter_archive(source) if source.is_file() else _iter_folder(source)
    found: dict[str, list[tuple[str, str, Tensor]]] = {s: [] for s in splits}
    try:
        for name, data in items:
            parts = Path(name).parts
            # tolerate a leading folder such as "cifar10/train/cat/1.jpg"
            idx = next((i for i, p in enumerate(parts[:-2]) if p in found), None)
            if idx is None:
                continue
            img = _decode(source, name, data)
            if image_size is not None and tuple(img.shape[-2:]) != (image_size, image_size):
                img = TF.resize(img, [image_size, image_size], antialias=True)
            found[parts[idx]].append((parts[idx + 1], parts[-1], img))
    except ARCHIVE_ERRORS as err:  # the archive ends mid-way: name it, never half a data set
        raise CorruptDataError(source, err) from err
    missing = [s for s, v in found.items() if not v]
    if missing:
        raise FileNotFoundError(f"{source}: no images under split folder(s) {missing}")
    classes = sorted({c for v in found.values() for c, _, _ in v})
    out = []
    for split in splits:
        rows = sorted(found[split], key=lambda r: (r[0], r[1]))  # deterministic order
        sizes = {tuple(r[2].shape) for r in rows}
        if len(sizes) > 1:
            raise ValueError(
                f"{source}/{split}: images have different sizes {sorted(sizes)[:3]}...; "
                "pass image_size to resize them to one square size"
            )
        out.append(torch.stack([r[2] for r in rows]))
        out.append(torch.tensor([classes.index(r[0]) for r in rows]))
    return ImageSplits(*out, classes)


def read_image_source(source: Path, image_size: int | None = None) -> ImageSplits:
    """Pickles, idx files or image folders: whatever ``source`` is, decoded and cached."""
    source = Path(source)
    if source.is_dir() and ((source / "batches.meta").exists() or (source / "meta").exists()):
        files = sorted(p for p in source.iterdir() if p.is_file())
        return cached(source.name, files, lambda: read_cifar_pickles(source))
    if source.is_dir() and source.name == "raw":
        files = [_idx_file(source, s) for s in MNIST_STEMS.values()]
        return cached("mnist", files, lambda: read_mnist_idx(source))
    files = [source] if source.is_file() else sorted(p for p in source.rglob("*") if p.is_file())
    return cached(
        source.name.split(".")[0],
        files,
        lambda: read_image_folder(source, image_size),
        extra=str(image_size),
    )
