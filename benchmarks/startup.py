"""How long litlab's commands take from the shell: a benchmark, not a test.

    python benchmarks/startup.py                                  # this checkout's litlab
    python benchmarks/startup.py --baseline /tmp/old/.venv/bin/litlab --runs 7
    OMP_NUM_THREADS=2 flock /tmp/litlab-cpu.lock python benchmarks/startup.py ...

Times each command as a user types it, interpreter start and imports included: ``litlab
--help``, ``env``, ``models``, ``generate --help``, and for ``generate`` (a GPT checkpoint,
20 greedy tokens) and ``explain`` (an image classifier checkpoint, one PNG) both the time to
the first byte the command prints and the time until it exits. ``--runs`` runs of each; the
table gives medians. With ``--baseline`` (another checkout's ``litlab`` script) every command
runs alternately with the baseline and with this one, so a busy machine slows both alike, and
the table gives the ratio. The first row, ``python -c "import torch"``, is the floor of
every command that needs torch.

The two checkpoints are made once in ``--work`` (``litlab fit`` for two steps of the real
``cifar10_quick`` and ``shakespeare_char_gpt_cpu`` recipes: real sizes, untrained weights;
needs ``$DATA_DIR``), and the image model is exported to ``--work/models`` so ``litlab models``
has a row to print. ``python -X importtime -m litlab.common.commands ...`` shows where the
time goes.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.max_steps=2", "--trainer.limit_val_batches=1", "--test=false",
         "--trainer.callbacks=[]", "--trainer.enable_progress_bar=false"]  # fmt: skip


def _run(cmd: list[str], cwd: Path) -> None:
    done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr[-3000:]}")


def prepare(litlab: str, work: Path) -> dict[str, Path]:
    """The checkpoints, a PNG and a one-model registry under ``work`` (made once)."""
    work.mkdir(parents=True, exist_ok=True)
    recipes = {"image": "vision/cifar10_quick.yaml",
               "gpt": "transformer/shakespeare_char_gpt_cpu.yaml"}
    paths = {}
    for name, config in recipes.items():
        found = sorted((work / name).glob("logs/*/*/version_0/checkpoints/last.ckpt"))
        if not found:
            (work / name).mkdir(exist_ok=True)
            extra = ["--data.init_args.val_batches=1"] if name == "gpt" else []
            _run([litlab, "fit", "--config", str(REPO / "experiments" / config), *QUIET, *extra],
                 work / name)
            found = sorted((work / name).glob("logs/*/*/version_0/checkpoints/last.ckpt"))
        paths[name] = found[0]
    paths["png"] = work / "input.png"
    if not paths["png"].exists():
        import torch
        from torchvision.io import encode_png

        g = torch.Generator().manual_seed(0)
        image = torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=g)
        paths["png"].write_bytes(encode_png(image).numpy().tobytes())
    paths["models"] = work / "models"
    if not paths["models"].exists():
        _run([litlab, "export", "--ckpt", str(paths["image"]), "--name", "cifar10-quick",
              "--root", str(paths["models"])], work)
    return paths


def timed(cmd: list[str], cwd: Path) -> tuple[float, float]:
    """(seconds to the first byte on stdout, seconds to exit) of one run."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.read(1)
    first_at = time.perf_counter() - start
    rest, err = proc.communicate()
    total = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err.decode()[-3000:]}")
    return (first_at if first else total), total


TORCH = "import torch (the floor: python -c)"  # run with each side's interpreter


def commands(paths: dict[str, Path], work: Path) -> dict[str, list[str]]:
    return {
        TORCH: ["-c", "import torch; print('ok')"],
        "litlab --help": ["--help"],
        "litlab env": ["env"],
        "litlab models": ["models", "--root", str(paths["models"])],
        "litlab generate --help": ["generate", "--help"],
        "litlab generate (20 tokens, GPT 0.8 M)": [
            "generate", "--ckpt", str(paths["gpt"]), "--prompt", "ROMEO:",
            "--max-new-tokens", "20", "--temperature", "0"],
        "litlab explain (1 PNG, cifar10_quick)": [
            "explain", "--ckpt", str(paths["image"]), "--input", str(paths["png"]),
            "--out", str(work / "explained")],
    }  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--litlab", default=str(Path(sys.executable).parent / "litlab"),
                   help="the litlab script to time (default: this interpreter's)")
    p.add_argument("--baseline", help="another litlab script, timed alternately with --litlab")
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--work", default="/tmp/litlab-startup", help="checkpoints and outputs")
    p.add_argument("--out", help="also write the table to this Markdown file")
    args = p.parse_args(argv)
    work = Path(args.work)
    paths = prepare(args.litlab, work)
    sides = {"after": args.litlab} | ({"before": args.baseline} if args.baseline else {})
    cmds = commands(paths, work)
    times: dict[tuple[str, str], list[tuple[float, float]]] = {}
    for label, rest in cmds.items():
        # the torch row runs each side's python instead of its litlab script
        exes = {side: str(Path(exe).parent / "python") if label == TORCH else exe
                for side, exe in sides.items()}  # fmt: skip
        for exe in exes.values():  # one untimed run each: the page cache, .pyc files
            timed([exe, *rest], work)
        for _ in range(args.runs):
            for side, exe in exes.items():
                times.setdefault((label, side), []).append(timed([exe, *rest], work))
        print(f"timed {label}", file=sys.stderr)

    def med(label: str, side: str, i: int) -> float:
        return statistics.median(t[i] for t in times[(label, side)])

    head = "| command | first output (s) | exit (s) |"
    if args.baseline:
        head = ("| command | before: first output (s) | before: exit (s) | after: first output "
                "(s) | after: exit (s) | exit, after / before |")
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for label in cmds:
        after = f"{med(label, 'after', 0):.2f} | {med(label, 'after', 1):.2f}"
        if args.baseline:
            before = f"{med(label, 'before', 0):.2f} | {med(label, 'before', 1):.2f}"
            ratio = med(label, "after", 1) / med(label, "before", 1)
            lines.append(f"| `{label}` | {before} | {after} | {ratio:.2f} |")
        else:
            lines.append(f"| `{label}` | {after} |")
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    lines += ["", f"Medians of {args.runs} runs; {platform.processor() or platform.machine()}, "
              f"{os.cpu_count()} cores, OMP_NUM_THREADS={threads}, load average "
              f"{os.getloadavg()[0]:.1f} at the end."]  # fmt: skip
    table = "\n".join(lines)
    print(table)
    if args.out:
        Path(args.out).write_text(table + "\n")


if __name__ == "__main__":
    main()
