"""How fast ``litlab serve`` starts and answers: a benchmark, not a test.

    python benchmarks/serve_load.py                      # the models/ registry
    python benchmarks/serve_load.py --root /tmp/reg --requests 20
    python benchmarks/serve_load.py --only /classify/audio       # one endpoint's rows

Starts ``litlab serve --no-ui`` (``--ui``: with the web app) on a free port as a child
process and measures the cold start: seconds from spawning it to ``/health`` answering ok,
and to the first answer of ``/classify`` (model loading, imports and the first forward pass
included). Then, for ``/classify`` (one fixed PNG, the first image classifier of ``GET /models``)
and ``/sentiment`` (one fixed English review, the first text classifier; with and without
integrated-gradients attributions) and ``/classify/audio`` (a fixed 1-s WAV, 8 kHz mono
16-bit, the first audio classifier; without the Grad-CAM picture, and with it), with 1 and
8 concurrent clients (threads, one
``httpx.Client`` each): ``--requests`` requests after ``--warmup`` untimed ones, and their
p50 / p99 latency, requests per second and errors (a non-200 answer or an exception).

Prints a Markdown table and writes it to ``--out``. The server is stopped at the end, also
after an error or Ctrl-C. Run it on a quiet machine: the clients share the cores with it.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import queue
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
REVIEW = (
    "A wonderful, moving film: the acting is superb and the story kept me hooked from the "
    "first scene to the last, although the middle drags a little."
)
Request = Callable[[httpx.Client], httpx.Response]


def fixed_png() -> bytes:
    """A 64x64 RGB gradient with a bright square: the same bytes on every run."""
    img = Image.new("RGB", (64, 64))
    img.putdata([(4 * x, 4 * y, 128) for y in range(64) for x in range(64)])
    img.paste((255, 255, 255), (20, 20, 44, 44))
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def fixed_wav(seconds: float = 1.0, rate: int = 8000) -> bytes:
    """A spoken-digit-like sound: two vowel-ish tones under an envelope, 16-bit PCM WAV."""
    import math
    import struct
    import wave

    n = round(seconds * rate)
    samples = []
    for i in range(n):
        t = i / rate
        env = math.sin(math.pi * t / seconds) ** 2
        s = 0.3 * math.sin(2 * math.pi * 220 * t) + 0.2 * math.sin(2 * math.pi * 1200 * t)
        samples.append(round(32767 * env * s))
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(struct.pack(f"<{n}h", *samples))
    return buf.getvalue()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(root: Path, port: int, log: io.TextIOBase, ui: bool) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "litlab.common.commands", "serve", "--root", str(root),
           "--port", str(port)]  # fmt: skip
    cmd += [] if ui else ["--no-ui"]
    return subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)  # fmt: skip


def stop_server(proc: subprocess.Popen) -> None:
    """SIGTERM to the server's process group, SIGKILL if it is still there after 10 s."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 5)):
        os.killpg(proc.pid, sig)
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def wait_until(ok: Callable[[], bool], proc: subprocess.Popen, timeout: float) -> None:
    """Poll ``ok`` every 50 ms until it holds; fail if the server exits or time runs out."""
    deadline = time.perf_counter() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with status {proc.returncode}")
        try:
            if ok():
                return
        except httpx.HTTPError:
            pass
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the server did not answer within {timeout:.0f} s")
        time.sleep(0.05)


def load(request: Request, base: str, clients: int, n: int, warmup: int) -> dict:
    """``n`` requests shared by ``clients`` threads; latencies (ms) of the 200s, errors."""
    with httpx.Client(base_url=base, timeout=120) as client:
        for _ in range(warmup):
            request(client)
    todo: queue.SimpleQueue[int] = queue.SimpleQueue()
    for i in range(n):
        todo.put(i)
    results: list[tuple[float, bool]] = []  # (ms, answered 200); list.append is thread-safe

    def worker() -> None:
        with httpx.Client(base_url=base, timeout=120) as client:
            while True:
                try:
                    todo.get_nowait()
                except queue.Empty:
                    return
                t = time.perf_counter()
                try:
                    ok = request(client).status_code == 200
                except httpx.HTTPError:
                    ok = False
                results.append((1000 * (time.perf_counter() - t), ok))

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(clients)]
    start = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    wall = time.perf_counter() - start
    latencies = [ms for ms, ok in results if ok]
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    nan = float("nan")
    return {
        "p50": statistics.median(latencies) if latencies else nan,
        "p99": cuts[98] if cuts else nan,
        "rps": n / wall,
        "errors": n - len(latencies),
    }


