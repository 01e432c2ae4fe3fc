"""What the registry records about a model besides its weights: its task, read from the
protocols its classes follow; the training metrics its checkpoint kept; the git commit it was
exported from; and ``card.md``, the short human-readable summary of all of these.
"""

from __future__ import annotations

import subprocess
from enum import Enum
from pathlib import Path
from typing import Any


def training_metrics(ckpt: dict, extra: dict | None) -> dict:
    """The monitored best score the checkpoint recorded, its position in training, and extras."""
    out: dict[str, Any] = {"epoch": ckpt.get("epoch"), "global_step": ckpt.get("global_step")}
    for key, state in (ckpt.get("callbacks") or {}).items():
        if not key.startswith("ModelCheckpoint") or not isinstance(state, dict):
            continue
        score = state.get("best_model_score")
        if state.get("monitor") and score is not None:
            out["monitor"] = state["monitor"]
            out["best_score"] = float(score)
            break
    if extra:
        out["reported"] = dict(extra)  # the registry checks that it is JSON
    return out


class TaskKind(str, Enum):
    """What a model does: recorded at export, read by ``litlab models`` and serve/. The values
    are the words written to ``config.json`` (a ``str``, so JSON and comparisons just work)."""

    IMAGE = "image classifier"
    AUDIO = "audio classifier"
    TEXT = "text classifier"
    LM = "language model"
    SEQ2SEQ = "seq2seq"
    SUMMARY = "extractive summarizer"
    FORECAST = "time-series forecaster"
    OTHER = "other"

    def __str__(self) -> str:
        return self.value


def task_kind(model: object, data: object) -> TaskKind:
    """What the model does, read from the protocols of common/protocols.py (the inference
    ones, so a LightningModule and its Lightning-free half get the same answer)."""
    from litlab.common import protocols as P  # torch: not for `litlab models`
    from litlab.common.contracts import conforms

    if conforms(model, P.SentenceScorer) and conforms(data, P.SummaryData):
        return TaskKind.SUMMARY
    if conforms(data, P.Seq2SeqData) or conforms(model, P.AlignmentSource):
        return TaskKind.SEQ2SEQ
    if conforms(model, P.LanguageModelSource) or conforms(data, P.LanguageData):
        return TaskKind.LM
    if conforms(data, P.AudioInputs):
        return TaskKind.AUDIO
    if conforms(data, P.TextData):
        return TaskKind.TEXT
    if conforms(data, P.ImageInputs):
        return TaskKind.IMAGE
    if conforms(data, P.ForecastData):
        return TaskKind.FORECAST
    return TaskKind.OTHER


def git_commit() -> str:
    here = Path(__file__).resolve().parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=10
        )
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=here, capture_output=True, text=True, timeout=10,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    if head.returncode:
        return "unknown"
    return head.stdout.strip() + (" (with uncommitted changes)" if dirty.stdout.strip() else "")


def card(meta: dict, metrics: dict, classes: list | None) -> str:
    score = (
        f"best {metrics['monitor']} = {metrics['best_score']:.4f} while training"
        if "best_score" in metrics
        else "no monitored score in the checkpoint"
    )
    lines = [
        f"# {meta['name']} {meta['version']}",
        "",
        f"- task: {meta['kind']}",
        f"- model: `{meta['model_class']}`, {meta['parameters']:,} parameters",
        f"- data: `{meta['data_class']}`",
        f"- classes: {', '.join(map(str, classes))}" if classes else "- classes: none",
        f"- metrics: {score} (epoch {metrics.get('epoch')}, step {metrics.get('global_step')})",
        *(f"- {k}: {v}" for k, v in metrics.get("reported", {}).items()),
        *(
            [f"- ONNX: `model.onnx`, |onnxruntime - PyTorch| <= {metrics['onnx_max_abs_diff']:.1e}"]
            if "onnx_max_abs_diff" in metrics
            else []
        ),
        f"- source checkpoint: `{meta['source_checkpoint']}`",
        f"- git commit: {meta['git_commit']}",
        f"- created: {meta['created']}",
        "",
        f'Load it with `litlab.common.registry.load("{meta["name"]}@{meta["version"]}")`.',
        "",
    ]
    return "\n".join(lines)
