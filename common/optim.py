"""Optimiser helpers shared by every domain's LightningModule."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler


def decay_groups(module: nn.Module, weight_decay: float) -> list[dict]:
    """Trainable parameters in two groups, as in nanoGPT: weight decay on matrices and
    kernels (``ndim >= 2``: linear, conv, embedding weights), none on biases and norm scales
    (1-D), which decay would only pull towards zero without regularising anything useful.
    The groups are named, so the learning-rate monitor logs ``lr-<Optimizer>/weights``.
    """
    params = [p for p in module.parameters() if p.requires_grad]
    return [
        {
            "name": "weights",
            "params": [p for p in params if p.ndim >= 2],
            "weight_decay": weight_decay,
        },
        {"name": "norms_biases", "params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def layer_decay_groups(
    module: nn.Module,
    weight_decay: float,
    lr: float,
    layer_decay: float,
    depth: Callable[[str], int],
    n_depths: int,
) -> list[dict]:
    """Layer-wise learning-rate decay (ULMFiT's discriminative rates; the usual BERT
    fine-tuning recipe): a parameter at ``depth(name)`` (0 = the embeddings, ``n_depths`` =
    the new head) learns at ``lr * layer_decay ** (n_depths - depth)``, so the layers that
    hold the most general knowledge move least. Split as :func:`decay_groups` within each
    depth; groups are named ``weights/depth3``, ... for the learning-rate monitor."""
    groups: dict[tuple[int, str], dict] = {}
    for name, p in module.named_parameters():
        if not p.requires_grad:
            continue
        d, kind = depth(name), "weights" if p.ndim >= 2 else "norms_biases"
        group = groups.setdefault(
            (d, kind),
            {
                "name": f"{kind}/depth{d}",
                "params": [],
                "weight_decay": weight_decay if kind == "weights" else 0.0,
                "lr": lr * layer_decay ** (n_depths - d),
            },
        )
        group["params"].append(p)
    return [groups[k] for k in sorted(groups)]


def compiled(net: nn.Module) -> nn.Module:
    """``torch.compile(net)`` for the training and evaluation steps: the one compile idiom.

    The caller keeps it outside its module tree (``object.__setattr__``), so state-dict keys,
    checkpoints, generation, Grad-CAM hooks and export all use the plain ``net``; both share
    the same parameters.
    """
    return torch.compile(net)


def warmup_cosine(step: int, warmup: int, total: int, min_ratio: float) -> float:
    """Learning-rate multiplier: linear warm-up over ``warmup`` steps, then cosine decay to
    ``min_ratio`` at ``total`` (nanoGPT's schedule)."""
    if step < warmup:
        return (step + 1) / warmup
    progress = min(1.0, (step - warmup) / max(1, total - warmup))
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))


def step_schedule(
    opt: Optimizer,
    kind: str,
    total_steps: int,
    warmup: float = 0.2,
    final_div_factor: float = 1e4,
    warmup_steps: int = 0,
    min_lr_ratio: float = 0.0,
) -> dict:
    """What ``configure_optimizers`` returns for a per-step schedule over the whole run: the
    one learning-rate schedule helper of every litlab LightningModule.

    ``"onecycle"``: linear warm-up over the first ``warmup`` fraction to each group's peak
    ``lr``, then a linear anneal to ``lr / (25 * final_div_factor)``; ``"cosine"``: cosine
    decay from the start to zero; ``"warmup_cosine"``: linear warm-up over ``warmup_steps``,
    then cosine to ``min_lr_ratio * lr`` (nanoGPT); ``"none"``: a constant learning rate.
    """
    total_steps = max(1, total_steps)  # any run length works, even one step
    if kind == "none":
        return {"optimizer": opt}
    if kind == "onecycle":
        if warmup * total_steps == 1:  # OneCycleLR divides by (warm-up steps - 1): 5 steps
            warmup = 2 / total_steps if total_steps > 2 else warmup / 2
        sched: LRScheduler = torch.optim.lr_scheduler.OneCycleLR(
            opt,
            max_lr=[g["lr"] for g in opt.param_groups],
            total_steps=total_steps,
            pct_start=warmup,
            anneal_strategy="linear",
            div_factor=25.0,
            final_div_factor=final_div_factor,
            cycle_momentum=False,
        )
    elif kind == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total_steps)
    elif kind == "warmup_cosine":
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: warmup_cosine(s, warmup_steps, total_steps, min_lr_ratio)
        )
    else:
        raise ValueError(f"unknown scheduler {kind!r}: use onecycle, cosine, warmup_cosine or none")
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}
