"""A versioned local model registry: ``models/<name>/<version>/``, with no pickles in it.

    litlab export --ckpt logs/.../checkpoints/best.ckpt --name cifar10-resnet20
                                        (``registry_export.py``)
    litlab models                       name, versions, latest, kind, metric
    load("cifar10-resnet20")            the latest version; "name@v2" or "name@2" for one

Each version folder holds ``model.safetensors`` (the LightningModule's weights),
``config.json`` (model and data class paths with their init arguments), ``datamodule_state.json``
(what the DataModule needs to encode new inputs: classes, normalisation, the tokenizer),
``metrics.json``, ``card.md`` and, with ``--onnx``, ``model.onnx``. Loading rebuilds the
classes from config.json through the same trusted-package check as ``litlab.common.checkpoints``
and reads tensors with safetensors only. What it rebuilds are the Lightning-free inference
halves of the classes (``common/inference.py``), so serve/ never imports Lightning; a class
without a half is rebuilt through Lightning as before. Listing (``litlab models``) reads JSON
only and imports neither torch nor safetensors.
"""

from __future__ import annotations

import json
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from litlab.common.model_card import TaskKind, task_kind

if TYPE_CHECKING:
    import torch
    from torch import nn

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
FILES = ("model.safetensors", "config.json", "datamodule_state.json", "metrics.json", "card.md")


class RegistryError(ValueError):
    """A bad model name, an unknown name or version, or a version folder that cannot be read."""




@dataclass(frozen=True)
class Loaded:
    """One registry version, loaded: what serve and a user's script need, read once."""

    model: nn.Module  # in eval mode: the inference half (common/inference.py), or Lightning's
    data: object | None  # its state back: encodes new inputs without the data
    kind: TaskKind
    name: str
    version: str  # "v3"
    metrics: dict = field(default_factory=dict)  # metrics.json

    @property
    def metric(self) -> str:
        return best_metric(self.metrics)


def best_metric(scores: dict) -> str:
    """The best validation score of a metrics.json, e.g. ``"val/acc=0.9912"``, or ``"-"``."""
    return f"{scores['monitor']}={scores['best_score']:.4f}" if "best_score" in scores else "-"


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or ""):
        raise RegistryError(
            f"bad model name {name!r}: use lowercase letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (e.g. cifar10-resnet20)"
        )
    return name


