"""Seq2SeqModule: trains an encoder-decoder with teacher forcing, scores whole-string matches.

Training minimises the cross-entropy of each next target token given the true previous ones
(teacher forcing). Evaluation decodes freely, greedily or with beam search (``beam_width``),
and counts an output right only if the whole string equals the target (exact match):
``val/acc`` is that exact match, so the default checkpoint monitor keeps the best model.

Logged keys: ``train/loss``, ``val/loss``, ``val/token_acc`` (teacher-forced next-token
accuracy), ``val/acc`` (exact match), ``val/acc_best``, the same under ``test/``, and
``test/acc_greedy`` when ``beam_width > 1``.

The network is any ``nn.Module`` with ``forward(ids, lengths, target_in) -> logits``,
``greedy(ids, lengths, bos, eos, max_len) -> (outputs, weights)`` and
``beam_search(ids, lengths, bos, eos, max_len, beam) -> outputs``, like ``Seq2SeqGRU`` or
``litlab.transformer.encoder_decoder.Seq2SeqTransformer``; greedy's weights are (B, T_out, S) for
one attention or (B, heads, T_out, S).
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
from litlab.common.loggers import log_hparams
from litlab.common.optim import step_schedule
from litlab.common.protocols import Seq2SeqData, TokenBatch


def exact_match(outputs: Tensor, target_out: Tensor, pad_id: int) -> Tensor:
    """(B,) True where the whole output equals the target (both end in ``eos`` then pad)."""
    width = max(outputs.shape[1], target_out.shape[1])
    a = F.pad(outputs, (0, width - outputs.shape[1]), value=pad_id)
    b = F.pad(target_out, (0, width - target_out.shape[1]), value=pad_id)
    return (a == b).all(dim=1)


class Seq2SeqModule(L.LightningModule):
    """Teacher-forced training and exact-match evaluation of a sequence-to-sequence network.

    Args:
        net: e.g. ``litlab.sequence.seq2seq.models.Seq2SeqGRU``; its vocabulary must be the data's.
        lr: initial learning rate (AdamW, cosine decay); weight_decay: AdamW's.
        beam_width: 1 = greedy decoding at evaluation; more = beam search.
        max_output_len: decoding stops after this many tokens (``</s>`` included).
        label_smoothing: of the training cross-entropy.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        beam_width: int = 1,
        max_output_len: int = 12,
        label_smoothing: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr)
        self.save_hyperparameters()
        self.net = net
        # the data's special ids, saved in checkpoints so decoding works without the data
        self.register_buffer("specials", torch.tensor([-1, -1, -1]))  # pad, bos, eos
        for stage in ("val", "test"):
            setattr(self, f"{stage}_exact", MeanMetric())
            setattr(self, f"{stage}_token_acc", MeanMetric())
        self.test_exact_greedy = MeanMetric()
        self.val_acc_best = MaxMetric()

    def setup(self, stage: str) -> None:
        dm = getattr(self.trainer, "datamodule", None)
        if dm is None:
            return
        require(dm, Seq2SeqData, type(self).__name__)  # the sizes: FitCheck, data_needs
        self.specials = torch.tensor([dm.pad_id, dm.bos_id, dm.eos_id], device=self.device)

    def data_needs(self) -> dict[str, int]:
        """The vocabulary the output layer covers and the padding id the embedding skips."""
        return {"vocab_size": self.net.vocab_size, "pad_id": self.net.pad_id}

    @property
    def pad_id(self) -> int:
        return int(self.specials[0])

    def forward(self, ids: Tensor, lengths: Tensor, target_in: Tensor) -> Tensor:
        """Teacher-forced logits (B, T, V) for the target shifted left."""
        return self.net(ids, lengths, target_in)

    def decode(self, inputs: TokenBatch, beam_width: int | None = None) -> Tensor:
        """Free-running outputs (B, max_output_len): greedy, or beam search if width > 1."""
        beam = beam_width or self.hparams.beam_width
        _, bos, eos = self.specials.tolist()
        if beam == 1:
            return self.net.greedy(*inputs, bos, eos, self.hparams.max_output_len)[0]
        return self.net.beam_search(*inputs, bos, eos, self.hparams.max_output_len, beam)

    def alignments(self, inputs: TokenBatch) -> tuple[Tensor, Tensor]:
        """Greedy outputs (B, T) and attention weights (B, heads, T, S) (AlignmentSource);
        a net with one attention (B, T, S), like the GRU's, gets a head axis of 1."""
        _, bos, eos = self.specials.tolist()
        outputs, weights = self.net.greedy(*inputs, bos, eos, self.hparams.max_output_len)
        return outputs, weights[:, None] if weights.dim() == 3 else weights

    def _loss(self, inputs: TokenBatch, target: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        target_in, target_out = target[:, :-1], target[:, 1:]  # <s> y1 .. | y1 .. </s>
        logits = self(inputs.ids, inputs.lengths, target_in)
        loss = F.cross_entropy(
            logits.transpose(1, 2), target_out, ignore_index=self.pad_id,
            label_smoothing=self.hparams.label_smoothing if self.training else 0.0,
        )
        return loss, logits, target_out

    def training_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> Tensor:
        loss, _, _ = self._loss(*batch)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True)
        return loss

    def _eval_step(self, batch: tuple[TokenBatch, Tensor], stage: str) -> dict[str, Tensor]:
        inputs, target = batch
        loss, logits, target_out = self._loss(inputs, target)
        real = target_out != self.pad_id
        token_acc = getattr(self, f"{stage}_token_acc")
        token_acc.update((logits.argmax(-1) == target_out)[real].float())
        outputs = self.decode(inputs)
        correct = exact_match(outputs, target_out, self.pad_id).float()
        getattr(self, f"{stage}_exact").update(correct)
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val")
        self.log(f"{stage}/token_acc", token_acc)
        self.log(f"{stage}/acc", getattr(self, f"{stage}_exact"), prog_bar=stage == "val")
        if stage == "test" and self.hparams.beam_width > 1:
            greedy = self.decode(inputs, beam_width=1)
            self.test_exact_greedy.update(exact_match(greedy, target_out, self.pad_id).float())
            self.log("test/acc_greedy", self.test_exact_greedy)
        return {"preds": outputs, "target": target_out}

    def validation_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> dict:
        return self._eval_step(batch, "val")

    def test_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> dict:
        return self._eval_step(batch, "test")

    def on_validation_epoch_end(self) -> None:
        if self.trainer.sanity_checking:
            return
        self.val_acc_best.update(self.val_exact.compute())
        self.log("val/acc_best", self.val_acc_best.compute(), prog_bar=True)

    def on_fit_start(self) -> None:
        if self.logger is not None:
            log_hparams(self, {"val/acc_best": 0.0, "test/acc": 0.0})

    def configure_optimizers(self) -> dict[str, Any]:
        opt = torch.optim.AdamW(
            self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay
        )
        # cosine decay to zero over the run (per step); works for any run length, even 1 step
        return step_schedule(opt, "cosine", self.trainer.estimated_stepping_batches)
