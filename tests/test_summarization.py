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
    counts = tfidf_vectorizer("en", sentences, idf=False)  # textrank_tf: plain term counts
    row = counts.transform(["The election results results."]).toarray()[0]
    assert sorted(row[row > 0].round(4)) == pytest.approx([1 / 5**0.5, 2 / 5**0.5], abs=1e-4)
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
            # the 5 tiny validation articles' ROUGE-2 cannot pass 0.855 (the budget cuts
            # two summaries) and reaches that within two epochs, so it cannot tell a
            # trained epoch from an early one; their loss can
            "--checkpoint.monitor=val/loss", "--checkpoint.mode=min",
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


def test_the_word_graph_is_textrank_on_whole_words_at_initialisation():
    """Pieces join into lower-cased words ("ĠProf"+"its" = "prof"+"its" at a sentence start
    too, punctuation apart), stop words drop out, and with every word weight at 1 the ranks
    are networkx's PageRank of the sentences' word-count cosine graph; padding takes no part."""
    import networkx as nx
    import numpy as np

    from litlab.sequence.summarization.graph import WordGraph

    pieces = ["<pad>", "\u0120the", "\u0120Prof", "its", "\u0120rose", ",", "\u0120sales",
              "The", "Prof", "\u0120fell", "\u0120oil", "\u0120prices", "\u0120the"]
    graph = WordGraph(vocab_size=len(pieces), buckets=1 << 12)
    graph.learn_lexicon(pieces, stop_words=[[1], [7]])  # "the", as inside and at the start
    docs = [[7, 2, 3, 4, 5, 6, 4],   # The Profits rose, sales rose
            [8, 3, 9, 5, 1, 10],     # Profits fell, the oil
            [10, 11, 4, 0, 0, 0],    # oil prices rose
            [6, 9, 5, 11, 12, 0]]    # sales fell, prices the
    ids = torch.tensor([[d + [0] * (7 - len(d)) for d in docs] + [[0] * 7]])
    lengths = torch.tensor([[7, 6, 3, 5, 0]])
    words = [["profits", "rose", "sales", "rose"], ["profits", "fell", "oil"],
             ["oil", "prices", "rose"], ["sales", "fell", "prices"]]
    vocab = sorted({w for s in words for w in s})
    counts = np.array([[s.count(w) for w in vocab] for s in words], dtype=float)
    assert np.allclose(graph.bags(ids, lengths)[0, :4].sum(-1).detach().numpy(), counts.sum(1))
    unit = counts / np.linalg.norm(counts, axis=1, keepdims=True)
    sim = unit @ unit.T
    np.fill_diagonal(sim, 0)
    ranks = nx.pagerank(nx.from_numpy_array(sim), weight="weight")
    out = graph.pagerank(graph.bags(ids, lengths), lengths > 0, steps=100)
    expected = torch.tensor([ranks[i] * 4 for i in range(4)], dtype=torch.float)
    assert torch.allclose(out[0, :4, 0], expected, atol=1e-4)
    assert out[0, 4].abs().sum() == 0


def test_an_untrained_extractor_ranks_sentences_as_its_word_graph():
    """The MLP's last layer starts at zero: before training the logits order the sentences
    exactly as the graph's PageRank does (training starts from TextRank's answer)."""
    net = HierarchicalExtractor(vocab_size=13, embed_dim=8, hidden=8).eval()
    pieces = ["<pad>", "\u0120the", "\u0120a", "\u0120b", "\u0120c", "\u0120d", "\u0120e",
              "\u0120f", "\u0120g", "\u0120h", "\u0120i", "\u0120j", "\u0120k"]
    net.learn_lexicon(pieces, [[1]])
    ids = torch.tensor([[[2, 3, 4, 0], [3, 4, 5, 6], [7, 2, 3, 0], [8, 9, 10, 11], [4, 3, 2, 12]]])
    lengths = torch.tensor([[3, 4, 3, 4, 4]])
    with torch.no_grad():
        logits, ranks = net(ids, lengths)[0], net.graph(ids, lengths)[0, :, 0]
    assert torch.equal(logits.argsort(descending=True), ranks.argsort(descending=True))


def test_model_rows_come_from_the_newest_run_else_stay_as_they_were(summarizer_ckpt: Path):
    """`litlab baseline --dataset bbc` reads the models' test ROUGE from logs/; a model whose
    runs are not in this checkout (a fresh clone) keeps its earlier row instead of vanishing."""
    from litlab.experiments.summary_baselines import model_rows

    earlier = [{"dataset": "bbc", "method": "bbc_extractive", "rouge1": 0.5, "rouge2": 0.4,
                "rougeL": 0.5, "run": "gone"},
               {"dataset": "bbc_headline", "method": "bbc_headline", "rouge1": 0.18,
                "rouge2": 0.07, "rougeL": 0.17, "run": "gone"}]
    logs = summarizer_ckpt.parents[4]  # logs/sequence/bbc_extractive/version_0/checkpoints
    rows = {r["method"]: r for r in model_rows(logs, earlier)}
    assert rows["bbc_headline"] == earlier[1]
    assert rows["bbc_extractive"]["run"].endswith("version_0")
    assert rows["bbc_extractive"]["rouge2"] > 0.9
    assert model_rows(logs / "nowhere") == []
