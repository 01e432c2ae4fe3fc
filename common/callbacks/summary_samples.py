"""SummarySamples: what the extractive summarizer picks in fixed validation articles.

Every epoch, for ``num_articles`` fixed validation articles: a text entry (TensorBoard's
text tab, markdown) with every sentence in order, the picked ones in **bold**, the
reference ones marked ✓, and each sentence's score; and a bar chart of the sentence scores
(picked bars dark, reference sentences outlined), tag ``val/summary/<i>``. The same figure
is what ``litlab summarize --out`` writes (``viz.sentence_score_figure``). Needs a
``SummaryProbe`` DataModule and a ``SentenceScorer`` module (common/protocols.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import lightning as L
from matplotlib.figure import Figure

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.extractive import budget_words, select
from litlab.common.protocols import SentenceScorer, SummaryProbe
from litlab.common.viz import sentence_score_figure


def marked_summary(
    sentences: Sequence[str], scores: Sequence[float], picked: Sequence[int],
    reference: Sequence[int] = (),
) -> str:
    """Markdown: one line per sentence, picked ones bold, reference ones marked ✓."""
    chosen, ref = set(picked), set(reference)
    lines = []
    for i, (s, p) in enumerate(zip(sentences, scores)):
        text = f"**{s}**" if i in chosen else s
        lines.append(f"{i + 1}. `{p:.2f}` {'✓ ' if i in ref else ''}{text}")
    return "  \n".join(lines)


class SummarySamples(FigureCallback):
    """Picked sentences of fixed validation articles as text and as a score chart."""

    def __init__(self, num_articles: int = 3, every_n_epochs: int = 1) -> None:
        super().__init__(every_n_epochs)
        self.num_articles = num_articles

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, SummaryProbe, type(self).__name__)
        require(pl_module, SentenceScorer, type(self).__name__)

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        dm = trainer.datamodule
        articles = dm.articles("val")[: self.num_articles]
        probs = pl_module.sentence_scores(*dm.batch([a.sentences for a in articles]))
        for i, article in enumerate(articles):
            scores = probs[i, : len(article.sentences)].tolist()
            scores += [0.0] * (len(article.sentences) - len(scores))
            picked = select(scores, article.sentences,
                            budget_words(article.sentences, dm.budget_ratio))
            title = f"{article.title or article.id} (epoch {trainer.current_epoch})"
            header = f"### {title}\n\n"
            yield f"val/summary/{i}", header + marked_summary(
                article.sentences, scores, picked, article.summary
            )
            yield f"val/summary/{i}", sentence_score_figure(scores, picked, article.summary, title)