def _versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    found = (re.fullmatch(r"v(\d+)", p.name) for p in folder.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


# --- load ---------------------------------------------------------------------------------


def resolve(ref: str, root: str | Path = "models") -> Path:
    """``name`` (latest), ``name@v2`` or ``name@2`` -> the version folder."""
    name, _, version = ref.partition("@")
    check_name(name)
    versions = _versions(Path(root) / name)
    if not versions:
        known = ", ".join(m["name"] for m in list_models(root)) or "none"
        raise RegistryError(f"no model named {name!r} in {root}/ (known: {known})")
    if not version:
        return Path(root) / name / f"v{versions[-1]}"
    m = re.fullmatch(r"v?(\d+)", version)
    if not m or int(m.group(1)) not in versions:
        have = ", ".join(f"v{v}" for v in versions)
        raise RegistryError(f"{name} has no version {version!r} (versions: {have})")
    return Path(root) / name / f"v{int(m.group(1))}"


def recorded_kind(ref: str, root: str | Path = "models") -> TaskKind | None:
    """The kind ``litlab export`` recorded for a registry ref (None if it recorded none),
    read from config.json without loading anything: serve/ skips what it cannot serve."""
    kind = _read_json(resolve(ref, root) / "config.json").get("registry", {}).get("kind")
    return TaskKind(kind) if kind in set(TaskKind) else None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise RegistryError(f"{path} is missing: the version folder is incomplete") from err
    except (OSError, ValueError) as err:
        raise RegistryError(f"{path} is not readable JSON ({err})") from err


def _lightning_build(spec: dict, what: str) -> Any:
    """The Lightning class itself from its trusted config: for a class without a half."""
    import lightning as L
    from lightning.pytorch.cli import instantiate_module

    from litlab.common.checkpoints import CheckpointError, _import_trusted

    base = L.LightningModule if what == "model" else L.LightningDataModule
    cls = _import_trusted(spec["class_path"], what)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise CheckpointError(f"{spec['class_path']!r} is not a {base.__name__}")
    with warnings.catch_warnings():  # rebuilt from its config, the net is not a stray module
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        return instantiate_module(cls, {"_class_path": spec["class_path"], **spec["init_args"]})


def _weights(path: Path) -> dict[str, torch.Tensor]:
    """The tensors of model.safetensors, tied ones restored under every name they had."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        tensors = load_file(path)
        with open(path, "rb") as f:  # the header: 8-byte length, then JSON with __metadata__
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        aliases = json.loads(header.get("__metadata__", {}).get("aliases", "{}"))
    except (OSError, SafetensorError, ValueError) as err:
        raise RegistryError(f"{path} is missing or corrupt ({err})") from err
    for dropped, kept in aliases.items():
        tensors[dropped] = tensors[kept]  # copied into the rebuilt module, which ties them
    return tensors


def load(ref: str, root: str | Path = "models", map_location: str | torch.device = "cpu") -> Loaded:
    """The model (eval mode), its data with its state back (or None), its kind, name,
    version and metrics, for a registry ref: ``"name"`` (latest), ``"name@v2"``."""
    from litlab.common.checkpoints import CheckpointError, check_trusted, current_class_paths
    from litlab.common.inference import rebuild_data, rebuild_model

    folder = resolve(ref, root)
    config = _read_json(folder / "config.json")
    meta = config.get("registry", {})
    path = folder / "model.safetensors"
    try:
        model_spec = current_class_paths(config["model"])  # entries written before litlab.*
        check_trusted(model_spec, "model")
        data_spec = current_class_paths(config["data"]) if config.get("data") else None
        data = None
        if data_spec is not None:
            check_trusted(data_spec, "DataModule")
            state = _read_json(folder / "datamodule_state.json")
            hparams = {"_class_path": data_spec["class_path"], **data_spec["init_args"]}
            data = rebuild_data(hparams, state)
            if data is None:  # no half, or no state to restore one from
                data = _lightning_build(data_spec, "DataModule")
                if state:  # a DataModule without state (nothing to encode inputs with) is as built
                    data.load_state_dict(state)
        tensors = _weights(path)
        hparams = {"_class_path": model_spec["class_path"], **model_spec["init_args"]}
        model = rebuild_model(hparams, tensors)
        if model is None:
            model = _lightning_build(model_spec, "model")
            model.load_state_dict(tensors, strict=True)
    except CheckpointError as err:
        raise RegistryError(f"{folder}/config.json: {err}") from err
    except RuntimeError as err:  # load_state_dict
        raise RegistryError(f"{path} does not fit the model in config.json ({err})") from err
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, RegistryError):
            raise
        raise RegistryError(f"{folder}/config.json cannot rebuild the model ({err})") from err
    metrics = _read_json(folder / "metrics.json") if (folder / "metrics.json").exists() else {}
    kind = meta.get("kind")  # recorded at export; working it out again may need the data
    return Loaded(
        model=model.to(map_location).eval(),
        data=data,
        kind=TaskKind(kind) if kind in set(TaskKind) else task_kind(model, data),
        name=folder.parent.name,
        version=folder.name,
        metrics=metrics,
    )


def list_models(root: str | Path = "models") -> list[dict]:
    """One row per model name: versions, latest, kind and the latest version's best score."""
    rows = []
    root = Path(root)
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        versions = _versions(folder)
        if not versions or not NAME_RE.fullmatch(folder.name):
            continue
        latest = folder / f"v{versions[-1]}"
        try:
            meta = _read_json(latest / "config.json").get("registry", {})
            scores = _read_json(latest / "metrics.json")
        except RegistryError:
            meta, scores = {}, {}
        metric = best_metric(scores)
        rows.append({
            "name": folder.name,
            "versions": [f"v{v}" for v in versions],
            "latest": f"v{versions[-1]}",
            "kind": meta.get("kind", "?"),
            "metric": metric,
        })  # fmt: skip
    return rows
