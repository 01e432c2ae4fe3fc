"""HeadlineModule: a ``Seq2SeqModule`` scored by ROUGE of the headlines it writes.

Training is the parent's: teacher-forced cross-entropy of the next headline token. Exact
match means nothing for free text, so evaluation decodes every validation article (greedy,
``val_beam_width``, to keep epochs short) and every test article (beam search,
``beam_width``, with GNMT's length penalty, and greedy beside it), turns the ids back into
text and scores them against the references with ``rouge.Rouge``: the same code as the lead
baseline (``experiments/headline_baselines.py``).

Logged keys: ``train/loss``, ``val/loss``, ``val/token_acc``, ``val/rouge1``, ``val/rouge2``,
``val/rougeL`` (F-measures, 0-1; ROUGE-Lsum equals ROUGE-L on a one-line headline),
``val/rougeL_best``; ``test/loss``, ``test/token_acc``, ``test/rouge*`` (beam) and
``test/rouge*_greedy``. The checkpoint monitor of ``bbc_headline.yaml`` is ``val/rougeL``.
"""

from __future__ import annotations

from torch import Tensor, nn
from torchmetrics import MaxMetric

from litlab.common.contracts import require
from litlab.common.errors import check_positive
from litlab.common.loggers import log_hparams
from litlab.common.protocols import Seq2SeqTextData, TokenBatch
from litlab.sequence.seq2seq.module import Seq2SeqModule
from litlab.sequence.summarization.rouge import KEYS, Rouge


class HeadlineModule(Seq2SeqModule):
    """Trains an encoder-decoder on (lead, headline) pairs and logs ROUGE of its headlines.

    Args:
        net: ``Seq2SeqGRU``, ``PointerGeneratorGRU`` or ``Seq2SeqTransformer``.
        lr, weight_decay, label_smoothing: as ``Seq2SeqModule``.
        beam_width: test-time beam (1 = greedy); val_beam_width: validation's.
        max_output_len: decoding stops after this many tokens (``</s>`` included).
        length_penalty: GNMT alpha for beam search (0 = raw log-probability, which prefers
            short headlines); passed only to nets whose ``beam_search`` takes it when not 0.
        no_repeat_ngram: forbid repeating any n-gram of tokens in an output (0: off; see
            ``common/beam.py``), in validation and test decoding alike.
    """

    def __init__(
        self,
        net: nn.Module,
        lr: float = 3e-3,
        weight_decay: float = 1e-4,
        beam_width: int = 4,
        val_beam_width: int = 1,
        max_output_len: int = 24,
        label_smoothing: float = 0.1,
        length_penalty: float = 1.0,
        no_repeat_ngram: int = 0,
    ) -> None:
        super().__init__(net, lr, weight_decay, beam_width, max_output_len, label_smoothing)
        check_positive("--model.init_args", beam_width=beam_width, val_beam_width=val_beam_width)
        self.save_hyperparameters()
        self.val_rougeL_best = MaxMetric()
        self._texts: dict[str, dict[str, list[str]]] = {}
        self.language = "en"

    def setup(self, stage: str) -> None:
        super().setup(stage)
        dm = getattr(self.trainer, "datamodule", None)
        if dm is not None:
            require(dm, Seq2SeqTextData, type(self).__name__)  # decode: ids -> headline text

    def decode(self, inputs: TokenBatch, beam_width: int | None = None) -> Tensor:
        """Free-running outputs (B, max_output_len): greedy, or beam search if width > 1;
        with ``no_repeat_ngram``, greedy is a beam of one (the same search, constrained)."""
        beam = beam_width or self.hparams.beam_width
        hp = self.hparams
        options = {k: v for k, v in (("length_penalty", hp.length_penalty if beam > 1 else 0),
                                     ("no_repeat_ngram", hp.no_repeat_ngram)) if v}
        if not options:  # what Seq2SeqModule does: nets without these arguments work too
            return super().decode(inputs, beam)
        _, bos, eos = self.specials.tolist()
        return self.net.beam_search(*inputs, bos, eos, hp.max_output_len, beam, **options)

    # --- evaluation: text, then ROUGE at the end of the epoch ------------------------------

    def _collect(self, stage: str, key: str, ids: Tensor) -> None:
        dm = self.trainer.datamodule
        self._texts.setdefault(stage, {}).setdefault(key, []).extend(dm.decode(row) for row in ids)

    def _eval_step(self, batch: tuple[TokenBatch, Tensor], stage: str) -> dict[str, Tensor]:
        inputs, target = batch
        loss, logits, target_out = self._loss(inputs, target)
        real = target_out != self.pad_id
        token_acc = getattr(self, f"{stage}_token_acc")
        token_acc.update((logits.argmax(-1) == target_out)[real].float())
        self.log(f"{stage}/loss", loss, prog_bar=stage == "val", batch_size=len(target))
        self.log(f"{stage}/token_acc", token_acc, batch_size=len(target))
        # the reference is the target decoded: the headline itself (tests check the round trip)
        self._collect(stage, "reference", target_out)
        beam = self.hparams.val_beam_width if stage == "val" else self.hparams.beam_width
        outputs = self.decode(inputs, beam_width=beam)
        self._collect(stage, "predicted", outputs)
        if stage == "test" and beam > 1:
            self._collect(stage, "greedy", self.decode(inputs, beam_width=1))
        return {"preds": outputs, "target": target_out}

    def rouge(self, stage: str) -> dict[str, float]:
        """ROUGE of this epoch's headlines of ``stage`` (``rouge1``, ..., ``rouge1_greedy``)."""
        texts = self._texts.pop(stage, {})
        if not texts.get("reference"):
            return {}
        scorer, scores = Rouge(self.language), {}
        for key, suffix in (("predicted", ""), ("greedy", "_greedy")):
            if key in texts:
                result = scorer.score(texts[key], texts["reference"])
                scores.update({f"{k}{suffix}": v for k, v in result.items()})
        return scores

    def on_validation_epoch_end(self) -> None:  # replaces the parent's exact-match best
        scores = self.rouge("val")
        for key in KEYS:
            if key in scores:
                self.log(f"val/{key}", scores[key], prog_bar=key == "rougeL")
        if scores and not self.trainer.sanity_checking:
            self.val_rougeL_best.update(scores["rougeL"])
            self.log("val/rougeL_best", self.val_rougeL_best.compute())

    def on_test_epoch_end(self) -> None:
        for key, value in self.rouge("test").items():
            self.log(f"test/{key}", value)

    def on_fit_start(self) -> None:
        if self.logger is not None:
            log_hparams(self, {"val/rougeL_best": 0.0, "test/rougeL": 0.0})
