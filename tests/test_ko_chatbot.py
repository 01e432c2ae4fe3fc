"""The Korean chatbot (issue 14): answer-only loss, the split, packing, the retrieval bot,
the metrics, ``litlab chat`` / ``litlab chat-eval`` in Hangul, and bad chat input."""

from __future__ import annotations

import io
import json
import math
import os
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from litlab.common.chat import ChatSession, UnreadableMessage
from litlab.common.chat import main as chat
from litlab.common.cli import run as litlab
from litlab.common.language_model import counted
from litlab.sequence.chat.data import BOT, USER, KoreanChatDataModule
from litlab.sequence.chat.metrics import chrf, distinct_n, reply_scores
from litlab.sequence.chat.pairs import (
    IGNORE,
    QAPair,
    encode_pair,
    pack,
    read_chatbot_csv,
    split_pairs,
    to_inputs_targets,
)
from litlab.sequence.chat.retrieval import RetrievalBot
from litlab.sequence.tokenizers import SubwordTokenizer
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel

REPO = Path(__file__).resolve().parents[1]
PAIRS = [
    QAPair("오늘 너무 힘들어", "푹 쉬세요.", 1),
    QAPair("배고파", "맛있게 드세요.", 0),
    QAPair("여행 가고 싶다", "여행은 언제나 좋죠.", 0),
    QAPair("좋아하는 사람이 생겼어", "설레겠어요.", 2),
]


@pytest.fixture(scope="module")
def tokenizer() -> SubwordTokenizer:
    texts = [f"{USER}: {p.question}\n{BOT}: {p.answer}\n" for p in PAIRS] * 3
    return SubwordTokenizer.train(texts, 200, kind="korean", min_frequency=1)


# --- the answer-only loss -------------------------------------------------------------------


def test_the_mask_covers_the_answer_and_its_newline_but_not_the_question_or_tag(tokenizer):
    ex = encode_pair(tokenizer, PAIRS[0], USER, BOT)
    answer = [i for i, m in zip(ex.ids, ex.answer_mask) if m]
    given = [i for i, m in zip(ex.ids, ex.answer_mask) if not m]
    assert tokenizer.decode(answer) == "푹 쉬세요.\n"  # the newline ends the reply
    assert tokenizer.decode(given) == f"{USER}: 오늘 너무 힘들어\n {BOT}:"
    assert ex.answer_mask == sorted(ex.answer_mask)  # given tokens first, then the answer


def test_targets_are_ignored_everywhere_but_on_answer_tokens(tokenizer):
    exs = [encode_pair(tokenizer, p, USER, BOT) for p in PAIRS[:2]]
    x, y = to_inputs_targets(exs, tokenizer.pad_id)
    for row, ex in enumerate(exs):
        kept = y[row][y[row] != IGNORE].tolist()
        assert kept == [i for i, m in zip(ex.ids, ex.answer_mask) if m]
    assert x.shape == y.shape and counted(y) == sum(sum(e.answer_mask) for e in exs)


def test_the_loss_is_the_cross_entropy_of_answer_tokens_alone(tokenizer):
    torch.manual_seed(0)
    model = GPTLanguageModel(GPT(GPTConfig(tokenizer.vocab_size, 64, 1, 2, 16, 0.0)))
    x, y = to_inputs_targets([encode_pair(tokenizer, PAIRS[0], USER, BOT)], tokenizer.pad_id)
    logits = model(x)[0]  # (T, V)
    answer = y[0] != IGNORE
    expected = F.cross_entropy(logits[answer], y[0][answer])
    assert torch.allclose(model.loss(x, y), expected)
    y_other = y.clone()
    y_other[0, ~answer] = (y_other[0, ~answer] + 5) % tokenizer.vocab_size  # question targets
    assert not torch.allclose(model.loss(x, y_other), expected)  # ... would have counted


