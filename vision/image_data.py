"""ImageDataModule: the machinery every image-classification DataModule shares.

It holds the decoded data set as uint8 tensors (see ``litlab.vision.datasets``) and offers
three loaders:

- ``loader="tensor"`` (default): each batch of uint8 images is gathered from memory in one
  indexing operation, moved to the device by Lightning, then flipped, translated and
  normalised there in ``on_after_batch_transfer``. No worker processes.
- ``loader="device"``: the whole uint8 data set is copied to the device once (CIFAR-10: 150
  MB) and a batch travels as its indices (``IndexBatch``), gathered there: airbench's
  loader. Per step the host only draws the order and sends 512 numbers; nothing waits.
- ``loader="workers"``: the classic torchvision route, transforms v2 applied per image in
  DataLoader worker processes.

``tensor`` and ``device`` draw the same order from the same generator as a
``DataLoader(shuffle=True)`` over the images, so a run gets the same batches with either.

Validation is split from the training set (``val_size`` images, fixed by ``seed``); the test
set is only used by ``litlab test``. The picture callbacks get their fixed images through
:meth:`ImageDataModule.probe_batch` and :meth:`ImageDataModule.denormalize`. The data sets
themselves (where their files are) are in ``litlab.vision.data``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, NamedTuple

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from litlab.common.data import SplitLoaders, resolve_data_root
from litlab.common.errors import ConfigError, check_positive
from litlab.common.resume import ResumableDataLoader
from litlab.vision import augment
from litlab.vision.datasets import ImageSplits, read_image_source
from litlab.vision.predict import ImageCodec

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class IndexBatch(NamedTuple):
    """A batch of the ``device`` loader: which images of which split, gathered on the device
    in ``on_after_batch_transfer``. ``index``: (B,) long."""

    split: str
    index: Tensor


class _Batches(Dataset):
    """uint8 images and labels served a whole batch at a time: the DataLoader hands
    ``__getitems__`` the batch's indices (no Python call per image). ``split`` set: the batch
    is only its indices (the ``device`` loader)."""

    def __init__(self, images: Tensor, labels: Tensor, split: str | None = None) -> None:
        self.images, self.labels, self.split = images, labels, split

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.images[i], self.labels[i]

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, Tensor] | IndexBatch:
        idx = torch.tensor(indices)
        if self.split is not None:
            return IndexBatch(self.split, idx)
        return self.images[idx], self.labels[idx]  # (B, C, H, W), (B,)


def _as_is(batch: object) -> object:
    """The collate function of ``_Batches``: ``__getitems__`` already made the batch."""
    return batch


class _TransformedImages(Dataset):
    """uint8 images + labels with a per-image transforms v2 pipeline (the ``workers`` loader)."""

    def __init__(self, images: Tensor, labels: Tensor, transform: v2.Transform) -> None:
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.transform(self.images[i]), self.labels[i]


class ImageDataModule(ImageCodec, SplitLoaders, L.LightningDataModule):
    """Shared machinery; subclasses implement :meth:`locate` and set the statistics (``mean``,
    ``std``). What inference needs (classes, normalisation, ``encode_images``) is
    :class:`~litlab.vision.predict.ImageCodec`'s.

    Args:
        root: data root (default ``$DATA_DIR``, else ``./data``).
        batch_size: training batch size; evaluation uses ``2 * batch_size``.
        val_size: images held out of the training set for validation.
        loader: ``"tensor"`` (on-device augmentation), ``"device"`` (the data set kept on
            the device as well) or ``"workers"`` (transforms v2).
        augment: random translation (and flips where they make sense) during training.
        image_size: resize images to this square size (e.g. for ImageNet backbones).
        normalization: ``"dataset"`` statistics or ``"imagenet"`` for pretrained backbones.
    """

    flip: bool = True  # mirrored digits are other digits, so MNIST turns this off
    pad: int = 4
    known_classes: int | None = None  # fixed by the data set (CIFAR-10: 10); None: read it

    def __init__(
        self,
        root: str | None = None,
        batch_size: int = 256,
        val_size: int = 5000,
        loader: Literal["tensor", "device", "workers"] = "tensor",
        num_workers: int = 2,
        augment: bool = True,
        image_size: int | None = None,
        normalization: Literal["dataset", "imagenet"] = "dataset",
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_positive("--data.init_args", batch_size=batch_size, val_size=val_size)
        self.save_hyperparameters()
        self.root = resolve_data_root(root)
        self.splits: ImageSplits | None = None
        self.restored: dict | None = None  # from a checkpoint: see state_dict()
        self._resident: dict[tuple[str, torch.device], tuple[Tensor, Tensor]] = {}
        if normalization == "imagenet":
            self.mean, self.std = IMAGENET_MEAN, IMAGENET_STD

    # --- what subclasses provide ----------------------------------------------------------

    def locate(self) -> Path:
        """Return the folder or archive holding the data, downloading it if allowed."""
        raise NotImplementedError

    # --- loading ----------------------------------------------------------------------------

    def prepare_data(self) -> None:
        # decode once into the cache (rank 0 under DDP); this process keeps the tensors, so
        # its own setup() does not read them back from disk
        self.setup()

    def setup(self, stage: str | None = None) -> None:
        if self.splits is not None:
            return
        self.splits = read_image_source(self.locate(), self.hparams.image_size)
        n = len(self.splits.train_labels)
        if not 0 < self.hparams.val_size < n:  # a ConfigError: the user's value, not a bug
            raise ConfigError(
                f"--data.init_args.val_size {self.hparams.val_size} leaves no training images: "
                f"the training set holds {n}; give a val_size between 1 and {n - 1}"
            )
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(self.hparams.seed))
        self.train_idx, self.val_idx = perm[self.hparams.val_size :], perm[: self.hparams.val_size]

    # --- what the model may ask (common/protocols.py); properties never read the data -------
    # classes, image_shape, state_dict, encode_images, denormalize: ImageCodec (predict.py)

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The number of classes, where the data set fixes it (LitlabCLI fills it in)."""
        return {"num_classes": cls.known_classes} if cls.known_classes else {}

    def arrays(self, split: str) -> tuple[Tensor, Tensor]:
        """uint8 images (N, C, H, W) and labels of ``"train"``, ``"val"`` or ``"test"``."""
        self.setup()
        s = self.splits
        if split == "train":
            return s.train_images[self.train_idx], s.train_labels[self.train_idx]
        if split == "val":
            return s.train_images[self.val_idx], s.train_labels[self.val_idx]
        return s.test_images, s.test_labels

    # --- transforms -------------------------------------------------------------------------

    def _per_image_transform(self, train: bool) -> v2.Transform:
        steps: list[v2.Transform] = []
        if self.hparams.image_size:
            steps.append(v2.Resize(self.hparams.image_size, antialias=True))
        if train and self.hparams.augment:
            size = self.hparams.image_size or self.splits.train_images.shape[-1]
            steps.append(v2.RandomCrop(size, padding=self.pad, padding_mode="reflect"))
            if self.flip:
                steps.append(v2.RandomHorizontalFlip())
        steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(self.mean, self.std)]
        return v2.Compose(steps)

    def _batch_transform(self, images: Tensor, train: bool) -> Tensor:
        """The tensor loader's pipeline: uint8 (B, C, H, W) on device -> normalised float."""
        if train and self.hparams.augment:
            images = augment.batch_translate(images, self.pad)
            if self.flip:
                images = augment.batch_flip(images)
        images = augment.normalize(images, self.mean, self.std)
        if self.hparams.image_size and images.shape[-1] != self.hparams.image_size:
            images = v2.functional.resize(images, [self.hparams.image_size] * 2, antialias=False)
        return images

    def on_after_batch_transfer(
        self, batch: tuple[Tensor, Tensor] | IndexBatch, dataloader_idx: int
    ) -> tuple[Tensor, Tensor]:
        if self.hparams.loader == "workers":
            return batch
        if isinstance(batch, IndexBatch):  # the device loader: gather where the data lives
            images, labels = self._on_device(batch.split, batch.index.device)
            images, labels = images[batch.index], labels[batch.index]
        else:
            images, labels = batch
        train = self.trainer is not None and self.trainer.training
        return self._batch_transform(images, train), labels

    def _on_device(self, split: str, device: torch.device) -> tuple[Tensor, Tensor]:
        """The split's uint8 images and labels on ``device``, copied there on first use."""
        key = (split, device)
        if key not in self._resident:
            images, labels = self.arrays(split)
            self._resident[key] = images.to(device), labels.to(device)
        return self._resident[key]

    # --- loaders ----------------------------------------------------------------------------

    def _loader(self, split: str) -> DataLoader:
        images, labels = self.arrays(split)
        train = split == "train"
        bs = self.hparams.batch_size * (1 if train else 2)
        extra: dict = {}
        if self.hparams.loader == "workers":
            ds: Dataset = _TransformedImages(images, labels, self._per_image_transform(train))
            workers = self.hparams.num_workers
        else:
            ds = _Batches(images, labels, split if self.hparams.loader == "device" else None)
            workers, extra = 0, {"collate_fn": _as_is}
        return ResumableDataLoader(
            ds,
            batch_size=bs,
            shuffle=train,
            drop_last=train and len(ds) > bs,  # equal-size steps keep BatchNorm statistics sane
            num_workers=workers,
            persistent_workers=workers > 0,
            pin_memory=torch.cuda.is_available(),
            **extra,
        )

    def predict_dataloader(self) -> DataLoader:
        return self._loader("test")

    # --- the picture-callback protocol (common/protocols.py) -----------------------

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """``n`` fixed, normalised evaluation images cycling through the classes, and labels."""
        images, labels = self.arrays(split)
        picked: list[int] = []
        per_class = [torch.nonzero(labels == c).flatten().tolist() for c in range(self.num_classes)]
        for rank in range(n):
            for idxs in per_class:
                if len(picked) < n and rank < len(idxs):
                    picked.append(idxs[rank])
        idx = torch.tensor(picked[:n])
        return self._batch_transform(images[idx], train=False), labels[idx]

