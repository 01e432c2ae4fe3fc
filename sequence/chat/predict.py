"""The inference halves of the chatbot data (no Lightning): the tokenizer, the speakers and
the turn format that ``litlab chat`` and serve/ need (``DialogueData`` in
``common/protocols.py``), for the Korean and English chat DataModules and the Korean reviews
the chatbot is pretrained on. ``data.py``, ``english.py`` and ``pretrain.py`` inherit them;
``common/inference.py`` says why.
"""

from __future__ import annotations

from litlab.common.protocols import ready
from litlab.sequence.lm import dialogue
from litlab.sequence.lm.predict import LanguageCodec

USER, BOT = "사용자", "챗봇"  # "user" and "chatbot": the speaker tags of the two sides


class ChatCodec(LanguageCodec):
    """Korean Q -> A turns (``사용자: ...`` / ``챗봇: ...``): a subclass for another corpus sets
    its own ``speakers`` and ``language``."""

    language = "ko"
    speakers = (USER, BOT)  # (user, bot) speaker tags

    @property
    def pad_id(self) -> int:
        return ready(self._tokenizer, self, "pad_id").pad_id

    @property
    def prompt(self) -> str:
        user, bot = self.speakers
        return self.hparams.prompt or dialogue.format_turn(user, "오늘 너무 힘들어") + f"{bot}:"

    # --- protocol: DialogueData (``litlab chat``, serve/) -----------------------------------

    @property
    def turn_boundary(self) -> str:
        return dialogue.TURN_END

    @property
    def default_speakers(self) -> tuple[str, str]:
        """(user, bot): the names ``litlab chat`` and the Chat tab use unless told others."""
        return self.speakers

    def speaker_tag(self, speaker: str) -> str:
        return dialogue.speaker_tag(speaker)

    def format_turn(self, speaker: str, text: str) -> str:
        return dialogue.format_turn(speaker, text)


class EnglishChatCodec(ChatCodec):
    """English Q -> A turns from the chatterbot corpus (``YOU`` / ``BOT``)."""

    language = "en"
    speakers = ("YOU", "BOT")


class KoreanReviewsCodec(LanguageCodec):
    """NSMC's reviews as plain Korean text (the chatbot's pretraining)."""

    language = "ko"
