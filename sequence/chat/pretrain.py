"""KoreanReviewsDataModule: NSMC's training reviews as plain Korean language modelling.

Stage one of the pretrained chatbot (``experiments/transformer/ko_chatbot_pretrain.yaml``):
a GPT first learns Korean from 150,000 movie reviews (labels never read), then fine-tunes on
ChatbotData's Q/A pairs (``ko_chatbot_finetune.yaml``). The reviews are 13 times more text
than the chat answers.

The tokenizer is ``korean_chat_tokenizer`` with ``chat+nsmc``: the one the chat DataModule
builds from the same data root and split settings, so both stages share one vocabulary
(the fine-tuning run checks that the two are identical). Each review is one line, the
newline closing it as it closes a chat turn; a training example is a random window of the
reviews laid end to end, as for Shakespeare; validation is the last ``val_share`` of the
reviews (never trained on), one review per example, so ``val/loss`` is per token of whole
reviews and the same measurement in every run.
"""

from __future__ import annotations

import lightning as L
import torch
from torch.utils.data import DataLoader, RandomSampler

from litlab.common.data import resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.chat.data import chatbot_splits, korean_chat_tokenizer
from litlab.sequence.chat.pairs import PairIds, to_inputs_targets
from litlab.sequence.chat.predict import KoreanReviewsCodec
from litlab.sequence.lm import dialogue
from litlab.sequence.lm.data import Windows
from litlab.sequence.tokenizers import SubwordTokenizer


class KoreanReviewsDataModule(KoreanReviewsCodec, L.LightningDataModule):
    """Next-token windows over NSMC's training reviews, with the chatbot's tokenizer.

    Args:
        root: data root holding ``nsmc/`` and ``chat/ChatbotData.csv`` (for the tokenizer).
        vocab_size, val_frac, test_frac, seed: as in ``KoreanChatDataModule`` (they decide
            the tokenizer; keep them equal to the fine-tuning run's).
        block_size, batch_size: window length and windows per batch.
        steps_per_epoch: random training windows per epoch, in batches.
        val_share: the share of reviews held out at the end for validation (at least one).
    """

    name = "nsmc_text"  # tokenizer, prompt, language "ko": KoreanReviewsCodec's (predict.py)

    def __init__(
        self,
        root: str | None = None,
        vocab_size: int = 8000,
        block_size: int = 128,
        batch_size: int = 16,
        steps_per_epoch: int = 500,
        val_share: float = 0.02,
        val_frac: float = 0.1,
        test_frac: float = 0.1,
        seed: int = 0,
        prompt: str = "이 영화",
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args", vocab_size=vocab_size, block_size=block_size,
            batch_size=batch_size, steps_per_epoch=steps_per_epoch, val_share=val_share,
        )  # fmt: skip
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self._tokenizer: SubwordTokenizer | None = None
        self.train_data: torch.Tensor | None = None  # (N,) token ids of the reviews in order
        self.val_reviews: list[PairIds] | None = None  # one review each, all tokens scored

    def setup(self, stage: str | None = None) -> None:
        if self.train_data is not None:
            return
        from litlab.sequence.sentiment.data import NSMCDataModule

        hp = self.hparams
        if self._tokenizer is None:
            chat = chatbot_splits(self.root, hp.val_frac, hp.test_frac, hp.seed)
            self._tokenizer = korean_chat_tokenizer(
                self.root, chat["train"], "chat+nsmc", hp.vocab_size
            )
        reviews = NSMCDataModule(root=str(self.root)).read().train_texts
        n_val = max(1, round(len(reviews) * hp.val_share))
        if len(reviews) <= n_val:
            raise ConfigError(f"{len(reviews)} NSMC reviews: too few to hold {n_val} out")
        lines = [dialogue.one_line(r) + dialogue.TURN_END for r in reviews]
        ids = self._tokenizer.encode_batch(lines)  # one line at a time, as chat turns are
        cut = len(ids) - n_val
        self.train_data = torch.tensor([i for row in ids[:cut] for i in row], dtype=torch.long)
        keep = hp.block_size + 1
        self.val_reviews = [PairIds(r[:keep], [True] * len(r[:keep])) for r in ids[cut:]]

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        return {
            "block_size": int(init_args.get("block_size") or 128),
            "vocab_size": int(init_args.get("vocab_size") or 8000),
        }

    def train_dataloader(self) -> DataLoader:
        self.setup()
        hp = self.hparams
        windows = Windows(self.train_data, hp.block_size)
        sampler = RandomSampler(
            windows, replacement=True, num_samples=hp.steps_per_epoch * hp.batch_size,
            generator=torch.Generator().manual_seed(hp.seed),
        )  # fmt: skip
        return ResumableDataLoader(
            windows, batch_size=hp.batch_size, sampler=sampler, drop_last=True
        )

    def val_dataloader(self) -> DataLoader:
        self.setup()
        hp = self.hparams
        pad = self.tokenizer.pad_id
        return DataLoader(
            self.val_reviews, batch_size=hp.batch_size * 4,
            collate_fn=lambda rows: to_inputs_targets(rows, pad),
        )  # fmt: skip
