"""The Lightning-free inference halves (common/inference.py): every entry of the table is a
Lightning class built on its half, no Lightning class built on a half is left out of it,
and a half loaded from a checkpoint (old class paths included) computes what the
LightningModule computes."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from conftest import REPO

from litlab.common.checkpoints import load_inference, load_trained
from litlab.common.cli import run as litlab
from litlab.common.inference import (
    DATA_HALVES,
    MODEL_HALVES,
    DataCodec,
    InferenceModule,
    device_of,
    half_of,
)

# class attributes a Lightning subclass may set although its half has them too: the state
# restores them (normalisation), or the DataModule measures what the state then keeps
FROM_STATE = {"mean", "std", "budget_ratio"}


def _class(path: str) -> type:
    module, _, name = path.rpartition(".")
    return getattr(importlib.import_module(module), name)


def _pairs() -> list[tuple[str, str, type]]:
    return [(k, v, InferenceModule) for k, v in MODEL_HALVES.items()] + [
        (k, v, DataCodec) for k, v in DATA_HALVES.items()
    ]


@pytest.mark.parametrize(("lightning_path", "half_path", "base"), _pairs())
def test_every_listed_lightning_class_is_built_on_its_half_and_changes_nothing_it_reads(
    lightning_path: str, half_path: str, base: type
):
    cls, half = _class(lightning_path), half_of(lightning_path, {**MODEL_HALVES, **DATA_HALVES})
    assert half is _class(half_path) and issubclass(half, base)
    assert issubclass(cls, half), f"{lightning_path} must inherit {half_path}"
    assert issubclass(cls, L.LightningModule if base is InferenceModule else L.LightningDataModule)
    # what the half defines (methods, properties, attributes such as language or speakers)
    # is what the Lightning class uses too, or inference would not see what training saw
    names = {n for k in half.__mro__ if k not in (object, torch.nn.Module) for n in vars(k)
             if not n.startswith("__")} - FROM_STATE  # fmt: skip
    differ = [n for n in sorted(names)
              if inspect.getattr_static(cls, n) is not inspect.getattr_static(half, n)]  # fmt: skip
    assert not differ, f"{lightning_path} redefines what its half defines: {differ}"


def _litlab_classes() -> list[type]:
    """Every class defined in litlab's packages (those pyproject.toml installs: a new domain
    is included as soon as it is listed there), serve/ and experiments/ aside: front ends."""
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    packages = [p for p in config["package-dir"] if p not in ("litlab.serve", "litlab.experiments")]
    found = []
    for package in packages:
        spec = importlib.util.find_spec(package)
        paths = list(spec.submodule_search_locations or [])
        for info in pkgutil.walk_packages(paths, f"{package}."):
            module = importlib.import_module(info.name)
            found += [c for _, c in inspect.getmembers(module, inspect.isclass)
                      if c.__module__ == module.__name__]  # fmt: skip
    return found


def test_no_lightning_class_built_on_a_half_is_missing_from_the_table():
    """A new DataModule subclass (which may set its own language or speakers) or a new
    LightningModule on a half must be listed, or inference would use its parent's half."""
    missing = []
    for cls in _litlab_classes():
        lightning = issubclass(cls, (L.LightningModule, L.LightningDataModule))
        on_a_half = issubclass(cls, (InferenceModule, DataCodec))
        abstract = cls.__name__ in ("ImageDataModule", "TextClassificationDataModule")
        path = f"{cls.__module__}.{cls.__qualname__}"
        if lightning and on_a_half and not abstract and path not in {**MODEL_HALVES, **DATA_HALVES}:
            missing.append(path)
    assert not missing, f"add to common/inference.py: {missing}"


@pytest.fixture(scope="module")
def mnist_ckpt(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("mnist_halves")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", "--config", str(REPO / "experiments/vision/mnist_cnn.yaml"),
                f"--data.root={tiny_root}", "--data.init_args.val_size=40",
                "--data.init_args.batch_size=16", "--trainer.max_epochs=1",
                "--trainer.enable_progress_bar=false", "--test=false"])  # fmt: skip
    return next(work.glob("logs/*/*/version_0/checkpoints/best.ckpt"))


