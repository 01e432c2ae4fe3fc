"""What this machine can do, and what the Trainer will pick: ``litlab env``.

The precision rule lives here so the CLI and the report agree: bf16-mixed on CUDA GPUs with
bf16, 16-mixed on older CUDA GPUs, and 32-true on CPUs and Apple MPS. CPUs without AMX or
AVX-512 BF16 (like the 2-core AVX2 machines this project is developed on) run bf16 matmuls
over 100x slower than fp32, so mixed precision on a CPU is opt-in only. ``litlab env
--bf16`` measures it here (a few hundred milliseconds; plain ``litlab env`` only reports).
"""

from __future__ import annotations

import os
import platform
import time
from importlib import metadata

import torch

from litlab.common.errors import CommandParser


def pick_accelerator() -> str:
    """What ``accelerator="auto"`` resolves to: cuda, mps or cpu."""
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def default_precision(accelerator: str = "auto") -> str:
    """The precision this project uses when the config leaves it unset."""
    acc = pick_accelerator() if accelerator in ("auto", "gpu") else accelerator
    if acc == "cuda" and torch.cuda.is_available():
        return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"
    return "32-true"


def _cpu_bf16_speed(n: int = 256) -> float:
    """How many times slower a bf16 matmul is than fp32 on this CPU (a quick measurement)."""

    def timed(dtype: torch.dtype) -> float:
        a = torch.randn(n, n).to(dtype)
        a @ a  # warm-up
        t = time.perf_counter()
        for _ in range(5):
            a @ a
        return time.perf_counter() - t

    return timed(torch.bfloat16) / max(timed(torch.float32), 1e-9)


def cpu_flags() -> list[str]:
    """SIMD features relevant to deep learning that the CPU reports (Linux only)."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next(line for line in f if line.startswith("flags")).split()
    except (OSError, StopIteration):
        return []
    wanted = ["avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile", "fma"]
    return [w for w in wanted if w in flags]


def _version(distribution: str) -> str:
    """An installed package's version, read without importing it (Lightning takes seconds)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def report(bf16: bool = False) -> str:
    """A human-readable summary of the software, the devices and the Trainer's choices;
    ``bf16``: also time a bf16 against an fp32 matmul on the CPU."""
    lines = [
        f"python      {platform.python_version()} ({platform.machine()}, {platform.system()})",
        f"torch       {torch.__version__} (CUDA build {torch.version.cuda or 'none'})",
        f"lightning   {_version('lightning')}",
        f"cpu         {os.cpu_count()} logical cores; torch threads {torch.get_num_threads()}; "
        f"flags {' '.join(cpu_flags()) or 'unknown'}",
    ]
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            bf16 = "yes" if torch.cuda.is_bf16_supported() else "no"
            lines.append(
                f"cuda:{i}      {p.name}, {p.total_memory / 2**30:.0f} GiB, "
                f"compute {p.major}.{p.minor}, bf16 {bf16}"
            )
    else:
        lines.append("cuda        not available")
    mps = getattr(torch.backends, "mps", None)
    lines.append(f"mps         {'available' if mps and mps.is_available() else 'not available'}")
    acc = pick_accelerator()
    if acc == "cpu" and bf16:
        lines.append(f"cpu bf16    matmul {_cpu_bf16_speed():.0f}x the time of fp32 (256x256)")
    lines.append(f"trainer     accelerator=auto -> {acc}, precision -> {default_precision()}")
    n = torch.cuda.device_count()
    if n > 1:
        lines.append(
            f"            {n} GPUs: add --trainer.devices={n} --trainer.strategy=ddp for DDP"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    """``litlab env [--bf16]``: print the report."""
    parser = CommandParser(prog="litlab env", description=report.__doc__.split(";")[0])
    parser.add_argument(
        "--bf16", action="store_true", help="on a CPU, also measure how slow bf16 matmuls are"
    )
    print(report(parser.parse_args(argv).bf16))
