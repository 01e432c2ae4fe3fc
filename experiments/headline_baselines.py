"""The headline baseline: the first N words of the lead sentence, scored like the model.

    litlab baseline --dataset bbc      # adds the "bbc_headline" rows to the extractive ones

A headline is not an extract, but its words are mostly the lead's, so the classic baseline
(Rush et al. 2015's "prefix") is the lead sentence's first N words. N is the one value this
baseline has, so it is chosen like a model's hyper-parameter: the best mean of ROUGE-1/2/L on
the validation split (N from 3 to 15), then reported once on the test split, the same test
articles as every extractive number (``split_articles``). Scored by ``rouge.Rouge``, the code
``HeadlineModule`` logs ``test/rouge*`` with; the model's row is read from the newest
``sequence/bbc_headline`` run's logs.
"""

from __future__ import annotations

import statistics
import time

from litlab.common.data import resolve_data_root
from litlab.sequence.summarization.corpus import Article, read_bbc, split_articles
from litlab.sequence.summarization.rouge import KEYS, Rouge

HEADLINE_DATASET = "bbc_headline"
HEADLINE_RUNS = ("sequence/bbc_headline", "sequence/bbc_headline_nocopy")


def lead_words(article: Article, n: int) -> str:
    """The first ``n`` words (split at spaces) of the article's first sentence."""
    return " ".join(article.sentences[0].split()[:n]) if article.sentences else ""


def lead_scores(articles: list[Article], n: int, rouge: Rouge) -> dict[str, float]:
    """Mean ROUGE-1/2/L F of lead-``n`` against each article's headline."""
    return rouge.score([lead_words(a, n) for a in articles], [a.title for a in articles])


def best_n(articles: list[Article], rouge: Rouge, candidates: range = range(3, 16)) -> int:
    """The N whose lead-N headlines have the best mean of ROUGE-1/2/L on ``articles``."""
    return max(candidates, key=lambda n: statistics.fmean(lead_scores(articles, n, rouge).values()))


def run_headline_baselines(root: str | None) -> list[dict]:
    """Lead-N (N chosen on validation) on the BBC test split; one row."""
    start = time.perf_counter()
    _, val, test = split_articles(read_bbc(resolve_data_root(root)))
    rouge = Rouge("en")
    n = best_n(val, rouge)
    scores = lead_scores(test, n, rouge)
    seconds = time.perf_counter() - start
    print(f"{HEADLINE_DATASET} lead{n}_words  " + "  ".join(
        f"{k} {100 * scores[k]:.2f}" for k in KEYS) + f"  ({seconds:.0f} s)", flush=True)
    return [{"dataset": HEADLINE_DATASET, "method": f"lead{n}_words", **scores, "n_words": n,
             "articles": len(test), "seconds": round(seconds, 1)}]
