"""Cache files of decoded data (tensors), written atomically and checked before use.

Decoding 60,000 JPEGs or encoding 50,000 reviews is paid once and kept as a ``torch.save``
file under the cache folder. Such a file is only worth keeping if it is exactly what was
written, so:

- it is written to a temporary file in the same folder, flushed to disk and renamed into
  place (``os.replace`` is atomic): a crash never leaves a half file under the real name;
- a stamp beside it (``<name>.sha1``: size and SHA-1 of the file) is written the same way
  after it; a file without a matching stamp was not finished, or was changed since;
- on reading, a file whose stamp does not match, that ``torch.load`` cannot read, or that
  the caller's ``check`` refuses (a wrong shape or type) is deleted with one log line and
  rebuilt from the source. A broken cache is never used.

``torch.load`` alone misses a flipped byte inside a tensor (its zip records are not
checksum-verified), hence the stamp. Hashing costs about 0.2 s for CIFAR-10's 180 MB.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import torch

log = logging.getLogger("litlab.data")
T = TypeVar("T")
CHUNK = 1 << 22


def _stamp_path(path: Path) -> Path:
    return path.with_name(path.name + ".sha1")


def _digest(path: Path) -> str:
    h = hashlib.sha1()
    with open(path, "rb") as f:
        while chunk := f.read(CHUNK):
            h.update(chunk)
    return f"{path.stat().st_size} {h.hexdigest()}"


def _write_atomic(path: Path, write: Callable[[Any], None]) -> None:
    """``write(file)`` into a temporary sibling, fsync it, then rename it to ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_cached(obj: Any, path: Path) -> None:
    """``torch.save(obj)`` to ``path`` atomically, then its stamp."""
    path = Path(path)
    _write_atomic(path, lambda f: torch.save(obj, f))
    stamp = _digest(path).encode()
    _write_atomic(_stamp_path(path), lambda f: f.write(stamp))


def discard(path: Path, why: str) -> None:
    """Delete a broken cache file and its stamp, saying so once."""
    log.warning("cache file %s is unusable (%s): deleted, rebuilding it from the source", path, why)
    Path(path).unlink(missing_ok=True)
    _stamp_path(Path(path)).unlink(missing_ok=True)


def load_cached(path: Path, check: Callable[[Any], None] | None = None) -> Any | None:
    """The object saved at ``path``, or None when there is none or it is broken (then it is
    deleted). ``check(obj)`` raises ``ValueError`` (or ``TypeError``, ``KeyError``) for an
    object of the wrong structure."""
    path = Path(path)
    if not path.exists():
        return None
    stamp = _stamp_path(path)
    try:
        expected = stamp.read_text().strip() if stamp.exists() else None
    except (OSError, UnicodeDecodeError):
        expected = ""
    if expected is None:
        discard(path, "no stamp: its writing never finished")
        return None
    if _digest(path) != expected:
        discard(path, "size or checksum differs from its stamp")
        return None
    try:
        obj = torch.load(path, weights_only=True)
        if check is not None:
            check(obj)
    except Exception as err:  # unreadable or the wrong structure: rebuild, never use it
        discard(path, f"{type(err).__name__}: {err}")
        return None
    return obj


def cached_object(
    path: Path, build: Callable[[], T], check: Callable[[T], None] | None = None
) -> T:
    """``load_cached(path)`` when it is sound, else ``build()`` saved to ``path``."""
    obj = load_cached(path, check)
    if obj is None:
        obj = build()
        save_cached(obj, path)
    return obj
