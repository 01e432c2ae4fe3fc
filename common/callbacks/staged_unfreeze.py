"""StagedUnfreeze: train the new head on a frozen pretrained encoder first, then everything.

The head starts random; its first gradients are large and noisy, and flowing back into the
pretrained layers they can wreck what pretraining built ("catastrophic forgetting"). ULMFiT's
answer, gradual unfreezing, in its simplest form: keep the encoder frozen for
``unfreeze_at_epoch`` epochs, then add it to the optimizer at ``lr / initial_denom_lr``.
Lightning's ``BaseFinetuning`` does the bookkeeping (freezing, the new parameter group);
this callback only says what and when. The alternative in one line is layer-wise learning-rate
decay (``--model.init_args.layer_decay``), which the MiniLM recipes use.

Use it in a YAML:

    trainer:
      callbacks:
        - class_path: litlab.common.callbacks.StagedUnfreeze
          init_args: {unfreeze_at_epoch: 1}

The network must say what its pretrained part is: ``net.backbone()`` (``PretrainedClassifier``:
the encoder).
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.callbacks import BaseFinetuning
from torch.optim import Optimizer

from litlab.common.errors import ConfigError


class StagedUnfreeze(BaseFinetuning):
    """Freeze ``net.backbone()`` until ``unfreeze_at_epoch``, then train it too.

    Args:
        unfreeze_at_epoch: the first epoch (0-based) in which the backbone trains.
        initial_denom_lr: the backbone's learning rate is the head's divided by this.
    """

    def __init__(self, unfreeze_at_epoch: int = 1, initial_denom_lr: float = 10.0) -> None:
        super().__init__()
        if unfreeze_at_epoch < 0 or initial_denom_lr <= 0:
            raise ConfigError(
                "StagedUnfreeze needs unfreeze_at_epoch >= 0 and initial_denom_lr > 0, got "
                f"{unfreeze_at_epoch} and {initial_denom_lr}"
            )
        self.unfreeze_at_epoch = unfreeze_at_epoch
        self.initial_denom_lr = initial_denom_lr

    @staticmethod
    def _backbone(pl_module: L.LightningModule):
        net = getattr(pl_module, "net", None)
        if net is None or not hasattr(net, "backbone"):
            raise ConfigError(
                f"StagedUnfreeze: {type(net).__name__} has no backbone() to freeze "
                "(use a pretrained network such as "
                "litlab.transformer.pretrained.PretrainedClassifier)"
            )
        return net.backbone()

    def freeze_before_training(self, pl_module: L.LightningModule) -> None:
        if self.unfreeze_at_epoch > 0:
            self.freeze(self._backbone(pl_module), train_bn=True)

    def finetune_function(
        self, pl_module: L.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        if epoch == self.unfreeze_at_epoch and self.unfreeze_at_epoch > 0:
            self.unfreeze_and_add_param_group(
                self._backbone(pl_module),
                optimizer,
                initial_denom_lr=self.initial_denom_lr,
                train_bn=True,
            )
