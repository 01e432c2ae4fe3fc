"""The inference halves of language-model data (no Lightning): the tokenizer a checkpoint
keeps and the prompt ``litlab generate`` starts from (``LanguageData`` in
``common/protocols.py``), and for dialogue the turn format ``litlab chat`` writes
(``DialogueData``). ``ShakespeareDataModule`` (``data.py``) and the chat DataModules
(``sequence/chat/``) inherit them; generate, chat and serve/ load them on their own
(``common/inference.py``).
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from litlab.common.inference import DataCodec
from litlab.common.protocols import ready
from litlab.sequence.lm import dialogue
from litlab.sequence.tokenizers import tokenizer_from_state


class LanguageCodec(DataCodec):
    """A language model's tokenizer (fitted from the data by the DataModule, or restored from
    a checkpoint), its context length and its prompt (``hparams.block_size``, ``.prompt``)."""

    _tokenizer: Any = None  # CharTokenizer or SubwordTokenizer, once known

    @property
    def tokenizer(self) -> Any:
        """The fitted tokenizer (read from the data in setup(), or restored from a checkpoint)."""
        return ready(self._tokenizer, self, "tokenizer")

    @property
    def vocab_size(self) -> int:
        return ready(self._tokenizer, self, "vocab_size").vocab_size

    @property
    def block_size(self) -> int:
        return int(self.hparams.block_size)

    @property
    def prompt(self) -> str:
        return self.hparams.prompt

    def token_strings(self, ids: Tensor) -> list[str]:
        """Each token as it reads in the text (for axis labels)."""
        return self.tokenizer.token_strings(ids.tolist())

    # --- what a checkpoint keeps: the vocabulary, so new prompts encode the same way --------

    def state_dict(self) -> dict:
        if self._tokenizer is None:
            self.setup()  # the DataModule's: a method may read the data, properties never do
        return {"tokenizer": self.tokenizer.state()}

    def load_state_dict(self, state: dict) -> None:
        self._tokenizer = tokenizer_from_state(state["tokenizer"])


class ShakespeareCodec(LanguageCodec):
    """The plays as plain text, or (``hparams.format == "dialogue"``) as speaker-tagged turns."""

    @property
    def prompt(self) -> str:
        """The configured prompt, or a newline when the vocabulary cannot spell it."""
        try:
            self.tokenizer.encode(self.hparams.prompt)
            return self.hparams.prompt
        except ValueError:
            return "\n"

    # --- protocol: DialogueData (``litlab chat``) ------------------------------------------

    @property
    def turn_boundary(self) -> str | None:
        """What ends every turn (a newline), or None for plain text: no turns to chat in."""
        return dialogue.TURN_END if self.hparams.format == "dialogue" else None

    def speaker_tag(self, speaker: str) -> str:
        return dialogue.speaker_tag(speaker)

    def format_turn(self, speaker: str, text: str) -> str:
        return dialogue.format_turn(speaker, text)
