"""The interpretability callbacks inside real fits, and ``litlab explain`` on checkpoints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchvision.io import write_png

from litlab.common.checkpoints import CheckpointError, load_trained
from litlab.common.cli import run as litlab
from litlab.common.explain import run_explain
from litlab.vision.data import MNISTDataModule

TOY_TEXT = {
    "model": {"class_path": "toy_text.ToyRNNClassifier"},
    "data": {"class_path": "toy_text.ToyTextDataModule"},
    "trainer": {
        "max_epochs": 2,
        "enable_progress_bar": False,
        "callbacks": [
            {"class_path": "litlab.common.callbacks.AttentionMapCallback"},
            {"class_path": "litlab.common.callbacks.TokenAttributionCallback",
             "init_args": {"num_texts": 2, "n_steps": 16}},
        ],
    },
    "test": False,
}


def _events(run: Path) -> EventAccumulator:
    acc = EventAccumulator(str(run), size_guidance={"images": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.fixture(scope="module")
def mnist_run(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-epoch mnist_cnn fit (with its GradCamCallback) on the tiny MNIST copy."""
    work = tmp_path_factory.mktemp("mnist_run")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab([
            "fit", "--config", str(REPO / "experiments" / "vision" / "mnist_cnn.yaml"),
            f"--data.root={tiny_root}", "--data.init_args.val_size=40",
            "--data.init_args.batch_size=16", "--trainer.max_epochs=2",
            "--trainer.enable_progress_bar=false",
        ])
    return work / "logs" / "vision" / "mnist_cnn" / "version_0"


