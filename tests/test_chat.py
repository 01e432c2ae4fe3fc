"""Dialogue format, stop sequences, ChatSession and ``litlab chat``."""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from litlab.common.chat import ChatSession
from litlab.common.chat import main as chat
from litlab.common.cli import run as litlab
from litlab.common.generate import main as generate
from litlab.common.generate import stream_text
from litlab.common.language_model import LanguageModel
from litlab.common.sampling import cut_at_stop, unsafe_tail
from litlab.sequence.lm.dialogue import TURN_END, format_turn
from litlab.sequence.lm.models import RNNLanguageModel
from litlab.sequence.tokenizers import CharTokenizer
from litlab.transformer.models import GPT, GPTConfig
from litlab.transformer.module import GPTLanguageModel

REPO = Path(__file__).resolve().parents[1]


# --- stop sequences -----------------------------------------------------------------------------


def test_cut_at_stop_cuts_before_the_earliest_stop():
    assert cut_at_stop("fair Verona\n\nJULIET:", ["\n\n"]) == ("fair Verona", True)
    assert cut_at_stop("a: b; c", [";", ":"]) == ("a", True)
    assert cut_at_stop("no stop here", ["\n", ""]) == ("no stop here", False)
    assert unsafe_tail("verse\n", ["\n\n"]) == 1 and unsafe_tail("verse", ["\n\n"]) == 0


class ScriptedModel:
    """A language model that 'samples' a fixed text, one character per token."""

    block_size = None

    def __init__(self, tokenizer: CharTokenizer, script: str) -> None:
        self.tokenizer, self.script, self.drawn, self.prompts = tokenizer, script, 0, []

    def generate(
        self, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, generator=None
    ):
        raise AssertionError("generate_iter should be used")

    def generate_iter(
        self, ids, max_new_tokens, temperature=1.0, top_k=None, top_p=None, generator=None
    ) -> Iterator[torch.Tensor]:
        self.prompts.append(self.tokenizer.decode(ids[0].tolist()))
        for i in self.tokenizer.encode(self.script)[:max_new_tokens]:
            self.drawn += 1
            yield torch.tensor([i])


CHARS = CharTokenizer.fit("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ !?.,':\n")


def test_streamed_text_ends_before_a_stop_and_sampling_stops_there():
    model = ScriptedModel(CHARS, "one line\nand one more\n\nNEXT: tail")
    ids = torch.tensor([CHARS.encode("X:")])
    pieces = list(stream_text(model, CHARS, ids, 100, stops=["\n\n"]))
    assert "".join(pieces) == "one line\nand one more"
    assert model.drawn == len("one line\nand one more\n\n")  # nothing sampled after the stop
    assert "".join(stream_text(model, CHARS, ids, 5)) == "one l"  # no stop: max_new_tokens


class DialogueStub:
    """The DialogueData side of a chat: a tokenizer and the turn format."""

    tokenizer, prompt, turn_boundary = CHARS, "\n", TURN_END

    def speaker_tag(self, speaker: str) -> str:
        return f"{speaker}:"

    def format_turn(self, speaker: str, text: str) -> str:
        return format_turn(speaker, text)


def test_a_reply_stops_at_the_turn_boundary_and_carries_no_next_speaker():
    model = ScriptedModel(CHARS, " Be gone, I say!\nYOU: and I would say more")
    session = ChatSession(model, DialogueStub(), user="YOU", bot="ROMEO", max_new_tokens=80)
    reply = session.reply("Good morrow!")
    assert reply == "Be gone, I say!"
    assert model.prompts == ["YOU: Good morrow!\nROMEO:"]
    assert session.history == [("YOU", "Good morrow!"), ("ROMEO", "Be gone, I say!")]
    session.reply("Why?")  # the next prompt holds the whole conversation
    assert model.prompts[1] == "YOU: Good morrow!\nROMEO: Be gone, I say!\nYOU: Why?\nROMEO:"


def test_characters_the_vocabulary_cannot_spell_are_left_out_and_reported():
    model = ScriptedModel(CHARS, " Hm.\n")
    session = ChatSession(model, DialogueStub(), max_new_tokens=10)
    assert session.reply("안녕 caf\u00e9 \u2018hello\u2019 \U0001f600!") == "Hm."
    assert model.prompts[0] == "YOU: cafe 'hello' !\nROMEO:"  # accents and quotes made plain
    assert session.dropped == ["안", "녕", "\U0001f600"]


# --- the block size ------------------------------------------------------------------------------


def tiny_gpt(vocab: int, block: int) -> GPTLanguageModel:
    torch.manual_seed(0)
    config = GPTConfig(vocab, block, n_layer=1, n_head=2, n_embd=16, dropout=0.0)
    model = GPTLanguageModel(GPT(config))
    model.vocab_limit.fill_(vocab)
    return model.eval()


