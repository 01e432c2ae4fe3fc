"""The ``litlab`` console script: every command by name, each importing only what it uses.

    litlab fit | validate | test | predict ...   LightningCLI (``common/cli.py``): Lightning
    litlab env | generate | explain | serve ...  litlab's own commands (below): no Lightning

``litlab --help`` is answered here, from this table, without importing torch or Lightning;
``litlab fit --help`` is LightningCLI's. Each extra command is ``"module:function"``, imported
only when it runs, so ``litlab fit`` never pays for scikit-learn or the web stack, and
``litlab generate`` never pays for Lightning (``common/inference.py``). Every command runs
through ``common/errors.py``'s ``short_errors``: a user error ends in a few lines with exit
status 2; ``--debug`` or ``LITLAB_DEBUG=1`` shows the traceback.
"""

from __future__ import annotations

import importlib
import sys

from litlab.common.errors import debugging, short_errors

# what LightningCLI runs (common/cli.py), with its own help
LIGHTNING_COMMANDS = {
    "fit": "train a model (then score the best checkpoint on the test set: --test false skips)",
    "validate": "one evaluation epoch over the validation set (--ckpt_path ...)",
    "test": "one evaluation epoch over the test set (--ckpt_path ...)",
    "predict": "run the model's predict_step over the data's predict loader",
}

# name -> (what it does, "module:function" called with the remaining arguments)
EXTRA_COMMANDS = {
    "env": ("print torch/CUDA/MPS capabilities and what the Trainer will pick (--bf16: measure)",
            "litlab.common.env:main"),
    "baseline": ("scikit-learn baselines (images, TF-IDF text, MFCC audio, Lead/TextRank) + table",
                 "litlab.experiments.baselines:main"),
    "generate": ("sample text from a trained language model checkpoint (RNN or GPT)",
                 "litlab.common.generate:main"),
    "chat": ("talk with a language model trained on speaker-tagged turns (dialogue)",
             "litlab.common.chat:main"),
    "chat-eval": ("chrF, distinct-1/2, answer perplexity of Q/A chatbots vs a retrieval bot",
                  "litlab.experiments.chat_eval:main"),
    "explain": ("Grad-CAM / token attributions / attention maps of a checkpoint for your inputs",
                "litlab.common.explain:main"),
    "score": ("accuracy, F1 and confusion matrix of a text classifier on your labelled file",
              "litlab.common.score:main"),
    "summarize": ("the extractive summary of your article, its sentences scored and marked",
                  "litlab.common.summarize:main"),
    "export": ("copy a checkpoint into the versioned model registry (models/<name>/v<N>/)",
               "litlab.common.registry_cli:export_main"),
    "models": ("list the models in the registry: versions, latest, kind, best score",
               "litlab.common.registry_cli:models_main"),
    "serve": ("JSON API + web app for the registry's models on 127.0.0.1:8000 (extra [serve])",
              "litlab.serve.cli:main"),  # needs the [serve] extra
}  # fmt: skip


def usage() -> str:
    """The top-level help: every command with one line."""
    rows = [("Lightning (litlab <command> --help: the Trainer, model and data options)", {
        k: v for k, v in LIGHTNING_COMMANDS.items()})]
    rows.append(("litlab's own (litlab <command> --help)", {
        k: v[0] for k, v in EXTRA_COMMANDS.items()}))  # fmt: skip
    lines = ["usage: litlab <command> [options]   e.g. litlab fit --config "
             "experiments/vision/cifar10_quick.yaml", ""]  # fmt: skip
    for title, commands in rows:
        lines += [f"{title}:", *(f"  {k:<9} {v}" for k, v in commands.items()), ""]
    lines.append("--debug (or LITLAB_DEBUG=1): show the full traceback of an error")
    return "\n".join(lines)


def run_extra(command: str, argv: list[str]) -> None:
    """Import and run one of :data:`EXTRA_COMMANDS`; a non-zero return is the exit status."""
    module, function = EXTRA_COMMANDS[command][1].split(":")
    status = getattr(importlib.import_module(module), function)(argv)
    if status:
        raise SystemExit(status)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``litlab`` console script (``argv``: None reads ``sys.argv``)."""
    debug = debugging(sys.argv if argv is None else argv)  # removes --debug from the list
    args = sys.argv[1:] if argv is None else argv
    with short_errors(debug):
        if not args:  # a command is required
            print(usage(), file=sys.stderr)
            raise SystemExit(2)
        if args[0] in ("-h", "--help"):
            print(usage())
        elif args[0] in EXTRA_COMMANDS:
            run_extra(args[0], args[1:])
        else:  # fit & co., or a mistyped command: LightningCLI says which exist
            from litlab.common.cli import run

            run(argv)  # None: LightningCLI reads sys.argv itself


if __name__ == "__main__":
    main()
