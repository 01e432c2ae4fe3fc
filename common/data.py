"""Where data lives: root resolution, offline archives, a cache, and one clear error.

Every domain's DataModule finds its files through this module, so the rules are the same
everywhere:

1. the data root is ``--data.root`` if given, else ``$DATA_DIR``, else ``./data``;
2. a data set is looked up under the root in the layouts listed by its loader (the canonical
   torchvision / Hugging Face layout first, then the offline archives of ``shared/data``);
3. archives are never modified: they are extracted, or decoded, into a cache folder
   (``$LITLAB_CACHE``, else ``~/.cache/litlab``), keyed by the archive's size and mtime;
4. when nothing is found and downloading is impossible, :class:`MissingDataError` names
   every file that would have been accepted and where to put it.
"""

from __future__ import annotations

import gzip
import hashlib
import lzma
import os
import shutil
import tarfile
import tempfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only the annotations of SplitLoaders: this module never needs torch
    from torch.utils.data import DataLoader

__all__ = [
    "ARCHIVE_ERRORS",
    "CorruptDataError",
    "MissingDataError",
    "cache_dir",
    "cache_key",
    "extract_archive",
    "find_first",
    "locate_dataset",
    "online",
    "resolve_data_root",
]


class MissingDataError(FileNotFoundError):
    """Raised when a data set is neither on disk nor downloadable.

    The message lists the files that would have been accepted, so the fix is one copy.
    """

    def __init__(self, dataset: str, root: Path, expected: Sequence[str], hint: str = "") -> None:
        # two lines, so a litlab command ends in a few: what is missing, then what to do
        lines = [
            f"{dataset} data not found under data root '{root}': expected "
            + " or ".join(str(root / e) for e in expected)
            + ".",
            "Set --data.root or $DATA_DIR to the folder that holds it (offline: a copy of "
            "shared/data works as it is), or run once with network access to download it."
            + (f" {hint}" if hint else ""),
        ]
        super().__init__("\n".join(lines))
        self.dataset = dataset
        self.expected = [root / e for e in expected]


# what reading a truncated or damaged archive / .gz file raises (tarfile.ReadError is a TarError;
# gzip.BadGzipFile an OSError; a gzip stream cut short an EOFError)
ARCHIVE_ERRORS: tuple[type[BaseException], ...] = (
    tarfile.TarError,
    zipfile.BadZipFile,
    gzip.BadGzipFile,
    EOFError,
    zlib.error,
    lzma.LZMAError,
)


class CorruptDataError(ValueError):
    """A data file that is there but cannot be read to the end (a truncated copy, a broken
    download): named, with what to do about it."""

    def __init__(self, path: Path, problem: BaseException | str) -> None:
        why = problem if isinstance(problem, str) else f"{type(problem).__name__}: {problem}"
        super().__init__(
            f"{path} is corrupt or truncated ({why}); re-copy or delete it (a deleted file is "
            "downloaded again when online)"
        )
        self.path = Path(path)


def resolve_data_root(root: str | os.PathLike | None = None) -> Path:
    """Return the data root: the explicit argument, else ``$DATA_DIR``, else ``./data``."""
    if root:
        return Path(root).expanduser().resolve()
    env = os.environ.get("DATA_DIR")
    if env:
        return Path(env).expanduser().resolve()
    return Path("data").resolve()


def cache_dir(*parts: str) -> Path:
    """A writable cache folder (``$LITLAB_CACHE`` or ``~/.cache/litlab``), created on demand.

    The data root may be read-only (CI mounts ``shared/data`` without write bits), so all
    derived files (extracted archives, decoded tensors) go here instead.
    """
    base = Path(os.environ.get("LITLAB_CACHE", Path.home() / ".cache" / "litlab"))
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def cache_key(*files: Path, extra: str = "") -> str:
    """A short key that changes when any source file changes (path, size, mtime)."""
    h = hashlib.sha1(extra.encode())
    for f in files:
        st = f.stat()
        h.update(f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:12]


