"""``litlab export``: a checkpoint becomes a new version ``models/<name>/v<N>/`` of the registry.

The version is written into a temporary folder and renamed into place, so it is complete or
absent; the weights go to safetensors (no pickles), the classes to ``config.json`` with
their init arguments, what the DataModule needs to encode new inputs to
``datamodule_state.json``, with ``metrics.json``, ``card.md`` and optionally ``model.onnx``.
``litlab.common.registry`` finds and loads them.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import save_file

from litlab.common.checkpoints import CheckpointError, current_class_paths, load_trained
from litlab.common.model_card import TaskKind, card, git_commit, task_kind, training_metrics
from litlab.common.registry import RegistryError, _versions, check_name


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
            if meta["kind"] != TaskKind.IMAGE:
                kind = meta["kind"]
                an = "an" if kind[:1] in "aeiou" else "a"
                raise RegistryError(f"ONNX export is for image classifiers, not {an} {kind}")
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
