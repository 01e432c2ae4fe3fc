"""``litlab summarize``: the extractive summary of your article, sentences scored and marked.

    litlab summarize --ckpt logs/sequence/bbc_extractive/version_0/checkpoints/best.ckpt \\
        --input article.txt [--ratio 0.3] [--out out/]
    litlab summarize --model bbc-extractive --input - < article.txt   # a registry model

Prints the summary (the picked sentences, in article order), then every sentence with its
score, picked ones marked ``>>``. ``--ratio`` is the share of the article's words the
summary may fill (default: the one the model was trained with, 45 % for BBC). ``--out DIR``
writes ``summary.json`` and ``sentence_scores.png`` (the chart of the TensorBoard
callback). The input is UTF-8 text (paragraphs separated by blank lines); an empty or
unreadable file, or a checkpoint that is not a summarizer, ends with exit status 2 and one
line saying why. A very long article is summarized from the sentences the model reads, and
a note says so.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from litlab.common.checkpoints import load_inference
from litlab.common.errors import CommandParser, ConfigError
from litlab.common.extractive import Summary, summarize
from litlab.common.registry import load


def read_article(path: str) -> str:
    """The text of ``path`` (``-``: standard input) as UTF-8; ConfigError for bytes that are
    not UTF-8 or a file that cannot be read."""
    try:
        raw = sys.stdin.buffer.read() if path == "-" else Path(path).read_bytes()
    except OSError as err:
        raise ConfigError(f"--input {path}: cannot be read ({err.strerror or err})") from err
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise ConfigError(
            f"--input {path}: not UTF-8 text (byte {err.start}); save it as UTF-8 and try again"
        ) from err


def report(result: Summary) -> str:
    picked = set(result.picked)
    lines = ["summary:", result.text, "", "sentences (>> picked), score:"]
    for i, (s, p) in enumerate(zip(result.sentences, result.scores)):
        lines.append(f"{'>>' if i in picked else '  '} {i + 1:3d}  {p:.2f}  {s}")
    lines += [f"note: {n}" for n in result.notes]
    return "\n".join(lines)


def save(result: Summary, out: Path) -> None:
    import matplotlib.pyplot as plt

    from litlab.common.viz import sentence_score_figure

    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(result.as_dict(), indent=2, ensure_ascii=False)
    (out / "summary.json").write_text(text + "\n", encoding="utf-8")
    fig = sentence_score_figure(result.scores, result.picked)
    fig.savefig(out / "sentence_scores.png", dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = CommandParser(prog="litlab summarize", description=__doc__.split("\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--ckpt", help="a checkpoint written by litlab fit")
    which.add_argument("--model", help="a registry model name (see litlab models)")
    parser.add_argument("--version", help="with --model: a version, e.g. v2 (default: latest)")
    parser.add_argument("--root", default="models", help="the registry folder (--model)")
    parser.add_argument("--input", required=True, help="a UTF-8 text file, or - for stdin")
    parser.add_argument("--ratio", type=float, help="share of the article's words, in (0, 1]")
    parser.add_argument("--out", help="folder for summary.json and sentence_scores.png")
    args = parser.parse_args(argv)
    if args.version and not args.model:
        parser.error("--version goes with --model")
    text = read_article(args.input)
    if args.ckpt:
        model, data = load_inference(args.ckpt)
    else:
        loaded = load(f"{args.model}@{args.version}" if args.version else args.model, args.root)
        model, data = loaded.model, loaded.data
    try:
        result = summarize(model, data, text, args.ratio)
    except ValueError as err:
        raise ConfigError(str(err)) from err
    print(report(result))
    if args.out:
        save(result, Path(args.out))
        print(f"\nwritten: {Path(args.out) / 'summary.json'}, sentence_scores.png")
    return 0