def test_chat_never_feeds_the_model_more_than_its_block_size(monkeypatch):
    model = tiny_gpt(CHARS.vocab_size, block=48)
    prompts, contexts = [], []
    generate_iter, forward = model.generate_iter, model.net.forward

    def recording_generate_iter(ids, *args, **kwargs):
        prompts.append(ids.shape[1])
        yield from generate_iter(ids, *args, **kwargs)

    def recording_forward(ids, caches=None, need_weights=False):
        contexts.append((caches[0].length if caches else 0) + ids.shape[1])
        return forward(ids, caches, need_weights)

    monkeypatch.setattr(model, "generate_iter", recording_generate_iter)
    monkeypatch.setattr(model.net, "forward", recording_forward)
    session = ChatSession(model, DialogueStub(), max_new_tokens=60, temperature=1.0, top_k=None)
    long_turn = "Now is the winter of our discontent made glorious summer " * 3
    for _ in range(6):
        session.reply(long_turn)
    assert len(prompts) == 6 and max(prompts) <= 48 and max(contexts) <= 48
    assert len(session.history) == 12  # the history is kept; only the prompt is cut


def test_the_newest_turn_keeps_its_end_when_it_alone_is_too_long():
    session = ChatSession(tiny_gpt(CHARS.vocab_size, 32), DialogueStub(), max_new_tokens=8)
    turns = [("YOU", "old turn"), ("YOU", "x" * 100 + " the end")]
    prompt = CHARS.decode(session.prompt_ids(turns))
    assert len(prompt) == 32 - 8 and prompt.endswith("x the end\nROMEO:")


def test_an_rnn_has_no_block_size_and_reads_the_whole_conversation():
    model = LanguageModel(RNNLanguageModel(CHARS.vocab_size, "gru", 8, 8, 1)).eval()
    session = ChatSession(model, DialogueStub(), max_new_tokens=5)
    assert session.block_size is None
    turns = [("YOU", "word " * 200)] * 3
    assert len(session.prompt_ids(turns)) == 3 * len("YOU: " + "word " * 199 + "word\n") + 6


# --- on a trained checkpoint: litlab chat and litlab generate --stop ------------------------------


@pytest.fixture(scope="module")
def chat_checkpoint(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of a short fit of the chat experiment, made tiny, on the tiny plays."""
    cwd = os.getcwd()
    os.chdir(tmp_path_factory.mktemp("chat"))
    gpt = "--model.init_args.net.init_args.config"
    try:
        litlab(
            [
                "fit",
                "--config",
                str(REPO / "experiments" / "transformer" / "shakespeare_chat.yaml"),
                f"--data.root={tiny_root}",
                "--data.init_args.batch_size=8",
                "--data.init_args.block_size=32",
                "--data.init_args.steps_per_epoch=30",
                "--data.init_args.val_batches=1",
                f"{gpt}.block_size=32",
                f"{gpt}.n_layer=1",
                f"{gpt}.n_embd=32",
                "--model.init_args.warmup_steps=5",
                "--model.init_args.lr=0.01",
                "--trainer.max_steps=30",
                "--trainer.callbacks=[]",
                "--trainer.enable_progress_bar=false",
            ]
        )
        return next(Path.cwd().glob("logs/transformer/shakespeare_chat/*/checkpoints/best.ckpt"))
    finally:
        os.chdir(cwd)


def test_litlab_chat_answers_in_turns_and_leaves_on_quit(
    chat_checkpoint: Path, monkeypatch, capsys
):
    monkeypatch.setattr(sys, "stdin", io.StringIO("Speak, speak.\nquit\nnever read\n"))
    # the tiny test plays spell ROMEO and JULIET (but not the default YOU)
    litlab(["chat", "--ckpt", str(chat_checkpoint), "--user", "ROMEO", "--bot", "JULIET"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[1] == "ROMEO> Speak, speak."  # piped input is echoed: a transcript
    assert lines[2].startswith("JULIET: ") and len(lines[2]) > len("JULIET: ")
    assert lines[3] == "ROMEO> quit" and len(lines) == 4  # nothing after quit


def test_litlab_chat_ends_cleanly_at_end_of_input(chat_checkpoint: Path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdin", io.StringIO("hello\n"))
    assert chat(["--ckpt", str(chat_checkpoint), "--user", "All", "--max-new-tokens", "5"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("All>")


def test_litlab_chat_names_a_speaker_it_cannot_spell(chat_checkpoint: Path, capsys):
    assert chat(["--ckpt", str(chat_checkpoint), "--user", "\u5f20\u4e09"]) == 2
    assert "cannot be spelled" in capsys.readouterr().err


def test_litlab_chat_rejects_a_plain_text_checkpoint(chat_checkpoint: Path, tmp_path: Path, capsys):
    ckpt = torch.load(chat_checkpoint, map_location="cpu", weights_only=True)
    ckpt["datamodule_hyper_parameters"]["format"] = "plain"
    torch.save(ckpt, tmp_path / "plain.ckpt")
    with pytest.raises(SystemExit) as exc:
        litlab(["chat", "--ckpt", str(tmp_path / "plain.ckpt")])
    err = capsys.readouterr().err
    assert exc.value.code == 2 and "not a dialogue language model" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_litlab_generate_stops_at_a_stop_sequence(chat_checkpoint: Path, capsys):
    args = ["--ckpt", str(chat_checkpoint), "--prompt", "ROMEO:", "--max-new-tokens", "300"]
    assert generate([*args, "--seed", "0"]) == 0
    full = capsys.readouterr().out
    assert generate([*args, "--seed", "0", "--stop", "\n"]) == 0
    cut = capsys.readouterr().out
    assert full.count("\n") > 1  # the same sample goes on over several turns without --stop
    assert cut == full[: full.index("\n")] + "\n"  # with it: the first turn, then the end
