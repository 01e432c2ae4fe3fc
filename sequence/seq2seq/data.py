"""Date normalisation, generated in code: human-written dates in English and Korean -> ISO 8601.

    "November 25, 2026"  "25 Nov 2026"  "11/25/26"  "Wed, 25th of November 2026"
    "2026년 11월 25일"  "26년 11월 25일 수요일"  "2026. 11. 25."           -> "2026-11-25"

A small, exactly checkable translation task: the model must find the day, month and year
wherever a format puts them and copy or translate them, which is what attention is for.

Dates are drawn from 1969-01-01 to 2068-12-31, so a two-digit year is never ambiguous (the
POSIX rule Python's ``strptime("%y")`` follows: 69-99 -> 19xx, 00-68 -> 20xx). Slashed
dates are always month first (US). The calendar days are split once, by ``seed``, into
train / val / test days, so no date (and no date string) of the test set is seen in
training. Characters are tokens (``CharTokenizer`` with ``<pad>``, ``<s>``, ``</s>``,
``<unk>``); its state travels in the checkpoint through :meth:`DateDataModule.state_dict`.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable

import lightning as L
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from litlab.common.data import SplitLoaders
from litlab.common.errors import ConfigError, check_positive
from litlab.common.protocols import TokenBatch
from litlab.common.resume import ResumableDataLoader
from litlab.sequence.tokenizers import PAD, UNK, CharTokenizer, tokenizer_from_state

BOS, EOS = "<s>", "</s>"
FIRST_DAY, LAST_DAY = dt.date(1969, 1, 1), dt.date(2068, 12, 31)
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
WEEKDAYS_KO = ["월", "화", "수", "목", "금", "토", "일"]  # 월요일 = Monday, date.weekday() order


def ordinal(n: int) -> str:
    """1 -> "1st", 2 -> "2nd", 11 -> "11th", 23 -> "23rd"."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _parts(d: dt.date) -> dict[str, str]:
    month = MONTHS[d.month - 1]
    return {
        "Y": f"{d.year}", "y": f"{d.year % 100:02d}", "m": f"{d.month}", "mm": f"{d.month:02d}",
        "d": f"{d.day}", "dd": f"{d.day:02d}", "B": month, "b": month[:3], "th": ordinal(d.day),
        "A": WEEKDAYS[d.weekday()], "a": WEEKDAYS[d.weekday()][:3], "K": WEEKDAYS_KO[d.weekday()],
    }


# each format: date parts -> string; weekday names are computed here, never from the locale
ENGLISH: list[Callable[[dict[str, str]], str]] = [
    lambda p: f"{p['B']} {p['d']}, {p['Y']}",  # November 25, 2026
    lambda p: f"{p['d']} {p['b']} {p['Y']}",  # 25 Nov 2026
    lambda p: f"{p['m']}/{p['d']}/{p['Y']}",  # 11/25/2026
    lambda p: f"{p['mm']}/{p['dd']}/{p['y']}",  # 11/25/26
    lambda p: f"{p['a']}, {p['th']} of {p['B']} {p['Y']}",  # Wed, 25th of November 2026
    lambda p: f"{p['A']}, {p['B']} {p['d']}, {p['Y']}",  # Wednesday, November 25, 2026
    lambda p: f"{p['b'].lower()} {p['d']} {p['Y']}",  # nov 25 2026
    lambda p: f"{p['d']} {p['B'].upper()} {p['Y']}",  # 25 NOVEMBER 2026
    lambda p: f"the {p['th']} of {p['B']}, {p['Y']}",  # the 25th of November, 2026
    lambda p: f"{p['b']}. {p['d']}, {p['Y']}",  # Nov. 25, 2026
    lambda p: f"{p['dd']}-{p['b']}-{p['Y']}",  # 25-Nov-2026
    lambda p: f"{p['A']} {p['d']} {p['B']} {p['Y']}",  # Wednesday 25 November 2026
    lambda p: f"{p['Y']}/{p['mm']}/{p['dd']}",  # 2026/11/25
    lambda p: f"{p['B']} {p['th']}, {p['Y']}",  # November 25th, 2026
]
KOREAN: list[Callable[[dict[str, str]], str]] = [
    lambda p: f"{p['Y']}년 {p['m']}월 {p['d']}일",  # 2026년 11월 25일
    lambda p: f"{p['y']}년 {p['m']}월 {p['d']}일 {p['K']}요일",  # 26년 11월 25일 수요일
    lambda p: f"{p['Y']}년 {p['m']}월 {p['d']}일 ({p['K']})",  # 2026년 11월 25일 (수)
    lambda p: f"{p['Y']}. {p['m']}. {p['d']}.",  # 2026. 11. 25.
    lambda p: f"{p['Y']}.{p['mm']}.{p['dd']}",  # 2026.11.25
    lambda p: f"{p['Y']}년{p['mm']}월{p['dd']}일",  # 2026년11월25일
    lambda p: f"{p['Y']}년 {p['m']}월 {p['d']}일 {p['K']}요일",  # 2026년 11월 25일 수요일
]


