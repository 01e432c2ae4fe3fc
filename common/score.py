"""``litlab score``: accuracy, macro F1 and a confusion matrix of a text classifier on your file.

    litlab score --ckpt logs/sequence/imdb_bilstm/version_0/checkpoints/best.ckpt --data my.tsv
    litlab score --model imdb-bilstm [--version v2] --data reviews/ --out scored/

``--data``: a TSV or CSV file (``.gz`` too) with a header naming a ``text`` column (or
``sentence``, ``review``, ``document``: SST-2 and NSMC files as they are) and a ``label``
column (a class name in any case, ``pos``/``neg``, or a class index); or a folder of
``<class>/*.txt`` (``pos/``, ``neg/`` or class names, as ``aclImdb/test``). Empty texts are
skipped and counted. Texts go through the checkpoint's own DataModule (``encode_texts``, the
``TextData`` protocol) and the model in eval mode; ``--out DIR`` writes
``confusion_matrix.png`` and ``score.json``.
"""

from __future__ import annotations

import csv
import gzip
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from itertools import zip_longest
from pathlib import Path

import torch
from torch import Tensor, nn
from torchmetrics.functional.classification import (
    multiclass_accuracy,
    multiclass_confusion_matrix,
    multiclass_f1_score,
    multiclass_precision,
    multiclass_recall,
)
from tqdm import tqdm

from litlab.common.attribution import evaluating
from litlab.common.checkpoints import load_inference
from litlab.common.contracts import conforms
from litlab.common.errors import CommandParser, ConfigError
from litlab.common.inference import device_of
from litlab.common.model_card import task_kind
from litlab.common.protocols import TextData, TokenBatch
from litlab.common.registry import load
from litlab.common.viz import confusion_matrix_figure

TEXT_COLUMNS = ("text", "sentence", "review", "document")
ALIASES = {"pos": "positive", "neg": "negative"}


@dataclass
class Labelled:
    """Texts of a user's file with their class indices, and how many empty texts were skipped."""

    texts: list[str] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    empty: int = 0

    def add(self, text: str, label: int) -> None:
        """Keep a text and its label; an empty text is only counted."""
        if text:
            self.texts.append(text)
            self.labels.append(label)
        else:
            self.empty += 1


def label_index(label: str, classes: list[str], where: str) -> int:
    """A class name (any case, or an alias), or a class index, -> the index; else ConfigError."""
    key = label.strip().lower()
    names = [c.lower() for c in classes]
    for name in (key, ALIASES.get(key)):
        if name in names:
            return names.index(name)
    if key.isdigit() and int(key) < len(classes):
        return int(key)
    raise ConfigError(
        f"{where}: label {label.strip()!r} is not one of the model's classes {classes} "
        f"(nor an index 0..{len(classes) - 1})"
    )


def _tsv_records(lines: Iterator[str], width: int) -> Iterator[tuple[int, list[str]]]:
    """(first line number, cells) of TSV lines after the header, split on tabs (no quoting);
    a record with fewer than ``width`` cells goes on on the next line (as some of NSMC's)."""
    record, start = "", 0
    for n, line in enumerate(lines, start=2):
        line = line.rstrip("\r\n")
        record, start = (f"{record} {line}", start) if record else (line, n)
        if len(record.split("\t")) >= width:
            yield start, record.split("\t")
            record = ""
    if record:
        yield start, record.split("\t")


def read_table(path: Path, classes: list[str], limit: int | None = None) -> Labelled:
    """Texts and labels of a TSV/CSV file with a header (see the module docstring)."""
    out = Labelled()
    kind = path.name.lower().removesuffix(".gz").rpartition(".")[2]
    try:
        opener = gzip.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as f:
            first = f.readline()
            tsv = kind == "tsv" or (kind != "csv" and "\t" in first)
            if tsv:
                header = first.rstrip("\r\n").split("\t")
            else:
                f.seek(0)
                reader = csv.reader(f)
                header = next(reader, [])
            names = [h.strip().lower() for h in header]
            text_col = next((names.index(c) for c in TEXT_COLUMNS if c in names), None)
            if text_col is None or "label" not in names:
                raise ConfigError(f"{path}: the header {names} needs a text column (one of "
                                  f"{', '.join(TEXT_COLUMNS)}) and a label column")
            label_col = names.index("label")
            width = max(text_col, label_col) + 1
            rows = _tsv_records(f, width) if tsv else ((reader.line_num, c) for c in reader)
            for n, cells in rows:
                if not any(c.strip() for c in cells):
                    continue  # a blank line
                if len(cells) < width:
                    raise ConfigError(
                        f"{path}, line {n}: {len(cells)} column(s), the header has {len(header)}"
                    )
                text, where = cells[text_col].strip(), f"{path}, line {n}"
                out.add(text, label_index(cells[label_col], classes, where) if text else -1)
                if limit and len(out.texts) >= limit:
                    break
    except (UnicodeDecodeError, OSError, EOFError, csv.Error) as err:
        raise ConfigError(f"{path}: not a readable UTF-8 table ({err})") from err
    return out


