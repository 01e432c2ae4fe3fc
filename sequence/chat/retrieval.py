"""RetrievalBot: the answer of the most similar training question (TF-IDF), a chat baseline.

The classic FAQ bot, and the bar a generative chatbot trained on the same pairs has to
clear: it never writes a broken sentence (every reply is a human-written answer), but it can
only say what the training set already says. Similarity is the cosine of TF-IDF vectors
over character 1-3-grams within words (``char_wb``): Korean attaches particles and endings
to words (힘들어 / 힘들어요 / 힘들다), so whole-word features would miss most matches.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class RetrievalBot:
    """``reply(question) -> str``: the answer whose question is nearest by TF-IDF cosine.

    Args:
        questions, answers: the training pairs (same length).
        ngram_range: character n-gram sizes of the TF-IDF features.
    """

    def __init__(
        self,
        questions: Sequence[str],
        answers: Sequence[str],
        ngram_range: tuple[int, int] = (1, 3),
    ) -> None:
        if len(questions) != len(answers) or not questions:
            raise ValueError("RetrievalBot needs as many answers as questions, at least one")
        self.answers = list(answers)
        self.vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=ngram_range)
        self.matrix = self.vectorizer.fit_transform(questions)  # (N, F), rows L2-normalised

    def nearest(self, texts: Sequence[str]) -> np.ndarray:
        """Index of the nearest training question for each text (ties: the first)."""
        sims = self.vectorizer.transform(texts) @ self.matrix.T  # (M, N) cosines
        return np.asarray(sims.argmax(axis=1)).ravel()

    def replies(self, texts: Sequence[str]) -> list[str]:
        return [self.answers[i] for i in self.nearest(texts)]

    def reply(self, text: str) -> str:
        return self.replies([text])[0]
