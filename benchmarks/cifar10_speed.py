"""``litlab fit`` against a plain-PyTorch loop of the same recipe, side by side (issue 17).

    python benchmarks/cifar10_speed.py                       # on a GPU: the whole recipe
    python benchmarks/cifar10_speed.py --device cpu --steps 60 --rounds 2   # CPU: per step
    python benchmarks/cifar10_speed.py --compile             # both through torch.compile

Runs ``benchmarks/cifar10_reference.py`` (airbench-style plain PyTorch) and ``litlab fit
--config experiments/vision/cifar10_fast.yaml`` as they are, each in its own process, in
turns (the order flips every round, so a neighbour's burst or a warm cache favours neither),
on the same machine and the same data. From each: the training time (the start of the first
step to the end of the last epoch: validations included, and for litlab its picture
callbacks at their defaults), the time per step after a warm-up, the validation accuracy
after each validation and the time it was reached, the whole-process wall time (interpreter
start, imports, data loading, fit and test), and the test evaluation timed apart. Then the
ratios litlab / reference of the medians: issue 17's goals are 1.5x (training) and 3x (whole
process) on a GPU, 1.05x per step on the CPU. ``--steps N`` stops both after N steps
without validation or test (the CPU setting: the recipe takes an hour there).

The table is printed and appended to ``--out``. Arguments after ``--`` go to litlab fit only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "experiments" / "vision" / "cifar10_fast.yaml"


def _litlab() -> list[str]:
    script = Path(sys.executable).with_name("litlab")  # the console script users run
    return [str(script)] if script.exists() else [sys.executable, "-m", "litlab.common.cli"]


def run(cmd: list[str], log: Path, env: dict) -> float:
    """Run ``cmd`` to completion with its output in ``log``; the wall seconds it took."""
    start = time.perf_counter()
    with log.open("w") as f:
        done = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, cwd=REPO)
    wall = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{' '.join(cmd[:4])} ... failed (exit {done.returncode}); see {log}")
    return wall


def reference(args, work: Path, r: int, env: dict) -> dict:
    out = work / f"reference_{r}.json"
    cmd = [sys.executable, str(REPO / "benchmarks" / "cifar10_reference.py"), "--out", str(out),
           "--device", args.device, "--warmup", str(args.warmup)]  # fmt: skip
    if args.steps:
        cmd += ["--steps", str(args.steps), "--no-test"]
    if args.batch_size:
        cmd += ["--batch-size", str(args.batch_size)]
    if args.compile:
        cmd.append("--compile")
    wall = run(cmd, work / f"reference_{r}.log", env)
    return {**json.loads(out.read_text()), "process_s": wall}


def litlab(args, work: Path, r: int, env: dict) -> dict:
    name = f"bench/litlab_{r}"
    cmd = [*_litlab(), "fit", "--config", str(CONFIG), f"--experiment={name}",
           f"--trainer.default_root_dir={work}",
           "--trainer.callbacks+=litlab.common.callbacks.FitClock",
           f"--trainer.callbacks.warmup={args.warmup}"]  # fmt: skip
    if args.device == "cpu":
        cmd.append("--trainer.accelerator=cpu")
    if args.steps:
        cmd += [f"--trainer.max_steps={args.steps}", "--trainer.limit_val_batches=0",
                "--trainer.num_sanity_val_steps=0", "--test=false"]  # fmt: skip
    if args.batch_size:
        cmd.append(f"--data.init_args.batch_size={args.batch_size}")
    if args.compile:
        cmd.append("--model.init_args.compile=true")
    wall = run([*cmd, *args.litlab_args], work / f"litlab_{r}.log", env)
    timing = json.loads((work / name / "version_0" / "timing.json").read_text())
    curve = timing.get("val_curve") or []
    return {**timing, "val_acc": curve[-1][1] if curve else None, "process_s": wall}


def reached(result: dict, target: float | None) -> float | None:
    """Seconds from the first step to the first validation at or above ``target``."""
    hits = [t for _, acc, t in result.get("val_curve") or [] if target and acc >= target]
    return hits[0] if hits else None


def fmt(v: float | None, digits: int = 2) -> str:
    return "-" if v is None else f"{v:.{digits}f}"


def table(results: dict[str, list[dict]], args) -> str:
    finals = [r["val_acc"] for rs in results.values() for r in rs if r.get("val_acc")]
    target = args.target or (min(finals) if finals else None)
    rows = [
        f"| run | val acc (curve: epoch acc) | training s | ms/step | time to val acc "
        f"{fmt(target, 4)} | whole process s | test s (acc) |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, rs in results.items():
        for i, r in enumerate(rs):
            curve = " ".join(f"{e}:{a:.4f}" for e, a, _ in r.get("val_curve") or [])
            test = f"{fmt(r.get('test_s'))} ({fmt(r.get('test_acc'), 4)})" if "test_s" in r else "-"
            rows.append(
                f"| {name} {i + 1} | {fmt(r.get('val_acc'), 4)} {curve} | {r['train_s']:.2f} | "
                f"{fmt(1000 * r['step_s'] if r.get('step_s') else None, 1)} | "
                f"{fmt(reached(r, target))} | {r['process_s']:.1f} | {test} |"
            )
    keys = ("train_s", "step_s", "process_s")
    med = {
        name: {k: statistics.median(r[k] for r in rs if r.get(k) is not None) for k in keys}
        for name, rs in results.items()
    }
    ratio = {k: med["litlab fit"][k] / med["reference"][k] for k in keys}
    lit = med["litlab fit"]
    lines = [
        "",
        f"litlab / reference, medians of {args.rounds}: training {ratio['train_s']:.3f}x (goal on"
        f" a GPU: 1.5x); per step {ratio['step_s']:.3f}x (goal on the CPU: 1.05x); whole "
        f"process {ratio['process_s']:.3f}x (goal on a GPU: 3x)",
    ]
    lit_runs = results["litlab fit"]
    val = statistics.median(r["val_s"] for r in lit_runs)
    pics = statistics.median(r.get("pictures_s", 0) for r in lit_runs)
    bg = statistics.median(r.get("pictures_background_s", 0) for r in lit_runs)
    lines.append(
        f"litlab's validations (pictures included) took {val:.2f} s of {lit['train_s']:.2f} s "
        f"({100 * val / lit['train_s']:.1f} %; goal under 5 %); the pictures {pics:.2f} s on the "
        f"training thread and {bg:.2f} s on the drawing thread (medians)"
    )
    return "\n".join(rows + lines) + "\n"


def main() -> None:
    argv = sys.argv[1:]
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--rounds", type=int, default=2, help="runs of each, in turns")
    p.add_argument("--steps", type=int, default=None, help="stop after N steps (CPU setting)")
    p.add_argument("--batch-size", type=int, default=None, help="default: the YAML's 512")
    p.add_argument("--warmup", type=int, default=5, help="steps before the per-step clock")
    p.add_argument("--compile", action="store_true", help="torch.compile in both")
    p.add_argument("--target", type=float, default=None,
                   help="validation accuracy to time (default: the lowest final one)")  # fmt: skip
    p.add_argument("--out", type=Path, default=None, help="append the table to this file")
    p.add_argument("--label", default="", help="a line naming this comparison in --out")
    args = p.parse_args(argv)
    args.litlab_args = extra
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    results: dict[str, list[dict]] = {"reference": [], "litlab fit": []}
    with tempfile.TemporaryDirectory(prefix="cifar10_speed_") as tmp:
        work = Path(tmp)
        for r in range(args.rounds):
            order = [("reference", reference), ("litlab fit", litlab)]
            for name, fn in order if r % 2 == 0 else order[::-1]:
                results[name].append(fn(args, work, r, env))
                print(f"round {r + 1}: {name} done: {json.dumps(results[name][-1])}", flush=True)
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else None
    head = (f"## {args.label or 'cifar10_fast: litlab fit vs plain PyTorch'}\n\n"
            f"{gpu or platform.processor() or platform.machine()} ({args.device}), torch "
            f"{torch.__version__}, {os.cpu_count()} CPUs, OMP_NUM_THREADS="
            f"{os.environ.get('OMP_NUM_THREADS', '-')}; `python benchmarks/cifar10_speed.py "
            f"{' '.join(sys.argv[1:])}`\n\n")  # fmt: skip
    text = head + table(results, args)
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        with args.out.open("a") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    main()
