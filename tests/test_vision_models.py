"""Shapes, sizes and learnability of the plain networks in ``litlab.vision.models``."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from litlab.vision.models import MLP, AirbenchNet, TeachingCNN, resnet18, resnet20

# builders taking (channels, image size); the CNN gets a third stage for colour images
MODELS = {
    "mlp": lambda c, s: MLP((c, s, s), dropout=0.0),
    "cnn": lambda c, s: TeachingCNN(c, widths=(32, 64) if c == 1 else (32, 64, 128), dropout=0.0),
    "resnet20": lambda c, s: resnet20(in_channels=c),
    "resnet18": lambda c, s: resnet18(in_channels=c),
    "airbench": lambda c, s: AirbenchNet(in_channels=c),
}


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_output_shape(name: str, shape: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = MODELS[name](shape[0], shape[1])
    x = torch.randn(2, *shape)
    assert model(x).shape == (2, 10)
    model.eval()
    assert model(x).shape == (2, 10)


def test_num_classes_is_respected() -> None:
    x = torch.randn(2, 3, 32, 32)
    assert resnet20(num_classes=100)(x).shape == (2, 100)
    assert AirbenchNet(num_classes=100)(x).shape == (2, 100)
    assert TeachingCNN(3, num_classes=100)(x).shape == (2, 100)


def test_parameter_counts() -> None:
    # the published sizes: ResNet-20 0.27M (He et al. 2016), ResNet-18 11.2M (CIFAR stem)
    assert 0.26e6 <= n_params(resnet20()) <= 0.28e6
    assert 11.0e6 <= n_params(resnet18()) <= 11.3e6
    assert 1.9e6 <= n_params(AirbenchNet()) <= 2.05e6


def test_resnet_blocks_start_as_identity() -> None:
    model = resnet20()
    last_bn_scales = [m.bn2.weight for m in model.modules() if hasattr(m, "bn2")]
    assert len(last_bn_scales) == 9
    assert all(torch.all(w == 0) for w in last_bn_scales)


def correlated_images(n: int = 64) -> torch.Tensor:
    """Images with strongly correlated neighbouring pixels and channels, like photos."""
    torch.manual_seed(0)
    smooth = F.interpolate(torch.randn(n, 3, 8, 8), size=32, mode="bilinear")
    mix = torch.tensor([[1.0, 0.8, 0.6], [0.8, 1.0, 0.8], [0.6, 0.8, 1.0]])
    images = torch.einsum("dc,nchw->ndhw", mix, smooth)
    # white noise of variance 0.01 bounds every patch eigenvalue from below by ~0.01
    return images + 0.1 * torch.randn(n, 3, 32, 32)


def patch_covariance(x: torch.Tensor) -> torch.Tensor:
    """Uncentred covariance over all positions of a (N, C, H, W) map: (C, C)."""
    flat = x.permute(0, 2, 3, 1).reshape(-1, x.shape[1])
    return flat.T @ flat / len(flat)


def test_airbench_whitening_decorrelates_patches() -> None:
    images = correlated_images()
    net = AirbenchNet()
    patches = images.unfold(2, 2, 1).unfold(3, 2, 1)  # (N, 3, 31, 31, 2, 2)
    raw = patch_covariance(patches.permute(0, 1, 4, 5, 2, 3).reshape(64, 12, 31, 31))
    corr = raw / raw.diag().sqrt()[:, None] / raw.diag().sqrt()[None, :]
    assert (corr - torch.eye(12)).abs().max() > 0.9  # far from white before

    net.initialize_from_data(images)
    w = net.whiten.weight
    assert w.shape == (24, 3, 2, 2)
    assert not w.requires_grad
    torch.testing.assert_close(w[12:], -w[:12])  # the negative copies
    out = F.conv2d(images, w[:12])  # (N, 12, 31, 31): the positive half, no bias
    cov = patch_covariance(out)
    # exact result: diag(lambda / (lambda + eps)) with eps = 5e-4; the smallest eigenvalue is
    # >= ~0.01 (the added noise), so every diagonal entry is within 0.05 of 1, and the
    # off-diagonal entries are zero up to float32 rounding
    assert (cov - torch.eye(12)).abs().max() < 0.05
    assert (cov - torch.diag(cov.diag())).abs().max() < 1e-3


def test_airbench_whitening_stays_frozen_in_training() -> None:
    net = AirbenchNet()
    net.initialize_from_data(correlated_images(16))
    before = net.whiten.weight.clone()
    opt = torch.optim.SGD([p for p in net.parameters() if p.requires_grad], lr=0.1)
    loss = F.cross_entropy(net(torch.randn(4, 3, 32, 32)), torch.tensor([0, 1, 2, 3]))
    loss.backward()
    opt.step()
    assert net.whiten.weight.grad is None
    torch.testing.assert_close(net.whiten.weight, before)
    # BatchNorm scales are frozen at 1 too, only the shifts learn
    bns = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d)]
    assert bns and all(not m.weight.requires_grad and m.bias.requires_grad for m in bns)


# (lr, steps) to memorise 8 images; slowest are resnet20 (zero-initialised residual branches:
# it starts shallow; 1.28 after 10 steps at lr 0.1) and airbench (frozen BN scales, 1/9 output
# scale; 1.32 then), so they get a larger rate and more steps
OVERFIT = {"resnet20": (0.2, 20), "airbench": (1.0, 16)}


@pytest.mark.parametrize("name", MODELS)
def test_overfits_a_tiny_batch(name: str) -> None:
    """SGD on 8 fixed images must memorise them: the loss ends below 0.05 (from ln 10 = 2.3)."""
    torch.manual_seed(0)
    # 16x16 images: a quarter of the compute of 32x32, and every network accepts them
    x, y = F.avg_pool2d(correlated_images(8), 2), torch.arange(8)
    model = MODELS[name](3, 16)
    if isinstance(model, AirbenchNet):
        model.initialize_from_data(x)
    params = [p for p in model.parameters() if p.requires_grad]
    lr, steps = OVERFIT.get(name, (0.1, 10))
    opt = torch.optim.SGD(params, lr=lr, momentum=0.9)
    losses = []
    for _ in range(steps):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[0] > 2.0 and losses[-1] < 0.05, losses  # measured: 0.0005 (mlp) to 0.02
    with torch.no_grad():
        assert torch.equal(model(x).argmax(1), y)  # every image right
