"""Tokenizers: exact round trips (Hangul included), nanoGPT's character vocabulary, and the
state that travels in checkpoints."""

from __future__ import annotations

import pytest
from conftest import real_data
from text_data import FILLER_KO, NEG_KO, POS_KO, write_shakespeare

from litlab.sequence.tokenizers import CharTokenizer, SubwordTokenizer, tokenizer_from_state

ENGLISH = [
    "ROMEO: But, soft! what light through yonder window breaks?",
    "It is the east, and Juliet is the sun. Café ☃ naïve — “quoted”",
] * 20
KOREAN = [
    "이 영화 정말 재밌어요!! 최고♥",
    "2026년 11월 25일, 배우 연기가 너무 좋아요 ㅋㅋ",
    " ".join(FILLER_KO + POS_KO + NEG_KO),
] * 20


def test_char_round_trip_and_clear_error_for_unknown_characters():
    tok = CharTokenizer.fit("hello world\n")
    assert tok.decode(tok.encode("hold low\n")) == "hold low\n"
    assert tok.itos[:2] == ["\n", " "]  # sorted, as nanoGPT's prepare.py
    with pytest.raises(ValueError, match="'z' is not in this 9-symbol vocabulary"):
        tok.encode("zoo")


def test_char_extra_symbols_come_after_the_characters():
    tok = CharTokenizer.fit("abc", extra=["<pad>"])
    assert tok.encode("cab") == [2, 0, 1] and tok.pad_id == 3 and tok.vocab_size == 4


def test_char_vocabulary_is_the_sorted_characters_of_the_text(tmp_path):
    text = (write_shakespeare(tmp_path) / "input.txt").read_text()
    tok = CharTokenizer.fit(text)
    assert tok.chars == sorted(set(text))
    assert tok.decode(tok.encode(text)) == text


def test_char_vocabulary_of_tiny_shakespeare_is_nanogpts():
    text = real_data("shakespeare/input.txt").read_text()
    assert len(text) == 1_115_394
    tok = CharTokenizer.fit(text)  # nanoGPT's shakespeare_char meta.pkl:
    assert tok.vocab_size == 65 and tok.chars == sorted(set(text))
    assert tok.encode("\n !") == [0, 1, 2] and tok.encode("a") == [39]


def test_byte_level_bpe_round_trips_any_text():
    tok = SubwordTokenizer.train(ENGLISH, vocab_size=300)
    for text in ENGLISH[:2] + ["never seen: 한국어 and emoji 🎭"]:
        assert tok.decode(tok.encode(text)) == text
    ids = tok.encode("ROMEO: But")
    assert "".join(tok.token_strings(ids)) == "ROMEO: But"
    assert tok.pad_id == 0 and tok.unk_id == 1


def test_korean_bpe_keeps_hangul_syllables_whole_and_round_trips():
    tok = SubwordTokenizer.train(KOREAN, vocab_size=200, kind="korean")
    for text in KOREAN[:3]:
        ids = tok.encode(text)
        assert tok.decode(ids) == text
        assert tok.unk_id not in ids
    pieces = tok.token_strings(tok.encode("정말 재밌어요"))
    assert "".join(pieces).strip() == "정말 재밌어요"
    assert all("\ufffd" not in p for p in pieces)  # no split UTF-8 bytes


def test_state_round_trip_gives_the_same_ids():
    for tok in (
        CharTokenizer.fit("some text", extra=["<pad>"]),
        SubwordTokenizer.train(ENGLISH, vocab_size=300),
        SubwordTokenizer.train(KOREAN, vocab_size=200, kind="korean"),
    ):
        again = tokenizer_from_state(tok.state())
        sample = "some text" if isinstance(tok, CharTokenizer) else KOREAN[0] + ENGLISH[0]
        assert again.encode(sample) == tok.encode(sample)
        assert again.vocab_size == tok.vocab_size