def read_folder(path: Path, classes: list[str], limit: int | None = None) -> Labelled:
    """Texts of ``path/<class>/*.txt`` (``pos``/``neg`` or class names), one per file."""
    files: list[list[tuple[Path, int]]] = []
    for sub in sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith(".")):
        label = label_index(sub.name, classes, f"{path}: subfolder {sub.name}/")
        files.append([(f, label) for f in sorted(sub.glob("*.txt"))])
    # in turn from each class, so that the first N (--limit) are not all of one class
    order = [pair for rank in zip_longest(*files) for pair in rank if pair]
    if not order:
        raise ConfigError(f"{path}: no <class>/*.txt files (subfolders pos/, neg/ or {classes})")
    out = Labelled()
    for file, label in order:
        try:
            text = file.read_text(encoding="utf-8").strip()
        except (UnicodeDecodeError, OSError) as err:
            raise ConfigError(f"{file}: not readable UTF-8 text ({err})") from err
        out.add(text, label)
        if limit and len(out.texts) >= limit:
            break
    return out


def read_labelled(data: str, classes: list[str], limit: int | None = None) -> Labelled:
    """A table or a folder of labelled texts; ConfigError if missing or holding no text."""
    path = Path(data)
    if not path.exists():
        raise ConfigError(f"--data {data}: no such file or folder")
    found = (read_folder if path.is_dir() else read_table)(path, classes, limit)
    if not found.texts:
        raise ConfigError(f"--data {data}: no labelled text in it ({found.empty} empty)")
    return found


def predict(
    model: nn.Module, data: TextData, texts: list[str], batch_size: int = 64
) -> Tensor:
    """Predicted class indices (N,) of raw texts, through the DataModule's own encoder."""
    preds = []
    with evaluating(model), torch.inference_mode(), tqdm(
        total=len(texts), unit="text", file=sys.stderr
    ) as bar:
        for i in range(0, len(texts), batch_size):
            ids, lengths = data.encode_texts(texts[i : i + batch_size])
            device = device_of(model)
            batch = TokenBatch(ids.to(device), lengths.to(device))
            logits = model.logits(batch) if hasattr(model, "logits") else model(*batch)
            preds.append(logits.argmax(dim=-1).cpu())
            bar.update(len(batch.ids))
    return torch.cat(preds)


def figures(preds: Tensor, labels: Tensor, classes: list[str]) -> dict:
    """Accuracy, macro F1 (over the classes present), per-class figures, confusion matrix."""
    k = {"num_classes": len(classes)}
    matrix = multiclass_confusion_matrix(preds, labels, **k)
    p, r, f1 = (fn(preds, labels, average=None, **k).tolist()
                for fn in (multiclass_precision, multiclass_recall, multiclass_f1_score))
    return {
        "n": len(labels),
        "accuracy": multiclass_accuracy(preds, labels, average="micro", **k).item(),
        "macro_f1": multiclass_f1_score(preds, labels, average="macro", **k).item(),
        "per_class": {
            c: {"precision": p[i], "recall": r[i], "f1": f1[i], "support": int(matrix[i].sum())}
            for i, c in enumerate(classes)
        },
        "confusion_matrix": matrix.tolist(),
    }


def report(scores: dict, classes: list[str]) -> str:
    """The figures as text: summary, per-class table, confusion matrix (rows: true)."""
    w = max(8, *map(len, classes)) + 2

    def row(name: str, cells: list, fmt: str = "") -> str:
        return f"{name:<{w}}" + "".join(f"{c:>{w}{fmt}}" for c in cells)

    return "\n".join([
        f"accuracy  {scores['accuracy']:.4f}", f"macro F1  {scores['macro_f1']:.4f}", "",
        row("class", ["precision", "recall", "f1", "support"]),
        *(row(c, [s["precision"], s["recall"], s["f1"]], ".4f") + f"{s['support']:>{w}}"
          for c, s in scores["per_class"].items()), "",
        "confusion matrix (rows: true class, columns: predicted)", row("", classes),
        *(row(c, counts) for c, counts in zip(classes, scores["confusion_matrix"])),
    ])  # fmt: skip