def test_val_loss_is_averaged_over_answer_tokens_not_batches(tokenizer):
    torch.manual_seed(0)
    model = GPTLanguageModel(GPT(GPTConfig(tokenizer.vocab_size, 64, 1, 2, 16, 0.0))).eval()
    batches = [
        to_inputs_targets([encode_pair(tokenizer, p, USER, BOT) for p in ps], tokenizer.pad_id)
        for ps in (PAIRS[:1], PAIRS[1:])
    ]
    with torch.no_grad():
        for i, b in enumerate(batches):
            model.validation_step(b, i)
        losses = [float(model.loss(*b)) for b in batches]
    n = [counted(b[1]) for b in batches]
    assert n[0] != n[1]
    weighted = (losses[0] * n[0] + losses[1] * n[1]) / sum(n)
    assert math.isclose(float(model.val_loss.compute()), weighted, rel_tol=1e-5)
    assert not math.isclose(weighted, sum(losses) / 2, rel_tol=1e-4)


# --- data -----------------------------------------------------------------------------------


def test_the_split_is_seeded_by_question_and_repeats_exactly():
    pairs = [QAPair(f"질문 {i % 40}", f"답 {i}", 0) for i in range(100)]  # questions repeat
    a, b = split_pairs(pairs, 0.1, 0.2, seed=0), split_pairs(pairs, 0.1, 0.2, seed=0)
    assert a == b and split_pairs(pairs, 0.1, 0.2, seed=1) != a
    questions = {s: {p.question for p in ps} for s, ps in a.items()}
    assert not questions["train"] & questions["test"] and not questions["val"] & questions["test"]
    assert (len(questions["val"]), len(questions["test"])) == (4, 8)
    assert sum(len(ps) for ps in a.values()) == 100


def test_the_csv_reader_strips_labels_and_skips_empty_rows(tmp_path: Path):
    path = tmp_path / "ChatbotData.csv"
    path.write_text('Q,A,label\n배고파,"맛있게, 드세요.","2   "\n,빈 질문,0\n잘 자,잘 자요.,1\n')
    assert read_chatbot_csv(path) == [
        QAPair("배고파", "맛있게, 드세요.", 2),
        QAPair("잘 자", "잘 자요.", 1),
    ]


def test_packing_keeps_whole_pairs_and_masks_the_padding(tokenizer):
    exs = [encode_pair(tokenizer, p, USER, BOT) for p in PAIRS * 3]
    length = max(len(e.ids) for e in exs) * 2 + 1
    packed = pack(exs, length, tokenizer.pad_id)
    assert all(len(p.ids) == length for p in packed)
    assert sum(sum(p.answer_mask) for p in packed) == sum(sum(e.answer_mask) for e in exs)
    text = "".join(tokenizer.decode(p.ids) for p in packed)
    assert text.count(f"{USER}:") == len(exs)  # no pair is cut in two
    for p in packed:  # padding is never a target
        pads = [i for i, t in enumerate(p.ids) if t == tokenizer.pad_id]
        assert not any(p.answer_mask[i] for i in pads)


def test_the_data_module_reads_the_tiny_csv_and_gives_defaults_for_chat(tiny_root: Path):
    dm = KoreanChatDataModule(root=str(tiny_root), block_size=32, batch_size=4)
    dm.setup()
    assert sum(len(dm.pairs(s)) for s in ("train", "val", "test")) == 60
    assert dm.default_speakers == ("사용자", "챗봇") and dm.turn_boundary == "\n"
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == (4, 32) and 0 < counted(y) < y.numel()
    assert dm.tokenizer.decode(x[0].tolist()).startswith(f"{USER}:")
    restored = KoreanChatDataModule(root=str(tiny_root))
    restored.load_state_dict(dm.state_dict())
    assert restored.tokenizer.encode("배고파") == dm.tokenizer.encode("배고파")


# --- baseline and metrics -------------------------------------------------------------------


def test_the_retrieval_bot_answers_with_the_nearest_training_question():
    bot = RetrievalBot([p.question for p in PAIRS], [p.answer for p in PAIRS])
    assert bot.reply("요즘 너무 힘들어요") == "푹 쉬세요."  # shares 너무 and 힘들어
    assert bot.replies(["배고프다", "여행 가고 싶어"]) == ["맛있게 드세요.", "여행은 언제나 좋죠."]