def run(args: argparse.Namespace, proc: subprocess.Popen, base: str, spawned: float) -> str:
    """Cold start, then the load rows; returns the Markdown report."""
    png = fixed_png()
    poll = httpx.Client(base_url=base, timeout=120)
    wait_until(lambda: poll.get("/health").json().get("status") == "ok", proc, args.start_timeout)
    t_health = time.perf_counter() - spawned
    models = poll.get("/models").json()
    image = next((m["name"] for m in models if m["kind"] == "image classifier"), None)
    text = next((m["name"] for m in models if m["kind"] == "text classifier"), None)
    audio = next((m["name"] for m in models if m["kind"] == "audio classifier"), None)
    image, text = args.image_model or image, args.text_model or text
    audio = args.audio_model or audio
    clip = fixed_wav()

    def classify_audio(explain: bool) -> Request:
        data = {"model": audio, "explain": str(explain).lower()}
        return lambda client: client.post(
            "/classify/audio", files={"file": ("bench.wav", clip, "audio/wav")}, data=data
        )

    def classify(client: httpx.Client) -> httpx.Response:
        files = {"file": ("bench.png", png, "image/png")}
        return client.post("/classify", files=files, data={"model": image})

    def sentiment(attributions: bool) -> Request:
        body = {"model": text, "text": REVIEW, "attributions": attributions}
        return lambda client: client.post("/sentiment", json=body)

    t_classify = float("nan")
    if image:
        first = classify(poll)  # the models are loaded once /health answers: no retrying
        if first.status_code != 200:
            raise RuntimeError(f"/classify with {image!r}: {first.status_code} {first.text}")
        t_classify = time.perf_counter() - spawned
    poll.close()
    only = set(args.only or [])
    settings = [("/classify", image, classify)] if image else []
    if text:
        settings += [("/sentiment, attributions", text, sentiment(True)),
                     ("/sentiment, no attributions", text, sentiment(False))]  # fmt: skip
    if audio:
        settings += [("/classify/audio, 1-s WAV", audio, classify_audio(False)),
                     ("/classify/audio, 1-s WAV + Grad-CAM", audio, classify_audio(True))]
    rows = []
    for label, model, request in settings:
        if only and label.split(",")[0] not in only:
            continue
        for clients in args.clients:
            r = load(request, base, clients, args.requests, args.warmup)
            rows.append(f"| {label} | {model} | {clients} | {args.requests} | {r['p50']:.1f} | "
                        f"{r['p99']:.1f} | {r['rps']:.1f} | {r['errors']} |")  # fmt: skip
            print(rows[-1], flush=True)
    head = [
        f"# litlab serve load: {len(models)} models from {args.root}",
        f"{platform.platform()}, {os.cpu_count()} CPUs, python {platform.python_version()}, "
        f"{time.strftime('%Y-%m-%d %H:%M')}",
        "",
        f"cold start: /health ok after {t_health:.1f} s, first /classify answer after "
        f"{t_classify:.1f} s (from spawning the process)",
        "",
        "| endpoint | model | clients | requests | p50 ms | p99 ms | req/s | errors |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    return "\n".join(head + rows) + "\n"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", type=Path, default=Path("models"), help="registry (default: models)")
    p.add_argument("--requests", type=int, default=200, help="timed requests per row")
    p.add_argument("--warmup", type=int, default=5, help="untimed requests before each row")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 8], help="concurrent clients")
    p.add_argument("--image-model", default=None, help="default: the first image classifier")
    p.add_argument("--text-model", default=None, help="default: the first text classifier")
    p.add_argument("--audio-model", default=None, help="default: the first audio classifier")
    p.add_argument("--only", nargs="+", default=None,
                   help="endpoints to load, e.g. /classify/audio (default: all)")  # fmt: skip
    p.add_argument("--ui", action="store_true", help="with the web app, as `litlab serve` runs")
    p.add_argument("--start-timeout", type=float, default=300, help="seconds to wait for it")
    p.add_argument("--out", type=Path, default=REPO / "results" / "local" / "serve_load.md")
    args = p.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # runs the finally below too
    port = free_port()
    with tempfile.NamedTemporaryFile("w+", prefix="serve_load_", suffix=".log") as log:
        spawned = time.perf_counter()
        proc = start_server(args.root.resolve(), port, log, args.ui)
        try:
            report = run(args, proc, f"http://127.0.0.1:{port}", spawned)
        except (RuntimeError, TimeoutError, httpx.HTTPError) as err:
            log.seek(0)
            tail = "".join(log.readlines()[-20:])
            print(f"serve_load: {err}\n--- server log (last lines) ---\n{tail}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("serve_load: interrupted; the server is stopped", file=sys.stderr)
            return 130
        finally:
            stop_server(proc)
    print("\n" + report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
