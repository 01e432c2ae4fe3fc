"""``litlab chat``: talk with a language model trained on speaker-tagged turns.

    litlab chat --ckpt logs/transformer/shakespeare_chat/version_0/checkpoints/best.ckpt \\
        [--user YOU] [--bot ROMEO] [--temperature 0.8] [--top-k 40] [--max-new-tokens 300]

The speaker names default to the data's ``default_speakers`` where it has them (the Korean
chatbot's 사용자 / 챗봇), else YOU and ROMEO.

Each reply is sampled after a prompt made of the conversation so far, your turn and the
bot's speaker tag (``... YOU: hello\\nROMEO:``), and ends at the turn boundary (or after
``max_new_tokens``): the model's guess at the next speaker is never shown. The prompt is
kept within the model's block size by dropping the oldest whole turns (a single turn that
is too long keeps its end). ``ChatSession`` is the part serve/ reuses.

Needs a LightningModule with ``generate`` / ``generate_iter`` (``LanguageModelSource``) and a
DataModule that implements ``DialogueData`` (``common/protocols.py``), e.g. a
``ShakespeareDataModule`` with ``format: dialogue``. Exit status 0, or 2 with one line for a
checkpoint that is not a dialogue language model, and, on piped input, for a message the
model cannot read (empty, or only characters its vocabulary lacks, such as emoji); typed at
a terminal, such a message gets the same line and the conversation goes on.
"""

from __future__ import annotations

import argparse
import sys
import unicodedata
from collections.abc import Iterator

import torch

from litlab.common.checkpoints import CheckpointError, load_inference
from litlab.common.contracts import conforms, context_size
from litlab.common.errors import CommandParser
from litlab.common.generate import stream_text
from litlab.common.inference import device_of
from litlab.common.protocols import DialogueData, LanguageModelSource

# typographic characters a keyboard or phone adds, and what the plays write instead
ASCII_LOOKALIKES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--"}
)
DEFAULT_SPEAKERS = ("YOU", "ROMEO")  # for data without its own ``default_speakers``


class UnreadableMessage(ValueError):
    """A user turn with nothing the model can read: empty, or only unknown characters."""


def default_speakers(data: object) -> tuple[str, str]:
    """The (user, bot) names a DialogueData suggests, else YOU and ROMEO."""
    return tuple(getattr(data, "default_speakers", None) or DEFAULT_SPEAKERS)


