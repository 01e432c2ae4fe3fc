"""Readable pieces: token attributions shown on whole words, whatever the tokenizer.

A tokenizer's tokens are not what a reader sees: byte-level BPE splits a Hangul syllable
into three byte tokens (each drawn alone as "\ufffd"), WordPiece writes "play" "##ing",
SentencePiece-style BPE "▁좋은". ``readable_pieces`` groups the token positions of one text
into whole words, the whitespace-separated units of the text ("영화였어요." with its full
stop, "playing"), sums their scores (integrated gradients still add up to the same total),
and decodes each word's bytes at once, so a character split across tokens is whole again.

How a word starts, per Hugging Face decoder (``tok.tok.decoder``; a ``Sequence`` is looked
into, so any ``tokenizer.json`` works):

* ``ByteLevel`` (GPT-2 style, litlab's English BPE): tokens are bytes in GPT-2's byte
  alphabet; one whose first byte is whitespace ("Ġ" a space, "Ċ" a newline) starts a word.
* ``Metaspace`` (litlab's Korean BPE, SentencePiece): "▁" starts a word; so does the
  replacement of a ``Replace`` decoder (Llama), and ``ByteFallback`` "<0xEA>" tokens are bytes.
* ``WordPiece`` (BERT, MiniLM): a token starting "##" continues the word before it. The
  pre-tokenizer splits punctuation off, so punctuation is a piece of its own, written without
  a space before it (as the decoder's cleanup writes "film." and "don't").
* ``BPEDecoder``: a token ending in the suffix ("</w>") ends its word.
* no Hugging Face tokenizer (``CharTokenizer``, a DataModule that only has
  ``token_strings``): each token's string; one that starts with whitespace starts a word, so
  characters are grouped into words and a space's score goes to the word it opens.

Special tokens ([CLS], [SEP], <s>) stay pieces of their own (``special``); padding is
dropped; a run of unknown tokens inside a word shows once, as the vocabulary spells it; text
is shown NFC-normalised (uncased BERT splits a Hangul syllable into jamo: they join again).
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


@dataclass(frozen=True)
class Piece:
    """One readable piece: ``text`` (no surrounding whitespace), the sum of its tokens'
    scores, the token positions it covers, whether whitespace separates it from the piece
    before, and whether it is a special token ([CLS], [SEP])."""

    text: str
    score: float
    positions: tuple[int, ...]
    space: bool = False
    special: bool = False

    @property
    def shown(self) -> str:
        """The text with its separating space: ``"".join(p.shown ...)`` reads as the input."""
        return (" " if self.space else "") + self.text


@dataclass
class _Token:
    raw: bytes  # what the token adds to the text, leading whitespace included
    new_word: bool
    special: bool = False
    unk: bool = False


def _gpt2_bytes() -> dict[str, int]:
    """GPT-2's byte alphabet backwards: the printable character standing for each byte."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1)]
    keep += range(ord("®"), ord("ÿ") + 1)
    chars, n = {b: b for b in keep}, 0
    for b in range(256):
        if b not in chars:
            chars[b], n = 256 + n, n + 1
    return {chr(c): b for b, c in chars.items()}


BYTE_OF = _gpt2_bytes()


def _decoder_spec(hf: Any) -> list[dict]:
    """The decoder's parts as plain dicts (a ``Sequence`` flattened); [] without one."""
    if hf.decoder is None:
        return []
    spec = json.loads(hf.decoder.__getstate__())
    parts = spec.get("decoders") if spec.get("type") == "Sequence" else [spec]
    return [p for p in parts or [] if isinstance(p, dict)]


def special_ids(tokenizer: Any) -> set[int]:
    """The ids of special tokens ([CLS], [SEP], <pad>, <unk>...) of a Hugging Face-backed
    tokenizer; the pad id alone for one without (``CharTokenizer``)."""
    hf = getattr(tokenizer, "tok", None)
    found = {i for i, t in hf.get_added_tokens_decoder().items() if t.special} if hf else set()
    pad = getattr(tokenizer, "pad_id", None)
    return found | ({pad} if pad is not None else set())


def _hf_tokens(tokenizer: Any, ids: list[int]) -> list[_Token]:
    """Each id's bytes and whether it starts a word, by the rules of the module docstring."""
    hf = tokenizer.tok
    parts = _decoder_spec(hf)
    kinds = {p.get("type") for p in parts}
    added = {i: t.content for i, t in hf.get_added_tokens_decoder().items()}
    specials = special_ids(tokenizer)
    unk = getattr(tokenizer, "unk_id", None)
    prefix = next((p.get("prefix", "##") for p in parts if p.get("type") == "WordPiece"), None)
    suffix = next((p.get("suffix", "</w>") for p in parts if p.get("type") == "BPEDecoder"), None)
    spaces = [p.get("replacement", "▁") for p in parts if p.get("type") == "Metaspace"]
    spaces += [
        p["pattern"]["String"]
        for p in parts
        if p.get("type") == "Replace" and p.get("content") == " " and "String" in p["pattern"]
    ]
    out: list[_Token] = []
    ended, after = True, ""  # the BPEDecoder rule; the WordPiece piece before
    for i in ids:
        piece, is_unk = hf.id_to_token(i) or "", i == unk
        if i in added and not (is_unk and prefix is None):  # [CLS], or a whole-word [UNK]
            text = added[i]
            out.append(_Token(f" {text}".encode(), True, i in specials and not is_unk, is_unk))
            ended, after = True, text
        elif "ByteLevel" in kinds:
            raw = b"".join(bytes([BYTE_OF[c]]) if c in BYTE_OF else c.encode() for c in piece)
            out.append(_Token(raw, raw[:1].isspace(), unk=is_unk))
        elif prefix is not None:
            cont = piece.startswith(prefix)
            text = piece[len(prefix) :] if cont else piece
            glued = cont or _is_punct(text) or after == "'"
            out.append(_Token(("" if glued else " ").encode() + text.encode(), not cont))
            after = text
        elif suffix is not None:
            text = piece.removesuffix(suffix)
            out.append(_Token((" " if ended else "").encode() + text.encode(), ended, unk=is_unk))
            ended = piece.endswith(suffix)
        else:
            byte = _BYTE_TOKEN.fullmatch(piece) if "ByteFallback" in kinds else None
            if byte is not None:
                raw = bytes([int(byte.group(1), 16)])
            else:
                for marker in spaces:
                    piece = piece.replace(marker, " ")
                raw = piece.encode()
            out.append(_Token(raw, raw[:1].isspace(), unk=is_unk))
    return out


