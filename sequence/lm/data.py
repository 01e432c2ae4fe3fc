"""ShakespeareDataModule: next-token prediction on Tiny Shakespeare (or the complete works).

The character setting is exactly nanoGPT's ``shakespeare_char``, so losses compare with its
published numbers (about 1.47 on a GPU, 1.88 for its small CPU recipe):

* vocabulary: the sorted distinct characters of the *whole* text (65 on ``input.txt``);
* split: the encoded text ``data`` of length n, ``train = data[:int(n * 0.9)]``,
  ``val = data[int(n * 0.9):]`` (contiguous, so validation is a part of the play never seen).

With ``tokenizer="bpe"`` a byte-level BPE is trained on the training part of the text only
(the same 90 % cut, in characters) and each part is encoded on its own.

With ``format="dialogue"`` the plays are first rewritten as speaker-tagged turns, one per
line (``ROMEO: text\n``, see ``sequence/lm/dialogue.py``), and the same split is taken of
that text: what ``litlab chat`` models are trained on.

A training example is a random window: ``x = data[i : i + block]``, ``y = data[i + 1 : i + 1
+ block]`` (the same text shifted by one), ``steps_per_epoch * batch_size`` of them per epoch.
Validation uses a fixed set of windows (chosen once by ``seed``), so ``val/loss`` is the
same measurement in every epoch and every run.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Literal

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, RandomSampler, Subset

from litlab.common.data import locate_dataset, resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.protocols import TokenBatch
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.lm import dialogue
from litlab.sequence.lm.predict import ShakespeareCodec
from litlab.sequence.tokenizers import CharTokenizer, SubwordTokenizer

FILES = {"tiny": "shakespeare/input.txt", "complete": "shakespeare/complete_works.txt"}
TINY_URL = (
    "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
)


class Windows(Dataset):
    """All windows of a token stream: item i is (data[i : i+block], data[i+1 : i+block+1])."""

    def __init__(self, data: Tensor, block_size: int) -> None:
        if len(data) <= block_size:
            raise ConfigError(
                f"--data.init_args.block_size {block_size}: a text of {len(data)} tokens has no "
                "window of block_size + 1 tokens; use a smaller block_size"
            )
        self.data, self.block = data, block_size

    def __len__(self) -> int:
        return len(self.data) - self.block

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        chunk = self.data[i : i + self.block + 1]
        return chunk[:-1], chunk[1:]


def _download_tiny(root: Path) -> None:
    dest = root / FILES["tiny"]
    dest.parent.mkdir(parents=True, exist_ok=True)
    urllib.request.urlretrieve(TINY_URL, dest)


class ShakespeareDataModule(ShakespeareCodec, L.LightningDataModule):
    """Language-modelling windows over Shakespeare, tokenized by characters or byte-level BPE.
    The tokenizer, prompt and turn format are ``ShakespeareCodec``'s (``predict.py``), which
    ``litlab generate`` and ``chat`` load without Lightning.

    Args:
        root: data root holding ``shakespeare/input.txt`` (default ``$DATA_DIR``, else ``./data``).
        corpus: ``"tiny"`` (Tiny Shakespeare, 1.1 M characters) or ``"complete"`` (5 M).
        tokenizer: ``"char"`` (nanoGPT's ``shakespeare_char``) or ``"bpe"`` (byte-level).
        vocab_size: BPE vocabulary size (ignored for characters).
        block_size: tokens per training window (the length backpropagation runs through).
        batch_size: windows per batch (validation uses the same size).
        steps_per_epoch: training batches per epoch (random windows, drawn with ``seed``).
        val_batches: fixed validation batches evaluated every epoch.
        prompt: start of the text samples (the sample callback and ``litlab generate``).
        format: ``"plain"`` (the text as it is) or ``"dialogue"`` (one speaker-tagged turn
            per line, for chat; ``DialogueData`` in ``common/protocols.py``).
    """

    def __init__(
        self,
        root: str | None = None,
        corpus: Literal["tiny", "complete"] = "tiny",
        tokenizer: Literal["char", "bpe"] = "char",
        vocab_size: int = 2000,
        block_size: int = 128,
        batch_size: int = 64,
        steps_per_epoch: int = 500,
        val_batches: int = 20,
        prompt: str = "ROMEO:",
        seed: int = 0,
        format: Literal["plain", "dialogue"] = "plain",
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args",
            batch_size=batch_size,
            block_size=block_size,
            steps_per_epoch=steps_per_epoch,
            val_batches=val_batches,
        )
        if corpus not in FILES:
            raise ValueError(f"unknown corpus {corpus!r}: use one of {sorted(FILES)}")
        if tokenizer not in ("char", "bpe"):
            raise ValueError(f"unknown tokenizer {tokenizer!r}: use 'char' or 'bpe'")
        if format not in ("plain", "dialogue"):
            raise ValueError(f"unknown format {format!r}: use 'plain' or 'dialogue'")
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self._tokenizer: CharTokenizer | SubwordTokenizer | None = None
        self.train_data: Tensor | None = None  # (N_train,) int64 token ids
        self.val_data: Tensor | None = None

    # --- data -----------------------------------------------------------------------------

    def locate(self) -> Path:
        """The text file, downloaded (Tiny Shakespeare only) when online and missing."""
        corpus = self.hparams.corpus
        return locate_dataset(
            self.root,
            f"Shakespeare ({corpus})",
            layouts=[FILES[corpus]],
            download=_download_tiny if corpus == "tiny" else None,
        )

    def read_text(self) -> str:
        return self.locate().read_text(encoding="utf-8")

    def setup(self, stage: str | None = None) -> None:
        if self.train_data is not None:
            return
        text = self.formatted_text()
        cut = int(len(text) * 0.9)
        if self.hparams.tokenizer == "char":
            if self._tokenizer is None:
                self._tokenizer = CharTokenizer.fit(text)  # the whole text, as nanoGPT
            data = torch.tensor(self._tokenizer.encode(text), dtype=torch.long)
            n = len(data)
            self.train_data, self.val_data = data[: int(n * 0.9)], data[int(n * 0.9) :]
        else:
            train_text, val_text = text[:cut], text[cut:]
            if self._tokenizer is None:
                lines = train_text.splitlines(keepends=True)
                self._tokenizer = SubwordTokenizer.train(lines, self.hparams.vocab_size)
            self.train_data = torch.tensor(self._tokenizer.encode(train_text), dtype=torch.long)
            self.val_data = torch.tensor(self._tokenizer.encode(val_text), dtype=torch.long)

    # --- what the model may ask (common/protocols.py); properties never read the data -------

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The window length and the vocabulary size: a BPE tokenizer's from the config, a
        character vocabulary by counting the text's characters (a method may read; the
        properties never do). LitlabCLI fills both into the model."""
        values = {"block_size": int(init_args.get("block_size") or 128)}
        if init_args.get("tokenizer", "char") == "char":
            values["vocab_size"] = len(set(cls(**init_args).formatted_text()))
        elif init_args.get("vocab_size"):
            values["vocab_size"] = int(init_args["vocab_size"])
        return values

    def formatted_text(self) -> str:
        """The whole text as the tokenizer sees it (speaker-tagged turns for ``dialogue``)."""
        text = self.read_text()
        return dialogue.dialogue_text(text) if self.hparams.format == "dialogue" else text

    # --- loaders --------------------------------------------------------------------------

    def train_dataloader(self) -> DataLoader:
        self.setup()
        hp = self.hparams
        windows = Windows(self.train_data, hp.block_size)
        # with replacement: an "epoch" is steps_per_epoch batches, not a pass over all windows;
        # the generator's state moves on, so each epoch draws new windows
        sampler = RandomSampler(
            windows,
            replacement=True,
            num_samples=hp.steps_per_epoch * hp.batch_size,
            generator=torch.Generator().manual_seed(hp.seed),
        )
        return ResumableDataLoader(
            windows, batch_size=hp.batch_size, sampler=sampler, drop_last=True
        )  # a resumed run continues the same windows (common/resume.py)

    def val_dataloader(self) -> DataLoader:
        self.setup()
        hp = self.hparams
        windows = Windows(self.val_data, hp.block_size)
        g = torch.Generator().manual_seed(hp.seed + 1)
        starts = torch.randint(len(windows), (hp.val_batches * hp.batch_size,), generator=g)
        return DataLoader(Subset(windows, starts.tolist()), batch_size=hp.batch_size)

    # --- protocol: TokenProbe (attention maps of a transformer) ----------------------------

    def probe_batch(
        self, n: int, split: str = "val", length: int = 64
    ) -> tuple[TokenBatch, Tensor]:
        """``n`` fixed windows of ``length`` tokens (at most the block) and their targets."""
        self.setup()
        data = self.val_data if split == "val" else self.train_data
        length = min(length, self.hparams.block_size)
        # evenly spaced starts: the same windows every epoch and every run
        starts = torch.linspace(0, len(data) - length - 1, n).long()
        ids = torch.stack([data[s : s + length] for s in starts])  # (n, length)
        targets = torch.stack([data[s + 1 : s + length + 1] for s in starts])
        return TokenBatch(ids, torch.full((n,), length)), targets
