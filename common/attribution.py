"""The explanations themselves: Grad-CAM, integrated gradients, attention maps.

One implementation behind two entry points: the TensorBoard callbacks in
``common/callbacks/`` and ``litlab explain``. Nothing here knows about Lightning; every
function takes a model and tensors and returns tensors, which ``common/viz.py`` draws.

Three things make explanations safe to run in the middle of training:

* ``gradients_on()``: Lightning validates under ``torch.inference_mode``, where nothing can be
  differentiated; explanations switch it off (and ``no_grad``) for their own duration.
* ``evaluating(model)``: dropout off and BatchNorm on its running statistics while explaining,
  then the model's train/eval flags are put back exactly as they were, module by module.
* captum registers its hooks only for one call and removes them in ``finally``; gradients are
  taken with ``torch.autograd.grad``, so the parameters' ``.grad`` (the optimizer's state
  between steps) is never touched.

captum is imported by the two functions that use it, so ``evaluating`` costs generation
(``litlab generate``, serve/) nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@contextmanager
def gradients_on() -> Iterator[None]:
    """Gradients enabled even inside ``torch.inference_mode`` / ``torch.no_grad``."""
    with torch.inference_mode(False), torch.enable_grad():
        yield


@contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode for the duration; every submodule's ``training`` flag restored afterwards."""
    flags = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield
    finally:
        for m, flag in flags:
            m.training = flag


def _fresh(t: Tensor) -> Tensor:
    """A normal tensor with the same values (inference tensors cannot enter autograd)."""
    return t.detach().clone()


# --- Grad-CAM ---------------------------------------------------------------------------------


def grad_cam(
    forward: Callable[[Tensor], Tensor],
    layer: nn.Module,
    images: Tensor,
    target: Tensor | list[int],
) -> Tensor:
    """Grad-CAM maps (B, H, W) in [0, 1], upsampled bilinearly to the image size.

    ``forward``: images (B, C, H, W) -> logits (B, K); it must run ``layer`` once per call.
    Sequences (B, C, T) through a 1-D convolution work the same: maps (B, T), upsampled
    linearly (the waveform networks of ``litlab.audio``).
    ``target``: the class to explain for each image. The map is the ReLU of the layer's
    channels weighted by the spatially averaged gradient of the target logit (Selvaraju et
    al., 2017), then scaled by its own maximum so that images compare by shape.
    """
    from captum.attr import LayerGradCam

    with gradients_on():
        cam = LayerGradCam(forward, layer).attribute(
            _fresh(images), target=torch.as_tensor(target).tolist(), relu_attributions=True
        )  # (B, 1, h, w) at the layer's resolution, or (B, 1, t) for sequences
        mode = "linear" if cam.ndim == 3 else "bilinear"
        cam = F.interpolate(cam.detach(), size=images.shape[2:], mode=mode)
    cam = cam[:, 0]
    peak = cam.flatten(1).amax(dim=1).clamp_min(1e-12)
    return cam / peak.view(-1, *[1] * (cam.ndim - 1))


# --- integrated gradients on token embeddings -------------------------------------------------


@dataclass
class TokenAttribution:
    """Per-token integrated gradients for one batch.

    ``scores``: (B, T), the attribution of each token (summed over embedding dimensions),
    padding positions zero. ``delta``: (B,) the convergence delta, ``sum(scores) - (F(x) -
    F(baseline))``; small against ``F(x) - F(baseline)`` means the path integral converged.
    ``target``: (B,) the explained class; ``probs``: (B, K) the model's probabilities.
    """

    scores: Tensor
    delta: Tensor
    target: Tensor
    probs: Tensor


def describe(att: TokenAttribution, i: int, classes: list[str], label: int | None = None) -> str:
    """One line: the explained class, its probability, the truth and the IG delta."""
    t = int(att.target[i])
    line = f"predicted {classes[t]} ({att.probs[i, t]:.2f})"
    if label is not None:
        line += f", true {classes[label]}"
    return line + f", IG delta {att.delta[i]:+.2e}"


def integrated_gradients(
    forward: Callable[..., Tensor],
    embedding: nn.Module,
    ids: Tensor,
    lengths: Tensor,
    pad_id: int,
    target: Tensor | None = None,
    n_steps: int = 50,
) -> TokenAttribution:
    """Integrated gradients of ``forward(ids, lengths)[target]`` at the embedding layer.

    The baseline is the same sequence with every token replaced by padding (same lengths, so
    packing and masks are unchanged): the attribution says how much each token's embedding,
    compared with a padding embedding at its place, moved the target logit. ``target``
    defaults to the predicted class.
    """
    from captum.attr import LayerIntegratedGradients

    ids, lengths = _fresh(ids), _fresh(lengths)
    baseline = torch.full_like(ids, pad_id)
    cudnn_rnn = ids.is_cuda and any(isinstance(m, nn.RNNBase) for m in _modules_of(forward))
    with gradients_on(), torch.backends.cudnn.flags(enabled=not cudnn_rnn):
        # cuDNN's RNN backward works only in training mode; the native kernels work in eval
        with torch.no_grad():
            probs = forward(ids, lengths).float().softmax(dim=-1)
        if target is None:
            target = probs.argmax(dim=-1)
        attr, delta = LayerIntegratedGradients(forward, embedding).attribute(
            ids,
            baselines=baseline,
            target=target.tolist(),
            additional_forward_args=(lengths,),
            n_steps=n_steps,
            return_convergence_delta=True,
        )  # attr: (B, T, E)
    scores = attr.detach().float().sum(dim=-1)
    positions = torch.arange(ids.shape[1], device=ids.device)
    scores = scores * (positions[None, :] < lengths[:, None].to(ids.device))
    return TokenAttribution(scores, delta.detach().float(), target, probs)


def _modules_of(forward: Callable[..., Tensor]) -> Iterator[nn.Module]:
    """The modules behind a forward callable (a module or a bound method of one)."""
    owner = forward if isinstance(forward, nn.Module) else getattr(forward, "__self__", None)
    return owner.modules() if isinstance(owner, nn.Module) else iter(())
