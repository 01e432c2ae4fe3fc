"""Extractive summarization baselines, scored by the same code as the trained model.

    litlab baseline --dataset bbc     # BBC test split: Lead-3, Lead, TextRank, centroid, oracle
                                      # + the headline baseline (headline_baselines.py)
    litlab baseline --dataset kr50    # the 50 Korean articles of sci-news-sum-kr-50
    litlab baseline --dataset summaries

Every method except Lead-3 (the classic fixed three sentences) fills the same word budget
with ``common.extractive.select``, as ``ExtractiveSummarizer`` does in its test step:

* **Lead**: the first sentences, up to the budget;
* **TextRank**: PageRank over TF-IDF cosine similarity (IDF from the training sentences;
  for Korean, character 2-3-grams, IDF from the 50 articles themselves, as there is no
  training split); ``textrank_tf`` the same over plain term counts (no IDF): closer to
  whatever ranked BBC's reference sentences (their summary files list them in an order
  whose Spearman correlation with it is 0.66, against 0.55 with TF-IDF's) and the stronger
  baseline there;
* **centroid**: cosine to the article's mean MiniLM sentence embedding (English only; needs
  the ``transfer`` extra, skipped without it);
* **oracle**: the greedy ROUGE-1 + ROUGE-2 selection against the reference, an upper bound.

BBC's budget is the training split's mean summary share (``ExtractiveDataModule``, 45 %);
the Korean set has no training split, so its budget is its own mean share, the same for
every method. The trained model's row is read from the logs (``test/rouge*`` of the newest
``sequence/bbc_extractive`` run). Writes ``results/summarization.{json,md}``.
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

from tqdm.auto import tqdm

from litlab.common.data import resolve_data_root
from litlab.common.extractive import budget_words, n_words, select, summary_text
from litlab.experiments.headline_baselines import (
    HEADLINE_DATASET,
    HEADLINE_RUNS,
    run_headline_baselines,
)
from litlab.sequence.summarization.corpus import Article, read_kr50
from litlab.sequence.summarization.data import ExtractiveDataModule
from litlab.sequence.summarization.extractors import (
    centroid_scores,
    lead_k,
    lead_scores,
    minilm_embedder,
    textrank_scores,
    tfidf_vectorizer,
)
from litlab.sequence.summarization.rouge import KEYS, Rouge, oracle

SUMMARY_DATASETS = ("bbc", "kr50")
# the trained models' rows: experiment -> the data set (task) whose table they join
MODEL_RUNS = {"sequence/bbc_extractive": "bbc",
              **dict.fromkeys(HEADLINE_RUNS, HEADLINE_DATASET)}


def corpus(dataset: str, root: str | None) -> tuple[list[Article], list[Article], float]:
    """(articles to fit IDF on, articles to score, budget ratio) of a data set."""
    if dataset == "bbc":
        dm = ExtractiveDataModule("bbc", root=root)
        return dm.articles("train"), dm.articles("test"), dm.budget_ratio
    articles = read_kr50(resolve_data_root(root))
    shares = [sum(n_words(a.sentences[i]) for i in a.summary) / max(1, n_words(a.text))
              for a in articles]
    return articles, articles, round(statistics.fmean(shares), 3)


def _selectors(
    dataset: str, fit_on: list[Article], test: list[Article], ratio: float, rouge: Rouge
) -> dict[str, Callable[[Article], list[int]]]:
    language = test[0].language
    vectorizer = tfidf_vectorizer(language, [s for a in fit_on for s in a.sentences])
    counts = tfidf_vectorizer(language, [s for a in fit_on for s in a.sentences], idf=False)

    def budgeted(score: Callable[[list[str]], list[float]]) -> Callable[[Article], list[int]]:
        return lambda a: select(score(a.sentences), a.sentences, budget_words(a.sentences, ratio))

    methods = {
        "lead3": lambda a: lead_k(a.sentences, 3),
        "lead": budgeted(lead_scores),
        "textrank": budgeted(lambda s: textrank_scores(s, vectorizer)),
        "textrank_tf": budgeted(lambda s: textrank_scores(s, counts)),
    }
    if language == "en":
        try:
            embed = minilm_embedder()
        except ImportError as err:  # the transfer extra is not installed: say so, go on
            print(f"centroid skipped: {err}")
        else:
            vectors = embed([s for a in test for s in a.sentences])  # one pass, (N, C)
            offsets, start = {}, 0
            for a in test:
                offsets[a.id] = vectors[start : start + len(a.sentences)]
                start += len(a.sentences)
            methods["centroid_minilm"] = budgeted_by_id(offsets, ratio)
    methods["oracle"] = lambda a: oracle(
        a.sentences, a.reference, budget_words(a.sentences, ratio), rouge
    )
    return methods


def budgeted_by_id(vectors: dict, ratio: float) -> Callable[[Article], list[int]]:
    """The centroid selection from embeddings computed once for all articles."""

    def pick(a: Article) -> list[int]:
        scores = centroid_scores(a.sentences, lambda _: vectors[a.id])
        return select(scores, a.sentences, budget_words(a.sentences, ratio))

    return pick


def run_summary_baselines(dataset: str, root: str | None) -> list[dict]:
    """Score every baseline on a data set; one row per method."""
    fit_on, test, ratio = corpus(dataset, root)
    rouge = Rouge(test[0].language)
    references = [a.reference for a in test]
    rows = []
    for name, pick in _selectors(dataset, fit_on, test, ratio, rouge).items():
        start = time.perf_counter()
        predictions = [
            summary_text(a.sentences, pick(a))
            for a in tqdm(test, desc=f"{dataset} {name}", unit="article", leave=False)
        ]
        scores = rouge.score(predictions, references)
        seconds = time.perf_counter() - start
        rows.append({"dataset": dataset, "method": name, **scores, "budget_ratio": ratio,
                     "articles": len(test), "seconds": round(seconds, 1)})
        print(f"{dataset:5s} {name:16s} " + "  ".join(f"{k} {100 * scores[k]:.2f}" for k in KEYS)
              + f"  ({seconds:.0f} s)", flush=True)
    return rows


def model_rows(log_root: Path, previous: list[dict] = ()) -> list[dict]:
    """``test/rouge*`` of the newest run of each trained model under ``logs/``; a model whose
    runs are not in this checkout (a fresh clone has no logs/) keeps its ``previous`` row."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    kept = {r["method"]: r for r in previous}
    rows = []
    for exp, dataset in MODEL_RUNS.items():
        method = exp.split("/")[-1]
        runs = sorted((log_root / exp).glob("version_*"), key=lambda p: int(p.name[8:]))
        for run in reversed(runs):
            acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
            acc.Reload()
            if all(f"test/{k}" in acc.Tags()["scalars"] for k in KEYS):
                scores = {k: acc.Scalars(f"test/{k}")[-1].value for k in KEYS}
                rows.append({"dataset": dataset, "method": method, **scores, "run": str(run)})
                break
        else:
            if method in kept:
                rows.append(kept[method])
    return rows


