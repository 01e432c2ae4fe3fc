"""The image data sets: CIFAR-10/100, MNIST and your own image folders, one DataModule each.

Each one only says where its files are (offline copies first, a torchvision download when
online and allowed); decoding, the validation split, the loaders and the picture-callback
protocol come from :class:`~litlab.vision.image_data.ImageDataModule` (re-exported here, so
``litlab.vision.data.ImageDataModule`` keeps working).
"""

from __future__ import annotations

from pathlib import Path

from litlab.common.data import MissingDataError, locate_dataset
from litlab.vision.image_data import IMAGENET_MEAN, IMAGENET_STD, ImageDataModule

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "CIFAR100DataModule",
    "CIFAR10DataModule",
    "ImageDataModule",
    "ImageFolderDataModule",
    "MNISTDataModule",
]


def _torchvision_download(cls_name: str):
    """A function that downloads a torchvision data set into ``root``."""

    def download(root: Path) -> None:
        import torchvision.datasets as tvd

        getattr(tvd, cls_name)(str(root), train=True, download=True)

    return download


class CIFAR10DataModule(ImageDataModule):
    """CIFAR-10: canonical pickles (downloaded when online) or the offline JPEG archive."""

    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
    known_classes = 10

    def locate(self) -> Path:
        return locate_dataset(
            self.root,
            "CIFAR-10",
            layouts=["cifar-10-batches-py", "cifar10/cifar-10-batches-py"],
            archives=["cifar-10-python.tar.gz", "cifar10/cifar-10-python.tar.gz"],
            image_archives=[
                "cifar10/cifar10_jpg.tar.gz",
                "cifar10_jpg.tar.gz",
                "cifar10/cifar10_jpg",
            ],
            download=_torchvision_download("CIFAR10"),
        )


class CIFAR100DataModule(ImageDataModule):
    """CIFAR-100 (fine labels): canonical pickles, downloaded when online."""

    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)
    known_classes = 100

    def locate(self) -> Path:
        return locate_dataset(
            self.root,
            "CIFAR-100",
            layouts=["cifar-100-python", "cifar100/cifar-100-python"],
            archives=["cifar-100-python.tar.gz", "cifar100/cifar-100-python.tar.gz"],
            download=_torchvision_download("CIFAR100"),
        )


class MNISTDataModule(ImageDataModule):
    """MNIST from torchvision's raw idx files (gzipped or not), downloaded when online."""

    mean, std = (0.1307,), (0.3081,)
    flip, pad = False, 2
    known_classes = 10

    def locate(self) -> Path:
        return locate_dataset(
            self.root,
            "MNIST",
            layouts=["MNIST/raw", "mnist/MNIST/raw"],
            download=_torchvision_download("MNIST"),
        )


class ImageFolderDataModule(ImageDataModule):
    """Your own images: ``path`` is a folder or archive of ``train/<class>/*`` and
    ``test/<class>/*`` (relative to the data root, or absolute). Statistics are measured.
    """

    def __init__(self, path: str, flip: bool = True, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path = self.root / path
        self.flip = flip

    def locate(self) -> Path:
        if not self.path.exists():
            raise MissingDataError("Image folder", self.path.parent, [self.path.name])
        return self.path

    def setup(self, stage: str | None = None) -> None:
        first = self.splits is None
        super().setup(stage)
        if first and self.hparams.normalization == "dataset":
            x = self.splits.train_images[self.train_idx].float() / 255  # (N, C, H, W)
            self.mean = tuple(x.mean(dim=(0, 2, 3)).tolist())
            self.std = tuple(x.std(dim=(0, 2, 3)).clamp_min(1e-3).tolist())
