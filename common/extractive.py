"""Extractive summaries, from text to highlighted sentences: what ``litlab summarize`` and
serve/ share with the training code.

    sentences = split_sentences(article)              # paragraphs, then . ! ? boundaries
    picked = select(scores, sentences, budget_words(sentences, 0.45))
    result = summarize(model, data, article)          # a SentenceScorer + its SummaryData

``select`` is the one selection rule of every extractive method in litlab (the model, Lead,
TextRank, the centroid, the oracle): the best-scored sentences that fit a word budget, then
in article order. ``summarize`` adds what a user's text needs: a clear error for an empty
text, a note when the article is longer than the model reads (later sentences are scored
0 and never picked, rather than failing deep inside), and sentences that are kept whole.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from litlab.common.contracts import conforms
from litlab.common.protocols import SentenceScorer, SummaryData

# a sentence ends at . ! ? (and a closing quote), before a space and a capital, digit, quote,
# bracket, currency sign or Hangul: "... $10.9bn. Its profits" splits, "Mr. Smith" does not
SENTENCE_END = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\bMr\.)(?<!\bMrs\.)(?<!\bDr\.)(?<!\bSt\.)[\"'\u201d]?\s+"
    r"(?=[\"'(\[\u201cA-Z0-9£$€\uac00-\ud7a3])"
)
PARAGRAPH = re.compile(r"\n\s*\n")
SPACES = re.compile(r"\s+")
WORDS = re.compile(r"\w+", re.UNICODE)


def split_sentences(text: str) -> list[str]:
    """Paragraphs (blank lines), then sentences; whitespace inside one becomes a space.

    Korean text splits the same way (it ends sentences with . ? ! too); a text without any
    end mark is one sentence; an empty text none.
    """
    sentences = []
    for paragraph in PARAGRAPH.split(text.strip()):
        paragraph = SPACES.sub(" ", paragraph).strip()
        if paragraph:
            sentences += [s.strip() for s in SENTENCE_END.split(paragraph) if s.strip()]
    return sentences


def n_words(sentence: str) -> int:
    return len(WORDS.findall(sentence))


def budget_words(sentences: Sequence[str], ratio: float) -> int:
    """The word budget of an article: ``ratio`` of its words, at least one word."""
    return max(1, round(ratio * sum(n_words(s) for s in sentences)))


def select(scores: Sequence[float], sentences: Sequence[str], budget: int) -> list[int]:
    """Indices of the best-scored sentences whose words fit in ``budget``, in article order.

    Sentences are taken in order of score (ties: the earlier first); one that would overflow
    the budget is skipped and a shorter one may still fit. The best sentence is always taken,
    even when it alone is longer than the budget, so no article gets an empty summary.
    """
    order = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    picked, used = [], 0
    for i in order:
        length = n_words(sentences[i])
        if not picked or used + length <= budget:
            picked.append(i)
            used += length
    return sorted(picked)


def summary_text(sentences: Sequence[str], picked: Sequence[int]) -> str:
    """The summary as ROUGE-Lsum reads it: the picked sentences, one per line."""
    return "\n".join(sentences[i] for i in picked)


@dataclass
class Summary:
    """Every sentence of the article with its score, which ones were picked, and notes."""

    sentences: list[str]
    scores: list[float]
    picked: list[int]
    notes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(self.sentences[i] for i in self.picked)

    def as_dict(self) -> dict:
        chosen = set(self.picked)
        return {
            "summary": self.text,
            "sentences": [
                {"text": s, "score": round(float(p), 4), "selected": i in chosen}
                for i, (s, p) in enumerate(zip(self.sentences, self.scores))
            ],
            "notes": self.notes,
        }


def summarize(
    model: object, data: object, text: str, ratio: float | None = None, max_chars: int = 100_000
) -> Summary:
    """Summarize one article with a ``SentenceScorer`` and its ``SummaryData``.

    Raises ValueError (one sentence, for the user) on an empty text or a non-summarizer;
    ``ratio`` overrides the trained word budget (a share of the article's words, in (0, 1]).
    """
    if not (conforms(model, SentenceScorer) and conforms(data, SummaryData)):
        raise ValueError(
            f"a {type(model).__name__} is not an extractive summarizer: train one with "
            "experiments/sequence/bbc_extractive.yaml"
        )
    if ratio is not None and not 0 < ratio <= 1:
        raise ValueError(f"the ratio must be in (0, 1], got {ratio}")
    notes = []
    if len(text) > max_chars:
        notes.append(f"the text was cut to its first {max_chars:,} characters")
        text = text[:max_chars]
    sentences = split_sentences(text)
    if not any(n_words(s) for s in sentences):
        raise ValueError("the article is empty: paste the text of an article to summarize")
    ids, lengths = data.batch([sentences])
    scores = model.sentence_scores(ids, lengths)[0].tolist()
    reach = int((lengths[0] > 0).sum())
    if reach < len(sentences):
        notes.append(
            f"the model reads the first {reach} of {len(sentences)} sentences; later ones "
            "were not scored and cannot be picked"
        )
    scores = scores[:reach] + [0.0] * (len(sentences) - reach)
    ratio = ratio if ratio is not None else float(getattr(model, "budget_ratio", data.budget_ratio))
    picked = select(scores, sentences, budget_words(sentences, ratio))
    if len(sentences) == 1:
        notes.append("the article has one sentence: it is its own summary")
    return Summary(sentences, scores, picked, notes)
