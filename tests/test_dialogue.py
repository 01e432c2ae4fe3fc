"""The dialogue format of litlab chat: plays become one-line speaker turns and back."""

from __future__ import annotations

from pathlib import Path

import torch

from litlab.sequence.lm.data import ShakespeareDataModule
from litlab.sequence.lm.dialogue import TURN_END, Turn, dialogue_text, format_turn, parse_turns

TINY_EXCERPT = """First Citizen:
Before we proceed any further, hear me speak.

All:
Speak, speak.

TITUS:

First Citizen:
You are all resolved rather to die
than to famish?
"""

GUTENBERG_EXCERPT = """PERSONS REPRESENTED.

KING OF FRANCE.
THE DUKE OF FLORENCE.

ACT I. SCENE 1. Rousillon.

[Enter BERTRAM and LAFEU.]

COUNTESS.
In delivering my son from me,
I bury a second husband.

BERTRAM.
[Aside.] And I in going, madam, weep.

Ham.
Look where they come.
"""

# --- the dialogue format ----------------------------------------------------------------------


def test_tiny_shakespeare_paragraphs_become_one_line_turns_and_back():
    turns = parse_turns(TINY_EXCERPT)
    assert turns == [
        Turn("First Citizen", "Before we proceed any further, hear me speak."),
        Turn("All", "Speak, speak."),
        # TITUS says nothing (his line was a stage direction): no turn
        Turn("First Citizen", "You are all resolved rather to die than to famish?"),
    ]
    text = dialogue_text(TINY_EXCERPT)
    assert text.count(TURN_END) == len(turns) and text.endswith(TURN_END)
    back = [Turn(*line.split(": ", 1)) for line in text.split(TURN_END)[:-1]]
    assert back == turns


def test_gutenberg_layout_skips_persons_headings_and_stage_directions():
    assert parse_turns(GUTENBERG_EXCERPT) == [
        Turn("COUNTESS", "In delivering my son from me, I bury a second husband."),
        Turn("BERTRAM", "And I in going, madam, weep."),
        Turn("Ham", "Look where they come."),
    ]


def test_a_turn_never_holds_the_boundary_inside():
    turn = format_turn("YOU", "two\n\nparagraphs\nand  lines")
    assert turn == "YOU: two paragraphs and lines\n" and turn.count(TURN_END) == 1


def test_dialogue_data_keeps_the_90_10_split_of_the_formatted_text(tiny_root: Path):
    dm = ShakespeareDataModule(root=str(tiny_root), format="dialogue", block_size=16)
    dm.setup()
    text = dialogue_text(dm.read_text())
    data = torch.tensor(dm.tokenizer.encode(text))
    cut = int(len(data) * 0.9)
    assert torch.equal(dm.train_data, data[:cut]) and torch.equal(dm.val_data, data[cut:])
    assert dm.tokenizer.decode(dm.train_data[:40].tolist()) == text[:40]
    assert dm.turn_boundary == TURN_END
    assert ShakespeareDataModule(root=str(tiny_root)).turn_boundary is None  # plain: no chat
