"""KoreanChatDataModule: ChatbotData's 11,823 Korean Q/A pairs as chat turns for a GPT.

Each pair is ``사용자: <question>\\n챗봇: <answer>\\n`` (``sequence/chat/pairs.py``), the
loss on the answer tokens only. The tokenizer is the Korean subword one (BPE over Unicode
characters, ``SubwordTokenizer(kind="korean")``), trained on the *training* turns and, with
``tokenizer_corpus="chat+nsmc"`` (the default), also on NSMC's training reviews: then the
NSMC pretraining run (``sequence/chat/pretrain.py``) builds the very same tokenizer, and a
model pretrained there fine-tunes here (``warm_start.check_tokenizer`` compares them).

Why packed training sequences and one pair per validation example:

* training windows hold whole pairs end to end (about six per 128 tokens) because that is
  what ``litlab chat`` feeds the model: the conversation so far, several turns, then the
  bot's tag. A model trained on lone pairs has only ever seen a question at position 0 and
  learns nothing about reading the last question after other turns. Packing also wastes no
  compute on padding (pairs are about 20 tokens, from 8 to 50).
* validation and test examples are one pair each, padded, so ``val/loss`` is exactly the
  answer's loss given its question alone, averaged over answer tokens (``LanguageModel``
  weights each batch by its count of non-ignored targets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, RandomSampler

from litlab.common.data import locate_dataset, resolve_data_root
from litlab.common.errors import check_positive
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.chat.pairs import (
    PairIds,
    QAPair,
    encode_pair,
    pack,
    read_chatbot_csv,
    split_pairs,
    to_inputs_targets,
    turn_texts,
)
from litlab.sequence.chat.predict import BOT, USER, ChatCodec
from litlab.sequence.lm import dialogue
from litlab.sequence.tokenizers import SubwordTokenizer

CHATBOT_URL = "https://raw.githubusercontent.com/songys/Chatbot_data/master/ChatbotData.csv"
Corpus = Literal["chat", "chat+nsmc"]


def _download_chatbot(root: Path) -> None:
    import urllib.request

    (root / "chat").mkdir(parents=True, exist_ok=True)
    urllib.request.urlretrieve(CHATBOT_URL, root / "chat" / "ChatbotData.csv")


def chatbot_splits(
    root: Path, val_frac: float = 0.1, test_frac: float = 0.1, seed: int = 0
) -> dict[str, list[QAPair]]:
    """ChatbotData read from ``root`` (offline copy, else a download when online), split."""
    path = locate_dataset(
        root,
        "ChatbotData (songys/Chatbot_data)",
        layouts=["chat/ChatbotData.csv", "ChatbotData.csv"],
        download=_download_chatbot,
    )
    return split_pairs(read_chatbot_csv(path), val_frac, test_frac, seed)


def korean_chat_tokenizer(
    root: Path,
    train: list[QAPair],
    corpus: Corpus,
    vocab_size: int,
    user: str = USER,
    bot: str = BOT,
) -> SubwordTokenizer:
    """The Korean BPE both stages share: the training turns (and NSMC's training reviews,
    one per line, for ``chat+nsmc``); the same inputs give the same tokenizer."""
    texts = [t for p in train for t in turn_texts(p, user, bot)]
    if corpus == "chat+nsmc":
        from litlab.sequence.sentiment.data import NSMCDataModule

        reviews = NSMCDataModule(root=str(root)).read().train_texts
        texts += [dialogue.one_line(r) + dialogue.TURN_END for r in reviews]
    elif corpus != "chat":
        raise ValueError(f"unknown tokenizer_corpus {corpus!r}: use 'chat' or 'chat+nsmc'")
    return SubwordTokenizer.train(texts, vocab_size, kind="korean")


class KoreanChatDataModule(ChatCodec, L.LightningDataModule):
    """Korean Q -> A chat turns (ChatbotData), for ``GPTLanguageModel`` and ``litlab chat``.
    The tokenizer, speakers and turn format are ``ChatCodec``'s (``predict.py``), which
    ``litlab chat`` and serve/ load without Lightning.

    Args:
        root: data root holding ``chat/ChatbotData.csv`` (and ``nsmc/`` for ``chat+nsmc``).
        vocab_size: BPE vocabulary size.
        block_size: tokens per packed training sequence (the model's context).
        batch_size: sequences per batch.
        val_frac, test_frac, seed: the fixed split over distinct questions.
        tokenizer_corpus: ``"chat"`` (the training turns) or ``"chat+nsmc"`` (plus NSMC's
            training reviews: the tokenizer of the NSMC pretraining run).
        prompt: the sample callback's prompt (default: a question and the bot's tag).
    """

    name = "chatbot"

    def __init__(
        self,
        root: str | None = None,
        vocab_size: int = 8000,
        block_size: int = 128,
        batch_size: int = 16,
        val_frac: float = 0.1,
        test_frac: float = 0.1,
        seed: int = 0,
        tokenizer_corpus: Corpus = "chat+nsmc",
        prompt: str | None = None,
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args", vocab_size=vocab_size, block_size=block_size, batch_size=batch_size
        )
        if tokenizer_corpus not in ("chat", "chat+nsmc"):
            raise ValueError(
                f"unknown tokenizer_corpus {tokenizer_corpus!r}: 'chat' or 'chat+nsmc'"
            )
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self._tokenizer: SubwordTokenizer | None = None
        self.splits: dict[str, list[QAPair]] | None = None
        self.encoded: dict[str, list[PairIds]] | None = None

    # --- data -----------------------------------------------------------------------------

    def setup(self, stage: str | None = None) -> None:
        if self.encoded is not None:
            return
        self.splits = self.read_splits()
        if self._tokenizer is None:
            self._tokenizer = self.train_tokenizer(self.splits["train"])
        self.encoded = {
            split: [encode_pair(self._tokenizer, p, *self.speakers) for p in pairs]
            for split, pairs in self.splits.items()
        }

    def read_splits(self) -> dict[str, list[QAPair]]:
        """The train/val/test pairs (a subclass reads another corpus here)."""
        hp = self.hparams
        return chatbot_splits(self.root, hp.val_frac, hp.test_frac, hp.seed)

    def train_tokenizer(self, train: list[QAPair]) -> SubwordTokenizer:
        hp = self.hparams
        return korean_chat_tokenizer(self.root, train, hp.tokenizer_corpus, hp.vocab_size)

    def pairs(self, split: str) -> list[QAPair]:
        """The (question, answer, label) pairs of ``"train"``, ``"val"`` or ``"test"``."""
        self.setup()
        return self.splits[split]

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The context and the vocabulary the GPT is built with (from the config)."""
        return {
            "block_size": int(init_args.get("block_size") or 128),
            "vocab_size": int(init_args.get("vocab_size") or 8000),
        }

    # --- loaders --------------------------------------------------------------------------

    def _collate(self, examples: list[PairIds]) -> tuple[Tensor, Tensor]:
        return to_inputs_targets(examples, self.pad_id)

    def train_dataloader(self) -> DataLoader:
        self.setup()
        hp = self.hparams
        # a seeded order of the pairs, packed once; the windows are reshuffled every epoch
        order = torch.randperm(
            len(self.encoded["train"]), generator=torch.Generator().manual_seed(hp.seed)
        )
        windows = pack([self.encoded["train"][i] for i in order], hp.block_size + 1, self.pad_id)
        sampler = RandomSampler(windows, generator=torch.Generator().manual_seed(hp.seed + 1))
        return ResumableDataLoader(
            windows, batch_size=hp.batch_size, sampler=sampler, collate_fn=self._collate
        )

    def _pairs_loader(self, split: str) -> DataLoader:
        self.setup()
        examples = [PairIds(e.ids[: self.block_size + 1], e.answer_mask[: self.block_size + 1])
                    for e in self.encoded[split]]  # fmt: skip
        return DataLoader(
            examples, batch_size=self.hparams.batch_size * 4, collate_fn=self._collate
        )

    def val_dataloader(self) -> DataLoader:
        return self._pairs_loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._pairs_loader("test")
