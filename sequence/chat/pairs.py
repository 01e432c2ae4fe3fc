"""Question/answer pairs as chat turns, with the loss on the answer tokens only.

    read_chatbot_csv(path)           -> [QAPair("12시 땡!", "하루가 또 가네요.", 0), ...]
    split_pairs(pairs, 0.1, 0.1, 0)  -> {"train": [...], "val": [...], "test": [...]}
    encode_pair(tok, pair, "사용자", "챗봇") -> PairIds(ids, answer_mask)

A pair is written in the dialogue format of ``sequence/lm/dialogue.py``, one turn per line:
``사용자: <question>\\n챗봇: <answer>\\n``. Each turn is encoded on its own, exactly as
``ChatSession.prompt_ids`` encodes a conversation, so the tokens the model trains on are the
tokens it is prompted with. The loss covers the answer's tokens and its closing newline (so
the model learns where a reply ends), never the question or the bot's tag (supervised
fine-tuning: the question is given, only the reply is to be learned): those targets are
``IGNORE`` (-100, ``F.cross_entropy``'s ``ignore_index``).

The split is by *question*: the 156 questions that occur more than once in ChatbotData go
wholly to one split, so no test question is answered from a copy of itself in training.
"""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

import torch
from torch import Tensor

from litlab.common.data import CorruptDataError
from litlab.sequence.lm.dialogue import format_turn, speaker_tag

IGNORE = -100  # F.cross_entropy's default ignore_index: no loss at these targets


class QAPair(NamedTuple):
    question: str
    answer: str
    label: int  # ChatbotData: 0 everyday, 1 break-up / sad, 2 love / happy


class PairIds(NamedTuple):
    """One encoded pair: token ids (L,) and which of them the loss is on (L,) bool."""

    ids: list[int]
    answer_mask: list[bool]


def read_chatbot_csv(path: Path) -> list[QAPair]:
    """The rows of a UTF-8 ``Q,A,label`` CSV with a header (songys/Chatbot_data). Labels are
    stripped (one reads ``"2   "``); rows with an empty question or answer are skipped."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
    except UnicodeDecodeError as err:
        raise CorruptDataError(path, err) from err
    if rows and not {"Q", "A"} <= set(rows[0]):
        raise CorruptDataError(path, ValueError(f"expected columns Q,A,label, got {list(rows[0])}"))
    pairs = []
    for row in rows:
        q, a = " ".join((row["Q"] or "").split()), " ".join((row["A"] or "").split())
        label = (row.get("label") or "0").strip()
        if q and a:
            pairs.append(QAPair(q, a, int(label) if label.isdigit() else 0))
    return pairs


def split_pairs(
    pairs: Sequence[QAPair], val_frac: float = 0.1, test_frac: float = 0.1, seed: int = 0
) -> dict[str, list[QAPair]]:
    """A fixed, seeded train/val/test split over distinct questions (all pairs of one
    question land in the same split); each split keeps the file's order."""
    if not 0 <= val_frac < 1 or not 0 <= test_frac < 1 or val_frac + test_frac >= 1:
        raise ValueError(f"val_frac {val_frac} and test_frac {test_frac} must leave training data")
    questions = sorted({p.question for p in pairs})
    random.Random(seed).shuffle(questions)
    n_val, n_test = round(len(questions) * val_frac), round(len(questions) * test_frac)
    where = {q: "test" for q in questions[:n_test]}
    where.update({q: "val" for q in questions[n_test : n_test + n_val]})
    out: dict[str, list[QAPair]] = {"train": [], "val": [], "test": []}
    for p in pairs:
        out[where.get(p.question, "train")].append(p)
    return out


def turn_texts(pair: QAPair, user: str, bot: str) -> list[str]:
    """The two formatted turns of a pair: what the tokenizer is trained on."""
    return [format_turn(user, pair.question), format_turn(bot, pair.answer)]


def encode_pair(tokenizer, pair: QAPair, user: str, bot: str) -> PairIds:
    """The question turn, then the answer turn; the mask marks the answer tokens after the
    bot's tag (the tag is part of the prompt at chat time, as the question is)."""
    question = tokenizer.encode(format_turn(user, pair.question))
    answer = tokenizer.encode(format_turn(bot, pair.answer))
    tag = tokenizer.encode(speaker_tag(bot))
    if answer[: len(tag)] != tag:  # the tag must tokenize alike alone and inside its turn
        raise ValueError(f"the speaker tag {speaker_tag(bot)!r} does not tokenize on its own")
    mask = [False] * (len(question) + len(tag)) + [True] * (len(answer) - len(tag))
    return PairIds(question + answer, mask)


def _padded(ids: list[int], mask: list[bool], length: int, pad_id: int) -> PairIds:
    return PairIds(ids + [pad_id] * (length - len(ids)), mask + [False] * (length - len(ids)))


def pack(examples: Sequence[PairIds], length: int, pad_id: int) -> list[PairIds]:
    """Whole pairs laid end to end into sequences of exactly ``length`` tokens (padding
    after the last pair that fits, masked); a pair longer than ``length`` keeps its start."""
    out: list[PairIds] = []
    ids: list[int] = []
    mask: list[bool] = []
    for ex in examples:
        if ids and len(ids) + len(ex.ids) > length:
            out.append(_padded(ids, mask, length, pad_id))
            ids, mask = [], []
        ids, mask = ids + ex.ids[:length], mask + ex.answer_mask[:length]
    if ids:
        out.append(_padded(ids, mask, length, pad_id))
    return out


def to_inputs_targets(examples: Sequence[PairIds], pad_id: int) -> tuple[Tensor, Tensor]:
    """Padded inputs (B, T) and targets (B, T): ``x = ids[:-1]``, ``y = ids[1:]``, the target
    ``IGNORE`` wherever it is not an answer token (question, tag, padding)."""
    t = max(len(ex.ids) for ex in examples) - 1
    x = torch.full((len(examples), t), pad_id, dtype=torch.long)
    y = torch.full((len(examples), t), IGNORE, dtype=torch.long)
    for i, ex in enumerate(examples):
        ids = torch.tensor(ex.ids, dtype=torch.long)
        keep = torch.tensor(ex.answer_mask[1:], dtype=torch.bool)
        n = len(ex.ids) - 1
        x[i, :n] = ids[:-1]
        y[i, :n] = torch.where(keep, ids[1:], IGNORE)
    return x, y