def _is_punct(text: str) -> bool:
    """Punctuation only (the WordPiece decoder's cleanup writes it without a space before)."""
    return bool(text) and not any(c.isalnum() for c in text)


def _string_tokens(strings: Sequence[str]) -> list[_Token]:
    return [_Token(s.encode(), s[:1].isspace()) for s in strings]


def _group(tokens: list[_Token], positions: list[int], scores: list[float]) -> list[Piece]:
    """Tokens -> pieces: a new word at ``new_word``, specials apart, empty words merged on."""
    groups: list[dict] = []
    current: dict | None = None
    for tok, pos, score in zip(tokens, positions, scores):
        if tok.special:
            groups.append({"raw": [tok.raw], "pos": [pos], "score": score, "special": True})
            current = None
            continue
        if current is None or tok.new_word:
            current = {"raw": [], "pos": [], "score": 0.0, "special": False, "unk": False}
            groups.append(current)
        if not (tok.unk and current["unk"]):  # a run of unknown tokens shows once
            current["raw"].append(tok.raw)
        current["unk"] = tok.unk
        current["pos"].append(pos)
        current["score"] += score
    pieces: list[Piece] = []
    carry: tuple[list[int], float] = ([], 0.0)  # a whitespace-only word: given to the next
    for g in groups:
        full = b"".join(g["raw"]).decode("utf-8", errors="replace")  # whole characters now
        full = unicodedata.normalize("NFC", full)  # BERT's jamo (NFD) back into syllables
        text = full.strip()
        pos, score = carry[0] + g["pos"], carry[1] + g["score"]
        if not text and not g["special"]:
            carry = (pos, score)
            continue
        carry = ([], 0.0)
        space = bool(pieces) and (g["special"] or full[:1].isspace())
        pieces.append(Piece(text, score, tuple(pos), space, g["special"]))
    if carry[0] and pieces:  # trailing whitespace: its score joins the last piece
        last = pieces[-1]
        pieces[-1] = Piece(last.text, last.score + carry[1], last.positions + tuple(carry[0]),
                           last.space, last.special)  # fmt: skip
    elif carry[0]:
        pieces.append(Piece("", carry[1], tuple(carry[0])))
    return pieces


def _plain(ids: Tensor | Sequence[int], scores: Tensor | Sequence[float]) -> tuple[list, list]:
    ids = ids.tolist() if isinstance(ids, Tensor) else [int(i) for i in ids]
    if isinstance(scores, Tensor):
        scores = scores.detach().float().cpu().tolist()
    scores = [float(s) for s in scores]
    if len(ids) != len(scores):
        raise ValueError(f"{len(ids)} token ids but {len(scores)} scores")
    return ids, scores


def readable_pieces(
    tokenizer: Any, ids: Tensor | Sequence[int], scores: Tensor | Sequence[float]
) -> list[Piece]:
    """One text's token ids (T,) and per-token scores (T,) -> whole words with summed scores.

    ``tokenizer``: any litlab tokenizer (``sequence/tokenizers.py``, ``sequence/wordpiece.py``):
    one holding a Hugging Face ``tokenizers.Tokenizer`` as ``.tok`` is read through its
    decoder, any other through ``token_strings``. Positions holding ``pad_id`` are dropped.
    """
    ids, scores = _plain(ids, scores)
    pad = getattr(tokenizer, "pad_id", None)
    keep = [p for p, i in enumerate(ids) if i != pad]
    kept = [ids[p] for p in keep]
    if getattr(tokenizer, "tok", None) is not None:
        tokens = _hf_tokens(tokenizer, kept)
    else:
        tokens = _string_tokens(tokenizer.token_strings(kept))
    return _group(tokens, keep, [scores[p] for p in keep])


def text_pieces(
    data: Any, ids: Tensor | Sequence[int], scores: Tensor | Sequence[float]
) -> list[Piece]:
    """The same for a text DataModule (``TextData``): its ``tokenizer`` when it has one, else
    its ``token_strings`` (grouped into words at whitespace)."""
    tokenizer = getattr(data, "tokenizer", None)
    if tokenizer is not None:
        return readable_pieces(tokenizer, ids, scores)
    ids, scores = _plain(ids, scores)
    pad = getattr(data, "pad_id", None)
    keep = [p for p, i in enumerate(ids) if i != pad]
    strings = data.token_strings(torch.tensor([ids[p] for p in keep], dtype=torch.long))
    return _group(_string_tokens(strings), keep, [scores[p] for p in keep])


def words_and_scores(pieces: Sequence[Piece]) -> tuple[list[str], list[float]]:
    """What the figures, the HTML and the API show: each piece with its separating space
    (``"".join`` reads as the text) and its score."""
    return [p.shown for p in pieces], [p.score for p in pieces]
