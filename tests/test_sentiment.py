"""Sentiment: the three DataModules on their canonical files, the tokenizer's train-only
vocabulary, packed and padded RNNs that agree, a classifier that learns, and explanations of
a checkpoint."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import REPO, SHARED_DATA, real_data
from text_data import NEG_EN, NEG_KO, POS_EN, POS_KO

from litlab.common.checkpoints import load_trained
from litlab.common.cli import run as litlab
from litlab.common.data import MissingDataError
from litlab.common.explain import run_explain
from litlab.common.protocols import TextData
from litlab.sequence.sentiment.data import (
    BucketBatchSampler,
    IMDBDataModule,
    NSMCDataModule,
    SST2DataModule,
)
from litlab.sequence.sentiment.models import BiRNNClassifier
from litlab.sequence.sentiment.module import TextClassifier

# data set -> (DataModule, raw train size, test size) of tests/text_data.py
TINY = {
    "imdb": (IMDBDataModule, 24, 24),
    "sst2": (SST2DataModule, 48, 16),
    "nsmc": (NSMCDataModule, 48, 16),
}


def tiny_dm(name: str, root: Path, **kwargs) -> L.LightningDataModule:
    dm = TINY[name][0](root=str(root), batch_size=8, vocab_size=400, **kwargs)
    dm.setup()
    return dm


@pytest.mark.parametrize("name", list(TINY))
def test_datamodule_reads_the_canonical_files_and_splits_validation_from_train(name, tiny_root):
    dm = tiny_dm(name, tiny_root)
    _, n_train, n_test = TINY[name]
    train, val, test = (dm.texts(s) for s in ("train", "val", "test"))
    assert len(train[0]) + len(val[0]) == n_train and len(test[0]) == n_test
    assert len(val[0]) == n_train // 10  # at most a tenth of a small training set
    assert set(train[1]) == {0, 1} and dm.classes == ["negative", "positive"]
    assert not any("<br" in t for t in train[0] + test[0])  # IMDB's HTML breaks are gone
    # every text holds two cue words of its own class only (tests/text_data.py): the label
    # read from the file (IMDB: the pos/neg folder) says which
    pos, neg = (set(POS_KO), set(NEG_KO)) if name == "nsmc" else (set(POS_EN), set(NEG_EN))
    for texts, labels in (train, val, test):
        for text, label in zip(texts, labels):
            words = set(text.replace(".", " ").split())
            own, other = (pos, neg) if label else (neg, pos)
            assert words & own and not words & other, (label, text)
    assert isinstance(dm, TextData)


@pytest.mark.parametrize("name", list(TINY))
def test_batches_are_padded_to_their_longest_text(name, tiny_root):
    dm = tiny_dm(name, tiny_root, max_length=12)
    (ids, lengths), labels = next(iter(dm.train_dataloader()))
    assert ids.shape == (len(labels), int(lengths.max())) and int(lengths.max()) <= 12
    for row, n in zip(ids, lengths):
        assert (row[n:] == dm.pad_id).all() and (row[:n] != dm.pad_id).all()


def test_head_tail_truncation_keeps_the_start_and_the_end(tiny_root):
    dm = tiny_dm("sst2", tiny_root, max_length=8, truncation="head_tail")
    ids = list(range(100, 120))
    assert dm._truncate(ids) == [100, 101, *range(114, 120)]


def test_bucket_sampler_yields_every_index_once_in_similar_length_batches():
    lengths = [(i * 37) % 101 for i in range(500)]
    sampler = BucketBatchSampler(lengths, batch_size=16, shuffle=True, bucket_size=4)
    batches = list(sampler)
    assert len(batches) == len(sampler)
    assert sorted(i for b in batches for i in b) == list(range(500))
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 35  # sorted chunks: about 25; random batches: about 90


def test_tokenizer_is_trained_on_the_training_split_only(tmp_path):
    rows = ["sentence\tlabel"] + [f"a good film {i}\t1" for i in range(30)]
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "train.tsv").write_text("\n".join(rows) + "\n")
    test_rows = ["sentence\tlabel"] + ["zorblaxian zorblaxian zorblaxian\t0"] * 20
    (tmp_path / "sst2" / "dev.tsv").write_text("\n".join(test_rows) + "\n")
    dm = SST2DataModule(root=str(tmp_path), vocab_size=300)
    dm.setup()
    vocab = dm.tokenizer.tok.get_vocab()
    assert "Ġgood" in vocab  # a training word is one token
    assert not any("zorbl" in piece for piece in vocab)  # a test-only word is not
    assert len(dm.encode_texts([" zorblaxian"]).ids[0]) > 2


def test_nsmc_skips_empty_documents_joins_broken_lines_and_reads_gzip(tmp_path):
    (tmp_path / "nsmc").mkdir()
    rows = ["id\tdocument\tlabel", "1\t재밌어요\t1", "2\t\t0", "3\t   \t1", "4\t별로\t0"]
    rows += ["5\t첫 줄", "둘째 줄\t1"]  # a review with a line break in it (the real data has some)
    (tmp_path / "nsmc" / "ratings_train.txt").write_text("\n".join(rows * 1) + "\n")
    with gzip.open(tmp_path / "nsmc" / "ratings_test.txt.gz", "wt", encoding="utf-8") as f:
        f.write("id\tdocument\tlabel\n5\t최고\t1\n")
    dm = NSMCDataModule(root=str(tmp_path), vocab_size=100)
    texts = dm.texts("train")[0] + dm.texts("val")[0]
    assert sorted(texts) == sorted(["재밌어요", "별로", "첫 줄 둘째 줄"])
    assert dm.skipped == {"train": 2, "test": 0}
    assert dm.texts("test") == (["최고"], [1])


def test_missing_data_names_the_expected_files(tmp_path):
    with pytest.raises(MissingDataError, match=r"nsmc/ratings_train\.txt\.gz"):
        NSMCDataModule(root=str(tmp_path)).setup()
    with pytest.raises(MissingDataError, match=r"imdb/aclImdb_50k_labeled\.tar\.gz"):
        IMDBDataModule(root=str(tmp_path)).setup()


def test_korean_text_round_trips_and_shows_word_starts(tiny_root):
    dm = tiny_dm("nsmc", tiny_root)
    text = "이 영화 정말 재밌어요 최고 강추"
    batch = dm.encode_texts([text])
    ids = batch.ids[0, : batch.lengths[0]]
    assert dm.tokenizer.decode(ids.tolist()) == text
    assert "".join(dm.token_strings(ids)).strip() == text


def test_state_dict_restores_the_tokenizer_without_the_data(tiny_root, tmp_path):
    dm = tiny_dm("nsmc", tiny_root)
    restored = NSMCDataModule(root=str(tmp_path / "nothing here"))
    restored.load_state_dict(dm.state_dict())
    text = ["배우 연기 최악 지루해요"]
    assert torch.equal(restored.encode_texts(text).ids, dm.encode_texts(text).ids)
    assert restored.pad_id == dm.pad_id == 0


def test_classifier_learns_the_tiny_task(tiny_root, in_tmp):
    L.seed_everything(0)
    dm = SST2DataModule(root=str(tiny_root), batch_size=8, vocab_size=400)
    dm.setup()
    net = BiRNNClassifier(dm.vocab_size, 2, 16, 16, dropout=0.0, embed_dropout=0.0, pack=False)
    model = TextClassifier(net, lr=1e-2, scheduler="none")
    trainer = L.Trainer(
        max_epochs=12,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(model, dm)
    scores = trainer.test(model, dm, verbose=False)[0]
    assert scores["test/acc"] >= 0.9 and scores["test/auroc"] >= 0.9
    assert float(model.val_acc_best.compute()) >= 0.75


@pytest.fixture(scope="module")
def imdb_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two epochs of the imdb_bilstm experiment (with its callbacks) on the tiny IMDB copy."""
    work = tmp_path_factory.mktemp("imdb_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(
            [
                "fit",
                "--config",
                str(REPO / "experiments" / "sequence" / "imdb_bilstm.yaml"),
                f"--data.root={tiny_root}",
                "--data.init_args.batch_size=8",
                "--data.init_args.vocab_size=500",
                "--trainer.max_epochs=2",
                "--trainer.enable_progress_bar=false",
            ]
        )
    return work / "logs" / "sequence" / "imdb_bilstm" / "version_0"


