"""Staged unfreezing: train the new head first, then thaw the backbone from the top down.

A pretrained backbone's late layers hold task-specific features, its early layers generic
ones (edges, colours). Training a random head on top of a frozen backbone first keeps its
large early gradients from wrecking the pretrained features; then we unfreeze the stages
closest to the output, and finally everything, each at a lower learning rate than the head.
"""

import math

import lightning.pytorch as pl
from lightning.pytorch.callbacks import BaseFinetuning
from torch import nn
from torch.optim import Optimizer

__all__ = ["StagedUnfreezing"]

# per-group learning-rate keys that schedulers store in the optimizer (OneCycleLR, LRScheduler)
_SCALED_GROUP_KEYS = ("initial_lr", "max_lr", "min_lr")
_COPIED_GROUP_KEYS = ("max_momentum", "base_momentum")


class StagedUnfreezing(BaseFinetuning):
    """Freeze ``pl_module.net.backbone`` at fit start, unfreeze it in stages at given epochs.

    Contract: the LightningModule keeps its network as ``self.net``, the network has a
    ``backbone`` module and a ``backbone_stages()`` method listing the backbone's parts from
    input to output (``litlab.vision.transfer.TransferNet`` does), and ``configure_optimizers`` only
    passes parameters with ``requires_grad`` (frozen ones are added here, as new param groups).

    With ``n`` stages and ``k`` milestones, after the ``i``-th milestone the top
    ``floor(i * n / k)`` stages are trainable: for resnet's 5 stages and epochs ``(1, 3, 5)``,
    layer4 at epoch 1, layer2-3 at epoch 3, layer1 and the stem at epoch 5. Each new param
    group starts at ``lr_factor`` times the head's current learning rate.

    Args:
        unfreeze_at_epochs: increasing epochs at which stages are unfrozen; after the last one
            the whole backbone trains.
        lr_factor: learning rate of the unfrozen stages relative to the head's.
        train_bn: keep the backbone's BatchNorm layers training while frozen (they then join
            the optimizer from the start). When ``False`` they freeze with their stage: they
            normalise with batch statistics without updating the stored ones (Lightning's
            ``freeze``), and train again once their stage is unfrozen.
    """

    def __init__(
        self,
        unfreeze_at_epochs: tuple[int, ...] = (1, 3, 5),
        lr_factor: float = 0.1,
        train_bn: bool = False,
    ) -> None:
        super().__init__()
        epochs = tuple(unfreeze_at_epochs)
        if not epochs or list(epochs) != sorted(set(epochs)) or epochs[0] < 0:
            raise ValueError(f"unfreeze_at_epochs must increase strictly from >= 0: {epochs}")
        self.unfreeze_at_epochs = epochs
        self.lr_factor = lr_factor
        self.train_bn = train_bn

    @staticmethod
    def _net(pl_module: pl.LightningModule) -> nn.Module:
        net = getattr(pl_module, "net", None)
        if not callable(getattr(net, "backbone_stages", None)) or not hasattr(net, "backbone"):
            raise TypeError(
                f"StagedUnfreezing needs {type(pl_module).__name__}.net to have a `backbone` and "
                f"a `backbone_stages()` method (as litlab.vision.transfer.TransferNet has); "
                f"got {type(net).__name__}"
            )
        return net

    def freeze_before_training(self, pl_module: pl.LightningModule) -> None:
        """Called by Lightning in ``setup``, before ``configure_optimizers``."""
        self.freeze(self._net(pl_module).backbone, train_bn=self.train_bn)

    def finetune_function(
        self, pl_module: pl.LightningModule, epoch: int, optimizer: Optimizer
    ) -> None:
        """Called at every training epoch start; acts on the listed epochs only."""
        stages = self._net(pl_module).backbone_stages()
        n, k = len(stages), len(self.unfreeze_at_epochs)
        # resuming from a checkpoint, `setup` froze the whole backbone again while Lightning
        # restored the param groups of earlier milestones: make their stages trainable again
        passed = sum(m < epoch for m in self.unfreeze_at_epochs)
        self.make_trainable(stages[n - math.floor(passed * n / k) :])
        if epoch not in self.unfreeze_at_epochs:
            return
        i = self.unfreeze_at_epochs.index(epoch)  # 0-based milestone
        # stages are numbered from the output end; this milestone thaws [start, stop)
        start, stop = math.floor(i * n / k), math.floor((i + 1) * n / k)
        new = stages[n - stop : n - start]
        if not new:  # more milestones than stages: nothing left for this one
            return
        lr = optimizer.param_groups[0]["lr"] * self.lr_factor
        groups_before = len(optimizer.param_groups)
        # with train_bn the BatchNorm parameters never froze and are in the optimizer already;
        # without it they thaw with their stage
        self.unfreeze_and_add_param_group(
            modules=new, optimizer=optimizer, lr=lr, train_bn=not self.train_bn
        )
        if len(optimizer.param_groups) > groups_before:
            self._extend_schedulers(pl_module.trainer, optimizer)

    def _extend_schedulers(self, trainer: pl.Trainer, optimizer: Optimizer) -> None:
        """Teach the optimizer's LR schedulers about the param group just added.

        Schedulers keep one entry per param group (``base_lrs``, ``lr_lambdas``, the
        ``initial_lr``/``max_lr`` keys of OneCycleLR) and fail on a group they have never
        seen. The new group follows the head's schedule, scaled by ``lr_factor``.
        """
        first, new = optimizer.param_groups[0], optimizer.param_groups[-1]
        for key in _SCALED_GROUP_KEYS:
            if key in first:
                new[key] = first[key] * self.lr_factor
        for key in _COPIED_GROUP_KEYS:
            if key in first:
                new[key] = first[key]
        for config in trainer.lr_scheduler_configs:
            scheduler = config.scheduler
            if getattr(scheduler, "optimizer", None) is not optimizer:
                continue
            if hasattr(scheduler, "base_lrs"):
                scheduler.base_lrs.append(new.get("initial_lr", new["lr"]))
            if hasattr(scheduler, "lr_lambdas"):  # LambdaLR, MultiplicativeLR
                scheduler.lr_lambdas.append(scheduler.lr_lambdas[0])
