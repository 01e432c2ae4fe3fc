"""Load a trained model and its data from a checkpoint, safely: for inference or for Lightning.

- :func:`load_inference` (``litlab generate``, ``chat``, ``explain``, ``summarize``, ``score``):
  the Lightning-free inference halves of the model and its DataModule
  (``common/inference.py``), rebuilt from the checkpoint without importing Lightning;
  classes without a half are loaded by :func:`load_trained` instead.
- :func:`load_trained`: the LightningModule and the LightningDataModule themselves.

A Lightning checkpoint written through ``litlab fit`` records the class paths of the model
and the DataModule with their init arguments, and the DataModule's ``state_dict()`` (class
names, normalisation, tokenizer). Rebuilding them imports the named classes, so only classes
from the ``litlab`` package are accepted, plus any package prefix listed in
``$LITLAB_TRUSTED_MODULES`` (comma-separated) for your own code. Tensors are read with
``weights_only=True``: nothing in the file is unpickled as code.

Checkpoints and registry entries written before the one ``litlab`` namespace name their
classes ``vision.module.ImageClassifier`` and so on: :func:`current_class_path` is the one
place that translates those old prefixes to ``litlab.vision.module.ImageClassifier``.
"""

from __future__ import annotations

import importlib
import os
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import lightning as L
    import torch
    from torch import nn

TRUSTED_PACKAGES = ("litlab",)
# the top-level names litlab's packages had before they moved under ``litlab.``
OLD_PACKAGES = ("common", "vision", "sequence", "transformer", "serve", "experiments")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, not litlab's, or naming untrusted code."""


def trusted_prefixes() -> tuple[str, ...]:
    extra = os.environ.get("LITLAB_TRUSTED_MODULES", "")
    return TRUSTED_PACKAGES + tuple(p.strip() for p in extra.split(",") if p.strip())


# classes that moved to common/ because two domains share them
MOVED = {"litlab.sequence.lm.module.LanguageModel": "litlab.common.language_model.LanguageModel"}


def current_class_path(class_path: str) -> str:
    """``vision.models.AirbenchNet`` (a class path written before the ``litlab`` namespace)
    -> ``litlab.vision.models.AirbenchNet``, and a moved class to its new place; every other
    path is returned as it is."""
    if class_path.split(".")[0] in OLD_PACKAGES:
        class_path = f"litlab.{class_path}"
    return MOVED.get(class_path, class_path)


def current_class_paths(config: Any) -> Any:
    """A copy of a hyper-parameter tree with every ``class_path`` / ``_class_path`` value
    translated by :func:`current_class_path`."""
    if isinstance(config, dict):
        return {
            key: current_class_path(value)
            if key in ("class_path", "_class_path") and isinstance(value, str)
            else current_class_paths(value)
            for key, value in config.items()
        }
    if isinstance(config, list):
        return [current_class_paths(value) for value in config]
    return config


def _trusted(module: str) -> bool:
    parts = module.split(".")
    return any(parts[: len(p.split("."))] == p.split(".") for p in trusted_prefixes())


def _import_trusted(class_path: str, what: str) -> type:
    module, _, name = class_path.rpartition(".")
    if not _trusted(module):
        raise CheckpointError(
            f"the checkpoint's {what} is {class_path!r}, outside litlab's packages "
            f"{TRUSTED_PACKAGES}; if you trust it, add its package to $LITLAB_TRUSTED_MODULES"
        )
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as err:
        raise CheckpointError(f"the checkpoint's {what} {class_path!r} cannot be imported") from err


def check_trusted(config: object, what: str) -> None:
    """Refuse any class path, at any depth (e.g. the ``net`` inside the model), that is not
    from litlab's packages: rebuilding a checkpoint imports every class it names."""
    if isinstance(config, dict):
        for key, value in config.items():
            if key in ("class_path", "_class_path") and isinstance(value, str):
                if not _trusted(value.rpartition(".")[0]):
                    _import_trusted(value, what)  # raises with the explanation
            else:
                check_trusted(value, what)
    elif isinstance(config, list):
        for value in config:
            check_trusted(value, what)


def _read(path: str | Path) -> dict:
    """The whole checkpoint, memory-mapped (tensors are read when used), no code unpickled."""
    import torch

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # truncated file, not a torch file, ...
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({err})") from err


def read_hparams(path: str | Path, ckpt: dict | None = None) -> dict:
    """The checkpoint's tensors-free header: hyper-parameters of model and data (``ckpt``:
    the checkpoint already read, else it is read from ``path``)."""
    ckpt = _read(path) if ckpt is None else ckpt
    if "_class_path" not in ckpt.get("hyper_parameters", {}):
        raise CheckpointError(
            f"{path} does not record its model class: train it with `litlab fit` (or call "
            "save_hyperparameters() in the LightningModule)"
        )
    return {
        "model": current_class_paths(dict(ckpt["hyper_parameters"])),
        "data": current_class_paths(dict(ckpt.get("datamodule_hyper_parameters", {}))),
    }


def _overrides(hparams: dict) -> dict:
    """The hyper-parameters with translated class paths, passed to Lightning's loader as
    keyword arguments: they win over the (possibly old) ones the file holds."""
    return {k: v for k, v in hparams.items() if k != "_instantiator"}


def load_inference(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[nn.Module, object | None]:
    """(model in eval mode, data restored from its state or None) for inference.

    Both are the Lightning-free inference halves of the checkpoint's classes
    (``common/inference.py``): the network rebuilt from its configuration with the trained
    weights, and what the DataModule kept (tokenizer, classes, normalisation) with its
    encoding methods. A class without a half, or a checkpoint older than its DataModule's
    state, is loaded through Lightning by :func:`load_trained`."""
    from litlab.common.inference import rebuild_data, rebuild_model

    ckpt = _read(path)
    hparams = read_hparams(path, ckpt)
    check_trusted(hparams["model"], "model")
    check_trusted(hparams["data"], "DataModule")
    data_class = hparams["data"].get("_class_path")
    # Lightning keeps the DataModule's state_dict() under its class name
    state = ckpt.get(data_class.rpartition(".")[2]) if data_class else None
    data = rebuild_data(hparams["data"], state) if data_class and state else None
    if data_class is not None and data is None:
        return load_trained(path, map_location)
    try:
        model = rebuild_model(hparams["model"], ckpt["state_dict"])
    except RuntimeError as err:  # load_state_dict: the weights do not fit the configuration
        raise CheckpointError(f"{path}: the weights do not fit the model's config ({err})") from err
    if model is None:
        return load_trained(path, map_location)
    return model.to(map_location), data


def load_trained(
    path: str | Path, map_location: str | torch.device = "cpu"
) -> tuple[L.LightningModule, L.LightningDataModule | None]:
    """(model in eval mode, DataModule restored from its state or None) from a checkpoint:
    the Lightning classes themselves (what ``litlab export`` and training code need)."""
    import lightning as L

    hparams = read_hparams(path)
    check_trusted(hparams["model"], "model")
    _import_trusted(hparams["model"]["_class_path"], "model")
    with warnings.catch_warnings():  # rebuilt from its config, the net is not a stray module
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        model = L.LightningModule.load_from_checkpoint(
            path, map_location=map_location, **_overrides(hparams["model"])
        )
    model.eval()
    data = None
    if "_class_path" in hparams["data"]:
        check_trusted(hparams["data"], "DataModule")
        _import_trusted(hparams["data"]["_class_path"], "DataModule")
        data = L.LightningDataModule.load_from_checkpoint(path, **_overrides(hparams["data"]))
    return model, data