def load_text_classifier(
    ckpt: str | None, model: str | None, version: str | None = None, root: str = "models",
    device: str = "cpu",
) -> tuple[nn.Module, TextData, str]:
    """The model, its DataModule and a name for it, from a checkpoint or a registry name;
    ConfigError unless it classifies text."""
    if ckpt is not None:
        (net, data), source = load_inference(ckpt, map_location=device), ckpt
    else:
        loaded = load(f"{model}@{version}" if version else model, root, map_location=device)
        net, data, source = loaded.model, loaded.data, f"{loaded.name}@{loaded.version}"
    if not conforms(data, TextData):
        what = f"{task_kind(net, data)}: {type(net).__name__} with {type(data).__name__}"
        raise ConfigError(
            f"{source} is not a text classifier ({what}); litlab score needs a model whose "
            "DataModule encodes text (the TextData protocol of common/protocols.py)"
        )
    return net, data, source


def save(scores: dict, out: Path) -> None:
    """``out/score.json`` and ``out/confusion_matrix.png`` (the callbacks' figure)."""
    import matplotlib.pyplot as plt  # after viz, which picks the Agg backend

    out.mkdir(parents=True, exist_ok=True)
    fig = confusion_matrix_figure(torch.tensor(scores["confusion_matrix"]), scores["classes"])
    fig.savefig(out / "confusion_matrix.png", dpi=120)
    plt.close(fig)
    text = json.dumps(scores, indent=2, ensure_ascii=False)
    (out / "score.json").write_text(text + "\n", encoding="utf-8")


def run_score(
    data: str, ckpt: str | None = None, model: str | None = None, version: str | None = None,
    root: str = "models", out: str | None = None, limit: int | None = None,
    batch_size: int = 64, device: str = "cpu",
) -> dict:
    """Load, read, predict, print the figures and write ``out``; returns the figures."""
    start = time.perf_counter()
    ok = {"cpu": True, "cuda": torch.cuda.is_available(), "mps": torch.backends.mps.is_available()}
    device = ("cuda" if ok["cuda"] else "cpu") if device == "auto" else device
    if not ok[device]:
        raise ConfigError(f"--device {device}: not usable on this machine (try cpu or auto)")
    net, text_data, source = load_text_classifier(ckpt, model, version, root, device)
    classes = list(text_data.classes)
    found = read_labelled(data, classes, limit)
    preds = predict(net, text_data, found.texts, batch_size)
    scores = {"model": source, "data": data, "classes": classes,
              **figures(preds, torch.tensor(found.labels), classes), "skipped_empty": found.empty}
    scores["seconds"] = round(time.perf_counter() - start, 2)
    print(f"scored {scores['n']} text(s) of {data} with {source} ({found.empty} empty "
          f"skipped) in {scores['seconds']:.1f} s\n\n{report(scores, classes)}")
    if out:
        save(scores, Path(out))
        print(f"\nwritten: {Path(out) / 'score.json'}, {Path(out) / 'confusion_matrix.png'}")
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="litlab score", description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--ckpt", help="a checkpoint written by litlab fit")
    which.add_argument("--model", help="a registry model name (see litlab models)")
    parser.add_argument("--version", help="with --model: a version, e.g. v2 (default: latest)")
    parser.add_argument("--root", default="models", help="the registry folder (--model)")
    parser.add_argument("--data", required=True, help="a TSV/CSV file or a folder of classes")
    parser.add_argument("--out", help="folder for confusion_matrix.png and score.json")
    parser.add_argument("--limit", type=int, help="score only the first N texts")
    parser.add_argument("--batch-size", type=int, default=64, help="texts per forward pass")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda", "mps", "auto"])
    args = parser.parse_args(argv)
    if args.version and not args.model:
        parser.error("--version goes with --model")
    for name in ("limit", "batch_size"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    run_score(args.data, args.ckpt, args.model, args.version, args.root, args.out,
              args.limit, args.batch_size, args.device)  # fmt: skip
    return 0
