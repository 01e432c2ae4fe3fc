"""Is a text in the language a model was trained on? A warning when it mostly is not.

An English sentiment model still answers a Korean review, confidently and meaninglessly. Two
cheap signs say the text is outside what the model learnt:

* the script: the share of the text's letters written in the script of the model's
  language (Hangul for Korean, Latin for English; ``unicodedata`` names each letter's script).
  Below ``min_share`` the text "looks" like the language of its most common script. Scripts
  tell Korean from English, not English from French: both are Latin letters, and a Latin text
  is taken for English;
* the vocabulary: the share of the text's tokens that are the tokenizer's unknown token
  (a Korean BPE meeting emoji or Latin words it never saw; byte-level BPE has none).

A model's language is its DataModule's ``language`` attribute ("en", "ko"), else worked out
from its tokenizer ``kind`` ("korean" -> "ko", "byte_level" -> "en"), else unknown (then only
the vocabulary is checked). ``language_warning`` words the warning and, given the other
models at hand and their languages, names one trained on the text's language.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from litlab.common.pieces import special_ids

NAMES = {"en": "English", "ko": "Korean", "ja": "Japanese", "zh": "Chinese", "ru": "Russian",
         "ar": "Arabic", "el": "Greek", "he": "Hebrew", "th": "Thai", "hi": "Hindi"}  # fmt: skip
SCRIPT_OF = {"en": "LATIN", "ko": "HANGUL", "ja": "KANA", "zh": "CJK", "ru": "CYRILLIC",
             "ar": "ARABIC", "el": "GREEK", "he": "HEBREW", "th": "THAI",
             "hi": "DEVANAGARI"}  # fmt: skip
LANGUAGE_OF = {script: lang for lang, script in SCRIPT_OF.items()}
KINDS = {"korean": "ko", "byte_level": "en"}  # SubwordTokenizer kinds (sequence/tokenizers.py)


def model_language(data: Any) -> str | None:
    """The language code of the text a model was trained on, from its DataModule."""
    lang = getattr(data, "language", None)
    return lang if isinstance(lang, str) else KINDS.get(getattr(data, "kind", None))


def script(char: str) -> str | None:
    """A letter's script ("LATIN", "HANGUL", "KANA", "CJK", ...); None for anything else."""
    if not char.isalpha():
        return None
    name = unicodedata.name(char, "")
    if name.startswith(("HIRAGANA", "KATAKANA")):
        return "KANA"
    return name.split(" ")[0] or None


def script_shares(text: str) -> dict[str, float]:
    """Each script's share of the text's letters (empty for a text without letters)."""
    counts = Counter(s for s in map(script, text) if s is not None)
    total = sum(counts.values())
    return {s: n / total for s, n in counts.most_common()}


def text_language(text: str) -> str | None:
    """The language of the text's most common script (Latin taken for English), or None."""
    shares = script_shares(text)
    return LANGUAGE_OF.get(next(iter(shares), ""))


def unknown_share(tokenizer: Any, ids: Sequence[int]) -> float | None:
    """The share of the text's tokens (specials and padding left out) that are unknown; None
    for a tokenizer without an unknown token."""
    unk = getattr(tokenizer, "unk_id", None)
    if unk is None:
        return None
    skip = special_ids(tokenizer) - {unk}
    real = [i for i in ids if i not in skip]
    return sum(i == unk for i in real) / len(real) if real else None


def language_warning(
    data: Any,
    text: str,
    ids: Sequence[int] | None = None,
    others: Mapping[str, str | None] | None = None,
    min_share: float = 0.5,
    max_unknown: float = 0.5,
) -> str | None:
    """A one-sentence warning when ``text`` is mostly outside the model's language or
    vocabulary, else None.

    ``data``: the model's DataModule; ``ids``: the text's token ids as the model sees them
    (for the unknown-token share); ``others``: other models' names -> language codes, to
    suggest one trained on the text's language.
    """
    lang = model_language(data)
    trained = f"this model was trained on {NAMES.get(lang, lang)} text" if lang else None
    looks = text_language(text)
    problem = None
    if lang in SCRIPT_OF and script_shares(text):
        if script_shares(text).get(SCRIPT_OF[lang], 0.0) < min_share and looks != lang:
            seen = f"looks {NAMES[looks]}" if looks in NAMES else "is in another script"
            problem = f"{trained}; the text {seen}"
    tokenizer = getattr(data, "tokenizer", None)
    share = unknown_share(tokenizer, ids) if problem is None and ids is not None else None
    if share is not None and share > max_unknown:
        problem = f"{share:.0%} of the text's tokens are unknown to this model's vocabulary"
        problem += f" ({trained})" if trained else ""
    if problem is None:
        return None
    better = [name for name, other in (others or {}).items() if other and other == looks]
    return problem + (f": try {better[0]}" if better else "")
