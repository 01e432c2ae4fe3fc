"""Checkpoints written atomically: a kill during a write never leaves a broken ``last.ckpt``.

Lightning's ``TorchCheckpointIO`` writes through an fsspec transaction, whose temporary file
lies in the system's temporary folder: when that is another file system (a tmpfs ``/tmp``),
the final move is a copy, and a kill in the middle of it truncates the checkpoint; nothing is
synced to disk either. :class:`AtomicCheckpointIO` writes local checkpoints the classic way
instead: a temporary file beside the target, ``fsync``, ``os.replace`` (atomic on POSIX and
Windows), ``fsync`` of the folder, so the name always points at a whole checkpoint, old or
new. Remote paths (``s3://`` ...) keep Lightning's route.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch
from fsspec.implementations.local import LocalFileSystem
from lightning.fabric.utilities.cloud_io import get_filesystem
from lightning.fabric.utilities.types import _PATH
from lightning.pytorch.plugins.io import TorchCheckpointIO


def atomic_torch_save(obj: Any, path: str | os.PathLike) -> None:
    """``torch.save(obj, path)`` that leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f".{path.name}.*.tmp"):  # left by a process killed mid-write
        stale.unlink(missing_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)  # the rename itself survives a power cut


def _fsync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:  # Windows cannot open folders; its rename is durable enough
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class AtomicCheckpointIO(TorchCheckpointIO):
    """``TorchCheckpointIO`` whose local writes go through :func:`atomic_torch_save`."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: _PATH, storage_options: Any | None = None
    ) -> None:
        if storage_options is not None or not _is_local(path):
            super().save_checkpoint(checkpoint, path, storage_options)
            return
        atomic_torch_save(checkpoint, path)


def _is_local(path: _PATH) -> bool:
    return isinstance(get_filesystem(str(path)), LocalFileSystem)
