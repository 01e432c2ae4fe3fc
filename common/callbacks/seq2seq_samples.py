"""Seq2SeqSamples: what an encoder-decoder writes for fixed validation inputs, as text.

Every epoch, one markdown entry (TensorBoard's text tab, tag ``val/samples``) with, for each
of ``num_texts`` fixed validation inputs: the start of the input, the reference, the greedy
output, the beam-search output (when ``beam_width`` > 1), and under the greedy output each
produced token followed by the input token it attended to most, which shows which article
words a headline came from (a pointer-generator copies those). Read the epochs top to
bottom to watch the outputs move from "the the the" to headlines. Needs a
``Seq2SeqTextData`` DataModule and a ``Seq2SeqSource`` module (common/protocols.py).
"""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import Seq2SeqSource, Seq2SeqTextData, TokenBatch


class Seq2SeqSamples(FigureCallback):
    """Decoded outputs of ``num_texts`` fixed validation inputs, logged as text.

    Args:
        num_texts: how many validation inputs (the DataModule's ``probe_batch``).
        beam_width: also show beam search of this width (1: greedy only).
        max_source_words: how much of each input to show.
    """

    def __init__(
        self, num_texts: int = 4, beam_width: int = 4, max_source_words: int = 40,
        every_n_epochs: int = 1,
    ) -> None:
        super().__init__(every_n_epochs)
        self.num_texts, self.beam_width = num_texts, beam_width
        self.max_source_words = max_source_words
        self.last_text: str | None = None  # the latest entry, for tests and notebooks

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, Seq2SeqTextData, type(self).__name__)
        require(pl_module, Seq2SeqSource, type(self).__name__)

    def entry(self, pl_module: L.LightningModule, dm: Seq2SeqTextData, epoch: int) -> str:
        """The markdown of one epoch: input, reference and outputs of every probe input."""
        inputs, target = dm.probe_batch(self.num_texts)
        batch = TokenBatch(*(t.to(pl_module.device) for t in inputs))
        greedy, weights = pl_module.alignments(batch)  # (B, T), (B, heads, T, S)
        beam = pl_module.decode(batch, self.beam_width) if self.beam_width > 1 else None
        lines = [f"*epoch {epoch}*", ""]
        for i in range(len(batch.ids)):
            n_src = int(batch.lengths[i])
            source = dm.decode(batch.ids[i, :n_src].cpu()).split()
            cut = " ..." if len(source) > self.max_source_words else ""
            out = greedy[i].cpu()
            n_out = out.tolist().index(dm.eos_id) if dm.eos_id in out.tolist() else len(out)
            shown = dm.token_strings(out[:n_out])
            keys = dm.token_strings(batch.ids[i, :n_src].cpu())
            looked = weights[i].mean(0)[:n_out, :n_src].argmax(-1).tolist()  # (T,) source index
            pairs = " ".join(f"`{q.strip() or '␣'}`←`{keys[j].strip() or '␣'}`"
                             for q, j in zip(shown, looked))
            lines += [f"**{i + 1}.** {' '.join(source[: self.max_source_words])}{cut}  ",
                      f"reference: **{dm.decode(target[i])}**  ",
                      f"greedy: **{dm.decode(out)}**  "]
            if beam is not None:
                lines.append(f"beam {self.beam_width}: **{dm.decode(beam[i].cpu())}**  ")
            lines += [f"attended: {pairs}", ""]
        return "\n".join(lines)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, str]]:
        self.last_text = self.entry(pl_module, trainer.datamodule, trainer.current_epoch)
        yield "val/samples", self.last_text