def summary_markdown(rows: list[dict]) -> str:
    lines = ["| data set | method | ROUGE-1 | ROUGE-2 | ROUGE-L (Lsum) |", "|---|---|---|---|---|"]
    for r in rows:
        cells = " | ".join(f"{100 * r[k]:.2f}" for k in KEYS)
        lines.append(f"| {r['dataset']} | {r['method']} | {cells} |")
    return "\n".join(lines) + "\n"


def main(datasets: list[str], root: str | None, logs: str, out: str) -> None:
    """Run the baselines of ``datasets``, keep other data sets' rows, write the table."""
    rows = [row for d in datasets for row in run_summary_baselines(d, root)]
    if "bbc" in datasets:  # the headline task, on the same test articles
        rows += run_headline_baselines(root)
    path = Path(out) / "summarization.json"
    previous = json.loads(path.read_text()) if path.exists() else {"baselines": [], "models": []}
    done = {(r["dataset"], r["method"]) for r in rows}
    rows = [r for r in previous["baselines"] if (r["dataset"], r["method"]) not in done] + rows
    models = model_rows(Path(logs), previous["models"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"baselines": rows, "models": models}, indent=2))
    order = {d: i for i, d in enumerate((*SUMMARY_DATASETS, HEADLINE_DATASET))}
    table = summary_markdown(sorted(rows + models, key=lambda r: order[r["dataset"]]))
    (path.parent / "summarization.md").write_text(table)
    print(table)
