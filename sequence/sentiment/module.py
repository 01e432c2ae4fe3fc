"""TextClassifier: the LightningModule for every text classifier in ``litlab.sequence.sentiment``.

The network is a plain ``nn.Module`` passed in by class path (``net`` in the experiment
YAML), called as ``net(ids, lengths) -> logits``. What every classifier shares (loss,
metrics per stage, per-class accuracy, AdamW with a one-cycle or cosine schedule) is
``litlab.common.classifier.Classifier``; this class adds only what text needs: the token
batch, F1 and AUROC and the vocabulary the embedding must cover. ``forward`` and the
protocol of the picture callbacks, ``embedding_layer()`` (token attributions) and
``attention_maps()`` (attention pooling, or a transformer's self-attention), are inherited
from ``litlab.sequence.sentiment.predict.TextPredictor``, which explain and serve/ load
without Lightning.

Logged keys: those of ``Classifier`` plus ``val/f1``, ``val/auroc`` and the same under ``test/``.
"""

from __future__ import annotations

from lightning.pytorch.utilities import rank_zero_info
from torch import Tensor, nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassAUROC, MulticlassF1Score

from litlab.common.classifier import Classifier, Schedule
from litlab.common.errors import check_positive
from litlab.common.optim import layer_decay_groups
from litlab.common.protocols import TokenBatch
from litlab.common.warm_start import WarmStart, check_tokenizer, warm_start
from litlab.sequence.sentiment.predict import TextPredictor


class TextClassifier(TextPredictor, Classifier):
    """Train a text network with cross-entropy on ``(TokenBatch, labels)`` batches.

    Args:
        net: ``net(ids (B, T), lengths (B,)) -> logits (B, num_classes)`` with an
            ``embedding`` layer (and ``attention_maps`` or ``pool_weights`` for attention
            maps), e.g. ``BiRNNClassifier`` or
            ``litlab.transformer.classifier.TransformerClassifier``.
        num_classes: None: the network's; LitlabCLI fills in the data's.
        lr: peak learning rate (AdamW).
        weight_decay: on matrices only, not on biases and norms.
        scheduler: ``"onecycle"`` (linear warm-up, then anneal, per step), ``"cosine"``, ``"none"``.
        warmup: fraction of training spent warming up (onecycle).
        label_smoothing: cross-entropy label smoothing.
        compile: ``torch.compile`` the network for the steps.
        layer_decay: layer-wise learning-rate decay for a network with ``layer_depth`` (a
            pretrained encoder): depth ``d`` of ``n`` learns at ``lr * layer_decay ** (n - d)``;
            1.0: one learning rate for all.
        pretrained: start the network from a pretraining run's weights (a checkpoint or a run
            folder, see ``litlab.common.warm_start``); loaded when fitting starts, and the
            report of what was and was not loaded is printed.
    """

    def __init__(
        self,
        net: nn.Module,
        num_classes: int | None = None,
        lr: float = 2e-3,
        weight_decay: float = 0.01,
        scheduler: Schedule = "onecycle",
        warmup: float = 0.1,
        label_smoothing: float = 0.0,
        compile: bool = False,
        layer_decay: float = 1.0,
        pretrained: str | None = None,
    ) -> None:
        super().__init__(
            net, num_classes, lr, weight_decay, scheduler, warmup, label_smoothing, compile
        )
        check_positive("--model.init_args", layer_decay=layer_decay)
        self.warm_start: WarmStart | None = None

    def setup(self, stage: str) -> None:
        # before a resumed run restores its own weights (Lightning restores after setup), and
        # never when a trained checkpoint is loaded for explain/serve (no setup there)
        if stage == "fit" and self.hparams.pretrained and self.warm_start is None:
            self.warm_start = warm_start(self.net, self.hparams.pretrained)
            check_tokenizer(self.warm_start, getattr(self.trainer, "datamodule", None))
            self.warm_start.check_shapes()
            rank_zero_info(self.warm_start.summary())

    def param_groups(self) -> list[dict]:
        hp = self.hparams
        if hp.layer_decay == 1.0 or not hasattr(self.net, "layer_depth"):
            return super().param_groups()
        return layer_decay_groups(
            self.net, hp.weight_decay, hp.lr, hp.layer_decay, self.net.layer_depth,
            self.net.n_depths,
        )  # fmt: skip

    def eval_metrics(self, num_classes: int) -> MetricCollection:
        return MetricCollection(
            {
                "acc": MulticlassAccuracy(num_classes, average="micro"),
                "f1": MulticlassF1Score(num_classes, average="macro"),
                "auroc": MulticlassAUROC(num_classes, average="macro"),  # needs probabilities
            }
        )

    def logits(self, inputs: TokenBatch) -> Tensor:
        ids, lengths = inputs
        return self.step_net(ids, lengths)

    def data_needs(self) -> dict[str, int]:
        """The classes, and the rows of the embedding table the tokenizer must fit in."""
        return {**super().data_needs(), "vocab_size": self.net.embedding.num_embeddings}
