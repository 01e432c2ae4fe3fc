"""Classifier: what every litlab classifier LightningModule shares, whatever its input.

``ImageClassifier`` (``litlab.vision.module``) and ``TextClassifier``
(``litlab.sequence.sentiment.module``) subclass it and keep only what differs: how a batch
is unpacked and fed to the network, extra metrics, the optimizer choice, and the layers the
picture callbacks look at. Shared here: cross-entropy with label smoothing, torchmetrics per
stage, ``val/acc_best``, per-class accuracy, the step outputs the confusion matrix reads, the
learning-rate schedule, ``torch.compile`` for the steps, and ``data_needs``
(``common/protocols.py``: the number of classes the network was built for).

Logged keys: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``val/acc_best``,
``val/acc_class/<name>`` (up to 20 classes), subclasses' extra metrics, the same under
``test/``.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from litlab.common.errors import check_positive
from litlab.common.loggers import log_hparams
from litlab.common.optim import compiled, decay_groups, step_schedule

Schedule = Literal["onecycle", "cosine", "none"]


def output_classes(net: nn.Module) -> int:
    """The classes a network predicts: its ``num_classes``, else its last Linear's outputs."""
    n = getattr(net, "num_classes", None)
    if n is None:
        linears = [m for m in net.modules() if isinstance(m, nn.Linear)]
        if not linears:
            raise TypeError(
                f"{type(net).__name__} has no num_classes and no Linear layer: "
                "pass num_classes to the LightningModule"
            )
        n = linears[-1].out_features
    return int(n)


class Classifier(L.LightningModule):
    """Cross-entropy training of ``net`` (inputs -> logits (B, num_classes)).

    Args:
        net: the network; subclasses say how it is called.
        num_classes: None: the network's (``output_classes``); LitlabCLI fills in the data's.
        lr: peak learning rate.
        weight_decay: on matrices and kernels only, not on biases and norms.
        scheduler: ``"onecycle"`` (linear warm-up, then anneal, per step), ``"cosine"``,
            ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
        compile: ``torch.compile`` the network for the training and evaluation steps.
    """

    final_div_factor = 1e4  # onecycle: the last learning rate is lr / (25 * this)

    def __init__(
        self,
        net: nn.Module,
        num_classes: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        scheduler: Schedule = "onecycle",
        warmup: float = 0.1,
        label_smoothing: float = 0.0,
        compile: bool = False,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr, num_classes=num_classes)
        # also the subclass's arguments; via LightningCLI "net" is stored as its config, so
        # load_from_checkpoint rebuilds the network without being handed one
        self.save_hyperparameters()
        self.net = net
        self.num_classes = n = num_classes or output_classes(net)
        # validate_args=False here and in eval_metrics: torchmetrics' argument checks read
        # every batch on the host, which on a GPU waits for the device at every step
        self.train_metrics = MetricCollection(
            {"acc": MulticlassAccuracy(n, average="micro", validate_args=False)}
        ).clone(prefix="train/")
        self.val_metrics = self.eval_metrics(n).clone(prefix="val/")
        self.test_metrics = self.eval_metrics(n).clone(prefix="test/")
        self.val_per_class = MulticlassAccuracy(n, average=None, validate_args=False)
        self.test_per_class = MulticlassAccuracy(n, average=None, validate_args=False)
        self.val_acc_best = MaxMetric()
        self._compiled: nn.Module | None = None  # outside the module tree: keys stay net.*

    def eval_metrics(self, num_classes: int) -> MetricCollection:
        """Validation and test metrics; they are updated with probabilities (B, C)."""
        acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        return MetricCollection({"acc": acc})

    # --- what subclasses provide ----------------------------------------------------------

    def logits(self, inputs: Any) -> Tensor:
        """A batch's inputs -> logits (B, num_classes), through the compiled net if any."""
        raise NotImplementedError

    def param_groups(self) -> list[dict]:
        """The optimizer's parameter groups; weight decay on matrices only by default."""
        return decay_groups(self, self.hparams.weight_decay)

    def configure_optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        """The optimizer for the parameter groups of ``decay_groups``; AdamW by default."""
        return torch.optim.AdamW(groups, lr=self.hparams.lr)

    # --- shared ---------------------------------------------------------------------------

    @property
    def step_net(self) -> nn.Module:
        """The network the steps run: compiled when ``compile`` is set, else ``net``."""
        return self._compiled if self._compiled is not None else self.net

    def configure_model(self) -> None:
        if self.hparams.compile and self._compiled is None:
            object.__setattr__(self, "_compiled", compiled(self.net))

    def data_needs(self) -> dict[str, int]:
        return {"num_classes": self.num_classes}

    def on_fit_start(self) -> None:
        if self.logger is not None:  # hparams tab: link the hyper-parameters to the scores
            log_hparams(self, {"val/acc_best": 0.0, "test/acc": 0.0})

    def _shared_step(self, batch: tuple[Any, Tensor], stage: str) -> dict[str, Tensor]:
        inputs, y = batch
        logits = self.logits(inputs)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        train, bs = stage == "train", len(y)
        self.log(
            f"{stage}/loss", loss, on_step=train, on_epoch=True, prog_bar=True, batch_size=bs
        )
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits.detach().float().softmax(dim=-1), y)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val", batch_size=bs)
        if not train:
            getattr(self, f"{stage}_per_class").update(logits.detach(), y)
        # the confusion-matrix callback reads predictions and targets from the step outputs
        return {"loss": loss, "preds": logits.argmax(dim=-1).detach(), "target": y}

    def training_step(self, batch: tuple[Any, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Any, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Any, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "test")

    def predict_step(self, batch: tuple[Any, Tensor], batch_idx: int) -> Tensor:
        return self.logits(batch[0]).softmax(dim=-1)

    def _log_per_class(self, stage: str) -> None:
        per_class = getattr(self, f"{stage}_per_class")
        acc = per_class.compute()
        per_class.reset()
        dm = getattr(self.trainer, "datamodule", None)
        names = list(getattr(dm, "classes", None) or [str(i) for i in range(self.num_classes)])
        if len(names) <= 20:  # 100 CIFAR-100 curves help nobody; the confusion matrix does
            self.log_dict({f"{stage}/acc_class/{n}": a for n, a in zip(names, acc)})

    def on_validation_epoch_end(self) -> None:
        self._log_per_class("val")
        if self.trainer.sanity_checking:
            return
        self.val_acc_best.update(self.val_metrics["acc"].compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def on_test_epoch_end(self) -> None:
        self._log_per_class("test")

    def configure_optimizers(self) -> dict[str, Any]:
        opt = self.configure_optimizer(self.param_groups())
        steps = self.trainer.estimated_stepping_batches
        hp = self.hparams
        return step_schedule(opt, hp.scheduler, steps, hp.warmup, self.final_div_factor)
