"""Tokenizers: characters (nanoGPT's ``shakespeare_char``) and subwords (``tokenizers`` BPE).

All of them share one small interface, so data modules, models and ``litlab generate`` do
not care which one they hold:

* ``encode(text) -> list[int]`` and ``decode(ids) -> str``;
* ``token_strings(ids) -> list[str]``: each token as it appears in the text (for plots);
* ``vocab_size``, ``pad_id`` (and ``unk_id`` where unknown input is possible);
* ``state() -> dict`` (plain JSON-able data) and ``tokenizer_from_state(state)``: a data
  module puts the state in its ``state_dict()``, so it travels inside every checkpoint.

The character tokenizer is written by hand because it *is* the lesson (a lookup table). The
subword ones use Hugging Face ``tokenizers`` (Rust, fast): byte-level BPE for English (any
byte sequence encodes, no unknown tokens) and, for Korean, BPE over whole Unicode characters
with a SentencePiece-style word-boundary marker, because byte-level BPE would split each
Hangul syllable into three meaningless bytes. Subword tokenizers are trained on the
training split only.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Literal

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

PAD, UNK = "<pad>", "<unk>"


class CharTokenizer:
    """One id per character, in sorted order of the characters seen.

    On Tiny Shakespeare, ``CharTokenizer.fit(text)`` gives nanoGPT's exact ``shakespeare_char``
    vocabulary: the 65 distinct characters of the *whole* file, sorted (``\\n`` is 0, space 1).
    ``extra`` symbols (e.g. padding for batched classification) are appended after them so
    the character ids stay nanoGPT's.
    """

    kind = "char"  # what the bits metric is called: bits per character

    def __init__(self, chars: Sequence[str], extra: Sequence[str] = ()) -> None:
        self.chars = list(chars)
        self.extra = list(extra)
        self.itos = self.chars + self.extra
        self.stoi = {c: i for i, c in enumerate(self.itos)}

    @classmethod
    def fit(cls, text: str, extra: Sequence[str] = ()) -> CharTokenizer:
        return cls(sorted(set(text)), extra)

    @property
    def vocab_size(self) -> int:
        return len(self.itos)

    @property
    def pad_id(self) -> int | None:
        return self.stoi.get(PAD)

    def encode(self, text: str) -> list[int]:
        try:
            return [self.stoi[c] for c in text]
        except KeyError as err:
            raise ValueError(
                f"character {err.args[0]!r} is not in this {self.vocab_size}-symbol vocabulary"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        return "".join(self.itos[i] for i in ids)

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        return [self.itos[i] for i in ids]

    def state(self) -> dict:
        return {"kind": "char", "chars": self.chars, "extra": self.extra}


class SubwordTokenizer:
    """A trained Hugging Face ``tokenizers.Tokenizer`` behind the shared interface."""

    kind = "subword"

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tok = tokenizer

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        vocab_size: int = 8000,
        kind: Literal["byte_level", "korean"] = "byte_level",
        min_frequency: int = 2,
        lowercase: bool = False,
    ) -> SubwordTokenizer:
        """Train BPE on ``texts`` (the training split only); ``<pad>`` is id 0, ``<unk>`` 1."""
        specials = [PAD, UNK]
        norm = [normalizers.NFC()] + ([normalizers.Lowercase()] if lowercase else [])
        if kind == "byte_level":
            tok = Tokenizer(models.BPE())
            tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
            tok.decoder = decoders.ByteLevel()
            alphabet = pre_tokenizers.ByteLevel.alphabet()
        elif kind == "korean":
            tok = Tokenizer(models.BPE(unk_token=UNK))
            # split on whitespace, marking word starts with "▁" (SentencePiece style), and
            # keep punctuation apart so "좋아요!!" and "좋아요" share a token
            tok.pre_tokenizer = pre_tokenizers.Sequence(
                [pre_tokenizers.Metaspace(), pre_tokenizers.Punctuation()]
            )
            tok.decoder = decoders.Metaspace()
            alphabet = []
        else:
            raise ValueError(f"unknown tokenizer kind {kind!r}: use 'byte_level' or 'korean'")
        tok.normalizer = normalizers.Sequence(norm)
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            special_tokens=specials,
            initial_alphabet=alphabet,
            show_progress=False,
        )
        tok.train_from_iterator(texts, trainer=trainer)
        return cls(tok)

    @property
    def vocab_size(self) -> int:
        return self.tok.get_vocab_size()

    @property
    def pad_id(self) -> int:
        return self.tok.token_to_id(PAD)

    @property
    def unk_id(self) -> int | None:
        return self.tok.token_to_id(UNK)

    def encode(self, text: str) -> list[int]:
        return self.tok.encode(text).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tok.encode_batch(texts)]

    def decode(self, ids: Iterable[int]) -> str:
        return self.tok.decode(list(ids), skip_special_tokens=True)

    def token_strings(self, ids: Iterable[int]) -> list[str]:
        """Each token's own text: byte-level "Ġgood" and Korean "▁좋은" both show a space."""
        metaspace = type(self.tok.decoder).__name__ == "Metaspace"
        out = []
        for i in ids:
            piece = self.tok.id_to_token(i)
            if metaspace:
                out.append(piece.replace("\u2581", " "))
            elif piece in (PAD, UNK):
                out.append(piece)
            else:  # byte-level: a piece holding part of a UTF-8 character shows as U+FFFD
                out.append(self.tok.decode([i]))
        return out

    def state(self) -> dict:
        return {"kind": "subword", "json": self.tok.to_str()}


def tokenizer_from_state(state: dict) -> CharTokenizer | SubwordTokenizer:
    """Rebuild a tokenizer from ``tokenizer.state()`` (e.g. out of a checkpoint)."""
    if state["kind"] == "char":
        return CharTokenizer(state["chars"], state.get("extra", ()))
    if state["kind"] == "subword":
        return SubwordTokenizer(Tokenizer.from_str(state["json"]))
    if state["kind"] == "pretrained":  # a pretrained model's own (sequence/wordpiece.py)
        from litlab.sequence.wordpiece import PretrainedTokenizer

        return PretrainedTokenizer(Tokenizer.from_str(state["json"]))
    raise ValueError(f"unknown tokenizer state kind {state.get('kind')!r}")


def save_tokenizer(tokenizer: CharTokenizer | SubwordTokenizer, path: str) -> None:
    """Write the tokenizer state as JSON (next to exported weights, for serve/)."""
    with open(path, "w", encoding="utf-8") as f:
        json.dump(tokenizer.state(), f, ensure_ascii=False)