def find_first(root: Path, candidates: Iterable[str]) -> Path | None:
    """The first ``root / candidate`` that exists, or None."""
    for c in candidates:
        p = root / c
        if p.exists():
            return p
    return None


def extract_archive(archive: Path, dest: Path | None = None) -> Path:
    """Extract a .tar(.gz|.bz2|.xz) or .zip archive once and return the folder.

    Extraction goes to a temporary sibling first and is renamed into place at the end, with
    a ``.complete`` marker written last, so an interrupted run never leaves a half-extracted
    cache that later looks complete (a folder without the marker is extracted again). A
    truncated or damaged archive raises :class:`CorruptDataError` naming it.
    """
    archive = Path(archive)
    if dest is None:
        stem = archive.name.split(".")[0]
        dest = cache_dir("extracted", f"{stem}-{cache_key(archive)}")
    if (dest / ".complete").exists():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    # a folder of this process's own: two trainings started together extract side by side
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".partial"))
    try:
        if zipfile.is_zipfile(archive):
            with zipfile.ZipFile(archive) as zf:
                bad = zf.testzip()  # CRC of every member: a damaged zip is named, not used
                if bad is not None:
                    raise zipfile.BadZipFile(f"member {bad} fails its CRC check")
                zf.extractall(tmp)
        elif tarfile.is_tarfile(archive):
            with tarfile.open(archive) as tf:
                tf.extractall(tmp, filter="data")
        else:
            raise tarfile.ReadError("neither a tar nor a zip archive")
    except ARCHIVE_ERRORS as err:
        shutil.rmtree(tmp, ignore_errors=True)
        raise CorruptDataError(archive, err) from err
    (tmp / ".complete").touch()
    if not (dest / ".complete").exists():  # else another process finished first: use its copy
        shutil.rmtree(dest, ignore_errors=True)  # a half-extracted folder of an older run
        try:
            tmp.rename(dest)
        except OSError:  # another process renamed its copy in between
            if not (dest / ".complete").exists():
                raise
    shutil.rmtree(tmp, ignore_errors=True)
    return dest


def online() -> bool:
    """Whether downloads are allowed: not when ``$LITLAB_OFFLINE`` or ``$HF_HUB_OFFLINE`` is set."""
    return not (os.environ.get("LITLAB_OFFLINE") or os.environ.get("HF_HUB_OFFLINE") == "1")


def locate_dataset(
    root: Path,
    name: str,
    layouts: list[str],
    archives: Sequence[str] = (),
    image_archives: Sequence[str] = (),
    download: Callable[[Path], None] | None = None,
) -> Path:
    """Shared lookup, in order: an extracted canonical layout; a canonical archive (extracted
    into the cache); an image-folder archive (decoded straight from the archive); a download.
    """
    found = find_first(root, layouts)
    if found is not None:
        return found
    archive = find_first(root, list(archives))
    if archive is not None:
        inner = extract_archive(archive)
        return find_first(inner, [Path(p).name for p in layouts]) or inner
    image_archive = find_first(root, list(image_archives))
    if image_archive is not None:
        return image_archive
    expected = [*layouts, *archives, *image_archives]
    if download is not None and online():
        try:
            download(root)
        except Exception as err:  # no network, proxy, server down: explain, don't crash
            raise MissingDataError(name, root, expected, f"Download failed: {err}") from err
        found = find_first(root, layouts)
        if found is not None:
            return found
    raise MissingDataError(name, root, expected)


class SplitLoaders:
    """Mixin for a LightningDataModule whose loaders differ only by split.

    Define ``_loader(split)`` for ``"train"``, ``"val"`` and ``"test"``, and list the mixin
    before ``L.LightningDataModule`` in the bases (whose own hooks only raise).
    """

    def _loader(self, split: str) -> DataLoader:
        raise NotImplementedError

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
