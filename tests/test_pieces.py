"""Readable pieces (common/pieces.py) for every kind of tokenizer, and the language warning
(common/language.py). Tiny tokenizers trained or built here; no network, no transformers."""

from __future__ import annotations

import subprocess
import sys
import unicodedata
from types import SimpleNamespace

import pytest
import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers
from toy_text import ToyTextDataModule

from litlab.common.language import language_warning, model_language, script_shares
from litlab.common.pieces import readable_pieces, text_pieces, words_and_scores
from litlab.sequence.tokenizers import CharTokenizer, SubwordTokenizer

KOREAN = "정말 재미있는 영화였어요. 배우들의 연기가 훌륭했다."
ENGLISH = ["A wonderful, moving film. The acting was great.", "A dull plot and bad actors."]
KOREAN_TRAIN = [KOREAN, "정말 별로였다. 연기가 어색했다.", "재미있는 영화 배우들의 연기"]


@pytest.fixture(scope="module")
def english_bpe() -> SubwordTokenizer:
    return SubwordTokenizer.train(ENGLISH * 20, vocab_size=300)


@pytest.fixture(scope="module")
def korean_bpe() -> SubwordTokenizer:
    return SubwordTokenizer.train(KOREAN_TRAIN * 5, vocab_size=300, kind="korean")


