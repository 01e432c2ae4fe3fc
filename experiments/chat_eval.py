"""``litlab chat-eval``: score chatbots on held-out questions, beside a retrieval baseline.

    litlab chat-eval --ckpt logs/transformer/ko_chatbot_gpt/version_0/checkpoints/best.ckpt \\
        [--ckpt logs/transformer/ko_chatbot_finetune/version_0/checkpoints/best.ckpt] \\
        [--split test] [--temperature 0] [--samples 10] [--seed 0] [--out results/chat_eval.json]

For every checkpoint (a GPT trained on Q/A turns, e.g. ``KoreanChatDataModule``) and for a
TF-IDF retrieval bot built from the same training pairs (``sequence/chat/retrieval.py``),
one evaluation, the same for all: each held-out question is asked on its own (no history),
the reply is cut at the turn boundary, and the replies are scored against the reference
answers with chrF and distinct-1/2 (``sequence/chat/metrics.py``). The checkpoints also get
their answer-token loss and perplexity on the split (the retrieval bot has no probabilities).
Because ChatbotData answers many paraphrased questions with the same sentence, the table
also gives chrF on the pairs whose reference answer never occurs in training ("chrF,
new answers"): there no bot can score by repeating a training answer verbatim.
Replies are greedy by default (``--temperature 0``: deterministic, the measure), while the
sample exchanges are sampled (temperature 0.8, top-k 40) with ``--seed`` over ``--samples``
held-out questions drawn with the same seed: fixed, not picked by hand.

Prints a markdown table and the exchanges; ``--out`` also writes them as JSON. Exit status
0, or 2 with one line for a checkpoint that is not a Q/A chat model.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import torch

from litlab.common.chat import ChatSession, UnreadableMessage
from litlab.common.checkpoints import CheckpointError, load_trained
from litlab.common.errors import CommandParser
from litlab.common.language_model import counted
from litlab.sequence.chat.metrics import chrf, reply_scores
from litlab.sequence.chat.retrieval import RetrievalBot

RETRIEVAL = "retrieval (TF-IDF char 1-3-grams)"


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="litlab chat-eval", description="score Q/A chatbots on held-out pairs")
    p.add_argument("--ckpt", action="append", required=True, help="a chat checkpoint (repeatable)")
    p.add_argument("--name", action="append", default=[], help="a label per --ckpt, in order")
    p.add_argument("--split", default="test", choices=["val", "test"])
    p.add_argument("--limit", type=int, default=None, help="only the first N pairs of the split")
    p.add_argument("--temperature", type=float, default=0.0, help="for the scored replies")
    p.add_argument("--max-new-tokens", type=int, default=60)
    p.add_argument("--samples", type=int, default=10, help="sample exchanges to show")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--data-root", default=None, help="where the pairs are (default: the run's)")
    p.add_argument("--out", default=None, help="also write the results here as JSON")
    return p


@torch.no_grad()
def answer_loss(model, data, split: str) -> float:
    """Mean cross-entropy per answer token over the split (question tokens are ignored)."""
    loader = data.val_dataloader() if split == "val" else data.test_dataloader()
    total, n = 0.0, 0
    for x, y in loader:
        k = counted(y)
        total += float(model.loss(x.to(model.device), y.to(model.device))) * k
        n += k
    return total / max(n, 1)


def model_replies(session: ChatSession, questions: list[str]) -> list[str]:
    """One reply per question, each asked in a fresh conversation."""
    out = []
    for q in questions:
        session.reset()
        try:
            out.append(session.reply(q))
        except UnreadableMessage:  # a question of characters the vocabulary lacks
            out.append("")
    return out


def evaluate(
    models: dict[str, tuple], split: str, limit: int | None, temperature: float,
    max_new_tokens: int, samples: int, seed: int,
) -> dict:  # fmt: skip
    """Scores of every model and the retrieval bot, and the sample exchanges."""
    first_data = next(iter(models.values()))[1]
    pairs = first_data.pairs(split)[:limit]
    train = first_data.pairs("train")
    questions, answers = [p.question for p in pairs], [p.answer for p in pairs]
    seen = {p.answer for p in train}
    new = [i for i, a in enumerate(answers) if a not in seen]  # answers training never has

    def scores(replies: list[str]) -> dict[str, float]:
        new_chrf = chrf([replies[i] for i in new], [answers[i] for i in new]) if new else 0.0
        return {**reply_scores(replies, answers), "chrf_new_answers": new_chrf}

    rows, t = {}, time.perf_counter()
    bot = RetrievalBot([p.question for p in train], [p.answer for p in train])
    retrieved = bot.replies(questions)
    rows[RETRIEVAL] = {**scores(retrieved), "seconds": time.perf_counter() - t}
    picked = random.Random(seed).sample(range(len(pairs)), min(samples, len(pairs)))
    exchanges = [
        {"question": questions[i], "reference": answers[i], RETRIEVAL: retrieved[i]}
        for i in picked
    ]
    for name, (model, data) in models.items():
        if data.pairs(split)[:limit] != pairs:
            raise ValueError(f"{name} was trained on another split than the first checkpoint")
        t = time.perf_counter()
        loss = answer_loss(model, data, split)
        session = ChatSession(
            model, data, max_new_tokens=max_new_tokens, temperature=temperature, seed=seed
        )
        replies = model_replies(session, questions)
        rows[name] = {
            "answer_loss": loss,
            "answer_ppl": math.exp(loss),
            **scores(replies),
            "seconds": time.perf_counter() - t,
        }
        sampler = ChatSession(model, data, max_new_tokens=max_new_tokens, temperature=0.8,
                              top_k=40, seed=seed)  # fmt: skip
        for ex, reply in zip(exchanges, model_replies(sampler, [questions[i] for i in picked])):
            ex[name] = reply
    return {"split": split, "pairs": len(pairs), "new_answers": len(new), "rows": rows,
            "temperature": temperature, "exchanges": exchanges, "seed": seed}  # fmt: skip


def markdown(result: dict) -> str:
    """The scores as a table, then the exchanges."""
    lines = [
        f"{result['split']} split, {result['pairs']} pairs ({result['new_answers']} with an "
        f"answer that never occurs in training), replies at temperature {result['temperature']}:",
        "",
        "| bot | answer loss | answer ppl | chrF | chrF, new answers | distinct-1 | distinct-2 "
        "| mean chars | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, r in result["rows"].items():
        loss = f"{r['answer_loss']:.3f} | {r['answer_ppl']:.1f}" if "answer_loss" in r else "- | -"
        lines.append(
            f"| {name} | {loss} | {r['chrf']:.2f} | {r['chrf_new_answers']:.2f} | "
            f"{r['distinct1']:.3f} | "
            f"{r['distinct2']:.3f} | {r['mean_chars']:.1f} | {r['seconds']:.0f} |"
        )
    lines += ["", f"Sample exchanges (seed {result['seed']}; models sampled at 0.8, top-k 40):"]
    for i, ex in enumerate(result["exchanges"], 1):
        lines.append(f"{i}. Q: {ex['question']}  (reference: {ex['reference']})")
        lines += [f"   - {k}: {v}" for k, v in ex.items() if k not in ("question", "reference")]
    return "\n".join(lines)


def _fail(message: str) -> int:
    print(f"litlab chat-eval: error: {message}", file=sys.stderr)
    return 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.name and len(args.name) != len(args.ckpt):
        return _fail(f"{len(args.name)} --name for {len(args.ckpt)} --ckpt: give one each or none")
    names = args.name or [Path(c).parts[-4] if len(Path(c).parts) >= 4 else c for c in args.ckpt]
    models = {}
    for name, ckpt in zip(names, args.ckpt):
        try:
            model, data = load_trained(ckpt)
        except CheckpointError as err:
            return _fail(str(err))
        if not hasattr(data, "pairs"):
            return _fail(f"{ckpt} holds no Q/A chat data (a KoreanChatDataModule): nothing to ask")
        if args.data_root:
            data.root = Path(args.data_root)
        models[name] = (model, data)
    try:
        result = evaluate(
            models, args.split, args.limit, args.temperature, args.max_new_tokens, args.samples,
            args.seed,
        )  # fmt: skip
    except ValueError as err:
        return _fail(str(err))
    print(markdown(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, ensure_ascii=False, indent=1))
    return 0
