"""``litlab export`` and ``litlab models``: the command line of ``common/registry.py``.

``litlab models`` reads JSON only, so it imports neither torch nor Lightning; ``export``
imports them (through ``registry_export``) once its arguments are read.
"""

from __future__ import annotations

import sys

from litlab.common.data import MissingDataError
from litlab.common.errors import CommandParser
from litlab.common.registry import RegistryError, list_models


def export(*args, **kwargs) -> object:
    """``registry_export.export``, imported when called (torch and Lightning: not for
    ``litlab models`` or ``--help``); a module-level name, so tests can replace it."""
    from litlab.common.registry_export import export as export_checkpoint

    return export_checkpoint(*args, **kwargs)


# --- command line -------------------------------------------------------------------------


def export_main(argv: list[str] | None = None) -> int:
    parser = CommandParser(
        prog="litlab export", description="copy a checkpoint into the versioned model registry"
    )
    parser.add_argument("--ckpt", required=True, help="a checkpoint written by litlab fit")
    parser.add_argument("--name", required=True, help="e.g. cifar10-resnet20")
    parser.add_argument("--root", default="models", help="registry folder (default: models)")
    parser.add_argument(
        "--onnx", action="store_true", help="image classifiers: also model.onnx, checked"
    )
    args = parser.parse_args(argv)
    try:
        print(export(args.ckpt, args.name, args.root, onnx=args.onnx))
    except (RegistryError, MissingDataError) as err:  # the DataModule reads its class names
        print(f"litlab export: {err}", file=sys.stderr)
        return 2
    return 0


def models_main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="litlab models", description="list registered models")
    parser.add_argument("--root", default="models", help="registry folder (default: models)")
    args = parser.parse_args(argv)
    rows = list_models(args.root)
    if not rows:
        print(f"no models in {args.root}/ (add one with litlab export --ckpt C --name N)")
        return 0
    table = [("name", "versions", "latest", "kind", "metric")]
    table += [
        (r["name"], str(len(r["versions"])), r["latest"], r["kind"], r["metric"]) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0