def wordpiece() -> SimpleNamespace:
    """A BERT-style WordPiece tokenizer with a tiny vocabulary (no sequence/wordpiece.py)."""
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "the", "film", "play", "##ing", "was", "great",
             ".", "don", "'", "t", "stop"]  # fmt: skip
    tok = Tokenizer(models.WordPiece({t: i for i, t in enumerate(vocab)}, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece()
    tok.add_special_tokens(["[PAD]", "[UNK]", "[CLS]", "[SEP]"])
    return SimpleNamespace(tok=tok, pad_id=0, unk_id=1)


def scores_for(ids: list[int]) -> list[float]:
    return [0.1 * (i % 7) - 0.25 for i in range(len(ids))]


def test_korean_through_english_byte_level_bpe_reads_as_whole_syllables(english_bpe):
    ids = english_bpe.encode(KOREAN)
    assert "\ufffd" in "".join(english_bpe.token_strings(ids))  # the wall of boxes, per token
    scores = scores_for(ids)
    pieces = readable_pieces(english_bpe, ids, scores)
    assert not any("\ufffd" in p.text for p in pieces)
    assert " ".join(p.text for p in pieces) == KOREAN
    assert "".join(p.shown for p in pieces) == KOREAN
    assert [p.text for p in pieces][:2] == ["정말", "재미있는"]
    assert sum(p.score for p in pieces) == pytest.approx(sum(scores))
    assert sorted(q for p in pieces for q in p.positions) == list(range(len(ids)))


def test_english_byte_level_words_keep_their_punctuation(english_bpe):
    text = "A wonderful, moving film."
    ids = torch.tensor(english_bpe.encode(text) + [english_bpe.pad_id] * 3)  # padded row
    scores = torch.arange(len(ids), dtype=torch.float)
    words, summed = words_and_scores(readable_pieces(english_bpe, ids, scores))
    assert words == ["A", " wonderful,", " moving", " film."]
    assert sum(summed) == pytest.approx(float(scores[: len(ids) - 3].sum()))  # padding dropped


def test_a_character_cut_by_truncation_does_not_break_the_rest(english_bpe):
    ids = english_bpe.encode(KOREAN)[:-2]  # the last syllable's bytes cut short
    pieces = readable_pieces(english_bpe, ids, scores_for(ids))
    assert [p.text for p in pieces][:5] == KOREAN.split()[:5]


def test_wordpiece_continuations_merge_and_specials_stay_apart():
    tok = wordpiece()
    ids = tok.tok.encode("the film playing. don't stop zzz").ids
    row = [2, *ids, 3, 0, 0]  # [CLS] ... [SEP] [PAD] [PAD]
    assert [tok.tok.id_to_token(i) for i in ids[2:4]] == ["play", "##ing"]
    scores = [1.0] * len(row)
    pieces = readable_pieces(tok, row, scores)
    texts = [p.text for p in pieces]
    assert texts[0] == "[CLS]" and texts[-1] == "[SEP]"
    assert [p.special for p in pieces] == [t in ("[CLS]", "[SEP]") for t in texts]
    assert "playing" in texts and next(p for p in pieces if p.text == "playing").score == 2.0
    shown = "".join(p.shown for p in pieces)
    assert shown == "[CLS] the film playing. don't stop [UNK] [SEP]"  # as the decoder writes it
    assert sum(p.score for p in pieces) == len(row) - 2  # the two [PAD] dropped


def test_uncased_berts_jamo_join_into_syllables_again():
    """Uncased BERT's normaliser decomposes 정 into three jamo (NFD), each a WordPiece."""
    jamo = [c if i == 0 else f"##{c}" for i, c in enumerate(unicodedata.normalize("NFD", "정"))]
    vocab = {t: i for i, t in enumerate(["[UNK]", *jamo])}
    tok = Tokenizer(models.WordPiece(vocab, unk_token="[UNK]"))
    tok.decoder = decoders.WordPiece()
    pieces = readable_pieces(SimpleNamespace(tok=tok), [1, 2, 3], [1.0, 1.0, 1.0])
    assert [(p.text, p.score) for p in pieces] == [("정", 3.0)]


def test_metaspace_korean_bpe_merges_words_and_shows_unknown_runs_once(korean_bpe):
    text = KOREAN + " 뷁뷁뷁"  # a syllable the tokenizer never saw
    ids = korean_bpe.encode(text)
    pieces = readable_pieces(korean_bpe, ids, scores_for(ids))
    assert [p.text for p in pieces] == [*KOREAN.split(), "<unk>"]
    assert sum(p.score for p in pieces) == pytest.approx(sum(scores_for(ids)))


def test_sentencepiece_byte_fallback_tokens_become_characters():
    """A Llama-style tokenizer.json: "▁" replaced by a space, bytes as <0xNN> tokens."""
    vocab = ["<unk>", "▁정", "<0xEB>", "<0xA7>", "<0x90>", "▁영화"]
    tok = Tokenizer(models.WordLevel({t: i for i, t in enumerate(vocab)}, unk_token="<unk>"))
    tok.decoder = decoders.Sequence(
        [decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
         decoders.Strip(" ", 1, 0)]
    )  # fmt: skip
    pieces = readable_pieces(SimpleNamespace(tok=tok, pad_id=None), [1, 2, 3, 4, 5], [1.0] * 5)
    assert [(p.text, p.score) for p in pieces] == [("정말", 4.0), ("영화", 1.0)]


def test_characters_group_into_words_and_a_space_counts_for_the_word_it_opens():
    text = "good film  indeed\n"
    tok = CharTokenizer.fit(text, extra=["<pad>"])
    ids = [*tok.encode(text), tok.pad_id]
    pieces = readable_pieces(tok, ids, [1.0] * len(ids))
    assert [(p.text, p.score) for p in pieces] == [("good", 4), ("film", 5), ("indeed", 9)]


def test_a_datamodule_without_a_tokenizer_uses_its_token_strings():
    data = ToyTextDataModule(n_train=4, n_val=4)
    batch = data.encode_texts(["the film was great"])
    pieces = text_pieces(data, batch.ids[0], torch.ones(4))
    assert [p.shown for p in pieces] == ["the", " film", " was", " great"]


# --- the language warning ------------------------------------------------------------------


def test_the_language_of_a_text_model_and_of_a_text():
    from litlab.sequence.sentiment.data import IMDBDataModule, NSMCDataModule, SST2DataModule

    assert model_language(NSMCDataModule()) == "ko"
    assert model_language(IMDBDataModule()) == model_language(SST2DataModule()) == "en"
    assert model_language(ToyTextDataModule(n_train=4, n_val=4)) is None
    assert script_shares("재미 CG") == {"HANGUL": 0.5, "LATIN": 0.5}


def test_a_text_outside_the_models_language_gets_a_warning(english_bpe, korean_bpe):
    english = SimpleNamespace(language="en", tokenizer=english_bpe)
    korean = SimpleNamespace(kind="korean", tokenizer=korean_bpe)
    others = {"imdb-bilstm": "en", "nsmc-bilstm": "ko"}
    warning = language_warning(english, KOREAN, english_bpe.encode(KOREAN), others)
    assert "English" in warning and "Korean" in warning and warning.endswith("try nsmc-bilstm")
    assert language_warning(english, ENGLISH[0], english_bpe.encode(ENGLISH[0]), others) is None
    assert language_warning(korean, KOREAN, korean_bpe.encode(KOREAN), others) is None
    assert "try imdb-bilstm" in language_warning(korean, ENGLISH[0], None, others)
    assert language_warning(english, "10/10 !!!") is None  # no letters: nothing to say
    unknown = "뷁뷁 똠똠 햏햏"  # Hangul, but not one syllable of it seen in training
    said = language_warning(korean, unknown, korean_bpe.encode(unknown))
    assert "unknown to this model's vocabulary" in said and "Korean" in said


def test_pieces_and_warnings_need_no_transformers():
    code = (
        "import sys; sys.modules['transformers'] = None  # importing it now fails\n"
        "from types import SimpleNamespace\n"
        "from tokenizers import Tokenizer, decoders, models\n"
        "from litlab.common.pieces import readable_pieces\n"
        "import litlab.common.language\n"
        "vocab = {'[UNK]': 0, 'play': 1, '##ing': 2}\n"
        "tok = Tokenizer(models.WordPiece(vocab, unk_token='[UNK]'))\n"
        "tok.decoder = decoders.WordPiece()\n"
        "pieces = readable_pieces(SimpleNamespace(tok=tok), [1, 2], [1.0, 1.0])\n"
        "assert [p.text for p in pieces] == ['playing'], pieces\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
