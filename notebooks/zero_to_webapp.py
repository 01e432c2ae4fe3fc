"""From zero to the web app: train three quick models, export them, serve them.

    python3 -m venv .venv && .venv/bin/pip install -e '.[serve]' \\
        && .venv/bin/python notebooks/zero_to_webapp.py

trains the quick variant of one image, one text and one language model with ``litlab fit``
(their experiment YAMLs, unchanged), copies each best checkpoint into the model registry
with ``litlab export``, starts ``litlab serve`` on 127.0.0.1 and prints the web app's
address once it answers, with the time each step took. It then serves until Ctrl-C;
``--check`` instead calls the JSON API once per model and stops the server.

    image     experiments/vision/cifar10_quick.yaml             -> cifar10-quick
    text      experiments/sequence/nsmc_bilstm_quick.yaml       -> nsmc-bilstm-quick
    language  experiments/transformer/shakespeare_char_gpt_cpu.yaml -> shakespeare-gpt

Data comes from the CLI's data root (``$DATA_DIR``, else ``./data``; offline machines point
``DATA_DIR`` at the offline archives). Logs go to ``<work>/logs`` as with ``litlab fit``, the
registry is ``<work>/models``; ``--work`` defaults to the repository. notebooks/06_deploy
runs the same steps from Python.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    """One model of the web app: what it is, the experiment that trains it, its registry name."""

    kind: str
    config: str  # relative to experiments/
    name: str
    tiny: tuple[str, ...] = field(default=())  # overrides for the tests' tiny data


STEPS = (
    Step("image", "vision/cifar10_quick.yaml", "cifar10-quick",
         ("--data.init_args.val_size=40", "--data.init_args.batch_size=16",
          "--trainer.max_epochs=1")),
    Step("text", "sequence/nsmc_bilstm_quick.yaml", "nsmc-bilstm-quick",
         ("--data.init_args.batch_size=8", "--data.init_args.vocab_size=500",
          "--data.init_args.val_size=8")),
    Step("language", "transformer/shakespeare_char_gpt_cpu.yaml", "shakespeare-gpt",
         ("--data.init_args.steps_per_epoch=5", "--data.init_args.val_batches=1",
          "--trainer.max_steps=5")),
)  # fmt: skip
TINY_COMMON = ("--trainer.callbacks=[]",)  # the tests skip the TensorBoard pictures


@dataclass
class Trained:
    """A finished ``litlab fit``: its best checkpoint, its score and how long it took."""

    step: Step
    checkpoint: Path
    score: str
    seconds: float


def train(step: Step, work: Path, extra: tuple[str, ...] = (), tiny: bool = False) -> Trained:
    """``litlab fit --config experiments/<step.config>`` with logs under ``work/logs``."""
    from litlab.common.cli import run as litlab  # imported here: --help stays fast

    args = ["fit", "--config", str(REPO / "experiments" / step.config),
            f"--trainer.default_root_dir={work / 'logs'}", *extra]
    if tiny:
        args += [*step.tiny, *TINY_COMMON]
    start = time.perf_counter()
    cli = litlab(args)
    seconds = time.perf_counter() - start
    metrics = cli.trainer.callback_metrics
    key = next((k for k in ("test/acc", "val/loss_best", "val/loss") if k in metrics), None)
    score = f"{key} {float(metrics[key]):.4f}" if key else "-"
    best = cli.trainer.checkpoint_callback.best_model_path
    return Trained(step, Path(best), score, seconds)


def export(trained: Trained, registry: Path) -> Path:
    """``litlab export --ckpt <best> --name <step.name> --root <registry>``: the new version."""
    from litlab.common.registry_export import export as export_checkpoint

    return export_checkpoint(trained.checkpoint, trained.step.name, registry)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(
    registry: Path, port: int, log: Path, ui: bool = True, models: tuple[str, ...] = ()
) -> subprocess.Popen:
    """``litlab serve`` on 127.0.0.1:``port`` in its own process, its output in ``log``."""
    cmd = [sys.executable, "-m", "litlab.common.cli", "serve", "--root", str(registry),
           "--host", "127.0.0.1", "--port", str(port)]
    cmd += [] if ui else ["--no-ui"]
    for m in models:
        cmd += ["--model", m]
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:  # the child keeps its own handle
        server = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
    atexit.register(stop_server, server)  # never left behind by a script or kernel that ends
    return server


def wait_until_ready(url: str, server: subprocess.Popen, log: Path, timeout: float = 300) -> float:
    """Poll ``url``/health until it answers 200; seconds waited. A server that exits, or
    takes longer than ``timeout``, raises with the end of its log."""
    import httpx

    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        if server.poll() is not None:
            raise RuntimeError(f"litlab serve exited ({server.returncode}):\n{_tail(log)}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                return time.perf_counter() - start
        time.sleep(0.5)
    raise TimeoutError(f"litlab serve did not answer within {timeout:.0f} s:\n{_tail(log)}")


def stop_server(server: subprocess.Popen, timeout: float = 30) -> int:
    """Ask the server to stop (SIGTERM: uvicorn shuts down cleanly); kill it if it hangs."""
    if server.poll() is None:
        server.terminate()
        try:
            server.wait(timeout)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return server.returncode


def _tail(log: Path, lines: int = 20) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:]) if log.exists() else ""


def check(url: str) -> Iterator[str]:
    """Call the JSON API once per kind of model; one line per answer."""
    import httpx

    models = httpx.get(f"{url}/models", timeout=30).json()
    yield f"GET /models: {', '.join(m['name'] + '@' + m['version'] for m in models)}"
    png = _demo_png()  # any picture works; one drawn here keeps the check free of files
    r = httpx.post(f"{url}/classify", files={"file": ("demo.png", png, "image/png")},
                   data={"model": "cifar10-quick", "top_k": "3"}, timeout=60)
    yield f"POST /classify: {r.status_code} {r.json()}"
    r = httpx.post(f"{url}/sentiment", json={"model": "nsmc-bilstm-quick",
                   "text": "배우들 연기가 정말 좋았다", "attributions": False}, timeout=60)
    yield f"POST /sentiment: {r.status_code} {r.json()}"
    r = httpx.post(f"{url}/generate", json={"model": "shakespeare-gpt", "prompt": "ROMEO:",
                   "max_new_tokens": 60, "seed": 1}, timeout=60)
    yield f"POST /generate: {r.status_code} {r.text!r}"


def _demo_png() -> bytes:
    """A 32x32 PNG (a blue sky over green ground) made here, so the check needs no files."""
    import torch
    from torchvision.io import encode_png

    img = torch.zeros(3, 32, 32, dtype=torch.uint8)
    img[2, :16] = 200  # sky
    img[1, 16:] = 150  # grass
    return encode_png(img).numpy().tobytes()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--work", type=Path, default=REPO, help="where logs/ and models/ go")
    p.add_argument("--port", type=int, default=8000, help="0: any free port")
    p.add_argument("--check", action="store_true", help="call the API once, then stop")
    p.add_argument("--no-ui", action="store_true", help="the JSON API only")
    p.add_argument("--tiny", action="store_true", help="tiny settings (tests, tiny data)")
    args = p.parse_args(argv)
    registry = args.work / "models"
    start = time.perf_counter()
    print(f"zero to web app: data root {os.environ.get('DATA_DIR', './data')}, work {args.work}")
    times = []
    for step in STEPS:
        print(f"\n=== {step.kind}: litlab fit --config experiments/{step.config}", flush=True)
        trained = train(step, args.work, tiny=args.tiny)
        folder = export(trained, registry)
        times.append((f"{step.kind} ({step.name})", trained.seconds, trained.score))
        print(f"=== {step.kind}: {trained.score}, {trained.seconds:.0f} s; exported to {folder}")
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = args.work / "logs" / "zero_to_webapp" / "serve.log"
    server = start_server(registry, port, log, ui=not args.no_ui,
                          models=tuple(s.name for s in STEPS))
    try:
        waited = wait_until_ready(url, server, log)
        total = time.perf_counter() - start
        print("\nstep                              seconds  score")
        for name, seconds, score in times:
            print(f"{name:<34}{seconds:7.0f}  {score}")
        print(f"{'litlab serve up':<34}{waited:7.0f}")
        print(f"{'total (this process)':<34}{total:7.0f}  ({total / 60:.1f} min)")
        print(f"\nweb app: {url}/ui    API docs: {url}/docs    (server log: {log})")
        if args.check:
            for line in check(url):
                print(line)
            return 0
        print("serving until Ctrl-C")
        server.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop_server(server)
    return 0


if __name__ == "__main__":
    sys.exit(main())
