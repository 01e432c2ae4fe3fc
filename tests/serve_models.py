"""A tiny model registry for the serve/ tests: one model of each served kind, each trained
for a few steps on the tiny data of ``conftest.tiny_root`` and exported with ``litlab export``.

    mnist-cnn      image classifier (10 digits, grey 28x28)
    imdb-bilstm    English sentiment (negative / positive)
    nsmc-bilstm    Korean sentiment
    shakespeare-gpt  the CPU-recipe GPT (a language model)
    shakespeare-chat the chat GPT (a language model trained on speaker-tagged turns)
    ko-chat        the Korean Q/A chatbot GPT (Korean subword tokenizer, 사용자/챗봇 turns)
    bbc-extractive the extractive summarizer (tiny BBC articles)
    fsdd-cnn       the spoken-digit CNN (tiny tones in the FSDD format)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from litlab.common.cli import run as litlab
from litlab.common.registry_export import export

REPO = Path(__file__).resolve().parents[1]
QUIET = ["--trainer.enable_progress_bar=false", "--test=false", "--trainer.callbacks=[]"]
GPT = "--model.init_args.net.init_args.config"


def _fit(work: Path, config: str, args: list[str]) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", "--config", str(REPO / "experiments" / config), *args, *QUIET])
    return next(work.glob("logs/*/*/version_0/checkpoints/best.ckpt"))


def build_registry(data_root: Path, work: Path) -> Path:
    """Train and export the eight models; returns the registry folder."""
    root = f"--data.root={data_root}"
    runs = {
        "mnist-cnn": ("vision/mnist_cnn.yaml", [root, "--data.init_args.val_size=40",
                      "--data.init_args.batch_size=16", "--trainer.max_epochs=1"]),
        "imdb-bilstm": ("sequence/imdb_bilstm.yaml", [root, "--data.init_args.batch_size=8",
                        "--data.init_args.vocab_size=500", "--trainer.max_epochs=1"]),
        "nsmc-bilstm": ("sequence/nsmc_bilstm.yaml", [root, "--data.init_args.batch_size=8",
                        "--data.init_args.vocab_size=500", "--trainer.max_epochs=1"]),
        "shakespeare-gpt": ("transformer/shakespeare_char_gpt_cpu.yaml", [root,
                            "--data.init_args.steps_per_epoch=5", "--data.init_args.val_batches=1",
                            "--trainer.max_steps=5"]),
        "shakespeare-chat": ("transformer/shakespeare_chat.yaml", [root,
                             "--data.init_args.batch_size=8", "--data.init_args.block_size=32",
                             "--data.init_args.steps_per_epoch=5", "--data.init_args.val_batches=1",
                             f"{GPT}.block_size=32", f"{GPT}.n_layer=1", f"{GPT}.n_embd=32",
                             "--trainer.max_steps=5"]),
        "ko-chat": ("transformer/ko_chatbot_gpt.yaml", [root, "--data.init_args.batch_size=8",
                    "--data.init_args.block_size=32", "--data.init_args.vocab_size=300",
                    f"{GPT}.n_layer=1", f"{GPT}.n_embd=32", "--trainer.max_steps=5"]),
        "bbc-extractive": ("sequence/bbc_extractive.yaml", [root, "--data.init_args.batch_size=8",
                           "--data.init_args.vocab_size=300", "--trainer.max_epochs=1",
                           "--model.init_args.net.init_args.hidden=16"]),
        "fsdd-cnn": ("audio/fsdd_cnn.yaml", [root, "--data.init_args.batch_size=10",
                     "--data.init_args.val_size=20", "--trainer.max_epochs=6",
                     "--model.init_args.lr=0.01"]),
    }  # fmt: skip
    registry = work / "models"
    for name, (config, args) in runs.items():
        folder = work / name
        folder.mkdir()
        export(_fit(folder, config, args), name, registry)
    return registry
