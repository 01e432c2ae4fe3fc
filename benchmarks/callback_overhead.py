"""What the picture callbacks cost, as a share of an epoch (a benchmark, not a test).

    python benchmarks/callback_overhead.py                      # cifar10_quick, 2 epochs
    python benchmarks/callback_overhead.py --config experiments/vision/mnist_cnn.yaml \
        --trainer.enable_progress_bar=false        # other arguments go to litlab fit

Runs ``litlab fit`` on the experiment as it is (its callbacks, its data), with an
``EpochTimer``, then reads how long each picture callback held up training per drawing
(``FigureCallback.seconds``: reading the model, and the whole drawing for callbacks that draw
on the training thread) and how long its background drawing took
(``FigureCallback.draw_seconds``, for callbacks that draw beside training). An epoch here is
everything the fit loop does in one epoch: the training steps, validation and every
callback. The last epoch is the one compared (the first also pays for warm-up). Prints a
table and writes it to ``--out`` (default ``results/callback_overhead_<device>.md``).
"""

from __future__ import annotations

import argparse
import platform
from pathlib import Path

import torch

from litlab.common.callbacks import EpochTimer
from litlab.common.callbacks.base import FigureCallback
from litlab.common.cli import run as litlab

REPO = Path(__file__).resolve().parents[1]


def device_name() -> str:
    if torch.cuda.is_available():
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--config", default=str(REPO / "experiments/vision/cifar10_quick.yaml"))
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--out", default=None)
    args, extra = parser.parse_known_args(argv)  # anything else goes to litlab fit

    cli = litlab([
        "fit", "--config", args.config, f"--trainer.max_epochs={args.epochs}",
        "--trainer.callbacks+=litlab.common.callbacks.EpochTimer", "--test=false",
        "--experiment=benchmarks/callback_overhead", *extra,
    ])
    trainer = cli.trainer
    timer = next(c for c in trainer.callbacks if isinstance(c, EpochTimer))
    epoch_s = timer.seconds[-1]
    rows = [
        f"Experiment: `{Path(args.config).name}`, {args.epochs} epochs on {device_name()}, "
        f"torch {torch.__version__}; one epoch (train + validation + callbacks) = "
        f"{epoch_s:.1f} s.",
        "",
        "| callback | seconds per drawing on the training thread | share of an epoch "
        "| seconds per drawing in the background |",
        "|---|---|---|---|",
    ]
    total, behind = 0.0, 0.0
    for cb in trainer.callbacks:
        if isinstance(cb, FigureCallback) and cb.seconds:
            per = cb.seconds[-1]
            bg = cb.draw_seconds[-1] if cb.draw_seconds else 0.0
            total, behind = total + per, behind + bg
            rows.append(
                f"| {type(cb).__name__} | {per:.3f} | {100 * per / epoch_s:.2f} % | {bg:.3f} |"
            )
    rows.append(
        f"| all picture callbacks | {total:.3f} | {100 * total / epoch_s:.2f} % | {behind:.3f} |"
    )
    table = "\n".join(rows) + "\n"
    print(table)
    kind = "gpu" if torch.cuda.is_available() else "cpu"
    out = Path(args.out or REPO / "results" / f"callback_overhead_{kind}.md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(table)
    print(f"written to {out}")


if __name__ == "__main__":
    main()
