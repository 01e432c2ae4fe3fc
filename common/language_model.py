"""LanguageModel: train any next-token network with cross-entropy, and sample from it.

Shared by the RNNs of ``litlab.sequence.lm`` and the GPT of ``litlab.transformer``, which is
why it lives in common/: the domains are siblings and neither imports the other.

The network is a plain ``nn.Module`` (by class path in the YAML) taking ids (B, T) and
returning logits (B, T, V), or a tuple whose first element is the logits (the RNNs also
return their state), and offering ``generate`` (and ``generate_iter``) for sampling, with
the arguments of ``litlab.common.sampling.sample_next`` plus ``vocab_limit``: the network's
``vocab_size`` may exceed the tokenizer's (65 characters of Tiny Shakespeare, fewer in a
small test text), and ids the tokenizer cannot decode must never be sampled. ``forward``
and sampling are inherited from ``litlab.common.language_predictor.LanguagePredictor``, which
``litlab generate``, ``chat`` and serve/ load without Lightning.

Logged keys: ``train/loss``, ``val/loss``, ``val/loss_best``, ``val/ppl`` (perplexity,
exp of the loss: "as unsure as a uniform choice among ppl tokens") and ``val/bpc`` (bits per
character, loss / ln 2) for character tokenizers, ``val/bits_per_token`` otherwise.
The learning rate warms up linearly, then follows a cosine down to ``min_lr_ratio * lr``
(nanoGPT's schedule). Gradient clipping is the Trainer's ``gradient_clip_val``.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torchmetrics import MeanMetric, MinMetric

from litlab.common.errors import check_positive
from litlab.common.language_predictor import LanguagePredictor
from litlab.common.loggers import log_hparams
from litlab.common.optim import compiled, decay_groups, step_schedule
from litlab.common.warm_start import WarmStart, check_tokenizer, warm_start

IGNORE_INDEX = -100  # F.cross_entropy's default ignore_index: a target that carries no loss


def counted(targets: Tensor) -> int:
    """How many targets carry loss: the weight of a batch's mean loss in an epoch's mean."""
    return int((targets != IGNORE_INDEX).sum())


class LanguageModel(LanguagePredictor, L.LightningModule):
    """Next-token prediction with cross-entropy, AdamW and a warm-up + cosine schedule.

    Args:
        net: ids (B, T) -> logits (B, T, V) (or a tuple starting with them).
        lr: peak learning rate.
        weight_decay: AdamW decay on matrices (embeddings included, as nanoGPT); none on
            biases and norms.
        betas: AdamW betas; 0.99 as second beta suits the small batches of a CPU run.
        warmup_steps: linear warm-up length in optimizer steps.
        min_lr_ratio: final learning rate as a fraction of ``lr``.
        compile: run training and validation through ``torch.compile(net)`` (a GPU speed-up;
            the weights, checkpoints and generation stay those of the plain ``net``).
        pretrained: start the net from another language-model run's weights (a checkpoint
            or a run folder, ``common/warm_start.py``) when fitting starts; the data's
            tokenizer must be that run's.

    Targets equal to ``IGNORE_INDEX`` (-100) carry no loss (e.g. a chat question's tokens,
    padding); every mean is over the targets that count, so ``val/loss`` is per real token.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 2e-3,
        weight_decay: float = 0.1,
        betas: tuple[float, float] = (0.9, 0.99),
        warmup_steps: int = 100,
        min_lr_ratio: float = 0.1,
        compile: bool = False,
        pretrained: str | None = None,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr)
        self.save_hyperparameters()
        self.net = net
        self.warm_start: WarmStart | None = None
        # set in configure_model; kept outside the module tree so state_dict keys stay net.*
        self._compiled: nn.Module | None = None
        # the tokenizer's vocabulary size, set from the data at fit time and saved with the
        # weights (0 = no limit known: sample from the whole output)
        self.register_buffer("vocab_limit", torch.tensor(0))
        self.val_loss = MeanMetric()
        self.val_loss_best = MinMetric()

    def setup(self, stage: str) -> None:
        # before a resumed run restores its own weights; never when a checkpoint is loaded
        if stage == "fit" and self.hparams.get("pretrained") and self.warm_start is None:
            self.warm_start = warm_start(self.net, self.hparams.pretrained)
            check_tokenizer(self.warm_start, getattr(self.trainer, "datamodule", None))
            self.warm_start.check_shapes()
            rank_zero_info(self.warm_start.summary())

    def configure_model(self) -> None:
        if self.hparams.compile and self._compiled is None:
            object.__setattr__(self, "_compiled", compiled(self.net))

    def loss(self, ids: Tensor, targets: Tensor) -> Tensor:
        logits = self(ids)  # (B, T, V)
        return F.cross_entropy(logits.flatten(0, 1), targets.flatten())

    # --- steps ----------------------------------------------------------------------------

    def data_needs(self) -> dict[str, int]:
        """The vocabulary the output layer covers and the longest context (a GPT's)."""
        needs = {"vocab_size": getattr(self.net, "vocab_size", None)}
        return {**needs, "block_size": self.block_size}

    def on_fit_start(self) -> None:
        # the FitCheck callback has compared the sizes; sampling must stay inside the vocabulary
        tokenizer = getattr(getattr(self.trainer, "datamodule", None), "tokenizer", None)
        if tokenizer is not None:
            self.vocab_limit.fill_(tokenizer.vocab_size)
        if self.logger is not None:
            log_hparams(self, {"val/loss_best": math.inf})

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(*batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(*batch)
        self.val_loss.update(loss, weight=counted(batch[1]))
        return loss

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        loss = self.loss(*batch)
        self.log("test/loss", loss, on_epoch=True, batch_size=counted(batch[1]))
        return loss

    def _bits_name(self) -> str:
        tok = getattr(getattr(self.trainer, "datamodule", None), "tokenizer", None)
        return "val/bpc" if getattr(tok, "kind", None) == "char" else "val/bits_per_token"

    def on_validation_epoch_end(self) -> None:
        loss = self.val_loss.compute()
        self.val_loss.reset()
        self.log("val/loss", loss, prog_bar=True)
        self.log("val/ppl", loss.exp())
        self.log(self._bits_name(), loss / math.log(2))
        if not self.trainer.sanity_checking:
            self.val_loss_best.update(loss)
            self.log("val/loss_best", self.val_loss_best.compute(), prog_bar=True)

    # --- optimisation ---------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        groups = decay_groups(self, hp.weight_decay)  # none on norms and biases
        opt = torch.optim.AdamW(groups, lr=hp.lr, betas=tuple(hp.betas), fused=self._fusable())
        total = self.trainer.estimated_stepping_batches
        return step_schedule(
            opt, "warmup_cosine", total, warmup_steps=hp.warmup_steps, min_lr_ratio=hp.min_lr_ratio
        )

    def _fusable(self) -> bool:
        """Whether AdamW may use its fused CUDA kernel (one launch for all parameters).

        Lightning refuses gradient clipping with a fused optimizer under mixed precision, so
        then PyTorch's default (foreach: a few batched kernels) is kept.
        """
        if self.device.type != "cuda":
            return False
        trainer = self._trainer
        clipping = bool(trainer is not None and trainer.gradient_clip_val)
        mixed = trainer is not None and "mixed" in str(trainer.precision)
        return not (clipping and mixed)
