"""Summaries in serve/: the ``/summarize`` answer and the web app's Summarize tab.

``summarize(served, text, ratio)`` is ``common.extractive.summarize`` under the model's
lock, with a user's mistakes turned into ``InputError`` (422): an empty or whitespace
article, a ratio outside (0, 1]. An article over the model's reach is summarized from the
sentences it reads, with a note in the answer, never an error. ``summary_html`` draws every
sentence with a background as strong as its score, the picked ones in bold.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from litlab.common.extractive import summarize as summarize_article
from litlab.serve.payloads import InputError

if TYPE_CHECKING:
    from litlab.serve.hub import ModelHub, Served

MAX_ARTICLE = 100_000  # characters; a longer body is refused by the schema (422)
EXAMPLE = (
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn for the three "
    "months to December. The firm, which is now one of the biggest investors in Google, "
    "benefited from sales of high-speed internet connections and higher advert sales. "
    "TimeWarner said fourth quarter sales rose 2% to $11.1bn from $10.9bn.\n\nIts film "
    "division saw profits slump 27% to $284m, helped by box-office flops Alexander and "
    "Catwoman. For the full-year, TimeWarner posted a profit of $3.36bn, up 27% from its "
    "2003 performance, while revenues grew 6.4% to $42.09bn."
)


def summarize(served: Served, text: str, ratio: float | None = None) -> dict:
    """``{"model", "summary", "sentences": [{"text", "score", "selected"}], "notes"}``."""
    if not text.strip():
        raise InputError("the article is empty: paste the text of an article", 422)
    with served.lock:
        try:
            result = summarize_article(served.model, served.data, text, ratio, MAX_ARTICLE)
        except ValueError as err:
            raise InputError(str(err), 422) from err
    return {"model": f"{served.name}@{served.version}", **result.as_dict()}


def summary_html(out: dict) -> str:
    """Sentences shaded by score (hover for the number), picked ones bold and underlined."""
    spans = []
    for s in out["sentences"]:
        alpha = max(0.0, min(1.0, s["score"])) * 0.55
        style = f"background: rgba(37,99,235,{alpha:.2f});"
        if s["selected"]:
            style += " font-weight: 600; text-decoration: underline;"
        cls = "litlab-picked" if s["selected"] else "litlab-sentence"
        spans.append(f'<span class="{cls}" style="{style}" title="score {s["score"]:.2f}">'
                     f"{html.escape(s['text'])}</span>")
    notes = "".join(f'<p class="litlab-warning">{html.escape(n)}</p>' for n in out["notes"])
    legend = ("<p><small>shade: the model's score per sentence; <b><u>bold</u></b>: picked "
              "for the summary (the best that fit the length budget, in article order)"
              "</small></p>")
    return f'{notes}{legend}<div class="litlab-words">{" ".join(spans)}</div>'


def summarize_tab(hub: ModelHub, names: list[str], friendly) -> None:
    """Paste an article, get its summary and every sentence shaded by its score."""
    import gradio as gr  # the web app's; the JSON API (--no-ui) never imports it


    def run(model: str, text: str, ratio: float) -> tuple[str, str]:
        out = hub.summarize(model, text, float(ratio) if ratio else None)
        return out["summary"], summary_html(out)

    with gr.Row(equal_height=False):
        with gr.Column(min_width=280):
            model = gr.Dropdown(names, value=names[0], label="model",
                                elem_id="summarize-model", min_width=200)
            text = gr.Textbox(EXAMPLE, label="article", lines=10, elem_id="summarize-text",
                              max_length=MAX_ARTICLE)
            ratio = gr.Slider(0.1, 1.0, value=0.45, step=0.05, elem_id="summarize-ratio",
                              label="length: share of the article's words")
            button = gr.Button("Summarize", variant="primary", elem_id="summarize-run")
        with gr.Column(min_width=280):
            summary = gr.Textbox(label="summary", lines=6, interactive=False,
                                 elem_id="summarize-summary")
            sentences = gr.HTML(elem_id="summarize-sentences")
    button.click(friendly(run), [model, text, ratio], [summary, sentences], api_name="summarize")
