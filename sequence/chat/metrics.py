"""How good a chatbot's replies are: chrF against the reference answers, and distinct-n.

* chrF (Popović 2015): the F-score (beta 2, recall weighted twice) of character n-grams up
  to 6, spaces ignored, over the whole test set (torchmetrics ``CHRFScore``, as sacrebleu's
  ``chrF``; reported 0-100). Character n-grams suit Korean, whose words carry endings
  (좋아요 / 좋죠) that a word-level BLEU counts as plain misses.
* distinct-n (Li et al. 2016): distinct word n-grams / all word n-grams over all replies;
  a bot that answers everything with "좋은 생각이에요." scores near 0, however fluent.

Neither says whether a reply *fits* the question the way a person would judge it; chrF
only rewards overlap with the one reference answer the data happens to hold.
"""

from __future__ import annotations

from collections.abc import Sequence

from torchmetrics.text import CHRFScore


def chrf(replies: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100) of ``replies`` against one reference each."""
    if len(replies) != len(references):
        raise ValueError(f"{len(replies)} replies for {len(references)} references")
    metric = CHRFScore(n_char_order=6, n_word_order=0)  # chrF (chrF++ would add words)
    return 100 * float(metric(list(replies), [[r] for r in references]))


def distinct_n(replies: Sequence[str], n: int) -> float:
    """Distinct word n-grams over all n-grams of ``replies`` (0 when there are none)."""
    grams = [
        tuple(words[i : i + n])
        for words in (r.split() for r in replies)
        for i in range(len(words) - n + 1)
    ]
    return len(set(grams)) / len(grams) if grams else 0.0


def reply_scores(replies: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """chrF, distinct-1/2 and mean reply length (characters) of one bot's replies."""
    return {
        "chrf": chrf(replies, references),
        "distinct1": distinct_n(replies, 1),
        "distinct2": distinct_n(replies, 2),
        "mean_chars": sum(len(r) for r in replies) / max(len(replies), 1),
    }
