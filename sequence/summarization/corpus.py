"""The summarization corpora as lists of ``Article``: BBC News Summary and sci-news-sum-kr-50.

    articles = read_bbc(resolve_data_root())      # 2,225 English articles, 5 categories
    train, val, test = split_articles(articles)   # 80/10/10, stratified by category, seeded
    articles = read_kr50(resolve_data_root())     # 50 Korean articles: an evaluation set

An ``Article`` is its sentences in order plus which of them make up the reference summary
(``summary``: sentence indices). Both corpora are *extractive*: their summaries are sentences
copied from the article, so the label of a sentence is simply whether the summary holds it.
BBC's summary files run the copied sentences together ("...from $10.9bn.For the full-year")
in an order of their own, so a sentence is labelled by finding it in that text; the reference
summary used for ROUGE is then the labelled sentences in article order, one per line (what
ROUGE-Lsum reads as sentences). The first line of a BBC article is its headline
(``title``), not part of the text.

Offline, the archives of ``shared/data/summarization`` are recognised and extracted into the
cache; online, the Korean set is fetched from its GitHub repository (the BBC set is a Kaggle
download that needs an account, so it has no automatic route).
"""

from __future__ import annotations

import json
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from litlab.common.data import CorruptDataError, locate_dataset
from litlab.common.extractive import SPACES, split_sentences

BBC_LAYOUT = "summarization/BBC News Summary"
BBC_ARCHIVE = "summarization/bbc_news_summary.tar.gz"
KR50_LAYOUT = "summarization/sci-news-sum-kr-50"
KR50_ARCHIVE = "summarization/sci_news_sum_kr_50.tar.gz"
KR50_URL = "https://raw.githubusercontent.com/theeluwin/sci-news-sum-kr-50/master/data/{:02d}.json"

@dataclass
class Article:
    """One document: ``sentences`` in order, ``summary`` the indices of the reference ones."""

    id: str
    sentences: list[str]
    summary: list[int] = field(default_factory=list)
    title: str = ""
    category: str = ""
    language: str = "en"

    @property
    def reference(self) -> str:
        """The reference summary: its sentences in article order, one per line."""
        return "\n".join(self.sentences[i] for i in self.summary)

    @property
    def text(self) -> str:
        return " ".join(self.sentences)

    def labels(self) -> list[int]:
        """1 for each sentence of the reference summary, else 0 (what the extractor learns)."""
        chosen = set(self.summary)
        return [int(i in chosen) for i in range(len(self.sentences))]


def _read_text(path: Path) -> str:
    """UTF-8, or Latin-1 for the one BBC sport file that holds a Latin-1 byte."""
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def bbc_article(article_text: str, summary_text: str, id: str = "", category: str = "") -> Article:
    """One BBC pair: the first line is the headline, the rest the article; sentences found
    in the summary text are its reference sentences."""
    title, _, body = article_text.strip().partition("\n")
    sentences = split_sentences(body)
    summary = SPACES.sub(" ", summary_text)
    chosen = [i for i, s in enumerate(sentences) if s in summary]
    return Article(id, sentences, chosen, title.strip(), category, "en")


def read_bbc(root: Path) -> list[Article]:
    """All 2,225 BBC articles, sorted by id (``category/NNN``)."""
    folder = locate_dataset(root, "BBC News Summary", [BBC_LAYOUT], [BBC_ARCHIVE])
    articles = []
    for path in sorted((folder / "News Articles").glob("*/*.txt")):
        summary = folder / "Summaries" / path.parent.name / path.name
        if not summary.exists():
            raise CorruptDataError(summary, FileNotFoundError("the article has no summary file"))
        category = path.parent.name
        articles.append(bbc_article(_read_text(path), _read_text(summary),
                                    f"{category}/{path.stem}", category))
    if not articles:
        raise CorruptDataError(folder, FileNotFoundError("no 'News Articles/<category>/*.txt'"))
    return articles


def _download_kr50(root: Path) -> None:
    dest = root / KR50_LAYOUT / "data"
    dest.mkdir(parents=True, exist_ok=True)
    for i in range(1, 51):
        with urllib.request.urlopen(KR50_URL.format(i), timeout=30) as response:
            (dest / f"{i:02d}.json").write_bytes(response.read())


def read_kr50(root: Path) -> list[Article]:
    """The 50 Korean articles of sci-news-sum-kr-50 with their hand-marked summary sentences."""
    folder = locate_dataset(root, "sci-news-sum-kr-50", [KR50_LAYOUT], [KR50_ARCHIVE],
                            download=_download_kr50)
    articles = []
    for path in sorted((folder / "data").glob("*.json")):
        try:
            item = json.loads(path.read_text(encoding="utf-8"))
            sentences = [SPACES.sub(" ", s).strip() for s in item["sentences"]]
            summary = sorted(int(i) for i in item["summaries"])
        except (ValueError, KeyError, TypeError) as err:
            raise CorruptDataError(path, err) from err
        articles.append(Article(path.stem, sentences, summary, item.get("title", ""), "", "ko"))
    if not articles:
        raise CorruptDataError(folder, FileNotFoundError("no 'data/*.json'"))
    return articles


def split_articles(
    articles: list[Article], val: float = 0.1, test: float = 0.1, seed: int = 0
) -> tuple[list[Article], list[Article], list[Article]]:
    """Train / val / test, stratified by category: each category is shuffled with ``seed``
    and cut in the same proportions, so every split has the corpus's mix of topics."""
    by_category: dict[str, list[Article]] = defaultdict(list)
    for article in articles:
        by_category[article.category].append(article)
    rng = np.random.default_rng(seed)
    parts: tuple[list[Article], list[Article], list[Article]] = ([], [], [])
    for category in sorted(by_category):
        group = by_category[category]
        order = rng.permutation(len(group))
        n_test, n_val = round(len(group) * test), round(len(group) * val)
        cuts = (order[n_test + n_val:], order[n_test:n_test + n_val], order[:n_test])
        for part, idx in zip(parts, cuts):
            part += [group[i] for i in sorted(idx)]
    return parts
