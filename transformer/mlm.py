"""MaskedLanguageModel: pretrain a transformer encoder yourself (BERT's masked-LM task).

No Korean pretrained checkpoint can be installed offline, so litlab shows how one is made:
hide 15 % of the tokens of unlabelled text and train the encoder to fill them in. To guess
"재미" in "정말 [MASK]있는 영화", it has to learn what words mean and how they combine: the
knowledge a sentiment classifier then starts from (``--model.init_args.pretrained``, see
``litlab.common.warm_start``). ULMFiT did the same with an LSTM language model (causal, not
masked); BERT made it bidirectional.

BERT's masking, written by hand because it is the lesson: of the real (non-padding) tokens,
``mask_prob`` are chosen; of those 80 % become the mask id, 10 % a random token, 10 % stay as
they are (so the encoder cannot tell which tokens to trust); the loss is cross-entropy on the
chosen positions only. The Korean BPE has no ``[MASK]`` piece, so ``<unk>`` plays it (real
unknown characters are rare: none of the 148k NSMC training texts has one).

Data: any text-classification DataModule; its labels are ignored, and only its *training*
split trains (validation texts give the validation loss). The network is the classifier's
encoder (``TransformerClassifier.encode``); the output layer shares the embedding matrix.

Logged keys: ``train/loss``, ``val/loss``, ``val/acc`` (masked tokens guessed right), ``val/ppl``.
"""

from __future__ import annotations

import math
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from litlab.common.classifier import Schedule
from litlab.common.errors import check_positive
from litlab.common.optim import decay_groups, step_schedule
from litlab.common.protocols import TokenBatch


def mask_tokens(
    ids: Tensor,
    lengths: Tensor,
    mask_id: int,
    vocab_size: int,
    mask_prob: float = 0.15,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """BERT's 80/10/10 corruption: (inputs (B, T), targets (B, T) with -100 where not chosen)."""
    positions = torch.arange(ids.shape[1])[None, :]
    real = positions < lengths[:, None]  # (B, T): padding is never chosen

    def draw(shape: torch.Size) -> Tensor:
        return torch.rand(shape, generator=generator)

    chosen = (draw(ids.shape) < mask_prob) & real
    # at least one chosen token per text, so every text contributes to the loss (not in an
    # empty one: its position 0 is padding)
    first = torch.where(chosen.any(dim=1), -1, (draw(lengths.shape) * lengths).long())
    rows = torch.nonzero((first >= 0) & (lengths > 0)).flatten()
    chosen[rows, first[rows]] = True
    targets = torch.where(chosen, ids, torch.full_like(ids, -100))
    roll = draw(ids.shape)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(vocab_size, ids.shape, generator=generator)
    inputs[swap] = random_ids[swap]
    return inputs, targets


class MaskedLanguageModel(L.LightningModule):
    """Masked-LM pretraining of ``net`` (an encoder with ``embedding`` and ``encode``).

    Args:
        net: e.g. ``litlab.transformer.classifier.TransformerClassifier``: the very network
            the fine-tuning run builds, so every encoder weight carries over (its ``head``
            is the only part pretraining does not train).
        mask_prob: share of the real tokens chosen for prediction.
        mask_id: the id that hides a token; None: the data's ``<unk>``.
        lr, weight_decay, scheduler, warmup: AdamW with a per-step schedule.
    """

    def __init__(
        self,
        net: nn.Module,
        mask_prob: float = 0.15,
        mask_id: int | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.01,
        scheduler: Schedule = "onecycle",
        warmup: float = 0.05,
    ) -> None:
        super().__init__()
        check_positive("--model.init_args", lr=lr, mask_prob=mask_prob)
        self.save_hyperparameters()
        if isinstance(getattr(net, "head", None), nn.Module):
            net.head = nn.Identity()  # the classifier's head is never trained here: not saved,
            # so the fine-tuning run's warm-start report names it as initialised fresh
        self.net = net
        self.out_bias = nn.Parameter(torch.zeros(net.embedding.num_embeddings))
        self.mask_id = mask_id

    def setup(self, stage: str) -> None:
        data = getattr(self.trainer, "datamodule", None)
        if self.mask_id is None:
            unk = getattr(getattr(data, "tokenizer", None), "unk_id", None)
            self.mask_id = unk if unk is not None else 1

    def data_needs(self) -> dict[str, int]:
        """The tokenizer's vocabulary must fit in the embedding table."""
        return {"vocab_size": self.net.embedding.num_embeddings}

    def forward(self, ids: Tensor, lengths: Tensor) -> Tensor:
        """Logits over the vocabulary for every position (B, T, V); output tied to the input
        embedding, as in BERT (fewer parameters, and rare tokens learn from both ends)."""
        h, _, _ = self.net.encode(ids, lengths)
        return self.vocab_logits(h)

    def vocab_logits(self, h: Tensor) -> Tensor:
        """States (..., C) -> logits (..., V), scaled by 1/sqrt(C): the embedding rows are
        unit-size features (N(0, 1)), so an unscaled product starts with logits of size
        sqrt(C) = 16 and a loss near 60 instead of ln(V) = 9.7."""
        weight = self.net.embedding.weight
        return h @ weight.T / math.sqrt(weight.shape[1]) + self.out_bias

    def _step(self, batch: tuple[TokenBatch, Tensor], stage: str, generator=None) -> Tensor:
        (ids, lengths), _ = batch  # labels unused: pretraining sees text only
        vocab = self.net.embedding.num_embeddings
        inputs, targets = mask_tokens(
            ids.cpu(), lengths.cpu(), self.mask_id, vocab, self.hparams.mask_prob, generator
        )
        inputs, targets = inputs.to(ids.device), targets.to(ids.device)
        chosen = targets != -100
        h, _, _ = self.net.encode(inputs, lengths)
        logits = self.vocab_logits(h[chosen])  # (N chosen, V): only where there is a target
        loss = F.cross_entropy(logits, targets[chosen])
        n = int(chosen.sum())
        self.log(f"{stage}/loss", loss, on_step=stage == "train", on_epoch=True, prog_bar=True,
                 batch_size=n)  # fmt: skip
        if stage != "train":
            acc = (logits.argmax(-1) == targets[chosen]).float().mean()
            self.log(f"{stage}/acc", acc, on_epoch=True, prog_bar=True, batch_size=n)
        return loss

    def training_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> Tensor:
        # the same masks every time, so validation losses compare across epochs and runs
        return self._step(batch, "val", torch.Generator().manual_seed(batch_idx))

    def test_step(self, batch: tuple[TokenBatch, Tensor], batch_idx: int) -> Tensor:
        return self._step(batch, "test", torch.Generator().manual_seed(batch_idx))

    def on_validation_epoch_end(self) -> None:
        loss = self.trainer.callback_metrics.get("val/loss")
        if loss is not None and not self.trainer.sanity_checking:
            self.log("val/ppl", math.exp(min(float(loss), 50.0)))

    def configure_optimizers(self) -> dict[str, Any]:
        hp = self.hparams
        opt = torch.optim.AdamW(decay_groups(self, hp.weight_decay), lr=hp.lr)
        steps = self.trainer.estimated_stepping_batches
        return step_schedule(opt, hp.scheduler, steps, hp.warmup)
