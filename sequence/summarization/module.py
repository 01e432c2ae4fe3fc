"""ExtractiveSummarizer: learns which sentences belong in the summary, scored by ROUGE.

Training is binary classification of sentences (``binary_cross_entropy_with_logits`` on the
real sentences, padding masked out). Evaluation is what a user gets: for each article the
best-scored sentences that fit the word budget (``rouge.select``, the same rule as for Lead,
TextRank and the oracle), in article order, scored with ROUGE against the reference.

Logged keys: ``train/loss``, ``val/loss``, ``val/rouge1``, ``val/rouge2``, ``val/rougeL``
(F-measures, 0-1), ``val/rouge2_best``, and the same under ``test/``. The checkpoint monitor
of ``experiments/sequence/bbc_extractive.yaml`` is ``val/rouge2``. ``forward`` and
``sentence_scores`` (what ``litlab summarize`` and serve/ ask) are inherited from
``litlab.sequence.summarization.predict.SummarizerPredictor``, loaded there without Lightning.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchmetrics import MaxMetric, MeanMetric

from litlab.common.contracts import require
from litlab.common.errors import check_positive
from litlab.common.extractive import budget_words, select, summary_text
from litlab.common.loggers import log_hparams
from litlab.common.optim import step_schedule
from litlab.common.protocols import SummaryProbe
from litlab.sequence.summarization.data import DocumentBatch
from litlab.sequence.summarization.predict import SummarizerPredictor
from litlab.sequence.summarization.rouge import KEYS, Rouge


class ExtractiveSummarizer(SummarizerPredictor, L.LightningModule):
    """Trains a sentence scorer (e.g. ``HierarchicalExtractor``) and evaluates its summaries.

    Args:
        net: ``forward(ids (B, S, T), lengths (B, S)) -> logits (B, S)``.
        lr, weight_decay: AdamW; the learning rate follows a one-cycle schedule per step.
        pos_weight: weight of the positive class in the loss (None: 1).
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 2e-3,
        weight_decay: float = 1e-2,
        pos_weight: float | None = None,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr, pos_weight=pos_weight)
        self.save_hyperparameters()
        self.net = net
        # the data's word budget, kept in checkpoints so summarize / serve need no data
        self.register_buffer("budget_ratio", torch.tensor(0.45))
        self.val_loss = MeanMetric()
        self.val_rouge2_best = MaxMetric()
        self._pending: dict[str, list[tuple[int, list[float]]]] = {"val": [], "test": []}
        self.language = "en"

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None:
            return
        require(dm, SummaryProbe, type(self).__name__)
        self.budget_ratio.fill_(dm.budget_ratio)
        self.language = dm.language
        if stage == "fit" and hasattr(self.net, "learn_lexicon"):  # a net with a word graph
            self.net.learn_lexicon(*dm.lexicon())  # a resumed run loads its own over these

    def data_needs(self) -> dict[str, int]:
        return {"vocab_size": self.net.vocab_size}

    def _loss(self, batch: DocumentBatch) -> tuple[Tensor, Tensor]:
        logits = self(batch.ids, batch.lengths)
        real = batch.lengths > 0
        weight = None
        if self.hparams.pos_weight is not None:
            weight = logits.new_tensor(self.hparams.pos_weight)
        loss = F.binary_cross_entropy_with_logits(
            logits[real], batch.labels[real].float(), pos_weight=weight
        )
        return loss, logits

    def training_step(self, batch: DocumentBatch, batch_idx: int) -> Tensor:
        loss, _ = self._loss(batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True,
                 batch_size=batch.ids.shape[0])
        return loss

    def _eval_step(self, batch: DocumentBatch, stage: str) -> None:
        loss, logits = self._loss(batch)
        if stage == "val":
            self.val_loss.update(loss, weight=int((batch.lengths > 0).sum()))
        else:
            self.log("test/loss", loss, batch_size=batch.ids.shape[0])
        for i, row, n in zip(batch.index.tolist(), logits, (batch.lengths > 0).sum(1).tolist()):
            self._pending[stage].append((i, row[:n].tolist()))

    def validation_step(self, batch: DocumentBatch, batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: DocumentBatch, batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def _rouge(self, stage: str) -> dict[str, float]:
        """ROUGE of the budgeted selections of every article scored in this epoch."""
        articles = self.trainer.datamodule.articles(stage)
        scored, self._pending[stage] = self._pending[stage], []
        predictions, references = [], []
        for i, scores in scored:
            sentences = articles[i].sentences
            padded = scores + [float("-inf")] * (len(sentences) - len(scores))
            budget = budget_words(sentences, float(self.budget_ratio))
            predictions.append(summary_text(sentences, select(padded, sentences, budget)))
            references.append(articles[i].reference)
        return Rouge(self.language).score(predictions, references)

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_loss.compute(), prog_bar=True)
        self.val_loss.reset()
        rouge = self._rouge("val")
        for key in KEYS:
            self.log(f"val/{key}", rouge[key], prog_bar=key == "rouge2")
        if not self.trainer.sanity_checking:
            self.val_rouge2_best.update(rouge["rouge2"])
            self.log("val/rouge2_best", self.val_rouge2_best.compute())

    def on_test_epoch_end(self) -> None:
        for key, value in self._rouge("test").items():
            self.log(f"test/{key}", value)

    def on_fit_start(self) -> None:
        if self.logger is not None:
            log_hparams(self, {"val/rouge2_best": 0.0, "test/rouge2": 0.0})

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        return step_schedule(opt, "onecycle", self.trainer.estimated_stepping_batches)