def test_explain_on_a_sentiment_checkpoint_writes_attributions(imdb_run, tmp_path):
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("A wonderful, moving film.<br />Great fun.\nboring and awful\n")
    out = tmp_path / "out"
    assert run_explain(str(imdb_run / "checkpoints" / "best.ckpt"), [str(reviews)], str(out)) == 0
    for stem in ("reviews-0", "reviews-1"):
        for suffix in (".attributions.png", ".attributions.html", ".attention-pool.png"):
            assert (out / f"{stem}{suffix}").stat().st_size > 0, stem + suffix
    page = (out / "reviews-0.attributions.html").read_text(encoding="utf-8")
    assert "wonderful,</span>" in page and "<br" not in page  # whole words, with their comma
    predictions = json.loads((out / "predictions.json").read_text())
    # each line's classes and probabilities are the model's own, likeliest first
    model, data = load_trained(imdb_run / "checkpoints" / "best.ckpt")
    lines = reviews.read_text().splitlines()
    for i, line in enumerate(lines):
        with torch.no_grad():
            probs = model(*data.encode_texts([line])).softmax(-1)[0].tolist()
        expected = sorted(zip(data.classes, probs), key=lambda cp: -cp[1])
        top = predictions[f"reviews-{i}"]["top"]
        assert [c for c, _ in top] == [c for c, _ in expected]
        assert [p for _, p in top] == pytest.approx([p for _, p in expected], abs=1e-5)


