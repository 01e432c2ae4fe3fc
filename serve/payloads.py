"""What crosses the wire, both ways: uploads decoded into image tensors under size limits,
figures encoded as PNG, and ``InputError``, the one exception a bad input raises, carrying the
HTTP status the API answers with (``serve/api.py``) and the message the web app shows.
"""

from __future__ import annotations

import io
import threading

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from litlab.common.explain import UNREADABLE, ImageTooLarge, decode_image

MAX_IMAGE_BYTES = 5 * 1024 * 1024  # an upload bigger than this is refused (413)
MAX_PIXELS = 4096 * 4096  # and so is a small file that decodes into a huge image
DRAWING = threading.Lock()  # matplotlib is not thread-safe: whatever draws holds this


class InputError(ValueError):
    """An input the models cannot answer: ``status`` is the HTTP status to reply with."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def article(noun: str) -> str:
    return f"{'an' if noun[0] in 'aeiou' else 'a'} {noun}"


def png(fig: Figure) -> bytes:
    """A figure as PNG bytes; the figure is closed (common/viz.py makes its figures with
    ``plt.subplots``, so pyplot keeps each one until it is: a leak per explanation)."""
    buf = io.BytesIO()
    with DRAWING:
        fig.savefig(buf, format="png", dpi=100)
        fig.clf()
        plt.close(fig)
    return buf.getvalue()


def read_image(blob: bytes, max_bytes: int = MAX_IMAGE_BYTES) -> torch.Tensor:
    """Uploaded bytes -> a uint8 image (C, H, W); InputError for anything else."""
    if not blob:
        raise InputError("the upload is empty: send an image file (PNG, JPEG, GIF, WebP)", 400)
    if len(blob) > max_bytes:
        raise InputError(
            f"the image is {len(blob) / 2**20:.1f} MiB; the limit is {max_bytes / 2**20:.0f} MiB",
            413,
        )
    try:
        return decode_image(blob, MAX_PIXELS)  # what litlab explain reads files with
    except ImageTooLarge as err:
        raise InputError(str(err), 413) from err
    except UNREADABLE as err:
        raise InputError(f"not a readable image ({type(err).__name__})", 415) from err
