"""AddingProblemDataModule: the adding problem, generated in code (no files).

Each sequence has ``seq_len`` steps of two inputs: a random number in [0, 1) and a marker
that is 1 at exactly two steps (one in the first half, one in the second) and 0 elsewhere.
The target is the sum of the two marked numbers. Predicting the average answer (1.0) gives
a mean squared error of Var(U1 + U2) = 1/6 ~ 0.167: the "trivial baseline" a model that
cannot remember sits on. The first marker lies at least ``seq_len / 2`` steps before the end.
"""

from __future__ import annotations

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader, TensorDataset

from litlab.common.errors import ConfigError, check_positive
from litlab.common.resume import ResumableDataLoader

TRIVIAL_MSE = 1 / 6  # variance of the sum of two independent U(0, 1)


def adding_problem(n: int, seq_len: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
    """Inputs (n, seq_len, 2) = (value, marker) and targets (n,) = sum of the marked values."""
    if seq_len < 2:
        raise ConfigError(f"--data.init_args.seq_len must be at least 2, got {seq_len}")
    values = torch.rand(n, seq_len, generator=generator)
    half = seq_len // 2
    first = torch.randint(0, half, (n,), generator=generator)
    second = torch.randint(half, seq_len, (n,), generator=generator)
    markers = torch.zeros(n, seq_len)
    rows = torch.arange(n)
    markers[rows, first] = 1.0
    markers[rows, second] = 1.0
    targets = values[rows, first] + values[rows, second]
    return torch.stack([values, markers], dim=-1), targets


class AddingProblemDataModule(L.LightningDataModule):
    """Fixed, seeded train / val / test sets of the adding problem.

    Args:
        root: unused (the data is generated); accepted so every DataModule takes ``root``.
        seq_len: sequence length T: the distance the model must remember across.
        batch_size: sequences per batch (evaluation uses the same).
        train_size, val_size, test_size: number of sequences per split.
        seed: all three splits are drawn from one generator seeded with it.
    """

    def __init__(
        self,
        root: str | None = None,
        seq_len: int = 100,
        batch_size: int = 64,
        train_size: int = 20_000,
        val_size: int = 1_000,
        test_size: int = 1_000,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args",
            batch_size=batch_size,
            train_size=train_size,
            val_size=val_size,
            test_size=test_size,
        )
        self.save_hyperparameters()
        self.splits: dict[str, TensorDataset] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        hp = self.hparams
        g = torch.Generator().manual_seed(hp.seed)
        for name, n in (("train", hp.train_size), ("val", hp.val_size), ("test", hp.test_size)):
            self.splits[name] = TensorDataset(*adding_problem(n, hp.seq_len, g))

    def probe_batch(self, n: int, split: str = "val") -> tuple[Tensor, Tensor]:
        """The first ``n`` sequences (n, T, 2) of a split and their targets (n,)."""
        self.setup()
        x, y = self.splits[split].tensors
        return x[:n], y[:n]

    def _loader(self, split: str, shuffle: bool = False) -> DataLoader:
        self.setup()
        return ResumableDataLoader(
            self.splits[split], batch_size=self.hparams.batch_size, shuffle=shuffle, drop_last=False
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", shuffle=True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader:
        return self._loader("test")