def test_chrf_is_100_for_the_reference_and_falls_with_overlap():
    refs = ["푹 쉬세요.", "맛있게 드세요."]
    assert chrf(refs, refs) == pytest.approx(100.0)
    close = chrf(["푹 쉬어요.", "맛있게 먹어요."], refs)
    assert chrf(["안녕", "뭐해"], refs) == 0 < close < 100  # no shared character: 0


def test_distinct_n_counts_unique_word_ngrams():
    replies = ["좋은 생각 이에요", "좋은 생각 이에요", "좋은 아침"]
    assert distinct_n(replies, 1) == pytest.approx(4 / 8)
    assert distinct_n(replies, 2) == pytest.approx(3 / 5)
    assert distinct_n([], 2) == 0.0
    assert reply_scores(["a b"], ["a b"])["mean_chars"] == 3


# --- litlab chat and chat-eval on a trained tiny model ---------------------------------------

GPT_ARGS = "--model.init_args.net.init_args.config"


@pytest.fixture(scope="module")
def ko_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of a short fit of ko_chatbot_gpt.yaml, made tiny, on the tiny chat pairs."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("kochat"))
    try:
        litlab(
            ["fit", "--config", str(REPO / "experiments" / "transformer" / "ko_chatbot_gpt.yaml"),
             f"--data.root={tiny_root}", "--data.init_args.batch_size=8",
             "--data.init_args.block_size=32", "--data.init_args.vocab_size=300",
             f"{GPT_ARGS}.n_layer=1", f"{GPT_ARGS}.n_embd=32", "--model.init_args.lr=0.01",
             "--model.init_args.warmup_steps=5", "--trainer.max_steps=60",
             "--trainer.max_epochs=-1", "--trainer.callbacks=[]",
             "--trainer.enable_progress_bar=false", "--test=false"]
        )  # fmt: skip
        return next(Path.cwd().glob("logs/transformer/ko_chatbot_gpt/*/checkpoints/best.ckpt"))
    finally:
        os.chdir(cwd)


def _hangul(text: str) -> bool:
    return any("\uac00" <= ch <= "\ud7a3" for ch in text)


def test_litlab_chat_talks_in_hangul_under_the_datas_speaker_names(
    ko_checkpoint: Path, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "stdin", io.StringIO("배고파 진짜\n오늘 너무 힘들어\nquit\n"))
    assert chat(["--ckpt", str(ko_checkpoint), "--temperature", "0"]) == 0  # no --user/--bot
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "Talking with 챗봇. Leave with 'quit', Ctrl-D or Ctrl-C."
    assert lines[1] == "사용자> 배고파 진짜"
    assert lines[2].startswith("챗봇: ") and _hangul(lines[2][4:])
    assert lines[4].startswith("챗봇: ") and lines[-1] == "사용자> quit"


def test_a_korean_session_keeps_the_conversation_within_the_block(ko_checkpoint: Path):
    from litlab.common.checkpoints import load_trained

    model, data = load_trained(ko_checkpoint)
    session = ChatSession(model, data, max_new_tokens=20, temperature=0)
    for _ in range(6):
        session.reply("오늘 너무 힘들어 정말 정말 정말")
    ids = session.prompt_ids(session.history + [(session.user, "배고파")])
    assert len(session.history) == 12 and len(ids) <= model.block_size
    assert data.tokenizer.decode(ids).endswith("사용자: 배고파\n 챗봇:")


