"""EnglishChatDataModule: the English twin of the Korean chatbot, on the chatterbot corpus.

The PyPI package ``chatterbot-corpus`` (1.3.3, BSD; the optional extra ``[chat]``) holds
about 2,000 short English conversations in YAML files by topic (greetings, food, ai, ...);
every two consecutive turns of a conversation make one Q -> A pair (about 2,400). Turns are
``YOU: ...`` and ``BOT: ...``; the tokenizer is byte-level BPE trained on the training turns
(English needs no Korean character BPE). Everything else (split by question, answer-only
loss, packing, ``litlab chat`` and ``chat-eval``) is ``KoreanChatDataModule``'s.

The corpus has no canonical download besides the package, so ``root`` is not used; without
the package the module says what to install.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from litlab.common.data import MissingDataError
from litlab.sequence.chat.data import KoreanChatDataModule
from litlab.sequence.chat.pairs import QAPair, split_pairs, turn_texts
from litlab.sequence.chat.predict import EnglishChatCodec
from litlab.sequence.tokenizers import SubwordTokenizer


def chatterbot_pairs(language: str = "english") -> list[QAPair]:
    """(turn i, turn i + 1) of every conversation of the installed chatterbot corpus."""
    try:
        import chatterbot_corpus
    except ImportError as err:
        raise MissingDataError(
            "chatterbot corpus", Path("."), ["the chatterbot-corpus package"],
            "Install it with: pip install 'litlab[chat]' (chatterbot-corpus==1.3.3)",
        ) from err  # fmt: skip
    import yaml

    pairs = []
    folder = Path(chatterbot_corpus.__file__).parent / "data" / language
    for label, path in enumerate(sorted(folder.glob("*.yml"))):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for turns in data.get("conversations") or []:
            texts = [" ".join(str(t).split()) for t in turns if isinstance(t, (str, int, float))]
            pairs += [QAPair(q, a, label) for q, a in zip(texts, texts[1:]) if q and a]
    return pairs


class EnglishChatDataModule(EnglishChatCodec, KoreanChatDataModule):
    """English Q -> A turns from the chatterbot corpus (``YOU`` / ``BOT``), byte-level BPE.

    Args: as ``KoreanChatDataModule`` (``root`` unused; ``tokenizer_corpus`` only ``chat``).
    """

    name = "chatterbot_en"  # language "en", speakers YOU / BOT: EnglishChatCodec's

    def __init__(
        self,
        root: str | None = None,
        vocab_size: int = 2000,
        block_size: int = 128,
        batch_size: int = 16,
        val_frac: float = 0.1,
        test_frac: float = 0.1,
        seed: int = 0,
        tokenizer_corpus: Literal["chat"] = "chat",
        prompt: str | None = "YOU: Hello, how are you?\nBOT:",
    ) -> None:
        super().__init__(
            root, vocab_size, block_size, batch_size, val_frac, test_frac, seed,
            tokenizer_corpus, prompt,
        )  # fmt: skip

    def read_splits(self) -> dict[str, list[QAPair]]:
        hp = self.hparams
        return split_pairs(chatterbot_pairs(), hp.val_frac, hp.test_frac, hp.seed)

    def train_tokenizer(self, train: list[QAPair]) -> SubwordTokenizer:
        texts = [t for p in train for t in turn_texts(p, *self.speakers)]
        return SubwordTokenizer.train(texts, self.hparams.vocab_size, kind="byte_level")
