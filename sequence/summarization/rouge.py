"""ROUGE and the length budget: the one evaluation every summarizer here goes through.

    scorer = Rouge("en")
    scorer.score(predictions, references)   # {"rouge1": 0.52, "rouge2": 0.41, "rougeL": 0.49}

ROUGE comes from Google's ``rouge-score`` package (the reference implementation behind most
published numbers): F-measures of unigram (ROUGE-1) and bigram (ROUGE-2) overlap and of the
longest common subsequence over sentences (ROUGE-Lsum, reported as ``rougeL``: summaries are
sets of sentences, so the summary-level LCS is the one that does not punish a different
sentence order). English uses its tokenizer with the Porter stemmer. Its tokenizer keeps only
``[a-z0-9]``, which would delete Hangul, so Korean text is scored on words split at spaces and
punctuation (eojeol); extractive summaries copy sentences whole, so particles never differ.

Every extractive method (the model, Lead, TextRank, the centroid, the oracle) selects under
the same budget: a number of words, a fixed share of the article's (about 45 % for BBC,
measured on the training split), filled with the best-scored sentences that fit, then given
in article order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from rouge_score import rouge_scorer

from litlab.common.extractive import n_words

KEYS = ("rouge1", "rouge2", "rougeL")
_WORDS = re.compile(r"\w+", re.UNICODE)


class KoreanWords:
    """Words of any script (Hangul included), lower-cased: ``rouge-score``'s tokenizer API."""

    def tokenize(self, text: str) -> list[str]:
        return _WORDS.findall(text.lower())


class Rouge:
    """Mean ROUGE-1/2/L F-measures of predictions against references (sentences on lines)."""

    def __init__(self, language: str = "en") -> None:
        keys = ["rouge1", "rouge2", "rougeLsum"]
        if language == "ko":
            self.scorer = rouge_scorer.RougeScorer(keys, tokenizer=KoreanWords())
        else:
            self.scorer = rouge_scorer.RougeScorer(keys, use_stemmer=True)

    def pair(self, prediction: str, reference: str) -> dict[str, float]:
        scores = self.scorer.score(reference, prediction)  # rouge-score takes (target, pred)
        return {"rouge1": scores["rouge1"].fmeasure, "rouge2": scores["rouge2"].fmeasure,
                "rougeL": scores["rougeLsum"].fmeasure}

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
        if len(predictions) != len(references) or not predictions:
            raise ValueError(f"{len(predictions)} predictions for {len(references)} references")
        total = dict.fromkeys(KEYS, 0.0)
        for prediction, reference in zip(predictions, references):
            for key, value in self.pair(prediction, reference).items():
                total[key] += value
        return {key: value / len(predictions) for key, value in total.items()}


def _grams(tokens: list[str]) -> tuple[Counter, Counter]:
    return Counter(tokens), Counter(zip(tokens, tokens[1:]))


def _f1(pred: Counter, ref: Counter) -> float:
    overlap = sum((pred & ref).values())
    if not overlap:
        return 0.0
    p, r = overlap / sum(pred.values()), overlap / sum(ref.values())
    return 2 * p * r / (p + r)


def oracle(sentences: Sequence[str], reference: str, budget: int, rouge: Rouge) -> list[int]:
    """The greedy ROUGE oracle (Nallapati et al. 2017): add the sentence that most raises
    ROUGE-1 + ROUGE-2 F against the reference while the budget allows; stop when none does.
    An upper bound for any selection under the same budget (greedy, so nearly the best).

    The search counts n-grams itself, with ROUGE's own tokenizer (bigrams within sentences),
    so a 250-sentence article takes a second rather than an hour; the reported score of the
    selection is then computed by ``Rouge`` like every other method's."""
    tokenize = rouge.scorer._tokenizer.tokenize
    ref1, ref2 = _grams(tokenize(reference))
    grams = [_grams(tokenize(s)) for s in sentences]
    picked: list[int] = []
    have1, have2 = Counter(), Counter()
    best, used = 0.0, 0
    while True:
        gains = []
        for i, (g1, g2) in enumerate(grams):
            if i in picked or (picked and used + n_words(sentences[i]) > budget):
                continue
            gains.append((_f1(have1 + g1, ref1) + _f1(have2 + g2, ref2), -i))
        if not gains or max(gains)[0] <= best:
            return sorted(picked)
        best, neg_i = max(gains)
        picked.append(-neg_i)
        have1, have2 = have1 + grams[-neg_i][0], have2 + grams[-neg_i][1]
        used += n_words(sentences[-neg_i])
