"""A versioned local model registry: ``models/<name>/<version>/``, with no pickles in it.

    litlab export --ckpt logs/.../checkpoints/best.ckpt --name cifar10-resnet20
    litlab models                       name, versions, latest, kind, metric
    load("cifar10-resnet20")            the latest version; "name@v2" or "name@2" for one

Each version folder holds ``model.safetensors`` (the LightningModule's weights),
``config.json`` (model and data class paths with their init arguments), ``datamodule_state.json``
(what the DataModule needs to encode new inputs: classes, normalisation, the tokenizer),
``metrics.json``, ``card.md`` and, with ``--onnx``, ``model.onnx``. Loading rebuilds the
classes from config.json through the same trusted-package check as ``litlab.common.checkpoints``
and reads tensors with safetensors only.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.cli import instantiate_module
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from litlab.common.checkpoints import (
    CheckpointError,
    _import_trusted,
    check_trusted,
    current_class_paths,
    load_trained,
)
from litlab.common.model_card import card, git_commit, task_kind, training_metrics

NAME_RE = re.compile(r"[a-z0-9][a-z0-9._-]*")
FILES = ("model.safetensors", "config.json", "datamodule_state.json", "metrics.json", "card.md")


class RegistryError(ValueError):
    """A bad model name, an unknown name or version, or a version folder that cannot be read."""


# --- export -------------------------------------------------------------------------------


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name or ""):
        raise RegistryError(
            f"bad model name {name!r}: use lowercase letters, digits, '-', '_' and '.', "
            "starting with a letter or digit (e.g. cifar10-resnet20)"
        )
    return name


def _weights(model: torch.nn.Module) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """The state_dict without duplicates, and {dropped key: kept key} for tied tensors.

    safetensors refuses tensors that share memory (a GPT head tied to its embedding): a tie
    is written once and restored on load, where the rebuilt module ties them again itself.
    """
    tensors: dict[str, torch.Tensor] = {}
    aliases: dict[str, str] = {}
    seen: dict[tuple, str] = {}
    for key, t in model.state_dict().items():
        if not isinstance(t, torch.Tensor):
            raise RegistryError(f"the model's state_dict entry {key!r} is not a tensor")
        view = (t.untyped_storage().data_ptr(), t.storage_offset(), tuple(t.shape), t.stride())
        if t.numel() and view in seen:
            aliases[key] = seen[view]
            continue
        seen[view] = key
        tensors[key] = t.detach().to("cpu").contiguous().clone()  # clone: no partial overlaps
    return tensors, aliases


def json_safe(value: Any, what: str) -> Any:
    try:
        return json.loads(json.dumps(value))
    except (TypeError, ValueError) as err:
        raise RegistryError(f"the {what} cannot be written as JSON ({err})") from err


def _class_config(hparams: dict) -> dict:
    init_args = {k: v for k, v in hparams.items() if k not in ("_class_path", "_instantiator")}
    return {"class_path": hparams["_class_path"], "init_args": init_args}


def _versions(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    found = (re.fullmatch(r"v(\d+)", p.name) for p in folder.iterdir() if p.is_dir())
    return sorted(int(m.group(1)) for m in found if m)


def export(
    ckpt: str | Path,
    name: str,
    root: str | Path = "models",
    metrics: dict | None = None,
    onnx: bool = False,
) -> Path:
    """Copy a ``litlab fit`` checkpoint into ``root/name/v<next>/``; returns that folder.
    With ``onnx``, an image classifier also gets ``model.onnx``, checked against PyTorch
    (``common/onnx_export.py``); a failed check exports nothing."""
    check_name(name)
    ckpt = Path(ckpt)
    try:
        model, data = load_trained(ckpt)
    except CheckpointError as err:
        raise RegistryError(str(err)) from err
    raw = torch.load(ckpt, map_location="cpu", weights_only=True, mmap=True)
    tensors, aliases = _weights(model)
    data_state = raw.get(type(data).__qualname__, {}) if data is not None else {}
    if data is not None and not data_state and callable(getattr(data, "state_dict", None)):
        # a checkpoint older than the DataModule's state: work it out from the data now
        data_state = data.state_dict()
    config = {
        "model": _class_config(current_class_paths(raw["hyper_parameters"])),
        "data": _class_config(current_class_paths(raw["datamodule_hyper_parameters"]))
        if data is not None
        else None,
    }
    config = json_safe(config, "config")
    data_state = json_safe(data_state, "DataModule state")
    meta = {
        "name": name,
        "kind": task_kind(model, data),
        "model_class": config["model"]["class_path"],
        "data_class": config["data"]["class_path"] if config["data"] else None,
        "parameters": sum(p.numel() for p in model.parameters()),
        "source_checkpoint": str(ckpt.resolve()),
        "git_commit": git_commit(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    scores = json_safe(training_metrics(raw, metrics), "metrics")
    classes = getattr(data, "classes", None) if data is not None else None

    folder = Path(root) / name
    folder.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder))
    try:
        save_file(tensors, tmp / "model.safetensors", metadata={"aliases": json.dumps(aliases)})
        os.chmod(tmp, 0o755)  # mkdtemp and safetensors make private files; a registry is shared
        os.chmod(tmp / "model.safetensors", 0o644)
        if onnx:
            if meta["kind"] != "image classifier":
                raise RegistryError(f"ONNX export is for image classifiers, not a {meta['kind']}")
            from litlab.common.onnx_export import OnnxMismatch, export_onnx

            try:
                scores |= export_onnx(model, tuple(data.image_shape), tmp / "model.onnx")
            except OnnxMismatch as err:
                raise RegistryError(str(err)) from err
            os.chmod(tmp / "model.onnx", 0o644)
        (tmp / "datamodule_state.json").write_text(json.dumps(data_state, indent=1))
        (tmp / "metrics.json").write_text(json.dumps(scores, indent=1))
        while True:  # never overwrite: a concurrent export that took vN makes us take vN+1
            version = f"v{max(_versions(folder), default=0) + 1}"
            meta["version"] = version
            (tmp / "config.json").write_text(json.dumps({**config, "registry": meta}, indent=1))
            (tmp / "card.md").write_text(card(meta, scores, classes))
            try:
                os.rename(tmp, folder / version)  # atomic: a version is complete or absent
                return folder / version
            except OSError:
                if not (folder / version).exists():
                    raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


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


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError as err:
        raise RegistryError(f"{path} is missing: the version folder is incomplete") from err
    except (OSError, ValueError) as err:
        raise RegistryError(f"{path} is not readable JSON ({err})") from err


def _build(spec: dict, base: type, what: str) -> Any:
    spec = current_class_paths(spec)  # entries exported before the litlab namespace
    check_trusted(spec, what)
    cls = _import_trusted(spec["class_path"], what)
    if not (isinstance(cls, type) and issubclass(cls, base)):
        raise CheckpointError(f"{spec['class_path']!r} is not a {base.__name__}")
    with warnings.catch_warnings():  # rebuilt from its config, the net is not a stray module
        warnings.filterwarnings("ignore", message=".*is an instance of `nn.Module`.*")
        return instantiate_module(cls, {"_class_path": spec["class_path"], **spec["init_args"]})


def load(
    ref: str, root: str | Path = "models", map_location: str | torch.device = "cpu"
) -> tuple[L.LightningModule, L.LightningDataModule | None]:
    """(model in eval mode, DataModule with its state back, or None) for a registry ref."""
    folder = resolve(ref, root)
    config = _read_json(folder / "config.json")
    try:
        model = _build(config["model"], L.LightningModule, "model")
        data = None
        if config.get("data"):
            data = _build(config["data"], L.LightningDataModule, "DataModule")
            state = _read_json(folder / "datamodule_state.json")
            if state:  # a DataModule without state (nothing to encode inputs with) is as built
                data.load_state_dict(state)
    except CheckpointError as err:
        raise RegistryError(f"{folder}/config.json: {err}") from err
    except (KeyError, TypeError, ValueError) as err:
        if isinstance(err, RegistryError):
            raise
        raise RegistryError(f"{folder}/config.json cannot rebuild the model ({err})") from err

    path = folder / "model.safetensors"
    try:
        tensors = load_file(path)
        with open(path, "rb") as f:  # the header: 8-byte length, then JSON with __metadata__
            header = json.loads(f.read(int.from_bytes(f.read(8), "little")))
        aliases = json.loads(header.get("__metadata__", {}).get("aliases", "{}"))
    except (OSError, SafetensorError, ValueError) as err:
        raise RegistryError(f"{path} is missing or corrupt ({err})") from err
    for dropped, kept in aliases.items():
        tensors[dropped] = tensors[kept]  # copied into the rebuilt module, which ties them
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError as err:
        raise RegistryError(f"{path} does not fit the model in config.json ({err})") from err
    return model.to(map_location).eval(), data


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
        metric = (
            f"{scores['monitor']}={scores['best_score']:.4f}" if "best_score" in scores else "-"
        )
        rows.append({
            "name": folder.name,
            "versions": [f"v{v}" for v in versions],
            "latest": f"v{versions[-1]}",
            "kind": meta.get("kind", "?"),
            "metric": metric,
        })  # fmt: skip
    return rows
