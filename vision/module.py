"""ImageClassifier: one LightningModule for every image network in ``litlab.vision.models``.

The network is a plain ``nn.Module`` passed in (by class path in the experiment YAML); this
class adds what training needs: the loss, torchmetrics objects per stage, optimizers and
schedules, and the small protocol the picture callbacks use (``feature_map_layers``,
``gradcam_layer``).

Logged keys: ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``, ``val/acc_best``,
``val/acc5`` (more than 5 classes), ``val/acc_class/<name>``, and the same under ``test/``.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from litlab.common.loggers import log_hparams
from litlab.common.optim import decay_groups, step_schedule


def _metrics(num_classes: int) -> MetricCollection:
    metrics = {"acc": MulticlassAccuracy(num_classes, average="micro")}
    if num_classes > 5:
        metrics["acc5"] = MulticlassAccuracy(num_classes, top_k=5, average="micro")
    return MetricCollection(metrics)


class ImageClassifier(L.LightningModule):
    """Train any image network with cross-entropy.

    Args:
        net: the network, images (B, C, H, W) -> logits (B, num_classes).
        num_classes: must match the network's output and the data set.
        optimizer: ``"sgd"`` (Nesterov momentum) or ``"adamw"``.
        lr: peak learning rate.
        weight_decay: applied to weights of conv/linear layers only, not to norms and biases.
        scheduler: ``"onecycle"`` (warm-up then anneal, per step), ``"cosine"`` or ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
        channels_last: NHWC memory layout (faster convolutions on GPUs and oneDNN CPUs).
        tta_flip: average logits over the image and its mirror at evaluation.
        compile: ``torch.compile`` the network in place (state-dict keys are unchanged).
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int = 10,
        optimizer: Literal["sgd", "adamw"] = "sgd",
        lr: float = 0.1,
        weight_decay: float = 5e-4,
        momentum: float = 0.9,
        scheduler: Literal["onecycle", "cosine", "none"] = "onecycle",
        warmup: float = 0.2,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        tta_flip: bool = False,
        compile: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters()  # via LightningCLI "net" is stored as its config, so
        # load_from_checkpoint can rebuild the network without being handed one
        self.net = net.to(memory_format=torch.channels_last) if channels_last else net
        self.train_metrics = _metrics(num_classes).clone(prefix="train/")
        self.val_metrics = _metrics(num_classes).clone(prefix="val/")
        self.test_metrics = _metrics(num_classes).clone(prefix="test/")
        self.val_per_class = MulticlassAccuracy(num_classes, average=None)
        self.test_per_class = MulticlassAccuracy(num_classes, average=None)
        self.val_acc_best = MaxMetric()

    def forward(self, x: Tensor) -> Tensor:
        """Images (B, C, H, W) -> logits (B, num_classes): one pass of the network."""
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def predict_logits(self, x: Tensor) -> Tensor:
        """Logits for evaluation: averaged with the mirrored image when ``tta_flip`` is set."""
        logits = self(x)
        if self.hparams.tta_flip and not self.training:
            logits = (logits + self(x.flip(-1))) / 2
        return logits

    def configure_model(self) -> None:
        if self.hparams.compile and not getattr(self, "_compiled", False):
            self.net.compile()  # nn.Module.compile: in place, so checkpoints stay portable
            self._compiled = True

    # --- steps ----------------------------------------------------------------------------

    def on_fit_start(self) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if (
            dm is not None
            and getattr(dm, "num_classes", self.hparams.num_classes) != self.hparams.num_classes
        ):
            raise ValueError(
                f"model.num_classes={self.hparams.num_classes} but the data has {dm.num_classes} "
                "classes: set model.num_classes (and the net's num_classes) to match"
            )
        # optional model hook: data-dependent initialisation (AirbenchNet's whitening conv)
        init = getattr(self.net, "initialize_from_data", None)
        if init is not None and dm is not None and self.trainer.ckpt_path is None:
            images, _ = dm.probe_batch(min(5000, len(dm.train_idx)), split="train")
            init(images.to(self.device))
        if self.logger is not None:  # hparams tab: link the hyper-parameters to the best score
            log_hparams(self, {"val/acc_best": 0.0, "test/acc": 0.0})

    def on_train_start(self) -> None:
        # a one-cycle or cosine schedule is planned for the whole run: resuming with more
        # epochs would step past its end, which torch reports only as "Tried to step ..."
        planned = self.trainer.estimated_stepping_batches
        for config in self.trainer.lr_scheduler_configs:
            steps = getattr(config.scheduler, "total_steps", None) or getattr(
                config.scheduler, "T_max", None
            )
            if steps is not None and steps < planned:
                raise ValueError(
                    f"the learning-rate schedule in this checkpoint was planned for {steps} steps, "
                    f"but this run needs {planned}: resume with the max_epochs of the original "
                    "run, or start a new run from the weights (model.init_args...) instead"
                )

    def _shared_step(self, batch: tuple[Tensor, Tensor], stage: str) -> dict[str, Tensor]:
        x, y = batch
        logits = self.predict_logits(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.hparams.label_smoothing)
        train = stage == "train"
        self.log(f"{stage}/loss", loss, on_step=train, on_epoch=True, prog_bar=stage != "test")
        metrics = getattr(self, f"{stage}_metrics")
        metrics.update(logits, y)
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        if not train:
            getattr(self, f"{stage}_per_class").update(logits, y)
        # the confusion-matrix callback reads predictions and targets from the step outputs
        return {"loss": loss, "preds": logits.argmax(dim=-1).detach(), "target": y}

    def training_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "train")

    def validation_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "val")

    def test_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> dict[str, Tensor]:
        return self._shared_step(batch, "test")

    def predict_step(self, batch: tuple[Tensor, Tensor], batch_idx: int) -> Tensor:
        return self.predict_logits(batch[0]).softmax(dim=-1)

    def _log_per_class(self, stage: str) -> None:
        per_class = getattr(self, f"{stage}_per_class")
        acc = per_class.compute()
        per_class.reset()
        names = self._class_names()
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

    def _class_names(self) -> list[str]:
        dm = getattr(self.trainer, "datamodule", None)
        names = getattr(dm, "classes", None)
        return list(names) if names else [str(i) for i in range(self.hparams.num_classes)]

    # --- optimisation ---------------------------------------------------------------------

    def configure_optimizers(self) -> dict[str, Any]:
        groups = decay_groups(self, self.hparams.weight_decay)  # none on norms and biases
        hp = self.hparams
        if hp.optimizer == "sgd":
            opt = torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, nesterov=True)
        else:
            opt = torch.optim.AdamW(groups, lr=hp.lr)
        steps = self.trainer.estimated_stepping_batches
        return step_schedule(opt, hp.scheduler, steps, hp.warmup, final_div_factor=1e3)

    # --- protocol for the picture callbacks (common/protocols.py) ----------------

    def feature_map_layers(self, n: int = 2) -> dict[str, nn.Module]:
        """The first ``n`` convolution layers of the network, by name."""
        convs = [(name, m) for name, m in self.net.named_modules() if isinstance(m, nn.Conv2d)]
        return dict(convs[:n])

    def gradcam_layer(self) -> nn.Module:
        """The network's own choice (its ``gradcam_layer()``), else its last convolution."""
        if hasattr(self.net, "gradcam_layer"):
            return self.net.gradcam_layer()
        convs = [m for m in self.net.modules() if isinstance(m, nn.Conv2d)]
        if not convs:
            raise TypeError(
                f"{type(self.net).__name__} has no convolution layer, so Grad-CAM has no spatial "
                "map to show: drop GradCamCallback from this experiment"
            )
        return convs[-1]