def test_the_half_of_a_checkpoint_computes_what_the_lightning_module_computes(mnist_ckpt: Path):
    model, data = load_inference(mnist_ckpt)
    original, original_data = load_trained(mnist_ckpt)
    assert type(model).__name__ == "ImagePredictor" and not isinstance(model, L.LightningModule)
    assert type(data).__name__ == "ImageCodec" and not model.training
    images = [torch.randint(0, 256, (3, 40, 30), dtype=torch.uint8) for _ in range(3)]
    x = data.encode_images(images)
    assert torch.equal(x, original_data.encode_images(images))  # resized, grey, normalised
    with torch.no_grad():
        assert torch.equal(model(x), original(x))
    layers = {m: n for n, m in model.net.named_modules()}
    original_layers = {m: n for n, m in original.net.named_modules()}
    assert layers[model.gradcam_layer()] == original_layers[original.gradcam_layer()]
    assert data.classes == original_data.classes and data.state_dict() == original_data.state_dict()
    assert device_of(model) == torch.device("cpu")


def test_a_checkpoint_with_the_old_class_paths_loads_its_halves(mnist_ckpt: Path, tmp_path: Path):
    raw = torch.load(mnist_ckpt, map_location="cpu", weights_only=False)
    for key in ("hyper_parameters", "datamodule_hyper_parameters"):  # as before litlab.*
        raw[key]["_class_path"] = raw[key]["_class_path"].removeprefix("litlab.")
    raw["hyper_parameters"]["net"]["class_path"] = raw["hyper_parameters"]["net"][
        "class_path"].removeprefix("litlab.")  # fmt: skip
    old = tmp_path / "old.ckpt"
    torch.save(raw, old)
    model, data = load_inference(old)
    new_model, _ = load_inference(mnist_ckpt)
    assert type(model).__name__ == "ImagePredictor" and data.classes == list("0123456789")
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(model(x), new_model(x))


def test_a_class_without_a_half_is_loaded_through_lightning(tmp_path: Path, mnist_ckpt: Path):
    """A DataModule state missing from the checkpoint (a run older than the state): the
    DataModule is needed to work it out, so the Lightning classes are rebuilt."""
    raw = torch.load(mnist_ckpt, map_location="cpu", weights_only=False)
    del raw[raw["datamodule_hyper_parameters"]["_class_path"].rpartition(".")[2]]
    stateless = tmp_path / "stateless.ckpt"
    torch.save(raw, stateless)
    model, _ = load_inference(stateless)
    assert isinstance(model, L.LightningModule)


@pytest.mark.parametrize("channels", [1, 3, 4])
def test_images_are_prepared_as_torchvision_prepares_them(channels: int):
    """ImageCodec resizes, crops and greys with torch alone (no torchvision import at
    inference): pixel for pixel what torchvision's Resize, CenterCrop, rgb_to_grayscale give."""
    from torchvision.transforms import v2

    from litlab.vision.predict import ImageCodec

    g = torch.Generator().manual_seed(channels)
    for c, h, w in [(1, 28, 28), (3, 32, 32), (3, 28, 36)]:
        codec = ImageCodec.rebuild({}, {"classes": ["a"], "image_shape": [c, h, w],
                                        "mean": [0.5] * c, "std": [0.25] * c})  # fmt: skip
        for size in [(h, w), (480, 640), (333, 517), (17, 90), (5, 7)]:
            img = torch.randint(0, 256, (channels, *size), dtype=torch.uint8, generator=g)
            rgb = img[:3]
            if rgb.shape[0] != c:
                rgb = v2.functional.rgb_to_grayscale(rgb) if c == 1 else rgb.expand(3, -1, -1)
            expected = v2.Compose([v2.Resize(min(h, w), antialias=True), v2.CenterCrop((h, w))])(
                rgb)  # fmt: skip
            expected = (expected.float() / 255 - 0.5) / 0.25
            torch.testing.assert_close(codec.encode_images([img])[0], expected, rtol=0, atol=1e-6)
