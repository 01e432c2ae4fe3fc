"""Exact resume after a crash: the random number generators and the training data order.

Lightning puts the weights, optimiser, schedulers and loop counters into every checkpoint,
but not the random number generators, and a plain ``DataLoader`` starts the interrupted epoch
again from its first batch, in a new order (Lightning only warns). Two small pieces close
the gap, so that a run killed at any moment and resumed from ``last.ckpt`` ends with exactly
the numbers of the uninterrupted run:

* :class:`ResumableDataLoader` (what every litlab DataModule returns for training): at the
  start of each pass over the data it notes the generator states that decide the order (the
  global torch generator, which ``shuffle=True`` and most samplers draw from, and any
  ``generator`` of its sampler); from that note and a batch count it replays the same pass
  and skips the batches already trained on.
* :class:`ResumeState`, a callback that ``LitlabCLI`` installs: each checkpoint gets the
  states of torch (CPU and CUDA), NumPy and Python ``random`` at the moment of saving, and
  the loaders' notes; on resume it replays the interrupted epoch's order, then sets every
  generator back to the moment of saving, before the first resumed batch.

Limits: randomness inside DataLoader worker processes (``num_workers > 0`` with random
per-image transforms) is not restored, so such a run resumes in the same order but with
other augmentations; nor is randomness drawn by a dataset's ``__getitem__`` in the main
process for the batch that was prefetched when the checkpoint was written.
"""

from __future__ import annotations

import random
import warnings
from collections.abc import Iterator
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.utilities import rank_zero_warn
from torch.utils.data import DataLoader

CHECKPOINT_KEY = "litlab_resume"


# --- the process-wide generators -----------------------------------------------------------


def rng_state() -> dict[str, Any]:
    """The states of torch (CPU, every CUDA device), NumPy and Python ``random``, in types
    that ``torch.load(weights_only=True)`` reads back (no NumPy arrays)."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": (kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, gauss),
        "python": random.getstate(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Undo :func:`rng_state`: every generator continues as it would have from there."""
    torch.set_rng_state(state["torch"])
    kind, keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


# --- the data order ------------------------------------------------------------------------


def _order_generators(loader: DataLoader) -> list[torch.Generator]:
    """The generators a loader's order may come from, besides the global one, each once."""
    found: list[torch.Generator] = []
    batch_sampler = loader.batch_sampler
    for owner in (loader, loader.sampler, batch_sampler, getattr(batch_sampler, "sampler", None)):
        g = getattr(owner, "generator", None)
        if isinstance(g, torch.Generator) and all(g is not f for f in found):
            found.append(g)
    return found


class ResumableDataLoader(DataLoader):
    """A ``DataLoader`` whose passes can be replayed: the same arguments, the same batches.

    Before each pass it notes the generator states its order is drawn from
    (:meth:`order_state`); :meth:`replay` makes the next pass start from such a note and skip
    its first batches. The skipped batches are loaded and dropped (no public DataLoader API
    skips indices), which costs one pass of loading at most, once per resume.
    """

    _pass_start: dict[str, Any] | None = None  # the note of the pass under way
    _replay_from: tuple[dict[str, Any], int] | None = None

    def _generator_states(self) -> list[torch.Tensor]:
        return [g.get_state() for g in _order_generators(self)]

    def order_state(self) -> dict[str, Any]:
        """Where the current pass started, and where the sampler generators are now."""
        return {"pass_start": self._pass_start, "generators_now": self._generator_states()}

    def replay(self, pass_start: dict[str, Any], skip: int) -> None:
        """Make the next pass the one that started at ``pass_start``, without its first
        ``skip`` batches."""
        self._replay_from = (pass_start, skip)

    def set_generators(self, states: list[torch.Tensor]) -> None:
        """Put the sampler generators where ``order_state()["generators_now"]`` found them."""
        for g, s in zip(_order_generators(self), states, strict=True):
            g.set_state(s)

    def __iter__(self) -> Iterator[Any]:
        skip = 0
        if self._replay_from is not None:
            start, skip = self._replay_from
            self._replay_from = None
            torch.set_rng_state(start["torch"])
            self.set_generators(start["generators"])
        else:
            start = {"torch": torch.get_rng_state(), "generators": self._generator_states()}
        self._pass_start = start
        it = super().__iter__()
        for _ in range(skip):
            next(it)
        return it


# --- the callbacks ---------------------------------------------------------------------------


