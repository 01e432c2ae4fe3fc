"""Extractive summarization: corpora, the budgeted selection, ROUGE, the baselines, the model
trained end to end on tiny BBC, and ``litlab summarize`` with its bad inputs."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from conftest import REPO
from test_command_errors import _exit_2

from litlab.common.cli import main
from litlab.common.data import MissingDataError
from litlab.common.extractive import budget_words, select, split_sentences, summarize
from litlab.sequence.summarization.corpus import bbc_article, read_bbc, read_kr50, split_articles
from litlab.sequence.summarization.extractors import (
    lead_k,
    lead_scores,
    textrank_scores,
    tfidf_vectorizer,
)
from litlab.sequence.summarization.models import HierarchicalExtractor
from litlab.sequence.summarization.rouge import Rouge, oracle

ARTICLE = (
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn. Mr. Parsons was "
    "pleased.\n\nThe firm benefited from sales of high-speed internet connections. \"Our "
    "performance was strong,\" he said. It lost 464,000 subscribers."
)


def test_sentences_split_at_ends_and_paragraphs_but_not_after_titles():
    assert split_sentences(ARTICLE) == [
        "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn.",
        "Mr. Parsons was pleased.",
        "The firm benefited from sales of high-speed internet connections.",
        '"Our performance was strong," he said.',
        "It lost 464,000 subscribers.",
    ]
    assert split_sentences("연구 결과가 나왔다. 쥐 실험에서 확인했다.") == [
        "연구 결과가 나왔다.", "쥐 실험에서 확인했다."]
    assert split_sentences("no end mark at all") == ["no end mark at all"]
    assert split_sentences("  \n\n ") == []


def test_bbc_labels_come_from_the_run_together_summary_in_its_own_order():
    summary = "The firm benefited from sales of high-speed internet connections.Quarterly " \
              "profits at US media giant TimeWarner jumped 76% to $1.13bn."
    article = bbc_article("Ad sales boost Time Warner profit\n\n" + ARTICLE, summary, "b/1", "b")
    assert article.title == "Ad sales boost Time Warner profit"
    assert article.summary == [0, 2] and article.labels() == [1, 0, 1, 0, 0]
    assert article.reference.splitlines() == [article.sentences[0], article.sentences[2]]


def test_selection_fills_the_budget_by_score_then_keeps_article_order():
    sentences = ["one two three", "four five", "six seven eight nine", "ten"]
    # budget 6 words: best is 2 (4 words), 1 (2 words) fits; 0 (3) would overflow; 3 (1) no room
    assert select([0.5, 0.6, 0.9, 0.1], sentences, 6) == [1, 2]
    assert select([0.5, 0.6, 0.9, 0.1], sentences, 7) == [1, 2, 3]
    assert select([0.9, 0.1, 0.2, 0.3], sentences, 1) == [0]  # always one sentence, even long
    assert budget_words(sentences, 0.5) == 5 and budget_words(["a"], 0.01) == 1


def test_rouge_is_one_for_the_reference_and_reads_hangul():
    en = Rouge("en")
    assert en.score(["the cat sat"], ["the cat sat"]) == {"rouge1": 1.0, "rouge2": 1.0,
                                                          "rougeL": 1.0}
    assert en.score(["a dog ran"], ["the cat sat"])["rouge1"] == 0.0
    ko = Rouge("ko")  # rouge-score's own tokenizer would drop every Hangul word
    s = ko.score(["지카바이러스가 남성의 생식능력을"], ["지카바이러스가 남성의 생식능력도"])
    assert s["rouge1"] == pytest.approx(2 / 3) and s["rouge2"] == pytest.approx(1 / 2)
    with pytest.raises(ValueError):
        en.score([], [])


def test_baselines_rank_what_they_should():
    sentences = ["Football scores were high.", "The election results are in today.",
                 "Voters chose in the election results count.", "Weather was mild."]
    assert lead_k(sentences, 3) == [0, 1, 2] and lead_scores(sentences)[0] == 0.0
    vectorizer = tfidf_vectorizer("en", sentences)
    ranks = textrank_scores(sentences, vectorizer)
    assert max(range(4), key=ranks.__getitem__) in (1, 2)  # the two similar sentences lead
    assert textrank_scores(["Only one."], vectorizer) == [1.0]
    reference = "The election results are in today."
    assert oracle(sentences, reference, 6, Rouge("en")) == [1]


def test_tiny_corpora_read_split_and_stratify(tiny_root: Path, tmp_path: Path):
    articles = read_bbc(tiny_root)
    assert len(articles) == 50 and all(a.summary for a in articles)
    train, val, test = split_articles(articles, seed=0)
    assert (len(train), len(val), len(test)) == (40, 5, 5)
    assert {a.category for a in test} == {"business", "entertainment", "politics", "sport", "tech"}
    assert [a.id for a in split_articles(articles, seed=0)[2]] == [a.id for a in test]
    assert [a.id for a in split_articles(articles, seed=1)[2]] != [a.id for a in test]
    korean = read_kr50(tiny_root)
    assert korean[0].language == "ko" and korean[0].summary == [0, 3]
    with pytest.raises(MissingDataError, match="bbc_news_summary.tar.gz"):
        read_bbc(tmp_path)


def test_extractor_scores_each_real_sentence_and_ignores_padding():
    net = HierarchicalExtractor(vocab_size=50, embed_dim=8, hidden=8, max_sentences=4)
    ids = torch.randint(1, 50, (2, 6, 5))
    lengths = torch.tensor([[5, 3, 2, 0, 0, 0], [4, 4, 4, 4, 4, 1]])
    logits = net.eval()(ids, lengths)
    assert logits.shape == (2, 6)
    ids2 = ids.clone()
    ids2[0, 3:] = 7  # garbage in the padding sentences and past each length changes nothing
    ids2[0, 1, 3:] = 9
    assert torch.allclose(net(ids2, lengths)[0, :3], logits[0, :3])


@pytest.fixture(scope="module")
def summarizer_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("sumfit")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        main(["fit", "--config", str(REPO / "experiments/sequence/bbc_extractive.yaml"),
              f"--data.root={tiny_root}",
            "--data.init_args.vocab_size=300", "--data.init_args.batch_size=8",
            "--model.init_args.net.init_args.hidden=16",
            "--model.init_args.net.init_args.embed_dim=16", "--model.init_args.lr=1e-2",
            "--trainer.max_epochs=12", "--trainer.enable_progress_bar=false"])
    return next(work.glob("logs/sequence/bbc_extractive/version_0/checkpoints/best.ckpt"))


def test_the_model_learns_tiny_bbc_beyond_lead(summarizer_ckpt: Path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run = summarizer_ckpt.parents[1]
    acc = EventAccumulator(str(run), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    assert {"val/rouge1", "val/rouge2", "val/rougeL", "test/rouge2"} <= set(acc.Tags()["scalars"])
    # the reference sentences name the topic anywhere in the article: Lead cannot find them
    assert acc.Scalars("test/rouge2")[-1].value > 0.9
    assert any("val/summary/0" in t for t in acc.Tags()["tensors"])  # the marked text
    assert any(t.startswith("val/summary/0") for t in acc.Tags()["images"])  # the score chart


def test_summarize_marks_sentences_and_notes_long_articles(summarizer_ckpt: Path):
    from litlab.common.checkpoints import load_trained

    model, data = load_trained(summarizer_ckpt)
    text = ("The profits figures rose by 12% this year. Officials declined to comment. "
            "The weather was mild.")
    result = summarize(model, data, text)
    assert result.picked and len(result.scores) == 3 and result.notes == []
    long = " ".join(f"Officials declined to comment {i}." for i in range(60))
    result = summarize(model, data, long)
    assert len(result.sentences) == 60 and max(result.picked) < 48
    assert "first 48 of 60 sentences" in result.notes[0]
    assert summarize(model, data, "Just one sentence.").picked == [0]
    with pytest.raises(ValueError, match="empty"):
        summarize(model, data, " \n ... ")


def test_litlab_summarize_prints_and_writes(summarizer_ckpt: Path, tmp_path: Path, capsys):
    article = tmp_path / "a.txt"
    article.write_text("Officials declined to comment.\n\nThe profits figures rose by 9% this "
                       "year. The weather was mild.", encoding="utf-8")
    main(["summarize", "--ckpt", str(summarizer_ckpt), "--input", str(article),
          "--out", str(tmp_path / "out")])
    out = capsys.readouterr().out
    assert out.startswith("summary:") and ">>" in out
    assert (tmp_path / "out" / "summary.json").exists()
    assert (tmp_path / "out" / "sentence_scores.png").stat().st_size > 0


def test_litlab_summarize_bad_inputs_end_in_one_line(
    summarizer_ckpt: Path, tmp_path: Path, capsys, monkeypatch
):
    empty, latin = tmp_path / "empty.txt", tmp_path / "latin.txt"
    empty.write_text("   \n", encoding="utf-8")
    latin.write_bytes("caf\xe9 au lait.".encode("latin-1"))
    base = ["summarize", "--ckpt", str(summarizer_ckpt), "--input"]
    assert "empty" in _exit_2([*base, str(empty)], capsys, monkeypatch, tmp_path)
    assert "not UTF-8" in _exit_2([*base, str(latin)], capsys, monkeypatch, tmp_path)
    assert "missing.txt" in _exit_2([*base, str(tmp_path / "missing.txt")], capsys,
                                    monkeypatch, tmp_path)
    good = tmp_path / "good.txt"
    good.write_text("The profits figures rose. The weather was mild.", encoding="utf-8")
    assert "ratio" in _exit_2([*base, str(good), "--ratio", "2"], capsys, monkeypatch, tmp_path)