class ChatSession:
    """A conversation with a dialogue language model: ``reply(text) -> str`` (or ``stream``).

    Args:
        model: a ``LanguageModelSource`` (``block_size``, if it has one, bounds the prompt).
        data: a ``DialogueData`` whose tokenizer and turn format the model was trained on.
        user, bot: the speaker names of the two sides (they must be spellable); None: the
            data's ``default_speakers``, else YOU and ROMEO.
        max_new_tokens: the longest reply, in tokens.
        temperature, top_k, top_p: sampling (``common/sampling.py``); temperature 0 is greedy.
        seed: seeds the sampler once, so a whole conversation is reproducible.
    """

    def __init__(
        self,
        model: LanguageModelSource,
        data: DialogueData,
        user: str | None = None,
        bot: str | None = None,
        max_new_tokens: int = 300,
        temperature: float = 0.8,
        top_k: int | None = 40,
        top_p: float | None = None,
        seed: int = 0,
    ) -> None:
        what = f"a {type(model).__name__} with a {type(data).__name__}"
        if not conforms(model, LanguageModelSource):
            raise ValueError(f"{what} is not a dialogue language model (it cannot generate)")
        if not conforms(data, DialogueData) or data.turn_boundary is None:
            raise ValueError(
                f"{what} is not a dialogue language model (no speaker-tagged turns): train one "
                "on data of format 'dialogue' (experiments/transformer/shakespeare_chat.yaml)"
            )
        if max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be at least 1, got {max_new_tokens}")
        self.model, self.data, self.tokenizer = model, data, data.tokenizer
        defaults = default_speakers(data)
        self.user, self.bot = user or defaults[0], bot or defaults[1]
        for name in (self.user, self.bot):
            if not self.spells(data.speaker_tag(name)):
                raise ValueError(f"the name {name!r} cannot be spelled in its vocabulary")
        self.max_new_tokens = max_new_tokens
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.block_size = context_size(model)  # None: read the whole conversation (RNNs)
        device = device_of(model) if isinstance(model, torch.nn.Module) else torch.device("cpu")
        self.generator = torch.Generator(device=device).manual_seed(seed)
        self.history: list[tuple[str, str]] = []  # (speaker, text), oldest first
        self.dropped: list[str] = []  # characters left out of the last user turn

    # --- text the vocabulary can spell ----------------------------------------------------

    def spells(self, text: str) -> bool:
        try:
            ids = self.tokenizer.encode(text)
        except ValueError:  # a character tokenizer meets a character it never saw
            return False
        unk = getattr(self.tokenizer, "unk_id", None)  # a subword one encodes it as <unk>
        return unk is None or unk not in ids

    def clean(self, text: str) -> str:
        """``text`` with curly quotes and accents made plain (é -> e) and characters the
        vocabulary cannot spell (Korean, emoji, ...) left out; those go to ``self.dropped``."""
        kept, dropped = [], {}
        for ch in text.translate(ASCII_LOOKALIKES):
            plain = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c)
            )
            if self.spells(ch):
                kept.append(ch)
            elif plain and self.spells(plain):
                kept.append(plain)
            else:
                dropped[ch] = None  # a dict keeps each character once, in order
        self.dropped = list(dropped)
        return "".join(kept)

    def user_turn(self, text: str) -> str:
        """``text`` cleaned (``clean``); UnreadableMessage when nothing readable is left.
        Cheap: a server calls it before it starts streaming, to answer with a 4xx."""
        if not text.strip():
            raise UnreadableMessage("the message is empty: type something to say")
        cleaned = self.clean(text)
        if not cleaned.strip():
            left_out = " ".join(self.dropped)
            raise UnreadableMessage(
                f"the message holds no character this model knows (left out: {left_out}); "
                "write it in the model's language"
            )
        return cleaned

    # --- the prompt -----------------------------------------------------------------------

    def prompt_budget(self) -> int | None:
        """Tokens the prompt may hold: the block minus room for the start of the reply
        (a longer reply slides the model's window itself); None without a block size."""
        if self.block_size is None:
            return None
        return self.block_size - min(self.max_new_tokens, self.block_size // 4)

    def prompt_ids(self, turns: list[tuple[str, str]]) -> list[int]:
        """The newest turns that fit the budget, whole, then the bot's tag; the newest turn
        keeps only its end when it alone is too long."""
        tag = self.tokenizer.encode(self.data.speaker_tag(self.bot))
        budget = self.prompt_budget()
        ids: list[int] = []
        for i, (speaker, text) in enumerate(reversed(turns)):
            turn = self.tokenizer.encode(self.data.format_turn(speaker, text))
            if budget is not None and len(ids) + len(turn) + len(tag) > budget:
                if i == 0:  # the newest turn alone is too long: keep its end
                    keep = max(budget - len(tag), 0)
                    ids = turn[len(turn) - keep :]
                break
            ids = turn + ids
        return ids + tag

    # --- replies --------------------------------------------------------------------------

    def stream(self, text: str) -> Iterator[str]:
        """Add the user's turn, then yield the bot's reply in pieces as it is sampled; both
        join the history once the reply is complete."""
        turns = [*self.history, (self.user, self.user_turn(text))]
        ids = torch.tensor([self.prompt_ids(turns)], dtype=torch.long)
        ids = ids.to(getattr(self.model, "device", "cpu"))
        pieces: list[str] = []
        for piece in stream_text(
            self.model,
            self.tokenizer,
            ids,
            self.max_new_tokens,
            self.temperature,
            self.top_k,
            self.top_p,
            self.generator,
            stops=[self.data.turn_boundary],
        ):
            if not pieces:
                piece = piece.lstrip()  # the space after "ROMEO:" belongs to the format
                if not piece:
                    continue
            pieces.append(piece)
            yield piece
        self.history = [*turns, (self.bot, "".join(pieces).strip())]

    def reply(self, text: str) -> str:
        """The bot's answer to ``text`` (the conversation goes on from there)."""
        return "".join(self.stream(text)).strip()

    def reset(self) -> None:
        self.history = []


# --- the command line ---------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="litlab chat", description="talk with a language model trained on dialogue"
    )
    p.add_argument("--ckpt", required=True, help="a checkpoint of a dialogue-trained model")
    p.add_argument("--user", default=None, help="your speaker name (default: the data's)")
    p.add_argument("--bot", default=None, help="the model's speaker name (default: the data's)")
    p.add_argument("--max-new-tokens", type=int, default=300, help="longest reply, in tokens")
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (deterministic)")
    p.add_argument("--top-k", type=int, default=40, help="sample among the k likeliest; 0: all")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold")
    p.add_argument("--seed", type=int, default=0, help="fixes the whole conversation's samples")
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    return p


def _fail(message: str) -> int:
    print(f"litlab chat: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.temperature < 0 or args.top_k < 0 or not 0 < (args.top_p or 1) <= 1:
        return _fail("--temperature and --top-k must be >= 0, --top-p in (0, 1]")
    try:
        model, data = load_inference(args.ckpt, map_location=args.device)
    except CheckpointError as err:
        return _fail(str(err))
    try:
        session = ChatSession(
            model,
            data,
            args.user,
            args.bot,
            args.max_new_tokens,
            args.temperature,
            args.top_k or None,
            args.top_p,
            args.seed,
        )
    except ValueError as err:
        return _fail(f"cannot chat with {args.ckpt}: {err}")
    echo = not sys.stdin.isatty()  # piped input: show it, so the transcript reads as a chat
    print(f"Talking with {session.bot}. Leave with 'quit', Ctrl-D or Ctrl-C.", flush=True)
    try:
        while True:
            try:
                line = input(f"{session.user}> ")
            except EOFError:
                print()
                break
            if echo:
                print(line)
            if line.strip().lower() in ("quit", "exit"):
                break
            try:
                session.user_turn(line)
            except UnreadableMessage as err:
                if echo:  # piped: a script's bad line ends the run, with its status
                    return _fail(str(err))
                print(f"litlab chat: {err}", file=sys.stderr)
                continue
            reply = session.stream(line)
            first = next(reply, None)  # sampling starts here; the user turn is now cleaned
            if session.dropped:
                left_out = " ".join(session.dropped)
                print(f"(left out characters this model never saw: {left_out})")
            print(f"{session.bot}: {first or ''}", end="", flush=True)
            for piece in reply:
                print(piece, end="", flush=True)
            print(flush=True)
    except KeyboardInterrupt:
        print()
    return 0
