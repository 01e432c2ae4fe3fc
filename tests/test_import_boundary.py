"""The import boundary: inference never imports Lightning or torchmetrics, and the commands
that only print need neither torch nor Lightning (issue 17: commands start at once).

Each check runs in a fresh interpreter (this one imported Lightning long ago) that runs the
entry points the way a user does and reports, after each step, which of the forbidden
modules ``sys.modules`` holds. The models are the tiny registry of the serve tests
(``tests/serve_models.py``) and the checkpoints it was exported from.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import REPO

INFERENCE = r"""
import json, sys
from pathlib import Path

registry, out = Path(sys.argv[1]), Path(sys.argv[2])
FORBIDDEN = ("lightning", "pytorch_lightning", "torchmetrics")
found = {}


def check(step):
    found[step] = sorted(m for m in FORBIDDEN if m in sys.modules)


def ckpt(name):
    return str(next((registry.parent / name).glob("logs/*/*/version_0/checkpoints/best.ckpt")))


from litlab.common.commands import main


def run(*args):
    try:
        main(list(args))
    except SystemExit as stop:
        assert not stop.code, (args, stop.code)


check("import litlab.common.commands")
run("generate", "--ckpt", ckpt("shakespeare-gpt"), "--max-new-tokens", "5")
check("litlab generate")
run("chat", "--ckpt", ckpt("shakespeare-chat"), "--user", "ROMEO", "--bot", "JULIET",
    "--max-new-tokens", "5")  # stdin: one turn
check("litlab chat")
import torch
from torchvision.io import write_png

write_png(torch.full((1, 28, 28), 200, dtype=torch.uint8), str(out / "digit.png"))
run("explain", "--ckpt", ckpt("mnist-cnn"), "--input", str(out / "digit.png"), "--out", str(out))
check("litlab explain (image)")
(out / "reviews.txt").write_text("a wonderful film\n")
run("explain", "--ckpt", ckpt("imdb-bilstm"), "--input", str(out / "reviews.txt"),
    "--out", str(out), "--n-steps", "4")
check("litlab explain (text)")
article = "The bank raised rates again. Markets fell at once. Analysts expect more rises soon."
(out / "article.txt").write_text(article)
run("summarize", "--ckpt", ckpt("bbc-extractive"), "--input", str(out / "article.txt"))
check("litlab summarize")
from audio_data import digit_tone, wav  # tests/: a tone at digit 4's pitch, as a WAV

(out / "four.wav").write_bytes(wav(digit_tone(4, 0.5)))
run("explain", "--ckpt", ckpt("fsdd-cnn"), "--input", str(out / "four.wav"), "--out", str(out))
check("litlab explain (audio)")

from litlab.serve.api import create_app
from litlab.serve.hub import ModelHub

hub = ModelHub(registry)
assert sorted(hub.models) == sorted(p.name for p in registry.iterdir()), hub.skipped
png = (out / "digit.png").read_bytes()
hub.classify("mnist-cnn", png)
hub.explain_image("mnist-cnn", png)
hub.sentiment("imdb-bilstm", "a wonderful film", n_steps=4)
hub.explain_text("nsmc-bilstm", "정말 재미있는 영화", n_steps=4)
"".join(hub.generate("shakespeare-gpt", "ROMEO:", max_new_tokens=5))
"".join(hub.chat("ko-chat", [], "안녕", max_new_tokens=5))
hub.summarize("bbc-extractive", article)
hub.classify_audio("fsdd-cnn", (out / "four.wav").read_bytes(), explain=True)
create_app(hub, ui=True)
check("serve: every model loaded, every kind answered, the app built")
print(json.dumps(found))
"""


def _run(code: str, *args: str, stdin: str = "") -> dict[str, list[str]]:
    tests = str(REPO / "tests")  # the helpers the steps import (audio_data)
    path = os.pathsep.join(p for p in (tests, os.environ.get("PYTHONPATH")) if p)
    done = subprocess.run(
        [sys.executable, "-c", code, *args], cwd=REPO, input=stdin, capture_output=True,
        text=True, timeout=600, env={**os.environ, "PYTHONPATH": path},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_inference_commands_and_serve_import_neither_lightning_nor_torchmetrics(
    serve_registry: Path, tmp_path: Path
):
    found = _run(INFERENCE, str(serve_registry), str(tmp_path), stdin="Speak, speak.\n")
    assert len(found) == 8  # every step ran
    imported = {step: modules for step, modules in found.items() if modules}
    assert not imported, f"imported on the inference path: {imported}"


PRINTING = r"""
import json, sys
from litlab.common.commands import main

found = {}
for args in (["--help"], ["models", "--root", sys.argv[1]], ["generate", "--help"], ["env"]):
    try:
        main(args)
    except SystemExit:
        pass
    found[" ".join(args)] = sorted(m for m in ("torch", "lightning", "torchmetrics")
                                   if m in sys.modules)
print(json.dumps(found))
"""


def test_help_and_models_import_neither_torch_nor_lightning_and_env_no_lightning(
    serve_registry: Path,
):
    found = _run(PRINTING, str(serve_registry))
    assert found["--help"] == []
    assert found[f"models --root {serve_registry}"] == []
    assert found["generate --help"] == []
    assert "lightning" not in found["env"]  # what torch sees is the report, not Lightning
