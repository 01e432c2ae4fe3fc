"""Dialogue format: the plays as speaker-tagged turns, one turn per line.

    parse_turns("ROMEO:\\nBut, soft! what light\\nthrough yonder window breaks?\\n\\n...")
        -> [Turn("ROMEO", "But, soft! what light through yonder window breaks?"), ...]
    format_turn("ROMEO", "But, soft!")  -> "ROMEO: But, soft!\\n"

A turn is ``SPEAKER: text`` followed by ``TURN_END``, a newline. The text of a turn is joined
into one line (its verse line breaks become spaces), so a newline occurs *only* at the end
of a turn: the boundary is explicit, and for a character tokenizer it is one token already
in the vocabulary (a dedicated end-of-turn symbol would add an id, and an invisible one in
samples). A chat model then stops as soon as it samples a newline, and what follows it
(the next ``NAME:``) is never part of the reply.

Two layouts of the plays are recognised, each paragraph (text between blank lines) opening
with its speaker on a line of its own:

* Tiny Shakespeare (char-rnn): ``NAME:`` (``First Citizen:``, ``Ghost of CLARENCE:``);
* the Project Gutenberg complete works: ``NAME.`` or a bare capitalised ``NAME``
  (``ROMEO.``, ``Ham.``, ``LYSANDER``); stage directions in brackets (``[Exit.]``) and the
  lists of persons before each play are left out, as are poems and headings.

A text uses the layout that opens most of its paragraphs. Turns left with no words (a
speaker whose line was a stage direction) are dropped.
"""

from __future__ import annotations

import re
from typing import NamedTuple

TURN_END = "\n"  # the boundary: the only newline of the formatted text ends each turn

_PARAGRAPHS = re.compile(r"\n[ \t]*\n")
_BRACKETS = re.compile(r"\[[^\]]*\]")  # stage directions: [Exit.] [Aside.]
_SPACES = re.compile(r"\s+")
# words a Gutenberg speaker name may hold besides capitalised ones ("DUKE OF YORK" is caps)
_NAME_WORDS = {"of", "and", "the", "de", "du", "la", "le"}
_HEADING = re.compile(r"^(ACT|SCENE|PROLOGUE|EPILOGUE|INDUCTION|FINIS)\b", re.IGNORECASE)
_PERSONAE = re.compile(r"^(PERSONS REPRESENTED|DRAMATIS PERSONAE)", re.IGNORECASE)


class Turn(NamedTuple):
    speaker: str
    text: str


def one_line(text: str) -> str:
    """Whitespace runs (newlines included) -> one space: a turn's text never holds TURN_END."""
    return _SPACES.sub(" ", text).strip()


def speaker_tag(speaker: str) -> str:
    """What opens a turn: ``"ROMEO:"``. A reply is sampled after the bot's tag."""
    return f"{one_line(speaker)}:"


def format_turn(speaker: str, text: str) -> str:
    """``"ROMEO: text on one line\\n"``: the tag, a space, the text, the boundary."""
    return f"{speaker_tag(speaker)} {one_line(text)}{TURN_END}"


def format_dialogue(turns: list[Turn]) -> str:
    return "".join(format_turn(t.speaker, t.text) for t in turns)


def _colon_speaker(line: str) -> str | None:
    name = line.strip()
    if not name.endswith(":") or len(name) > 41 or not name[:1].isupper():
        return None
    return name[:-1].strip() or None


def _period_speaker(line: str) -> str | None:
    line = line.strip()
    name = line[:-1] if line.endswith(".") else line if line.isupper() else ""
    words = name.replace(",", " ").split()
    if not words or len(words) > 5 or len(name) > 30 or _HEADING.match(name):
        return None
    if not all(w[0].isupper() or w[0].isdigit() or w in _NAME_WORDS for w in words):
        return None  # a line of verse ("Look where they come.") rather than a name
    return name


def parse_turns(text: str) -> list[Turn]:
    """The speaker-tagged turns of a play text, in order (see the module docstring)."""
    paragraphs = [p.strip("\n").split("\n") for p in _PARAGRAPHS.split(text)]
    paragraphs = [p for p in paragraphs if p and p[0].strip()]
    colons = sum(_colon_speaker(p[0]) is not None for p in paragraphs)
    periods = sum(_period_speaker(p[0]) is not None for p in paragraphs)
    speaker_of = _colon_speaker if colons >= periods else _period_speaker
    turns, in_personae = [], False
    for lines in paragraphs:
        first = lines[0].strip()
        if _PERSONAE.match(first):
            in_personae = True  # a list of names, not speeches, until the play begins
        elif _HEADING.match(first):
            in_personae = False
        speaker = speaker_of(first)
        if in_personae or speaker is None or len(lines) < 2:
            continue
        words = one_line(_BRACKETS.sub(" ", " ".join(lines[1:])))
        if words:
            turns.append(Turn(one_line(speaker), words))
    return turns


def dialogue_text(text: str) -> str:
    """A play text rewritten as one turn per line: what the dialogue format trains on."""
    turns = parse_turns(text)
    if not turns:
        raise ValueError(
            "no speaker-tagged turns found: the dialogue format expects paragraphs that open "
            "with the speaker on a line of its own ('ROMEO:' or 'ROMEO.')"
        )
    return format_dialogue(turns)
