"""TextClassifier: the LightningModule for every text classifier in ``litlab.sequence.sentiment``.

The network is a plain ``nn.Module`` passed in by class path (``net`` in the experiment
YAML), called as ``net(ids, lengths) -> logits``. This class adds the loss, torchmetrics per
stage, AdamW with a one-cycle or cosine schedule, and the protocol of the picture callbacks:
``embedding_layer()`` (token attributions) and ``attention_maps()`` (attention pooling, or
a transformer's self-attention).

Logged keys: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``val/f1``,
``val/auroc``, ``val/acc_best``, and the same under ``test/``.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from litlab.common.loggers import log_hparams
from litlab.common.optim import decay_groups, step_schedule
from litlab.common.protocols import TokenBatch


def _metrics(num_classes: int) -> MetricCollection:
    return MetricCollection(
        {
            "acc": MulticlassAccuracy(num_classes, average="micro"),
            "f1": MulticlassF1Score(num_classes, average="macro"),
            "auroc": MulticlassAUROC(num_classes, average="macro"),  # needs probabilities
        }
    )


class TextClassifier(L.LightningModule):
    """Train a text network with cross-entropy on ``(TokenBatch, labels)`` batches.

    Args:
        net: ``net(ids (B, T), lengths (B,)) -> logits (B, num_classes)`` with an
            ``embedding`` layer (and ``attention_maps`` or ``pool_weights`` for attention
            maps), e.g. ``BiRNNClassifier`` or
            ``litlab.transformer.classifier.TransformerClassifier``.
        num_classes: must match the network and the data.
        lr: peak learning rate (AdamW).
        weight_decay: on matrices only, not on biases and norms.
        scheduler: ``"onecycle"`` (linear warm-up, then anneal, per step), ``"cosine"``, ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int = 2,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        scheduler: Literal["onecycle", "cosine", "none"] = "onecycle",
        warmup: float = 0.1,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()
        self.net = net
        self.train_metrics = MetricCollection(
            {"acc": MulticlassAccuracy(num_classes, average="micro")}
        ).clone(prefix="train/")
        self.val_metrics = _metrics(num_classes).clone(prefix="val/")
        self.test_metrics = _metrics(num_classes).clone(prefix="test/")
        self.val_acc_best = MaxMetric()

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Token ids (B, T) and lengths (B,) -> logits (B, num_classes)."""
        return self.net(ids, lengths)

    # --- steps ----------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        vocab = getattr(dm, "vocab_size", None)
        rows = self.net.embedding.num_embeddings
        if vocab is not None and vocab > rows:
            raise ValueError(
                f"the tokenizer has {vocab} tokens but the network's embedding only {rows} rows: "
                "set model.init_args.net.init_args.vocab_size >= data.init_args.vocab_size"
            )
        classes = getattr(dm, "classes", None)
        if classes is not None and len(classes) != self.hparams.num_classes:
            raise ValueError(
                f"model.num_classes={self.hparams.num_classes} but the data has {len(classes)} "
                "classes: set model.init_args.num_classes (and the net's num_classes) to match"
            )
        if self.logger is not None:  # hparams tab: link the hyper-parameters to the scores
            log_hparams(self, {"val/acc_best": 0.0, "test/acc": 0.0})

    def _shared_step(self, batch: tuple[TokenBatch, Tensor], stage: str) -> dict[str, Tensor]:
        (ids, lengths), y = batch
        logits = self(ids, lengths)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        train = stage == "train"
        bs = len(y)
        self.log(
            f"{stage}/loss", loss, on_step=train, on_epoch=True, prog_bar=not train, batch_size=bs
        )
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits.detach().float().softmax(dim=-1), y)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=bs)
        # the confusion-matrix callback reads predictions and targets from the step outputs
        return {"loss": loss, "preds": logits.argmax(dim=-1).detach(), "target": y}

    def training_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "train")

    def validation_step(
        self, batch: tuple[TokenBatch, Tensor], batch_idx: int
    ) -> dict[str, Tensor]:
        return self._shared_step(batch, "val")

    def test_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "test")

    def predict_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> Tensor:
        (ids, lengths), _ = batch
        return self(ids, lengths).softmax(dim=-1)

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best.update(self.val_metrics["acc"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    # --- optimisation ---------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        groups = decay_groups(self, self.hparams.weight_decay)  # none on norms and biases
        hp = self.hparams
        opt = torch.optim.AdamW(groups, lr=hp.lr)
        steps = self.trainer.estimated_stepping_batches
        return step_schedule(opt, hp.scheduler, steps, hp.warmup)

    # --- protocol for the picture callbacks (common/protocols.py) ----------------

    def embedding_layer(self) -> nn.Module:
        """Where integrated gradients attribute: the token embedding."""
        return self.net.embedding

    def attention_maps(self, inputs: TokenBatch) -> dict[str, Tensor]:
        """The net's own ``attention_maps(ids, lengths)`` when it has them (a transformer:
        ``{"layer0": (B, heads, T, T), ...}``), else ``{"pool": (B, 1 head, 1 query, T)}``:
        the attention-pooling weights."""
        ids, lengths = inputs
        if hasattr(self.net, "attention_maps"):
            return self.net.attention_maps(ids, lengths)
        return {"pool": self.net.pool_weights(ids, lengths)[:, None, None, :]}
