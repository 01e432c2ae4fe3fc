"""Tiny copies of the summarization corpora, in the archive formats of shared/data.

BBC: ``summarization/bbc_news_summary.tar.gz`` holding ``BBC News Summary/News Articles/
<category>/NNN.txt`` (headline, blank line, paragraphs) and ``Summaries/<category>/NNN.txt``
(the reference sentences run together, in another order, as in the real files). The
reference sentences are the ones that name the article's topic word, placed anywhere in the
article, so a model can learn them and Lead cannot. Korean: a few ``sci-news-sum-kr-50``
JSON files. Deterministic.
"""

from __future__ import annotations

import json
import random
import shutil
import tarfile
from pathlib import Path

CATEGORIES = ("business", "entertainment", "politics", "sport", "tech")
TOPICS = {"business": "profits", "entertainment": "film", "politics": "election",
          "sport": "match", "tech": "software"}
FILLER = ("The weather in London was mild on Tuesday.", "Officials declined to comment further.",
          "Analysts had expected little change.", "A spokesman said more details would follow.",
          "The report was published last week.", "Many people were surprised by the news.")


def bbc_pair(rng: random.Random, category: str, n_sentences: int) -> tuple[str, str]:
    topic = TOPICS[category]
    keyed = sorted(rng.sample(range(n_sentences), max(1, n_sentences // 3)))
    sentences = []
    for i in range(n_sentences):
        if i in keyed:
            sentences.append(f"The {topic} figures rose by {rng.randint(2, 90)}% this year.")
        else:
            sentences.append(rng.choice(FILLER).replace(".", f" {i}."))
    paragraphs = [" ".join(sentences[i : i + 2]) for i in range(0, n_sentences, 2)]
    article = f"{topic.title()} news {rng.randint(1, 99)}\n\n" + "\n\n".join(paragraphs) + "\n"
    summary = "".join(sentences[i] for i in reversed(keyed))  # run together, another order
    return article, summary


def write_bbc(root: Path, per_category: int = 10, seed: int = 0) -> Path:
    rng = random.Random(seed)
    folder = root / "_bbc" / "BBC News Summary"
    for category in CATEGORIES:
        for kind in ("News Articles", "Summaries"):
            (folder / kind / category).mkdir(parents=True, exist_ok=True)
        for i in range(1, per_category + 1):
            article, summary = bbc_pair(rng, category, rng.randint(5, 9))
            (folder / "News Articles" / category / f"{i:03d}.txt").write_text(article, "utf-8")
            (folder / "Summaries" / category / f"{i:03d}.txt").write_text(summary, "utf-8")
    archive = root / "summarization" / "bbc_news_summary.tar.gz"
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(folder, arcname="BBC News Summary")
    shutil.rmtree(root / "_bbc")  # only the archive stays, as in shared/data
    return archive


def write_kr50(root: Path, n: int = 3) -> Path:
    folder = root / "summarization" / "sci-news-sum-kr-50" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, n + 1):
        sentences = ["지카바이러스가 남성의 생식능력을 떨어뜨린다는 연구 결과가 나왔다",
                     "연구진은 쥐 실험에서 이런 결과를 확인했다",
                     "날씨는 맑았다", "지카바이러스 연구는 계속될 예정이다"]
        item = {"title": f"기사 {i}", "source": "test", "sentences": sentences,
                "summaries": [0, 3]}
        (folder / f"{i:02d}.json").write_text(json.dumps(item, ensure_ascii=False), "utf-8")
    return folder


def write_summaries(root: Path) -> Path:
    write_bbc(root)
    write_kr50(root)
    return root
