"""Extractive baselines: each scores an article's sentences; ``rouge.select`` does the rest.

    lead_scores(sentences)                  # the first sentences first: news puts them there
    textrank_scores(sentences, vectorizer)  # PageRank over a TF-IDF cosine-similarity graph
    centroid_scores(sentences, embed)       # cosine to the mean sentence embedding (MiniLM)

Lead is the baseline that news summarization must beat (journalists write the most
important facts first). TextRank (Mihalcea & Tarau 2004) is the classic unsupervised one: a
sentence is central when it is similar to many central sentences; here the similarity is the
cosine of scikit-learn TF-IDF vectors and the ranking is networkx's PageRank, nothing
written by hand. The centroid method (Radev et al. 2004, here on sentence embeddings) scores
a sentence by its similarity to the article's mean embedding. Ties always go to the earlier
sentence.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import networkx as nx
import numpy as np
import torch
from sklearn.feature_extraction.text import TfidfVectorizer


def lead_scores(sentences: Sequence[str]) -> list[float]:
    """Position only: sentence i scores -i, so the budget is filled from the top."""
    return [-float(i) for i in range(len(sentences))]


def lead_k(sentences: Sequence[str], k: int = 3) -> list[int]:
    """Lead-k: the first k sentences, whatever the budget (the fixed-size classic)."""
    return list(range(min(k, len(sentences))))


def tfidf_vectorizer(language: str, texts: Sequence[str], idf: bool = True) -> TfidfVectorizer:
    """IDF fitted on a corpus (the training articles' sentences): English on words, Korean on
    character 2-3-grams inside words, which match across particles (지카바이러스가 / 지카바이러스는)
    without a morphological analyser. ``idf=False``: plain term counts (stop words still
    dropped), the similarity of Mihalcea & Tarau's TextRank without IDF."""
    if language == "ko":
        vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 3), use_idf=idf,
                                     sublinear_tf=idf)
    else:
        vectorizer = TfidfVectorizer(stop_words="english", use_idf=idf, sublinear_tf=idf)
    return vectorizer.fit(list(texts))


def textrank_scores(sentences: Sequence[str], vectorizer: TfidfVectorizer) -> list[float]:
    """PageRank of each sentence in the graph weighted by TF-IDF cosine similarity."""
    if len(sentences) == 1:
        return [1.0]
    vectors = vectorizer.transform(list(sentences))  # (S, V), rows L2-normalised
    similarity = (vectors @ vectors.T).toarray()  # (S, S) cosine
    np.fill_diagonal(similarity, 0.0)
    if not similarity.any():  # no shared term at all: nothing to rank, keep the order
        return lead_scores(sentences)
    ranks = nx.pagerank(nx.from_numpy_array(similarity), weight="weight")
    return [ranks[i] for i in range(len(sentences))]


def centroid_scores(
    sentences: Sequence[str], embed: Callable[[list[str]], torch.Tensor]
) -> list[float]:
    """Cosine of each sentence embedding (L2-normalised, (S, C)) to their mean."""
    vectors = embed(list(sentences))
    centroid = torch.nn.functional.normalize(vectors.mean(0), dim=0)
    return (vectors @ centroid).tolist()


def minilm_embedder(model_name: str = "minilm", batch_size: int = 64) -> Callable:
    """``embed(sentences) -> (S, C)``: frozen MiniLM, mean-pooled, L2-normalised (the way
    all-MiniLM-L6-v2 was trained to embed sentences). Needs the ``transfer`` extra."""
    from transformers import AutoTokenizer

    from litlab.common.hub import resolve_pretrained
    from litlab.experiments.embedding_baselines import embed
    from litlab.transformer.pretrained import load_encoder

    encoder = load_encoder(model_name).eval()
    tokenizer = AutoTokenizer.from_pretrained(resolve_pretrained(model_name))

    def run(texts: list[str]) -> torch.Tensor:
        rows = tokenizer(texts, truncation=True, max_length=128)["input_ids"]
        return embed(encoder, rows, tokenizer.pad_token_id, batch_size)

    return run
