"""The model registry: versioned exports of real checkpoints, loaded back without pickles."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import REPO

from litlab.common.checkpoints import load_trained
from litlab.common.cli import run as litlab
from litlab.common.model_card import TaskKind
from litlab.common.registry import FILES, RegistryError, list_models, load, resolve
from litlab.common.registry_export import export


def _fit(work: Path, args: list[str]) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", *args, "--trainer.enable_progress_bar=false", "--test=false"])
    return next(work.glob("logs/*/*/version_0/checkpoints/best.ckpt"))


@pytest.fixture(scope="module")
def mnist_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of one epoch of mnist_cnn on the tiny MNIST copy."""
    config = REPO / "experiments" / "vision" / "mnist_cnn.yaml"
    return _fit(
        tmp_path_factory.mktemp("mnist"),
        ["--config", str(config), f"--data.root={tiny_root}", "--data.init_args.val_size=40",
         "--data.init_args.batch_size=16", "--trainer.max_epochs=1"],
    )  # fmt: skip


@pytest.fixture(scope="module")
def gpt_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of three steps of the CPU-recipe GPT (tied head) on the tiny text."""
    config = REPO / "experiments" / "transformer" / "shakespeare_char_gpt_cpu.yaml"
    return _fit(
        tmp_path_factory.mktemp("gpt"),
        ["--config", str(config), f"--data.root={tiny_root}",
         "--data.init_args.steps_per_epoch=3", "--data.init_args.val_batches=1",
         "--trainer.max_steps=3"],
    )  # fmt: skip


def test_exporting_twice_makes_v1_then_v2_and_a_bare_name_loads_the_latest(
    mnist_ckpt: Path, gpt_ckpt: Path, tmp_path: Path
):
    assert export(mnist_ckpt, "demo", tmp_path) == tmp_path / "demo" / "v1"
    assert export(gpt_ckpt, "demo", tmp_path) == tmp_path / "demo" / "v2"
    assert resolve("demo", tmp_path).name == "v2"
    # the registry loads the Lightning-free halves of GPTLanguageModel / ImageClassifier
    assert type(load("demo", tmp_path).model).__name__ == "GPTPredictor"
    assert type(load("demo@1", tmp_path).model).__name__ == "ImagePredictor"
    assert type(load("demo@v1", tmp_path).model).__name__ == "ImagePredictor"


def test_a_version_folder_holds_safetensors_and_json_and_no_pickle(
    mnist_ckpt: Path, tmp_path: Path
):
    folder = export(mnist_ckpt, "mnist-cnn", tmp_path)
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)
    assert not [p for p in tmp_path.rglob("*") if p.suffix in (".ckpt", ".pt", ".pth", ".pkl")]
    assert [p.name for p in (tmp_path / "mnist-cnn").iterdir()] == ["v1"]  # no temp folder left


def test_exported_image_classifier_gives_the_checkpoints_logits_and_classes(
    mnist_ckpt: Path, tmp_path: Path
):
    export(mnist_ckpt, "mnist-cnn", tmp_path)
    loaded = load("mnist-cnn", tmp_path)  # one record: what serve uses, config.json read once
    model, data = loaded.model, loaded.data
    assert (loaded.name, loaded.version, loaded.kind) == ("mnist-cnn", "v1", TaskKind.IMAGE)
    assert loaded.metric == list_models(tmp_path)[0]["metric"] != "-"
    assert loaded.metrics["monitor"] == "val/acc"
    original, original_data = load_trained(mnist_ckpt)
    images = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(images), original(images))
    assert not model.training
    assert data.classes == original_data.classes == [str(i) for i in range(10)]
    assert data.state_dict() == original_data.state_dict()  # normalisation too
    card = (tmp_path / "mnist-cnn" / "v1" / "card.md").read_text()
    assert "image classifier" in card and "val/acc" in card and "git commit" in card


def test_exported_gpt_gives_the_checkpoints_logits_keeps_its_head_tied_and_its_tokenizer(
    gpt_ckpt: Path, tmp_path: Path
):
    folder = export(gpt_ckpt, "shakespeare-gpt", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["init_args"]["net"]["init_args"]["config"]["n_layer"] == 4
    loaded = load("shakespeare-gpt", tmp_path)
    model, data = loaded.model, loaded.data
    assert loaded.kind == TaskKind.LM
    original, original_data = load_trained(gpt_ckpt)
    ids = torch.randint(40, (2, 24))
    with torch.no_grad():
        assert torch.equal(model(ids), original(ids))
    assert model.net.head.weight is model.net.tok_emb.weight
    with torch.no_grad():  # still one tensor: a change to the embedding moves the head
        model.net.tok_emb.weight[0, 0] += 1.0
    assert model.net.head.weight[0, 0] == model.net.tok_emb.weight[0, 0]
    text = "ROMEO: soft"
    assert data.tokenizer.encode(text) == original_data.tokenizer.encode(text)
    assert data.tokenizer.decode(data.tokenizer.encode(text)) == text
    assert list_models(tmp_path)[0]["kind"] == "language model"


@pytest.mark.parametrize("name", ["CIFAR", "a b", "../up", ".hidden", "x@1", ""])
def test_bad_names_are_refused(mnist_ckpt: Path, tmp_path: Path, name: str):
    with pytest.raises(RegistryError, match="bad model name"):
        export(mnist_ckpt, name, tmp_path)
    assert not any(tmp_path.iterdir())


def test_unknown_names_and_versions_raise_a_clear_registry_error(mnist_ckpt: Path, tmp_path: Path):
    export(mnist_ckpt, "mnist-cnn", tmp_path)
    with pytest.raises(RegistryError, match="no model named 'nope'.*known: mnist-cnn"):
        load("nope", tmp_path)
    with pytest.raises(RegistryError, match=r"no version 'v7' \(versions: v1\)"):
        load("mnist-cnn@v7", tmp_path)


@pytest.mark.parametrize("where", ["model", "net"])
def test_an_untrusted_class_path_in_config_json_is_refused(
    mnist_ckpt: Path, tmp_path: Path, where: str
):
    folder = export(mnist_ckpt, "mnist-cnn", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    spec = config["model"] if where == "model" else config["model"]["init_args"]["net"]
    spec["class_path"] = "evil.payload.Model"
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(RegistryError, match="evil.payload.Model.*outside litlab's packages"):
        load("mnist-cnn", tmp_path)


def test_corrupt_weights_raise_a_registry_error(mnist_ckpt: Path, tmp_path: Path):
    folder = export(mnist_ckpt, "mnist-cnn", tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(RegistryError, match="missing or corrupt"):
        load("mnist-cnn", tmp_path)


def test_litlab_export_and_models_on_the_command_line(
    mnist_ckpt: Path, gpt_ckpt: Path, tmp_path: Path, capsys
):
    root = str(tmp_path / "reg")
    litlab(["export", "--ckpt", str(mnist_ckpt), "--name", "mnist-cnn", "--root", root])
    litlab(["export", "--ckpt", str(mnist_ckpt), "--name", "mnist-cnn", "--root", root])
    litlab(["export", "--ckpt", str(gpt_ckpt), "--name", "gpt", "--root", root])
    out = capsys.readouterr().out.splitlines()
    assert out[-1].endswith(str(Path("reg") / "gpt" / "v1"))
    litlab(["models", "--root", root])
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["name", "versions", "latest", "kind", "metric"]
    assert table[1].split()[:3] == ["gpt", "1", "v1"] and "val/loss=" in table[1]
    assert table[2].split()[:4] == ["mnist-cnn", "2", "v2", "image"] and "val/acc=" in table[2]


def test_litlab_export_exits_2_with_one_line_on_a_user_error(
    mnist_ckpt: Path, tmp_path: Path, capsys
):
    with pytest.raises(SystemExit) as exit_:
        litlab(["export", "--ckpt", str(mnist_ckpt), "--name", "Bad Name", "--root", str(tmp_path)])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    # one line on stderr that names the name and the rule; stdout (the exported folder, for
    # scripts) stays empty, and nothing is written
    assert out == "" and err.count("\n") == 1
    assert err.startswith("litlab export: bad model name 'Bad Name': use lowercase letters")
    assert list(tmp_path.iterdir()) == []
    missing = tmp_path / "missing.ckpt"
    with pytest.raises(SystemExit) as exit_:
        litlab(["export", "--ckpt", str(missing), "--name", "x", "--root", str(tmp_path)])
    assert exit_.value.code == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"litlab export: no checkpoint at {missing}\n"


def test_a_checkpoint_older_than_the_datamodule_state_gets_it_from_the_data(
    mnist_ckpt: Path, tmp_path: Path
):
    raw = torch.load(mnist_ckpt, map_location="cpu", weights_only=False)
    state = raw.pop("MNISTDataModule")  # what checkpoints written before it lacked
    old = tmp_path / "old.ckpt"
    torch.save(raw, old)
    folder = export(old, "mnist-cnn", tmp_path / "models")
    assert json.loads((folder / "datamodule_state.json").read_text()) == state


def test_onnx_export_of_an_image_classifier_matches_pytorch(mnist_ckpt: Path, tmp_path: Path):
    import onnxruntime as ort

    folder = export(mnist_ckpt, "mnist-cnn", tmp_path, onnx=True)
    scores = json.loads((folder / "metrics.json").read_text())
    assert scores["onnx_max_abs_diff"] <= 1e-4
    assert "model.onnx" in (folder / "card.md").read_text()
    model = load("mnist-cnn", tmp_path).model
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    x = torch.rand(3, 1, 28, 28)  # a batch size the export never saw
    out = torch.from_numpy(session.run(None, {"images": x.numpy()})[0])
    with torch.no_grad():
        assert torch.allclose(out, model(x), atol=1e-4)


def test_onnx_export_refuses_a_language_model_and_leaves_nothing(gpt_ckpt: Path, tmp_path: Path):
    refusal = "ONNX export is for image classifiers, not a language model$"
    with pytest.raises(RegistryError, match=refusal):
        export(gpt_ckpt, "gpt", tmp_path, onnx=True)
    assert list_models(tmp_path) == []


def test_onnx_export_refuses_a_graph_that_does_not_match(
    mnist_ckpt: Path, tmp_path: Path, monkeypatch
):
    class Wrong:  # an onnxruntime session whose answers are off by one
        def __init__(self, path, providers):
            self.real = real(path, providers=providers)

        def run(self, names, feeds):
            return [self.real.run(names, feeds)[0] + 1.0]

    import onnxruntime as ort

    real = ort.InferenceSession
    monkeypatch.setattr(ort, "InferenceSession", Wrong)
    with pytest.raises(RegistryError, match="not kept"):
        export(mnist_ckpt, "mnist-cnn", tmp_path, onnx=True)
    assert list(tmp_path.rglob("*.onnx")) == [] and list_models(tmp_path) == []


def _old_class_paths(config):
    """What litlab wrote before the one namespace: ``vision.models.X`` for
    ``litlab.vision.models.X``."""
    if isinstance(config, dict):
        return {
            k: v.removeprefix("litlab.") if k in ("class_path", "_class_path") else
            _old_class_paths(v)
            for k, v in config.items()
        }  # fmt: skip
    return [_old_class_paths(v) for v in config] if isinstance(config, list) else config


def test_a_checkpoint_and_a_registry_entry_written_with_the_old_class_paths_still_load(
    mnist_ckpt: Path, tmp_path: Path
):
    raw = torch.load(mnist_ckpt, map_location="cpu", weights_only=False)
    raw["hyper_parameters"] = _old_class_paths(raw["hyper_parameters"])
    raw["datamodule_hyper_parameters"] = _old_class_paths(raw["datamodule_hyper_parameters"])
    assert raw["hyper_parameters"]["_class_path"] == "vision.module.ImageClassifier"
    assert raw["hyper_parameters"]["net"]["class_path"].startswith("vision.models.")
    old = tmp_path / "old.ckpt"
    torch.save(raw, old)

    new_model, _ = load_trained(mnist_ckpt)
    model, data = load_trained(old)
    x = torch.randn(3, 1, 28, 28)
    assert type(model).__module__ == "litlab.vision.module"
    assert type(data).__module__ == "litlab.vision.data" and data.classes == list("0123456789")
    torch.testing.assert_close(model(x), new_model(x), rtol=0, atol=0)

    folder = export(old, "mnist-old", tmp_path / "models")  # written with the new paths
    config = json.loads((folder / "config.json").read_text())
    assert config["model"]["init_args"]["net"]["class_path"].startswith("litlab.vision.models.")
    (folder / "config.json").write_text(json.dumps(_old_class_paths(config)))  # an old entry
    loaded = load("mnist-old", tmp_path / "models").model
    torch.testing.assert_close(loaded(x), new_model(x), rtol=0, atol=0)


@pytest.mark.parametrize("path", ["litlabx.evil.Model", "commonx.Model", "evil.litlab.Model"])
def test_the_trust_check_accepts_the_litlab_package_and_nothing_named_like_it(
    mnist_ckpt: Path, tmp_path: Path, path: str
):
    folder = export(mnist_ckpt, "mnist-cnn", tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config["model"]["init_args"]["net"]["class_path"] = path
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(RegistryError, match="outside litlab's packages"):
        load("mnist-cnn", tmp_path)