def render(d: dt.date, rng: random.Random, korean_share: float = 0.5) -> tuple[str, str]:
    """One human-written form of ``d`` (a random format, Korean with ``korean_share``) and its
    ISO 8601 form."""
    formats = KOREAN if rng.random() < korean_share else ENGLISH
    return rng.choice(formats)(_parts(d)), d.isoformat()


def split_days(seed: int, n_val: int, n_test: int) -> dict[str, list[dt.date]]:
    """Every day of the range, shuffled once and cut into disjoint train / val / test days."""
    days = [FIRST_DAY + dt.timedelta(i) for i in range((LAST_DAY - FIRST_DAY).days + 1)]
    random.Random(seed).shuffle(days)
    return {"val": days[:n_val], "test": days[n_val : n_val + n_test],
            "train": days[n_val + n_test :]}


def make_pairs(
    days: list[dt.date], n: int, seed: int, korean_share: float
) -> list[tuple[str, str]]:
    """``n`` (source, target) pairs drawn from ``days``, each in a random format."""
    rng = random.Random(seed)
    # each day at most once while there are enough days (the test set), then with repeats
    drawn = rng.sample(days, n) if n <= len(days) else [rng.choice(days) for _ in range(n)]
    return [render(d, rng, korean_share) for d in drawn]


def is_korean(text: str) -> bool:
    """Whether ``text`` holds Hangul (the "2026. 11. 25." style has none: counted English)."""
    return any("\uac00" <= c <= "\ud7a3" for c in text)


def alphabet() -> list[str]:
    """Every character any format can produce (all months, weekdays, digits), sorted."""
    chars = set("0123456789-")
    for month in range(1, 13):
        for day in range(1, 8):  # seven consecutive days: every weekday
            p = _parts(dt.date(2001, month, day + 20))
            chars |= {c for f in ENGLISH + KOREAN for c in f(p)}
    return sorted(chars)