def test_checkpoint_alone_encodes_new_text(imdb_run, tiny_root, tmp_path, monkeypatch):
    monkeypatch.setenv("DATA_DIR", str(tmp_path))  # no data reachable
    model, data = load_trained(imdb_run / "checkpoints" / "best.ckpt")
    texts = ["great fun", "a dull and boring film"]
    batch = data.encode_texts(texts)
    # the tokenizer restored from the checkpoint is the one trained on the data ...
    trained_on = IMDBDataModule(root=str(tiny_root), vocab_size=500)
    trained_on.setup()
    expected = trained_on.encode_texts(texts)
    assert torch.equal(batch.ids, expected.ids) and torch.equal(batch.lengths, expected.lengths)
    for i, text in enumerate(texts):  # ... and spells the new text back
        n = int(batch.lengths[i])
        assert "".join(data.token_strings(batch.ids[i, :n])).strip() == text
    # ... and the model carries the trained weights, so these are the trained model's answers
    ckpt = torch.load(
        imdb_run / "checkpoints" / "best.ckpt", map_location="cpu", weights_only=False
    )
    weights = model.state_dict()
    assert weights.keys() == ckpt["state_dict"].keys()
    assert all(torch.equal(weights[k].cpu(), v) for k, v in ckpt["state_dict"].items())
    with torch.no_grad():
        probs = model(*batch).softmax(-1)
    assert probs.shape == (2, 2) and not torch.allclose(probs[0], probs[1])


# --- real data (skipped where shared/data is absent) ------------------------------------------


# reviews whose real label is known, by the start of their text: (split, start, label)
KNOWN = {
    "imdb": [("train", "Bromwell High is a cartoon comedy.", 1),  # train/pos/0_9.txt
             ("train", "Story of a man who has unnatural feelings for a pig.", 0),  # neg/0_3
             ("test", "I went and saw this movie last night after being coaxed", 1)],  # pos/0_10
    "sst2": [("test", "it 's a charming and often affecting journey .", 1),  # GLUE dev
             ("test", "unflinchingly bleak and desperate", 0)],
    "nsmc": [("test", "마음을 울리는 진정한 영화!", 1),  # "a true film that moves the heart!"
             ("test", "지루해서 잠듬", 0)],  # "so boring I fell asleep"
}  # fmt: skip


@pytest.mark.parametrize(
    ("name", "path", "n_test"),
    [
        ("imdb", "imdb/aclImdb_50k_labeled.tar.gz", 25_000),
        ("sst2", "sst2/train.tsv", 872),
        ("nsmc", "nsmc/ratings_train.txt.gz", 50_000 - 2),  # 2 empty reviews
    ],
)
def test_real_data_trains_a_few_batches(name, path, n_test, in_tmp):
    real_data(path)
    dm = TINY[name][0](
        root=str(SHARED_DATA), batch_size=16, vocab_size=1000, subset=600, max_length=64
    )
    raw = dm.read()
    assert len(raw.test_texts) == n_test and set(raw.train_labels) == {0, 1}
    for split, start, label in KNOWN[name]:  # 1 is positive, as dm.classes says
        texts, labels = getattr(raw, f"{split}_texts"), getattr(raw, f"{split}_labels")
        found = [y for t, y in zip(texts, labels) if t.strip().startswith(start)]
        assert found == [label], (start, found)
    assert dm.classes[1] == "positive"
    dm.read = lambda: raw  # the files are read once (extracting IMDB takes a while)
    net = BiRNNClassifier(1000, 2, 16, 16, pack=False)
    trainer = L.Trainer(
        max_steps=3,
        limit_val_batches=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
    )
    trainer.fit(TextClassifier(net), dm)
    assert trainer.global_step == 3 and dm.vocab_size <= 1000