@pytest.fixture(scope="module")
def text_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A toy sentiment fit with the attention-map and token-attribution callbacks."""
    work = tmp_path_factory.mktemp("text_run")
    config = work / "toy.yaml"
    config.write_text(yaml.safe_dump(TOY_TEXT))
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", "--config", str(config), "--experiment=toy/rnn"])
    return work / "logs" / "toy" / "rnn" / "version_0"


def test_gradcam_callback_logs_a_grid_per_epoch(mnist_run: Path):
    images = _events(mnist_run).Images("val/gradcam")
    assert len(images) == 2  # one per epoch
    assert images[0].width > 200 and images[0].height > 100


def test_text_callbacks_log_attention_figures_and_coloured_html(text_run: Path):
    events = _events(text_run)
    tags = events.Tags()
    assert "val/attention/pool" in tags["images"]
    assert {"val/token_attributions/0", "val/token_attributions/1"} <= set(tags["images"])
    html_tag = "val/token_attributions_html/0/text_summary"
    assert html_tag in tags["tensors"]
    html = events.Tensors(html_tag)[-1].tensor_proto.string_val[0].decode()
    assert "<span" in html and "IG delta" in html and "predicted" in html


def test_explain_writes_gradcam_pngs_and_predictions(mnist_run: Path, tiny_root, tmp_path):
    images, labels = MNISTDataModule(root=str(tiny_root), val_size=40).arrays("test")
    inputs = []
    for i in range(2):
        inputs.append(tmp_path / f"digit{i}.png")
        write_png(images[i], str(inputs[-1]))
    out = tmp_path / "out"
    status = run_explain(str(mnist_run / "checkpoints" / "best.ckpt"), list(map(str, inputs)),
                         str(out))
    assert status == 0
    assert (out / "digit0.gradcam.png").stat().st_size > 5000
    predictions = json.loads((out / "predictions.json").read_text())
    assert set(predictions) == {"digit0", "digit1"}
    # the top three are the model's own classes and probabilities for these pixels
    model, data = load_trained(mnist_run / "checkpoints" / "best.ckpt")
    with torch.no_grad():
        probs = model(data.encode_images([images[0], images[1]])).softmax(-1)
    for i in range(2):
        p, c = probs[i].topk(3)
        top = predictions[f"digit{i}"]["top"]
        assert [label for label, _ in top] == [data.classes[k] for k in c.tolist()]
        assert [q for _, q in top] == pytest.approx(p.tolist(), abs=1e-6)


def test_explain_on_text_writes_attributions_html_and_attention(text_run, tmp_path, monkeypatch):
    monkeypatch.setenv("LITLAB_TRUSTED_MODULES", "toy_text")
    reviews = tmp_path / "reviews.txt"
    reviews.write_text("the film was great\n\nthis plot is awful and dull\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run_explain(str(text_run / "checkpoints" / "best.ckpt"), [str(reviews)], str(out)) == 0
    for stem in ("reviews-0", "reviews-1"):  # one per non-empty line
        for suffix in (".attributions.png", ".attributions.html", ".attention-pool.png"):
            assert (out / f"{stem}{suffix}").exists(), stem + suffix
    page = (out / "reviews-0.attributions.html").read_text(encoding="utf-8")
    assert 'charset="utf-8"' in page and "great</span>" in page
    predictions = json.loads((out / "predictions.json").read_text())
    assert abs(predictions["reviews-1"]["ig_delta"]) < 0.1


def test_explain_skips_bad_inputs_and_keeps_the_rest(mnist_run, tiny_root, tmp_path, capsys):
    good = tmp_path / "good.png"
    write_png(torch.zeros(1, 28, 28, dtype=torch.uint8), str(good))
    corrupt = tmp_path / "corrupt.png"
    corrupt.write_bytes(b"\x89PNG not really")
    other = tmp_path / "table.csv"
    other.write_text("a,b\n")
    inputs = [str(corrupt), str(good), str(other), str(tmp_path / "missing.jpg")]
    out = tmp_path / "out"
    assert run_explain(str(mnist_run / "checkpoints" / "best.ckpt"), inputs, str(out)) == 2
    assert (out / "good.gradcam.png").exists()
    err = capsys.readouterr().err
    assert "corrupt.png: not a readable image" in err
    assert "table.csv: unknown input type" in err and "missing.jpg: no such file" in err
    # text cannot go to an image model: a clear error, not a crash
    text = tmp_path / "x.txt"
    text.write_text("a review\n")
    assert run_explain(str(mnist_run / "checkpoints" / "best.ckpt"), [str(text)], str(out)) == 2
    assert "explaining text needs a TextData" in capsys.readouterr().err


def test_checkpoint_naming_code_outside_litlab_is_refused(text_run: Path, tmp_path):
    ckpt = text_run / "checkpoints" / "best.ckpt"
    with pytest.raises(CheckpointError, match="LITLAB_TRUSTED_MODULES"):
        load_trained(ckpt)
    assert run_explain(str(ckpt), [str(tmp_path / "x.txt")], str(tmp_path)) == 2
    with pytest.raises(CheckpointError, match="not a readable"):
        bad = tmp_path / "bad.ckpt"
        bad.write_bytes(b"nope")
        load_trained(bad)


def test_a_nested_class_path_outside_litlab_is_refused_too(mnist_run: Path, tmp_path):
    """The net inside the model is rebuilt from its class path as well: check it before."""
    ckpt = torch.load(mnist_run / "checkpoints" / "best.ckpt", weights_only=True)
    ckpt["hyper_parameters"]["net"]["class_path"] = "os.system"
    bad = tmp_path / "nested.ckpt"
    torch.save(ckpt, bad)
    with pytest.raises(CheckpointError, match="'os.system'"):
        load_trained(bad)


def test_litlab_explain_console_entry(mnist_run: Path, tmp_path):
    image = tmp_path / "zero.png"
    write_png(torch.zeros(1, 28, 28, dtype=torch.uint8), str(image))
    ckpt = mnist_run / "checkpoints" / "best.ckpt"
    litlab(["explain", "--ckpt", str(ckpt), "--input", str(image), "--out", str(tmp_path / "o")])
    assert (tmp_path / "o" / "zero.gradcam.png").exists()
    with pytest.raises(SystemExit) as exit_info:
        litlab(["explain", "--ckpt", str(ckpt), "--input", "nope.png", "--out", str(tmp_path)])
    assert exit_info.value.code == 2  # a user error: the missing file is named, in one line


def test_explain_shows_whole_words_and_warns_about_another_language(
    serve_registry: Path, tmp_path, capsys
):
    """A Korean review for the English IMDB model (a checkpoint of tests/serve_models.py)."""
    run = serve_registry.parent / "imdb-bilstm"
    ckpt = next(run.glob("logs/*/*/version_0/checkpoints/best.ckpt"))
    review = tmp_path / "korean.txt"
    review.write_text("정말 재미있는 영화였어요. 배우들의 연기가 훌륭했다.\n", encoding="utf-8")
    out = tmp_path / "out"
    assert run_explain(str(ckpt), [str(review)], str(out)) == 0
    printed = capsys.readouterr().out
    said = "korean-0: warning: this model was trained on English text; the text looks Korean"
    assert said in printed
    assert "Korean" in json.loads((out / "predictions.json").read_text())["korean-0"]["warning"]
    page = (out / "korean-0.attributions.html").read_text(encoding="utf-8")
    assert "재미있는</span>" in page and "\ufffd" not in page and "litlab-warning" in page