@pytest.mark.parametrize("line", ["\U0001f600\U0001f600", "   ", "\u0436\u0437"])
def test_litlab_chat_ends_with_one_line_for_a_message_it_cannot_read(
    ko_checkpoint: Path, monkeypatch, capsys, line: str
):
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{line}\n배고파\n"))
    assert chat(["--ckpt", str(ko_checkpoint)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("litlab chat: error: the message")


def test_chat_session_refuses_unreadable_messages_but_keeps_the_readable_part(
    ko_checkpoint: Path,
):
    from litlab.common.checkpoints import load_trained

    session = ChatSession(*load_trained(ko_checkpoint), max_new_tokens=5)
    with pytest.raises(UnreadableMessage, match="no character this model knows"):
        session.user_turn("\U0001f600")
    assert session.user_turn("배고파 \U0001f600") == "배고파 " and session.dropped == ["\U0001f600"]


def test_litlab_chat_eval_scores_models_and_the_retrieval_bot_alike(
    ko_checkpoint: Path, tmp_path: Path, tiny_root: Path, capsys
):
    out = tmp_path / "eval.json"
    args = ["chat-eval", "--ckpt", str(ko_checkpoint), "--ckpt", str(ko_checkpoint),
            "--name", "a", "--name", "b", "--samples", "3", "--data-root", str(tiny_root),
            "--max-new-tokens", "20", "--out", str(out)]  # fmt: skip
    litlab(args)
    result = json.loads(out.read_text())
    rows = result["rows"]
    assert set(rows) == {"a", "b", "retrieval (TF-IDF char 1-3-grams)"} and result["pairs"] == 6
    assert rows["a"] == {**rows["b"], "seconds": rows["a"]["seconds"]}  # greedy: repeatable
    assert 0 <= rows["a"]["chrf"] <= 100 and rows["a"]["answer_ppl"] > 1
    assert "answer_loss" not in rows["retrieval (TF-IDF char 1-3-grams)"]
    assert len(result["exchanges"]) == 3 and "| a |" in capsys.readouterr().out
    litlab(args)  # the same questions and samples again: fixed by the seed
    assert json.loads(out.read_text())["exchanges"] == result["exchanges"]


# --- NSMC pretraining -> Q/A fine-tuning ----------------------------------------------------


def test_the_nsmc_pretrained_gpt_warm_starts_the_chatbot_with_the_same_tokenizer(
    tiny_root: Path, in_tmp: Path
):
    from litlab.common.errors import ConfigError

    tiny = [f"--data.root={tiny_root}", "--data.init_args.batch_size=8",
            "--data.init_args.block_size=32", "--data.init_args.vocab_size=300",
            f"{GPT_ARGS}.n_layer=1", f"{GPT_ARGS}.n_embd=32", "--trainer.max_steps=2",
            "--trainer.callbacks=[]", "--trainer.enable_progress_bar=false",
            "--test=false"]  # fmt: skip
    configs = REPO / "experiments" / "transformer"
    pre_yaml = str(configs / "ko_chatbot_pretrain.yaml")
    pre = litlab(["fit", "--config", pre_yaml, *tiny, "--data.init_args.steps_per_epoch=2"])
    fine = litlab(["fit", "--config", str(configs / "ko_chatbot_finetune.yaml"), *tiny])
    report = fine.model.warm_start
    assert report is not None and not report.not_loaded  # every tensor of the net carried over
    assert fine.datamodule.tokenizer.state() == pre.datamodule.tokenizer.state()
    with pytest.raises(ConfigError, match="tokenizer differs"):  # another vocabulary: refused
        litlab(["fit", "--config", str(configs / "ko_chatbot_finetune.yaml"), *tiny,
                "--data.init_args.tokenizer_corpus=chat"])  # fmt: skip


# --- the English twin -----------------------------------------------------------------------


def test_the_english_twin_reads_consecutive_turns_of_the_chatterbot_corpus():
    pytest.importorskip("chatterbot_corpus", reason="the [chat] extra is not installed")
    from litlab.sequence.chat.english import EnglishChatDataModule, chatterbot_pairs

    pairs = chatterbot_pairs()
    assert len(pairs) > 2000 and ("Hello", "Hi") in {(p.question, p.answer) for p in pairs}
    dm = EnglishChatDataModule(vocab_size=500, block_size=64, batch_size=4)
    dm.setup()
    assert dm.default_speakers == ("YOU", "BOT") and dm.language == "en"
    x, y = next(iter(dm.train_dataloader()))
    assert dm.tokenizer.decode(x[0].tolist()).startswith("YOU: ") and 0 < counted(y) < y.numel()
    test_q = {p.question for p in dm.pairs("test")}
    assert not test_q & {p.question for p in dm.pairs("train")}
