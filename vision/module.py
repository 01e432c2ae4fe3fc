"""ImageClassifier: one LightningModule for every image network in ``litlab.vision.models``.

The network is a plain ``nn.Module`` passed in (by class path in the experiment YAML). What
every classifier shares (loss, metrics per stage, per-class accuracy, the schedule, compile)
is ``litlab.common.classifier.Classifier``; this class adds only what images need: SGD or
AdamW, channels-last memory, flip test-time augmentation, the top-5 accuracy and a network's
data-dependent initialisation. What inference needs too (``forward`` and the layers the
pictures look at: ``feature_map_layers``, ``gradcam_layer``) is inherited from
``litlab.vision.predict.ImagePredictor``, which ``litlab explain`` and serve/ load without
Lightning.

Logged keys: those of ``Classifier`` plus ``val/acc5`` / ``test/acc5`` (more than 5 classes).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from litlab.common.classifier import Classifier, Schedule
from litlab.vision.predict import ImagePredictor


class ImageClassifier(ImagePredictor, Classifier):
    """Train any image network with cross-entropy.

    Args:
        net: the network, images (B, C, H, W) -> logits (B, num_classes).
        num_classes: None: the network's; LitlabCLI fills in the data's.
        optimizer: ``"sgd"`` (Nesterov momentum) or ``"adamw"``.
        lr: peak learning rate.
        weight_decay: applied to weights of conv/linear layers only, not to norms and biases.
        momentum: SGD momentum.
        scheduler: ``"onecycle"`` (warm-up then anneal, per step), ``"cosine"`` or ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
        channels_last: NHWC memory layout (faster convolutions on GPUs and oneDNN CPUs).
        tta_flip: average logits over the image and its mirror at evaluation.
        compile: ``torch.compile`` the network for the steps (state-dict keys are unchanged).
    """

    final_div_factor = 1e3

    def __init__(
        self,
        net: nn.Module,
        num_classes: int | None = None,
        optimizer: Literal["sgd", "adamw"] = "sgd",
        lr: float = 0.1,
        weight_decay: float = 5e-4,
        momentum: float = 0.9,
        scheduler: Schedule = "onecycle",
        warmup: float = 0.2,
        label_smoothing: float = 0.0,
        channels_last: bool = False,
        tta_flip: bool = False,
        compile: bool = False,
    ) -> None:
        net = self.prepare_net(net, {"channels_last": channels_last})
        super().__init__(
            net, num_classes, lr, weight_decay, scheduler, warmup, label_smoothing, compile
        )

    def eval_metrics(self, num_classes: int) -> MetricCollection:
        # no argument checks: they read each batch on the host (see Classifier.__init__)
        metrics = {"acc": MulticlassAccuracy(num_classes, average="micro", validate_args=False)}
        if num_classes > 5:
            metrics["acc5"] = MulticlassAccuracy(
                num_classes, top_k=5, average="micro", validate_args=False
            )
        return MetricCollection(metrics)

    def logits(self, x: Tensor) -> Tensor:
        """Logits for the steps; at evaluation averaged with the mirrored image (``tta_flip``)."""
        net = self.step_net
        logits = net(self._layout(x))
        if self.hparams.tta_flip and not self.training:
            logits = (logits + net(self._layout(x.flip(-1)))) / 2
        return logits

    def configure_optimizer(self, groups: list[dict]) -> torch.optim.Optimizer:
        hp = self.hparams
        if hp.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=hp.lr, momentum=hp.momentum, nesterov=True)
        return torch.optim.AdamW(groups, lr=hp.lr)

    def on_fit_start(self) -> None:
        super().on_fit_start()
        # optional network hook: data-dependent initialisation (AirbenchNet's whitening conv)
        init = getattr(self.net, "initialize_from_data", None)
        dm = getattr(self.trainer, "datamodule", None)
        if init is not None and dm is not None and self.trainer.ckpt_path is None:
            images, _ = dm.probe_batch(5000, split="train")  # at most 5,000 training images
            init(images.to(self.device))

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
