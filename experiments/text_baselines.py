"""Text baselines: TF-IDF on word and character n-grams + logistic regression.

The strong classical answer to sentiment classification (Wang & Manning 2012 report about
89 % on IMDB with n-gram models): a deep model has to beat it to be worth its training time.
Trained on exactly the deep models' training split (train minus the validation texts, same
seed, read by the same DataModule) and scored on the same test split (SST-2: GLUE dev).
``litlab baseline --dataset imdb|sst2|nsmc`` runs it (see ``experiments/baselines.py``).

Character n-grams matter most for Korean: NSMC reviews are short, informal and glue
particles to words ("재밌어요", "재밌었다"), so word n-grams alone see many words once.
"""

from __future__ import annotations

import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

from litlab.sequence.sentiment.data import (
    IMDBDataModule,
    NSMCDataModule,
    SST2DataModule,
    TextClassificationDataModule,
)

TEXT_DATASETS: dict[str, type[TextClassificationDataModule]] = {
    "imdb": IMDBDataModule,
    "sst2": SST2DataModule,
    "nsmc": NSMCDataModule,
}
TEXT_MODELS = ["tfidf_logreg", "minilm_logreg"]


def tfidf_logreg(seed: int = 0, C: float = 4.0, max_features: int = 300_000) -> Pipeline:
    """Word 1-2-grams and character 2-5-grams (within word boundaries), sublinear tf, then an
    L2-regularised logistic regression on the concatenated sparse features."""
    words = TfidfVectorizer(
        ngram_range=(1, 2), min_df=2, max_features=max_features, sublinear_tf=True
    )
    chars = TfidfVectorizer(
        analyzer="char_wb",
        ngram_range=(2, 5),
        min_df=2,
        max_features=max_features,
        sublinear_tf=True,
    )
    features = FeatureUnion([("words", words), ("chars", chars)])
    model = LogisticRegression(C=C, max_iter=1000, solver="liblinear", random_state=seed)
    return Pipeline([("tfidf", features), ("logreg", model)])


def run_text_baselines(
    dataset: str,
    root: str | None,
    val_size: int = 2000,
    models: list[str] | None = None,
    seed: int = 0,
) -> list[dict]:
    """Fit the text baselines (``TEXT_MODELS``) on ``dataset``'s training split; one row each."""
    models = models or ["tfidf_logreg"]
    rows = []
    if "minilm_logreg" in models:  # experiments/embedding_baselines.py; needs the [transfer] extra
        from litlab.experiments.embedding_baselines import run_embedding_baseline

        rows += run_embedding_baseline(TEXT_DATASETS[dataset], root, val_size, seed=seed)
    if "tfidf_logreg" in models:
        rows += _tfidf_baseline(dataset, root, val_size, seed)
    return rows


def _tfidf_baseline(dataset: str, root: str | None, val_size: int, seed: int) -> list[dict]:
    # the DataModule's defaults (val_size 2000, split seed 0) are those of every experiment
    dm = TEXT_DATASETS[dataset](root=root, val_size=val_size, seed=0)
    x_train, y_train = dm.texts("train")
    x_test, y_test = dm.texts("test")
    model = tfidf_logreg(seed)
    t = time.perf_counter()
    model.fit(x_train, y_train)
    seconds = time.perf_counter() - t
    acc = float((model.predict(x_test) == np.asarray(y_test)).mean())
    print(f"{dataset:8s} {'tfidf_logreg':14s} test acc {acc:.4f}  ({seconds:.0f} s)", flush=True)
    return [
        {
            "dataset": dataset,
            "model": "tfidf_logreg",
            "test_acc": acc,
            "train_seconds": round(seconds, 1),
            "train_size": len(y_train),
            "test_size": len(y_test),
        }
    ]