class DateDataModule(SplitLoaders, L.LightningDataModule):
    """Generated date pairs; batches are ``(TokenBatch(src ids, src lengths), target ids)``,
    targets being ``<s> 2026-11-25 </s>`` (padded). Model-agnostic: RNN or transformer.

    Args:
        root: unused (the data is generated); accepted so every DataModule takes it.
        n_train, n_val, n_test: pairs per split; val and test days are disjoint from train's.
        korean_share: fraction of Korean inputs.
        seed: fixes the day split and every pair.
    """

    def __init__(
        self,
        root: str | None = None,
        batch_size: int = 128,
        n_train: int = 20_000,
        n_val: int = 1_000,
        n_test: int = 2_000,
        korean_share: float = 0.5,
        seed: int = 0,
    ) -> None:
        super().__init__()
        check_positive(
            "--data.init_args", batch_size=batch_size, n_train=n_train, n_val=n_val, n_test=n_test
        )
        days = (LAST_DAY - FIRST_DAY).days + 1
        if max(n_val, 1000) + max(n_test, 2000) >= days:  # split_days' cut: no training day left
            raise ConfigError(
                f"--data.init_args.n_val {n_val} and n_test {n_test} leave no training dates: "
                f"there are {days} days from {FIRST_DAY} to {LAST_DAY}; use smaller ones"
            )
        self.save_hyperparameters()
        self.tokenizer = CharTokenizer(alphabet(), extra=[PAD, BOS, EOS, UNK])
        self.pairs: dict[str, list[tuple[str, str]]] = {}

    # --- ids the models need -----------------------------------------------------------------

    @classmethod
    def model_values(cls, init_args: dict) -> dict[str, int]:
        """The fixed character vocabulary and padding id (LitlabCLI fills them in)."""
        tokenizer = CharTokenizer(alphabet(), extra=[PAD, BOS, EOS, UNK])
        return {"vocab_size": tokenizer.vocab_size, "pad_id": tokenizer.stoi[PAD]}

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.vocab_size

    @property
    def pad_id(self) -> int:
        return self.tokenizer.stoi[PAD]

    @property
    def bos_id(self) -> int:
        return self.tokenizer.stoi[BOS]

    @property
    def eos_id(self) -> int:
        return self.tokenizer.stoi[EOS]

    def setup(self, stage: str | None = None) -> None:
        if self.pairs:
            return
        hp = self.hparams
        # days are split first, pairs drawn after: a test day never appears in training
        days = split_days(hp.seed, n_val=max(hp.n_val, 1000), n_test=max(hp.n_test, 2000))
        self.pairs = {
            split: make_pairs(days[split], n, hp.seed + k + 1, hp.korean_share)
            for k, (split, n) in enumerate(
                [("train", hp.n_train), ("val", hp.n_val), ("test", hp.n_test)]
            )
        }

    # --- encoding ----------------------------------------------------------------------------

    def encode_texts(self, texts: list[str]) -> TokenBatch:
        """Raw strings -> padded source ids (B, S) and lengths; unknown characters -> <unk>."""
        unk = self.tokenizer.stoi[UNK]
        rows = [[self.tokenizer.stoi.get(c, unk) for c in t.strip()] or [unk] for t in texts]
        ids = torch.full((len(rows), max(map(len, rows))), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return TokenBatch(ids, torch.tensor([len(r) for r in rows]))

    def encode_targets(self, targets: list[str]) -> Tensor:
        """ISO strings -> (B, T) ids ``<s> ... </s>`` padded."""
        rows = [[self.bos_id, *self.tokenizer.encode(t), self.eos_id] for t in targets]
        ids = torch.full((len(rows), max(map(len, rows))), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, : len(r)] = torch.tensor(r)
        return ids

    def decode(self, ids: Tensor) -> str:
        """Output ids (T,) -> text, up to the first ``</s>``; specials dropped."""
        out = []
        for i in ids.tolist():
            if i == self.eos_id:
                break
            if i not in (self.pad_id, self.bos_id):
                out.append(self.tokenizer.itos[i])
        return "".join(out)

    def token_strings(self, ids: Tensor) -> list[str]:
        return self.tokenizer.token_strings(ids.tolist())

    def _collate(self, pairs: list[tuple[str, str]]) -> tuple[TokenBatch, Tensor]:
        return self.encode_texts([s for s, _ in pairs]), self.encode_targets([t for _, t in pairs])

    def probe_batch(self, n: int, split: str = "val") -> tuple[TokenBatch, Tensor]:
        """``n`` fixed inputs alternating English and Korean (rendered from this split's days)."""
        self.setup()
        english = [p for p in self.pairs[split] if not is_korean(p[0])]
        korean = [p for p in self.pairs[split] if is_korean(p[0])]
        picked = [(english if i % 2 == 0 else korean or english)[i // 2] for i in range(n)]
        return self._collate(picked)

    # --- loaders -----------------------------------------------------------------------------

    def _loader(self, split: str) -> DataLoader:
        self.setup()
        train = split == "train"
        bs = self.hparams.batch_size * (1 if train else 4)
        return ResumableDataLoader(self.pairs[split], bs, shuffle=train, collate_fn=self._collate)

    # --- what a checkpoint keeps -------------------------------------------------------------

    def state_dict(self) -> dict:
        return {"tokenizer": self.tokenizer.state()}

    def load_state_dict(self, state: dict) -> None:
        self.tokenizer = tokenizer_from_state(state["tokenizer"])
