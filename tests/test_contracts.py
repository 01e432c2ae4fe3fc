"""The model/data contract (common/protocols.py, common/contracts.py): properties never read
data, protocol checks never run properties, the data fills in what it defines, and a model
that does not fit its data is named in one sentence at the start of fit."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, write_image_folder
from jsonargparse import Namespace

from litlab.common.cli import main as litlab_main
from litlab.common.cli import run as litlab
from litlab.common.contracts import check_fit, conforms, fill_from_data, missing
from litlab.common.errors import ConfigError
from litlab.common.protocols import ClassData, LanguageData, NotReadyError, TextData, VocabData
from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.sequence.lm.dialogue import dialogue_text
from litlab.sequence.sentiment.data import IMDBDataModule
from litlab.sequence.sentiment.models import BiRNNClassifier
from litlab.sequence.sentiment.module import TextClassifier
from litlab.vision.data import CIFAR100DataModule, MNISTDataModule
from litlab.vision.models import TeachingCNN
from litlab.vision.module import ImageClassifier


class Counting:
    """Has every TextData member; reading ``pad_id`` counts (it would read the data)."""

    classes = ["a", "b"]
    reads = 0

    @property
    def pad_id(self) -> int:
        type(self).reads += 1
        raise RuntimeError("read the whole data set")

    def probe_batch(self, n, split="val"): ...
    def token_strings(self, ids): ...
    def encode_texts(self, texts): ...


def test_protocol_checks_never_run_a_property():
    obj = Counting()
    assert conforms(obj, TextData)
    assert Counting.reads == 0  # isinstance on Python 3.10/3.11 would have run it (and raised)
    del Counting.encode_texts
    try:
        assert missing(obj, TextData) == ["encode_texts"]
    finally:
        Counting.encode_texts = lambda self, texts: None


def _pythons() -> list[str]:
    """One interpreter per Python 3.10-3.13 found: pyenv's builds first, then the PATH's
    (pyenv's shims only work for the version pyenv has selected, so they are left out)."""
    found: dict[str, str] = {}
    for v in sorted(Path.home().glob(".pyenv/versions/3.1[0-3].*")):
        found.setdefault(v.name.rsplit(".", 1)[0], str(v / "bin" / "python"))
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        exe = shutil.which(f"python{minor}")
        if exe and "shims" not in exe:
            found.setdefault(minor, exe)
    return [found[m] for m in sorted(found)]


@pytest.mark.parametrize("python", _pythons() or [pytest.param(None, marks=pytest.mark.skip(
    reason="no Python 3.10-3.13 interpreter besides the venv's found"))])  # fmt: skip
def test_protocol_checks_behave_the_same_on_every_python(python: str):
    out = subprocess.run(
        [python, str(Path(__file__).with_name("protocol_check.py"))],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    # conforms finds every member without running pad_id, and names what is missing
    assert "conforms: True missing: ['probe_batch', 'token_strings']" in out, out


@pytest.mark.parametrize(
    ("make", "name"),
    [
        (lambda root: IMDBDataModule(root=root), "vocab_size"),
        (lambda root: IMDBDataModule(root=root), "pad_id"),
        (lambda root: ShakespeareDataModule(root=root), "tokenizer"),
        (lambda root: ShakespeareDataModule(root=root), "vocab_size"),
        (lambda root: MNISTDataModule(root=root), "classes"),
        (lambda root: MNISTDataModule(root=root), "image_shape"),
    ],
)
def test_data_properties_raise_before_setup_and_read_nothing(make, name, tmp_path: Path):
    dm = make(str(tmp_path / "empty"))  # no data there: any read would be a MissingDataError
    with pytest.raises(NotReadyError, match=rf"\.{name} is known after setup\(\)"):
        getattr(dm, name)
    assert getattr(dm, name, None) is None  # an AttributeError: "not there yet"
    assert not list(tmp_path.iterdir())  # nothing extracted, cached or downloaded


def test_data_members_are_found_before_setup(tmp_path: Path):
    assert conforms(IMDBDataModule(root=str(tmp_path)), TextData)
    assert conforms(IMDBDataModule(root=str(tmp_path)), VocabData)
    assert conforms(MNISTDataModule(root=str(tmp_path)), ClassData)
    assert conforms(ShakespeareDataModule(root=str(tmp_path)), LanguageData)


def _config(data: str, data_args: dict, model: str, net: str, net_args: dict) -> Namespace:
    return Namespace(
        data=Namespace(class_path=data, init_args=Namespace(**data_args)),
        model=Namespace(
            class_path=model,
            init_args=Namespace(
                num_classes=None, net=Namespace(class_path=net, init_args=Namespace(**net_args))
            ),
        ),
    )


def test_the_data_fills_in_what_it_defines(tiny_root: Path):
    cfg = _config(
        "litlab.vision.data.CIFAR100DataModule", {"batch_size": 8},
        "litlab.vision.module.ImageClassifier", "litlab.vision.models.resnet18",
        {"num_classes": 10},
    )  # fmt: skip
    assert fill_from_data(cfg) == {"num_classes": 100}
    assert cfg.model.init_args.num_classes == 100
    assert cfg.model.init_args.net.init_args.num_classes == 100
    text = _config(
        "litlab.sequence.sentiment.data.IMDBDataModule", {"vocab_size": 1234},
        "litlab.sequence.sentiment.module.TextClassifier",
        "litlab.sequence.sentiment.models.BiRNNClassifier", {"vocab_size": 8000, "num_classes": 5},
    )  # fmt: skip
    fill_from_data(text)
    assert text.model.init_args.net.init_args.vocab_size == 1234
    assert text.model.init_args.net.init_args.num_classes == 2
    text = (tiny_root / "shakespeare" / "input.txt").read_text()
    for fmt, chars in (("plain", set(text)), ("dialogue", set(dialogue_text(text)))):
        gpt = Namespace(
            data=Namespace(
                class_path="litlab.sequence.lm.data.ShakespeareDataModule",
                init_args=Namespace(root=str(tiny_root), tokenizer="char", vocab_size=2000,
                                    block_size=48, format=fmt),
            ),
            model=Namespace(
                class_path="litlab.transformer.module.GPTLanguageModel",
                init_args=Namespace(
                    net=Namespace(
                        class_path="litlab.transformer.models.GPT",
                        init_args=Namespace(config=Namespace(vocab_size=65, block_size=256)),
                    )
                ),
            ),
        )  # fmt: skip
        fill_from_data(gpt)
        config = gpt.model.init_args.net.init_args.config
        # characters: counted in the text, not the BPE size of the config
        assert (config.block_size, config.vocab_size) == (48, len(chars)), fmt
    dates = _config(
        "litlab.sequence.seq2seq.data.DateDataModule", {},
        "litlab.sequence.seq2seq.module.Seq2SeqModule", "litlab.sequence.seq2seq.models.Seq2SeqGRU",
        {"vocab_size": None, "pad_id": None},
    )  # fmt: skip
    fill_from_data(dates)
    assert dates.model.init_args.net.init_args.vocab_size == 73
    assert dates.model.init_args.net.init_args.pad_id == 69


def test_yamls_do_not_repeat_what_the_data_defines():
    for path in sorted((REPO / "experiments").glob("*/*.yaml")):
        cfg = yaml.safe_load(path.read_text())
        data = cfg.get("data", {}).get("class_path", "")
        model = cfg.get("model", {}).get("init_args", {})
        net = (model.get("net") or {}).get("init_args") or {}
        if "Classifier" in cfg.get("model", {}).get("class_path", ""):
            assert "num_classes" not in model and "num_classes" not in net, path.name
        if "sentiment" in data:
            assert "vocab_size" not in net, path.name
        if "lm.data" in data or "seq2seq.data" in data:
            config = net.get("config", {})
            assert "block_size" not in config and "vocab_size" not in config, path.name
            assert "vocab_size" not in net and "pad_id" not in net, path.name


def test_a_network_that_does_not_fit_its_data_is_named(tmp_path: Path):
    net = BiRNNClassifier(vocab_size=50, num_classes=2, embed_dim=8, hidden_size=8)
    model = TextClassifier(net)
    dm = IMDBDataModule(root=str(tmp_path))
    check_fit(model, dm)  # before setup nothing is known: nothing to compare yet
    dm.tokenizer = type("Tok", (), {"vocab_size": 80, "pad_id": 0})()
    with pytest.raises(ConfigError, match=r"built for vocab_size=50 but IMDBDataModule has "
                       r"vocab_size=80 \(it must be at most 50\)"):  # fmt: skip
        check_fit(model, dm)
    with pytest.raises(ConfigError, match=r"num_classes=7 but CIFAR100DataModule has num_classes"):
        check_fit(ImageClassifier(TeachingCNN(num_classes=7)), _ready(CIFAR100DataModule()))


def _ready(dm: CIFAR100DataModule) -> CIFAR100DataModule:
    dm.load_state_dict(
        {"classes": [str(i) for i in range(100)], "image_shape": [3, 32, 32],
         "mean": [0.5] * 3, "std": [0.25] * 3}
    )  # fmt: skip
    return dm


def test_the_module_takes_its_classes_from_the_network():
    assert ImageClassifier(TeachingCNN(num_classes=7)).num_classes == 7
    assert ImageClassifier(TeachingCNN(num_classes=7), num_classes=3).num_classes == 3


def test_litlab_fit_fills_the_classes_and_saves_them_in_config_yaml(tiny_root: Path, in_tmp):
    cli = litlab([
        "fit", "--config", str(REPO / "experiments/vision/cifar100_resnet18.yaml"),
        "--trainer.fast_dev_run=true", f"--data.root={tiny_root}",
        "--data.init_args.val_size=100", "--data.init_args.batch_size=8",
        "--trainer.callbacks=[]",
    ])  # fmt: skip
    assert cli.model.num_classes == 100 and cli.model.net.fc.out_features == 100
    assert cli.model.hparams.net["init_args"]["num_classes"] == 100  # what a checkpoint keeps


def test_litlab_fit_names_the_size_that_disagrees(tmp_path: Path, in_tmp, capsys, monkeypatch):
    write_image_folder(tmp_path)  # three classes; the folder's classes are read, not defined
    monkeypatch.setattr("sys.argv", ["litlab"])
    with pytest.raises(SystemExit) as exit_:
        litlab_main([
            "fit", "--config", str(REPO / "experiments/vision/mnist_mlp.yaml"),
            "--data", "litlab.vision.data.ImageFolderDataModule", "--data.path=images",
            f"--data.root={tmp_path}", "--data.val_size=6", "--data.batch_size=4",
            "--trainer.fast_dev_run=true", "--trainer.callbacks=[]",
        ])  # fmt: skip
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) <= 2, err
    assert "was built for num_classes=10 but ImageFolderDataModule has num_classes=3" in err[0]
