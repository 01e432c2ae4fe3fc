"""Kill a training run with SIGKILL at random moments, resume it each time, compare the end.

    nice -n 10 python benchmarks/kill_resume.py                       # the GPT CPU recipe
    python benchmarks/kill_resume.py --config experiments/... --kills 5 --seed 0

Runs ``litlab fit --config C`` once uninterrupted, then again killed ``--kills`` times at
random moments (uniform in ``--window`` seconds after each start; every restart is
``--ckpt_path last``, or a fresh start when no ``last.ckpt`` was written yet), and prints the
final ``val/loss`` of both runs, read from their TensorBoard event files. Both runs use the
same seed, data and thread count; they are expected to agree exactly (common/resume.py).
"""

from __future__ import annotations

import argparse
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO / "experiments" / "transformer" / "shakespeare_char_gpt_cpu.yaml"


def _command(config: Path, root: Path, extra: list[str]) -> list[str]:
    return [
        sys.executable, "-m", "litlab.common.cli", "fit", "--config", str(config),
        f"--trainer.default_root_dir={root}", "--trainer.enable_progress_bar=false", *extra,
    ]  # fmt: skip


def _final(run: Path, tag: str) -> tuple[int, float]:
    """(step, value) of the last ``tag`` scalar over all event files of a run folder."""
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
    acc.Reload()
    last = max(acc.Scalars(tag), key=lambda e: (e.step, e.wall_time))
    return last.step, last.value


def _step(last: Path) -> str:
    if not last.exists():
        return "none"
    ckpt = torch.load(last, map_location="cpu", weights_only=True, mmap=True)
    return f"epoch {ckpt['epoch']}, step {ckpt['global_step']}"


def _run_dirs(root: Path) -> list[Path]:
    return sorted(root.glob("*/*/version_*"))


def uninterrupted(config: Path, root: Path, extra: list[str], log) -> float:
    start = time.monotonic()
    with open(root.parent / "uninterrupted.log", "w") as out:
        subprocess.run(_command(config, root, extra), stdout=out, stderr=out, check=True)
    wall = time.monotonic() - start
    log(f"uninterrupted: {wall:.0f} s")
    return wall


def killed(config: Path, root: Path, extra: list[str], kills: int, window, rng, log) -> None:
    for i in range(kills + 1):
        runs = _run_dirs(root)
        last = runs[-1] / "checkpoints" / "last.ckpt" if runs else None
        resume = last is not None and last.exists()
        if not resume:  # killed before its first checkpoint: nothing to resume, start again
            shutil.rmtree(root, ignore_errors=True)
        cmd = _command(config, root, [*extra, *(["--ckpt_path=last"] if resume else [])])
        with open(root.parent / f"killed-{i}.log", "w") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=out)
            if i == kills:  # the last start runs to the end
                if proc.wait() != 0:
                    raise SystemExit(f"the final resume failed: see {out.name}")
                log(f"start {i}: {'resumed' if resume else 'fresh'}, ran to the end")
                return
            delay = rng.uniform(*window)
            try:
                proc.wait(timeout=delay)
                log(f"start {i}: finished before its kill at {delay:.1f} s")
                return
            except subprocess.TimeoutExpired:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
        now = _run_dirs(root)
        at = _step(now[-1] / "checkpoints" / "last.ckpt") if now else "none"
        how = "resumed" if resume else "fresh"
        log(f"start {i}: {how}, SIGKILL at {delay:.1f} s; last.ckpt then: {at}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="of the kill moments")
    parser.add_argument("--window", type=float, nargs=2, default=(20.0, 90.0),
                        help="seconds after each start, between which the kill falls")  # fmt: skip
    parser.add_argument("--workdir", type=Path, default=None, help="default: a temporary one")
    parser.add_argument("--tag", default="val/loss")
    args, extra = parser.parse_known_args(argv)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="kill_resume_"))
    work.mkdir(parents=True, exist_ok=True)
    log = lambda line: print(line, flush=True)  # noqa: E731
    log(f"work folder {work}; extra arguments {extra}")

    uninterrupted(args.config, work / "uninterrupted", extra, log)
    rng = random.Random(args.seed)
    killed(args.config, work / "killed", extra, args.kills, args.window, rng, log)

    a = _final(_run_dirs(work / "uninterrupted")[-1], args.tag)
    b = _final(_run_dirs(work / "killed")[-1], args.tag)
    log(f"final {args.tag}: uninterrupted {a[1]:.6f} (step {a[0]}), "
        f"killed {args.kills} times and resumed {b[1]:.6f} (step {b[0]}), "
        f"difference {abs(a[1] - b[1]):.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
