"""AirbenchNet: the network of KellerJordan/cifar10-airbench (94 % on CIFAR-10 in seconds).

Plain PyTorch, importable as ``litlab.vision.models.AirbenchNet`` like every other network:
frozen-scale BatchNorm, Dirac-initialised convolutions, three conv groups, and a first layer
whitened from the data (``initialize_from_data``, called by ``ImageClassifier`` at fit start).
"""


import torch
import torch.nn.functional as F
from torch import Tensor, nn


class AirbenchBatchNorm(nn.BatchNorm2d):
    """BatchNorm as airbench uses it: scale frozen at 1, only the shift is learned."""

    def __init__(self, num_features: int, momentum: float = 0.6) -> None:
        # PyTorch's momentum is the weight of the *new* batch statistics: 1 - airbench's
        super().__init__(num_features, eps=1e-12, momentum=1 - momentum)
        # a scale before a conv is redundant (the conv's weights can absorb it): fixing it
        # at 1 removes that redundancy and a few parameters from the optimiser's work
        self.weight.requires_grad = False


class AirbenchConv(nn.Conv2d):
    """3x3 'same' conv without bias, whose first filters start as the identity (Dirac)."""

    def __init__(self, c_in: int, c_out: int) -> None:
        super().__init__(c_in, c_out, kernel_size=3, padding="same", bias=False)
        # identity init of the first c_in filters: an implicit residual connection at start
        torch.nn.init.dirac_(self.weight.data[:c_in])


class ConvGroup(nn.Module):
    """conv3x3 -> MaxPool2d(2) -> BN -> GELU -> conv3x3 -> BN -> GELU."""

    def __init__(self, c_in: int, c_out: int, momentum: float) -> None:
        super().__init__()
        self.conv1 = AirbenchConv(c_in, c_out)
        self.pool = nn.MaxPool2d(2)  # pooling before BN/GELU: 4x less work for them
        self.norm1 = AirbenchBatchNorm(c_out, momentum)
        self.conv2 = AirbenchConv(c_out, c_out)
        self.norm2 = AirbenchBatchNorm(c_out, momentum)

    def forward(self, x: Tensor) -> Tensor:
        x = self.pool(self.conv1(x))  # (B, C_out, H/2, W/2)
        x = F.gelu(self.norm1(x))
        return F.gelu(self.norm2(self.conv2(x)))  # (B, C_out, H/2, W/2)


class AirbenchNet(nn.Module):
    """The airbench94 network (KellerJordan/cifar10-airbench): ~2M params, 94% CIFAR-10.

    Its recipe (Nesterov SGD, label smoothing, lookahead-EMA, flip+translate, TTA) reaches 94%
    in ~10 epochs; the network's own tricks are named in comments where they happen. Layout:
    a frozen 2x2 *whitening* conv + GELU (32 -> 31 px), three ``ConvGroup``s (31 -> 15 -> 7 -> 3),
    global max-pool, a bias-free Linear, and a fixed output scale.

    Call ``initialize_from_data`` once with training images before training: ``ImageClassifier``
    does so at fit start for any network that defines the method.
    """

    def __init__(
        self,
        num_classes: int = 10,
        widths: tuple[int, int, int] = (64, 256, 256),
        batchnorm_momentum: float = 0.6,
        scaling: float = 1 / 9,
        in_channels: int = 3,
        whiten_kernel: int = 2,
    ) -> None:
        super().__init__()
        # 2 * (C * k * k) filters: one per patch eigenvector, and its negative (see below)
        whiten_width = 2 * in_channels * whiten_kernel**2
        self.whiten = nn.Conv2d(in_channels, whiten_width, whiten_kernel, padding=0, bias=True)
        # frozen from the start, so an optimiser built before initialize_from_data agrees;
        # its bias stays trainable (airbench trains it for the first epochs only)
        self.whiten.weight.requires_grad = False
        nn.init.zeros_(self.whiten.bias)
        groups = []
        c = whiten_width
        for w in widths:
            groups.append(ConvGroup(c, w, batchnorm_momentum))
            c = w
        self.groups = nn.Sequential(*groups)
        self.head = nn.Linear(c, num_classes, bias=False)
        # small logits at init (1/9 of the Linear's): the softmax starts near uniform and the
        # early gradients are not dominated by a few confident mistakes
        self.scaling = scaling

    @torch.no_grad()
    def initialize_from_data(self, images: Tensor, eps: float = 5e-4) -> None:
        """Set the whitening filters from the patch statistics of (normalised) ``images``.

        Whitening decorrelates the pixels of each 2x2 patch and gives every direction unit
        variance, so the first trainable layer sees well-conditioned inputs and learns fast.
        With ``Sigma = V diag(lambda) V^T`` the (uncentred) covariance of all 2x2 patches, the
        filters are ``V / sqrt(lambda + eps)`` and their negatives: GELU then passes both signs.
        ``images``: (N, C, H, W); airbench uses 5000 training images.
        """
        k = self.whiten.kernel_size
        c = images.shape[1]
        # every k x k patch at stride 1, exactly the windows the conv will see
        patches = images.float().unfold(2, k[0], 1).unfold(3, k[1], 1)  # (N, C, H', W', k, k)
        patches = patches.permute(0, 2, 3, 1, 4, 5).reshape(-1, c * k[0] * k[1])  # (P, C*k*k)
        cov = patches.T @ patches / len(patches)  # (C*k*k, C*k*k)
        eigenvalues, eigenvectors = torch.linalg.eigh(cov)  # ascending
        eigenvalues, eigenvectors = eigenvalues.flip(0), eigenvectors.T.flip(0)  # rows, largest 1st
        filters = eigenvectors / torch.sqrt(eigenvalues + eps)[:, None]  # (C*k*k, C*k*k)
        filters = filters.reshape(-1, c, k[0], k[1])  # (C*k*k, C, k, k)
        self.whiten.weight.copy_(torch.cat([filters, -filters]))
        self.whiten.weight.requires_grad = False

    def forward(self, x: Tensor) -> Tensor:
        x = F.gelu(self.whiten(x))  # (B, 24, 31, 31) for CIFAR
        x = self.groups(x)  # (B, 64, 15, 15) -> (B, 256, 7, 7) -> (B, 256, 3, 3)
        # global max-pool: "is this feature anywhere in the image?"
        x = F.adaptive_max_pool2d(x, 1).flatten(1)  # (B, 256)
        return self.head(x) * self.scaling  # (B, num_classes)

    def gradcam_layer(self) -> nn.Module:
        """The last group's first conv, before its pool: 7x7 maps on CIFAR rather than 3x3."""
        return self.groups[-1].conv1
