"""``litlab generate``: continue a prompt with a trained language model checkpoint.

    litlab generate --ckpt logs/sequence/shakespeare_char_lstm/version_0/checkpoints/best.ckpt \\
        --prompt "ROMEO:" --max-new-tokens 300 --temperature 0.8 --top-k 40 [--top-p 0.9] \\
        [--seed 0] [--num-samples 2] [--stop $'\n\n' ...]

Works for every LightningModule that implements ``LanguageModelSource`` (``generate``) with
a DataModule that implements ``LanguageData`` (a ``tokenizer`` in its checkpointed state):
the RNNs of ``litlab.sequence.lm`` and the GPT of ``transformer``. The text is printed as it is
sampled when the model offers ``generate_iter``; ``--stop`` (repeatable) ends a sample at
the first stop string, which is not printed. Exit status 0 on success, 2 for a
checkpoint or prompt that cannot be used (with one line saying why).

The checkpoint is loaded without Lightning (``common/inference.py``), and torch is imported
only once the arguments are read, so ``--help`` and a mistyped option answer at once.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from litlab.common.errors import CommandParser

if TYPE_CHECKING:
    import torch

    from litlab.common.protocols import LanguageModelSource


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(
        prog="litlab generate", description="sample text from a language model checkpoint"
    )
    p.add_argument("--ckpt", required=True, help="a checkpoint written by `litlab fit`")
    p.add_argument("--prompt", default=None, help="text to continue (default: the data's prompt)")
    p.add_argument("--max-new-tokens", type=int, default=300)
    p.add_argument("--temperature", type=float, default=0.8, help="0 = greedy (deterministic)")
    p.add_argument("--top-k", type=int, default=None, help="sample among the k likeliest only")
    p.add_argument("--top-p", type=float, default=None, help="nucleus sampling threshold")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--num-samples", type=int, default=1)
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        help="end a sample where this text appears (repeatable), e.g. --stop $'\\n\\n'",
    )
    p.add_argument("--device", default="cpu", help="cpu, cuda, mps")
    return p


def _fail(message: str) -> int:
    print(f"litlab generate: error: {message}", file=sys.stderr)
    return 2


def stream_text(
    model: LanguageModelSource,
    tokenizer,
    ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
    stops: Sequence[str] = (),
) -> Iterator[str]:
    """The text sampled after prompt ids (1, T), in pieces as it grows, ending before the
    first stop string (sampling stops there too). The pieces join to the continuation.

    Text that might be the start of a stop string is held back until the next tokens show
    whether it is. A model without ``generate_iter`` samples everything first.
    """
    from litlab.common.sampling import cut_at_stop, on_host, unsafe_tail  # torch: after --help

    prompt_ids = ids[0].tolist()
    prompt_text = tokenizer.decode(prompt_ids)
    iterate = getattr(model, "generate_iter", None)
    if iterate is None:
        out = model.generate(ids, max_new_tokens, temperature, top_k, top_p, generator=generator)
        tokens = iter(out[:, ids.shape[1] :].T)  # (B,) per step, as generate_iter yields
    else:
        tokens = iterate(ids, max_new_tokens, temperature, top_k, top_p, generator)
    done, shown = list(prompt_ids), 0
    try:
        for nxt in on_host(tokens):  # on a GPU, tokens come over in batches
            done.append(int(nxt[0]))
            # decode the whole text so far: a byte-level BPE token may end mid-character
            text = tokenizer.decode(done)
            if text.endswith("\ufffd"):
                continue
            new, stopped = cut_at_stop(text[len(prompt_text) :], stops)
            end = len(new) if stopped else len(new) - unsafe_tail(new, stops)
            if end > shown:
                yield new[shown:end]
                shown = end
            if stopped:
                return
        new, _ = cut_at_stop(tokenizer.decode(done)[len(prompt_text) :], stops)
        if len(new) > shown:
            yield new[shown:]
    finally:
        getattr(tokens, "close", lambda: None)()  # stop the sampler at once


def stream(model: LanguageModelSource, tokenizer, ids: torch.Tensor, args, g) -> str:
    """Sample one continuation of ids (1, T), printing the text as it grows; return it all."""
    text = tokenizer.decode(ids[0].tolist())
    print(text, end="", flush=True)
    for piece in stream_text(
        model,
        tokenizer,
        ids,
        args.max_new_tokens,
        args.temperature,
        args.top_k,
        args.top_p,
        g,
        args.stop,
    ):
        print(piece, end="", flush=True)
        text += piece
    print(flush=True)
    return text


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.max_new_tokens < 0 or args.num_samples < 1 or args.temperature < 0:
        return _fail("--max-new-tokens and --temperature must be >= 0, --num-samples >= 1")
    import torch

    from litlab.common.checkpoints import CheckpointError, load_inference
    from litlab.common.contracts import conforms
    from litlab.common.inference import device_of
    from litlab.common.protocols import LanguageData, LanguageModelSource

    try:
        model, data = load_inference(args.ckpt, map_location=args.device)
    except CheckpointError as err:
        return _fail(str(err))
    if not conforms(model, LanguageModelSource) or not conforms(data, LanguageData):
        return _fail(
            f"{args.ckpt} holds a {type(model).__name__} with a {type(data).__name__}, not a "
            "language model with a tokenizer (see LanguageModelSource in "
            "common/protocols.py)"
        )
    tokenizer = data.tokenizer
    prompt = args.prompt if args.prompt is not None else data.prompt
    try:
        prompt_ids = tokenizer.encode(prompt)
    except ValueError as err:  # a character the vocabulary never saw
        return _fail(f"the prompt cannot be encoded: {err}")
    if not prompt_ids:
        return _fail("the prompt is empty: give at least one token, e.g. --prompt $'\\n'")
    device = device_of(model)
    ids = torch.tensor([prompt_ids], dtype=torch.long, device=device)
    g = torch.Generator(device=device).manual_seed(args.seed)
    try:
        for i in range(args.num_samples):
            if args.num_samples > 1:
                print(f"--- sample {i + 1} ---", flush=True)
            stream(model, tokenizer, ids, args, g)
    except ValueError as err:  # e.g. top_p outside (0, 1]
        return _fail(str(err))
    return 0
