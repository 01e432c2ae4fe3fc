"""ONNX export of an image classifier, checked against PyTorch before it is kept.

    litlab export --ckpt C --name cifar10-quick --onnx     (adds model.onnx to the version)

``torch.onnx.export`` (the ``torch.export`` based exporter) traces the LightningModule's
forward on normalised images (B, C, H, W) with a dynamic batch size; the graph then runs in
onnxruntime on fresh random batches of two other sizes, and the export is refused unless
every logit matches PyTorch's within ``atol`` and every top class agrees. The ONNX file
takes normalised images, like the PyTorch model: the mean and std are in
``datamodule_state.json``. Needs the ``[serve]`` extra (onnx, onnxscript, onnxruntime).
"""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import torch
from torch import nn


class OnnxMismatch(ValueError):
    """onnxruntime does not reproduce PyTorch's logits."""


def export_onnx(
    model: nn.Module,
    image_shape: tuple[int, int, int],
    path: str | Path,
    atol: float = 1e-4,
    seed: int = 0,
) -> dict:
    """Write ``model`` (images -> logits) to ``path`` and check it; returns the check."""
    import onnxruntime as ort  # the [serve] extra; imported here so the registry needs none

    model = model.cpu().eval()
    g = torch.Generator().manual_seed(seed)
    example = torch.randn(2, *image_shape, generator=g)
    batch = torch.export.Dim("batch", min=1, max=4096)
    with contextlib.redirect_stdout(io.StringIO()):  # the exporter narrates every stage
        torch.onnx.export(
            model,
            (example,),
            str(path),
            input_names=["images"],
            output_names=["logits"],
            dynamic_shapes=({0: batch},),
            dynamo=True,
            external_data=False,  # one self-contained file: the image classifiers are small
        )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    worst, sizes = 0.0, (1, 7)
    for n in sizes:  # other batch sizes than the traced one: the batch axis must be dynamic
        x = torch.randn(n, *image_shape, generator=g)
        with torch.no_grad():
            ref = model(x).float()
        out = torch.from_numpy(session.run(["logits"], {"images": x.numpy()})[0])
        worst = max(worst, float((out - ref).abs().max()))
        if worst > atol or not torch.equal(out.argmax(-1), ref.argmax(-1)):
            raise OnnxMismatch(
                f"onnxruntime differs from PyTorch by {worst:.2e} (allowed {atol:.0e}) on a "
                f"batch of {n}: the ONNX file is not kept"
            )
    return {"onnx_max_abs_diff": worst, "onnx_batch_sizes_checked": list(sizes)}
