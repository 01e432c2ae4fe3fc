"""``litlab``: LightningCLI for every experiment, plus a few extra subcommands.

The console script is ``litlab.common.commands``, which imports this module (and with it
Lightning) only for fit, validate, test and predict; ``main`` and ``run`` here run any
command too, for tests and ``python -m litlab.common.cli``.

    litlab fit      --config experiments/vision/cifar10_fast.yaml [--any.key value ...]
                    (then scores the best checkpoint on the test set; --test false skips it)
    litlab validate | test | predict --config ... --ckpt_path logs/.../checkpoints/best.ckpt
    litlab env                        what the machine can do and what the Trainer picks
    litlab baseline [--dataset ...]   scikit-learn baselines on the same splits (images, text)
    litlab explain --ckpt C --input F ... --out D   Grad-CAM / token attributions as files
    litlab score --ckpt C | --model N --data F      a text classifier on your labelled file
    litlab summarize --ckpt C | --model N --input F the extractive summary of your article
    litlab generate --ckpt C --prompt "ROMEO:"      sample from a language model
    litlab chat --ckpt C [--user YOU --bot ROMEO]   talk with a model trained on dialogue
    litlab chat-eval --ckpt C [--ckpt D ...]        score Q/A chatbots vs a retrieval bot
    litlab export --ckpt C --name N [--root models] copy a checkpoint into the model registry
    litlab models [--root models]                   list the registry's models and versions
    litlab serve [--root models] [--port 8000]      JSON API + web app for those models

Defaults added on top of Lightning's (all overridable in the YAML or on the command line):
a TensorBoardLogger writing to ``logs/<domain>/<experiment>/version_N`` (the experiment is
the config file's folder and name), the resolved config saved beside it, checkpoints of the
best and the last epoch under the same run folder, a learning-rate monitor, seed 42, and a
precision chosen by hardware (see ``litlab.common.env``). ``--trainer.default_root_dir DIR``
moves the whole run folder (logs, checkpoints, ``config.yaml``) to
``DIR/<domain>/<experiment>/version_N``. Resuming with ``--ckpt_path`` pointing into a run
folder continues in that same folder; ``--ckpt_path last`` picks the newest run of the
experiment under the same root.

Crash and resume: ``last.ckpt`` is also rewritten every ``--last_every_n_steps`` optimiser
steps (default 100, 0 turns it off), always atomically (``litlab.common.checkpoint_io``), and
every checkpoint carries the random number generators and the data order
(``litlab.common.resume``), so a run killed at any moment and resumed from ``last.ckpt``
ends with the numbers of the uninterrupted run.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import torch
from lightning.pytorch import LightningModule, Trainer
from lightning.pytorch.callbacks import Callback, LearningRateMonitor, ModelCheckpoint
from lightning.pytorch.callbacks import ProgressBar as BaseProgressBar
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import TensorBoardLogger

from litlab.common.checkpoint_io import AtomicCheckpointIO
from litlab.common.checkpoints import CheckpointError, current_class_paths
from litlab.common.cli_parser import LitlabArgumentParser
from litlab.common.commands import EXTRA_COMMANDS, run_extra
from litlab.common.contracts import check_fit, fill_from_data
from litlab.common.env import default_precision
from litlab.common.errors import debugging, short_errors
from litlab.common.resume import (
    LAST_EVERY_N_STEPS,
    ResumeState,
    last_checkpoint,
    step_last_checkpoint,
)

LOG_ROOT = "logs"  # the run folders' root unless --trainer.default_root_dir says otherwise


class FitCheck(Callback):
    """Runs :func:`~litlab.common.contracts.check_fit` after the DataModule's ``setup``
    (Lightning calls the data's ``setup`` before the callbacks'), before any step or
    data-dependent initialisation: the model and its data agree on their sizes."""

    def setup(self, trainer: Trainer, pl_module: LightningModule, stage: str) -> None:
        check_fit(pl_module, getattr(trainer, "datamodule", None))


class LitlabCLI(LightningCLI):
    """LightningCLI with this project's logging, checkpointing and precision defaults."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("seed_everything_default", 42)
        kwargs.setdefault("save_config_kwargs", {"overwrite": True})
        kwargs.setdefault(
            "trainer_defaults",
            {
                "accelerator": "auto",
                "max_epochs": 10,
                "log_every_n_steps": 10,
                "callbacks": [
                    LearningRateMonitor(logging_interval="step"),
                    last_checkpoint(),
                    ResumeState(),  # generators and data order in every checkpoint
                    FitCheck(),  # the model and its data agree (common/contracts.py)
                ],
            },
        )
        kwargs.setdefault("parser_kwargs", {"default_env": False})
        kwargs.setdefault("parser_class", LitlabArgumentParser)  # errors in a few lines
        super().__init__(*args, **kwargs)

    def add_arguments_to_parser(self, parser: LightningArgumentParser) -> None:
        parser.add_argument(
            "--experiment",
            type=str | None,
            default=None,
            help="run name under logs/ (default: <config folder>/<config name>)",
        )
        parser.add_argument(
            "--test",
            type=bool,
            default=True,
            help="after fit, score the best checkpoint on the test set (same run folder)",
        )
        parser.add_argument(
            "--last_every_n_steps",
            type=int,
            default=LAST_EVERY_N_STEPS,
            help="also rewrite last.ckpt every N optimiser steps, not only at epoch ends "
            "(0: epoch ends only)",
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                "checkpoint.monitor": "val/acc",
                "checkpoint.mode": "max",
                "checkpoint.save_last": False,  # last.ckpt comes from last_checkpoint()
                "checkpoint.filename": "best",
                "checkpoint.auto_insert_metric_name": False,
            }
        )

    def before_instantiate_classes(self) -> None:
        # what the data defines (classes, a vocabulary, a window) goes into the model's
        # config, so YAMLs need not repeat it; saved in the run's config.yaml as filled
        fill_from_data(self.config[self.subcommand] if self.subcommand else self.config)

    def _experiment_name(self, subcommand: str | None = None) -> str:
        cfg = self.config[subcommand or self.subcommand]
        if cfg.get("experiment"):
            return cfg["experiment"]
        configs = cfg.get("config") or []
        if configs:
            path = Path(str(configs[0])).absolute()  # the experiment; later ones are overlays
            return f"{path.parent.name}/{path.stem}"
        return f"default/{type(self.model).__name__}"

    def _log_root(self, subcommand: str | None = None) -> Path:
        """``--trainer.default_root_dir``, else ``logs``: where the run folders live."""
        trainer_cfg = self.config[subcommand or self.subcommand].get("trainer") or {}
        return Path(trainer_cfg.get("default_root_dir") or LOG_ROOT)

    def _latest_last(self, subcommand: str | None = None) -> Path:
        """``<root>/<experiment>/version_<highest>/checkpoints/last.ckpt``, the run to resume."""
        runs_dir = self._log_root(subcommand) / self._experiment_name(subcommand)
        runs = [
            p for p in runs_dir.glob("version_*/checkpoints/last.ckpt")
            if p.parent.parent.name.removeprefix("version_").isdigit()
        ]  # fmt: skip
        if not runs:
            raise CheckpointError(
                f"--ckpt_path last: no {runs_dir}/version_N/checkpoints/last.ckpt yet; "
                "train first, or give the checkpoint's path"
            )
        return max(runs, key=lambda p: int(p.parent.parent.name.removeprefix("version_")))

    def _run_folder(self) -> tuple[Path, str | None]:
        """The root and version of the run: ``.../version_3/checkpoints/last.ckpt`` given to
        ``fit`` means version 3 under the root that holds it, so a resumed run stays put."""
        root = self._log_root()
        ckpt = self.config[self.subcommand].get("ckpt_path")
        if self.subcommand != "fit" or not ckpt or ckpt in ("last", "best", "hpc"):
            return root, None
        run = Path(ckpt).resolve().parent.parent
        if not run.name.startswith("version_"):
            return root, None
        parts = Path(self._experiment_name()).parts
        if run.parent.parts[-len(parts) :] == parts:  # <root>/<domain>/<experiment>/version_N
            root = run.parents[len(parts)]
        return root, run.name

    def instantiate_trainer(self, **kwargs: Any) -> Trainer:
        trainer_cfg = self.config_init[self.subcommand].get("trainer", {})
        if trainer_cfg.get("logger") in (None, True):
            root, version = self._run_folder()
            kwargs["logger"] = TensorBoardLogger(
                save_dir=str(root),
                name=self._experiment_name(),
                version=version,
                default_hp_metric=False,
            )
        if trainer_cfg.get("precision") is None:
            kwargs["precision"] = default_precision(str(trainer_cfg.get("accelerator", "auto")))
        if not trainer_cfg.get("plugins"):  # a kill mid-write leaves the previous checkpoint
            kwargs["plugins"] = [AtomicCheckpointIO()]
        extra = []
        every = self.config[self.subcommand].get("last_every_n_steps") or 0
        if every > 0:  # appended like the other default callbacks, after the config's own
            extra.append(step_last_checkpoint(every))
        own = trainer_cfg.get("callbacks") or []
        if trainer_cfg.get("enable_progress_bar") is not False and not any(
            isinstance(c, BaseProgressBar) for c in (own if isinstance(own, list) else [own])
        ):  # Lightning's bar, minus its wait for the GPU at every step
            from litlab.common.callbacks.progress import ProgressBar  # the callbacks: fit only

            extra.append(ProgressBar())
        if extra:
            defaults = list(self.trainer_defaults.get("callbacks", []))
            self.trainer_defaults = {**self.trainer_defaults, "callbacks": [*defaults, *extra]}
        return super().instantiate_trainer(**kwargs)

    def _parse_ckpt_path(self) -> None:
        """Lightning's own step, which reads the model's hyper-parameters from ``--ckpt_path``
        into the config, made safe: a path that is missing, not a checkpoint, or written by
        another model class is refused here in one sentence, and class paths written before
        the ``litlab`` namespace are translated (``common/checkpoints.py``)."""
        sub = self.config.get("subcommand")
        ckpt = self.config[sub].get("ckpt_path") if sub else None
        if ckpt == "last":  # the newest run of this experiment, so no path needs typing
            ckpt = str(self._latest_last(sub))
            self.config[sub]["ckpt_path"] = ckpt
        if not ckpt or ckpt in ("best", "hpc", "registry"):
            return
        path = Path(ckpt)
        if not path.is_file():
            raise CheckpointError(f"--ckpt_path {ckpt}: no such file")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
            hparams = current_class_paths(dict(raw.get("hyper_parameters", {})))
        except Exception as err:  # truncated, not a torch file
            raise CheckpointError(
                f"--ckpt_path {ckpt} is not a litlab checkpoint that can be read "
                f"({type(err).__name__}); point it at a best.ckpt or last.ckpt of `litlab fit`"
            ) from err
        hparams.pop("_instantiator", None)
        written_by = hparams.pop("_class_path", None)
        if not hparams or written_by is None:  # saved no hyper-parameters: nothing to read
            return
        builds = self.config[sub]["model"]["class_path"]
        if written_by != builds:
            raise CheckpointError(
                f"--ckpt_path {ckpt} holds a {written_by.rpartition('.')[2]}, but this "
                f"config builds a {builds.rpartition('.')[2]}: give a checkpoint of the same "
                "experiment"
            )
        model = {"class_path": written_by, "dict_kwargs": hparams}
        self.config = self.parser.parse_object({sub: {"model": model}}, self.config)

    def after_fit(self) -> None:
        if not self.config.fit.get("test", False) or self.trainer.interrupted:
            return
        ckpt = self.trainer.checkpoint_callback
        best = ckpt.best_model_path if ckpt is not None and ckpt.best_model_path else None
        self.trainer.test(self.model, datamodule=self.datamodule, ckpt_path=best)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``litlab`` console script: user errors end in a few lines and exit
    status 2 (``common/errors.py``); ``--debug`` or ``LITLAB_DEBUG=1`` shows the traceback."""
    debug = debugging(sys.argv if argv is None else argv)  # removes --debug from the list
    with short_errors(debug):
        run(argv)


def run(argv: list[str] | None = None) -> LitlabCLI | None:
    """Run a litlab command; returns the CLI (model, datamodule, trainer) for fit & co."""
    args = argv  # None: LightningCLI reads sys.argv itself (and says so in --help)
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in EXTRA_COMMANDS:
        run_extra(argv[0], argv[1:])
        return None
    if not argv or argv[0] in ("-h", "--help"):
        extra = "\n".join(f"  {k:<9} {v[0]}" for k, v in EXTRA_COMMANDS.items())
        print(f"litlab extra subcommands:\n{extra}\n")
    return LitlabCLI(args=args, auto_configure_optimizers=False)


if __name__ == "__main__":
    main()