class StepLastCheckpoint(ModelCheckpoint):
    """``last.ckpt`` every ``every_n_train_steps`` optimiser steps, mid-epoch.

    Not on a step that validation follows: Lightning resumes a checkpoint written there as if
    that validation had run, so it would never run (and the epoch's ``val/*`` and
    ``best.ckpt`` would be missing); the checkpoint written after validation covers the step.
    """

    def on_train_batch_end(
        self,
        trainer: L.Trainer,
        pl_module: L.LightningModule,
        outputs: Any,
        batch: Any,
        batch_idx: int,
    ) -> None:
        if trainer.fit_loop.epoch_loop._should_check_val_fx(trainer.fit_loop._data_fetcher):
            return
        super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def _train_loaders(trainer: L.Trainer) -> list[Any]:
    loader = trainer.fit_loop._combined_loader  # the loaders as the fit loop iterates them
    return list(loader.flattened) if loader is not None else []


class ResumeState(L.Callback):
    """Saves the generators and the data order in every checkpoint and restores them on
    resume (installed by ``LitlabCLI``; the module docstring says how)."""

    def __init__(self) -> None:
        self._loaded: dict[str, Any] | None = None

    def on_save_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        loaders = _train_loaders(trainer)
        checkpoint[CHECKPOINT_KEY] = {
            "rng": rng_state(),
            "epoch": trainer.current_epoch,
            # batches of this epoch whose optimiser step is done: what a resume skips
            "batches": trainer.fit_loop.epoch_loop.batch_progress.current.processed,
            "loaders": [
                dl.order_state() if isinstance(dl, ResumableDataLoader) else None for dl in loaders
            ],
        }

    def on_load_checkpoint(
        self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]
    ) -> None:
        self._loaded = checkpoint.get(CHECKPOINT_KEY)

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        state, self._loaded = self._loaded, None
        if state is None:  # a fresh run, or a checkpoint written before this callback
            return
        loaders = _train_loaders(trainer)
        batches, total = state["batches"], trainer.num_training_batches
        mid_epoch = 0 < batches < total
        replayable = len(loaders) == len(state["loaders"]) and all(
            isinstance(dl, ResumableDataLoader) and s is not None and s["pass_start"] is not None
            for dl, s in zip(loaders, state["loaders"])
        )
        if replayable and mid_epoch:  # the interrupted pass again, from its first untrained batch
            for dl, s in zip(loaders, state["loaders"]):
                dl.replay(s["pass_start"], skip=batches)
            # the fit loop made its iterator before the checkpoint was read: make it again
            iter(trainer.fit_loop._data_fetcher)
            # ... so Lightning's warning that the loader cannot resume is wrong here
            warnings.filterwarnings("ignore", message=".*your dataloader is not resumable")
            set_rng_state(state["rng"])  # last: the replay drew from the global generator
            return
        if mid_epoch:
            rank_zero_warn(
                "resuming mid-epoch with a training DataLoader that is not a "
                "litlab.common.resume.ResumableDataLoader: the rest of this epoch sees other "
                "batches than the uninterrupted run would have"
            )
        set_rng_state(state["rng"])
        if replayable:  # the epoch was over: a new pass starts where the generators had got to
            for dl, s in zip(loaders, state["loaders"]):
                dl.set_generators(s["generators_now"])
            if trainer.current_epoch > state["epoch"]:
                # Lightning went on to the next epoch and would iterate the pass it made before
                # the checkpoint was read (after a finished epoch of an epoch-based run; in a
                # max_steps run it finishes the old epoch first and makes a new pass itself)
                iter(trainer.fit_loop._data_fetcher)


LAST_EVERY_N_STEPS = 100  # a kill loses at most this many steps (and what ran since the epoch end)


def last_checkpoint() -> ModelCheckpoint:
    """``last.ckpt``, overwritten every epoch: what a crashed run resumes from.

    Not ``save_last=True`` on the best-model checkpoint: since Lightning 2.6 that writes
    ``last.ckpt`` only in epochs where the monitored metric improved, so after a plateau
    "last" would be stale.
    """
    return ModelCheckpoint(
        filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )


def step_last_checkpoint(every_n_steps: int) -> ModelCheckpoint:
    """The same ``last.ckpt``, also rewritten every ``every_n_steps`` optimiser steps, so a
    run killed mid-epoch loses little (Lightning allows one trigger per ModelCheckpoint;
    ``StepLastCheckpoint`` says which steps it leaves to the epoch-end one)."""
    return StepLastCheckpoint(
        filename="last",
        monitor=None,
        save_top_k=1,
        every_n_train_steps=every_n_steps,
        enable_version_counter=False,
    )
