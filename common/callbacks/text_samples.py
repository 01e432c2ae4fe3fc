"""TextSampleCallback: what the language model writes now, in TensorBoard's text tab."""

from __future__ import annotations

from collections.abc import Iterator

import lightning as L
import torch
from matplotlib.figure import Figure

from litlab.common.callbacks.base import FigureCallback
from litlab.common.contracts import require
from litlab.common.protocols import LanguageData, LanguageModelSource


def as_preformatted(text: str) -> str:
    """Markdown for TensorBoard: indented lines show as a code block, newlines kept."""
    return "\n".join("    " + line for line in text.split("\n"))


class TextSampleCallback(FigureCallback):
    """Every ``every_n_epochs`` validation epochs, sample ``max_new_tokens`` after ``prompt``
    (default: the DataModule's ``prompt``) and log it under ``samples/text``.

    The sampling seed is the same every time, so successive samples differ only because the
    model changed: read them top to bottom to watch spelling, words, then speakers appear.
    """

    def __init__(
        self,
        prompt: str | None = None,
        max_new_tokens: int = 200,
        temperature: float = 0.8,
        top_k: int | None = 40,
        top_p: float | None = None,
        every_n_epochs: int = 1,
        seed: int = 0,
    ) -> None:
        super().__init__(every_n_epochs)
        self.prompt, self.max_new_tokens = prompt, max_new_tokens
        self.temperature, self.top_k, self.top_p, self.seed = temperature, top_k, top_p, seed
        self.last_text: str | None = None  # the latest sample, for tests and notebooks

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        require(trainer.datamodule, LanguageData, type(self).__name__)
        require(pl_module, LanguageModelSource, type(self).__name__)

    def sample(self, pl_module: L.LightningModule, data: LanguageData) -> str:
        """Prompt plus its continuation, decoded."""
        tok = data.tokenizer
        prompt = self.prompt if self.prompt is not None else data.prompt
        ids = torch.tensor([tok.encode(prompt)], dtype=torch.long, device=pl_module.device)
        g = torch.Generator(device=pl_module.device).manual_seed(self.seed)
        out = pl_module.generate(
            ids, self.max_new_tokens, self.temperature, self.top_k, self.top_p, generator=g
        )
        return tok.decode(out[0].tolist())

    def figures(
        self, trainer: L.Trainer, pl_module: L.LightningModule
    ) -> Iterator[tuple[str, Figure | str]]:
        self.last_text = self.sample(pl_module, trainer.datamodule)
        settings = f"temperature {self.temperature}, top-k {self.top_k}, top-p {self.top_p}"
        yield "samples/text", f"*epoch {trainer.current_epoch}, {settings}*\n\n" + as_preformatted(
            self.last_text
        )
