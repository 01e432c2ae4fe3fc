"""Tiny copies of the text and time-series data sets, in the canonical formats of shared/data.

Every writer produces the same layout as the offline copy (see shared/data/README.md), so the
loaders under test are the ones that read the real files. Contents are generated, small and
deterministic; the sentiment ones carry a learnable signal (positive and negative words).
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import random
import tarfile
from pathlib import Path

LINES = [
    "First Citizen:\nBefore we proceed any further, hear me speak.\n\n",
    "All:\nSpeak, speak.\n\n",
    "ROMEO:\nBut, soft! what light through yonder window breaks?\n\n",
    "JULIET:\nO Romeo, Romeo! wherefore art thou Romeo?\n\n",
    "MENENIUS:\nWhat work's, my countrymen, in hand? where go you?\n\n",
]
POS_EN = ["great", "wonderful", "moving", "brilliant", "fun"]
NEG_EN = ["boring", "awful", "dull", "terrible", "bad"]
POS_KO = ["재밌어요", "최고", "감동", "좋아요", "강추"]
NEG_KO = ["지루해요", "최악", "별로", "실망", "노잼"]
FILLER_EN = "the movie was a story and the acting in this film is".split()
FILLER_KO = "이 영화 정말 배우 연기 스토리 그리고 진짜 너무".split()


def review(rng: random.Random, label: int, korean: bool = False, words: int = 12) -> str:
    filler = FILLER_KO if korean else FILLER_EN
    cue = (POS_KO if label else NEG_KO) if korean else (POS_EN if label else NEG_EN)
    out = [rng.choice(filler) for _ in range(rng.randint(words // 2, words))]
    for _ in range(2):
        out.insert(rng.randint(0, len(out)), rng.choice(cue))
    return " ".join(out)


def write_shakespeare(root: Path, chars: int = 20_000) -> Path:
    """shakespeare/input.txt and complete_works.txt: play-like text, speaker tags and turns."""
    rng = random.Random(0)
    text = ""
    while len(text) < chars:
        text += rng.choice(LINES)
    folder = root / "shakespeare"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "input.txt").write_text(text)
    (folder / "complete_works.txt").write_text("THE TRAGEDY OF ROMEO AND JULIET\n\n" + text)
    return folder


def write_imdb(root: Path, per_label: int = 12) -> Path:
    """imdb/aclImdb_50k_labeled.tar.gz: aclImdb/{train,test}/{pos,neg}/<id>_<stars>.txt."""
    rng = random.Random(1)
    folder = root / "imdb"
    folder.mkdir(parents=True, exist_ok=True)
    archive = folder / "aclImdb_50k_labeled.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        for split in ("train", "test"):
            for label, name in ((1, "pos"), (0, "neg")):
                for i in range(per_label):
                    stars = rng.choice([7, 8, 9, 10] if label else [1, 2, 3, 4])
                    data = (review(rng, label, words=30) + " <br /><br />The end.").encode()
                    info = tarfile.TarInfo(f"aclImdb/{split}/{name}/{i}_{stars}.txt")
                    info.size = len(data)
                    tf.addfile(info, io.BytesIO(data))
        vocab = "\n".join(FILLER_EN + POS_EN + NEG_EN).encode()
        info = tarfile.TarInfo("aclImdb/imdb.vocab")
        info.size = len(vocab)
        tf.addfile(info, io.BytesIO(vocab))
    return archive


def write_sst2(root: Path, n_train: int = 48, n_dev: int = 16) -> Path:
    """sst2/{train,dev}.tsv: "sentence<TAB>label" with a header row (GLUE's format)."""
    rng = random.Random(2)
    folder = root / "sst2"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("dev", n_dev)):
        rows = ["sentence\tlabel"]
        for i in range(n):
            label = i % 2
            rows.append(f"{review(rng, label, words=8)} \t{label}")
        (folder / f"{split}.tsv").write_text("\n".join(rows) + "\n")
    return folder


def write_nsmc(root: Path, n_train: int = 48, n_test: int = 16) -> Path:
    """nsmc/ratings_{train,test}.txt.gz: gzipped "id<TAB>document<TAB>label", header row."""
    rng = random.Random(3)
    folder = root / "nsmc"
    folder.mkdir(parents=True, exist_ok=True)
    for split, n in (("train", n_train), ("test", n_test)):
        rows = ["id\tdocument\tlabel"]
        for i in range(n):
            label = i % 2
            rows.append(f"{10_000_000 + i}\t{review(rng, label, korean=True, words=8)}\t{label}")
        with gzip.open(folder / f"ratings_{split}.txt.gz", "wt", encoding="utf-8") as f:
            f.write("\n".join(rows) + "\n")
    return folder


CHAT_KO = [  # (question, answer, label): a few pairs, repeated with variations below
    ("오늘 너무 힘들어", "푹 쉬세요.", "1"),
    ("배고파", "맛있게 드세요.", "0"),
    ("여행 가고 싶다", "여행은 언제나 좋죠.", "0"),
    ("헤어졌어", "마음이 아프네요.", "1"),
    ("좋아하는 사람이 생겼어", "설레겠어요.", "2"),
    ("잠이 안 와", "따뜻한 우유 한 잔 어때요?", "0"),
]


def write_chatbot(root: Path, n: int = 60) -> Path:
    """chat/ChatbotData.csv: UTF-8 "Q,A,label" with a header, as songys/Chatbot_data (one
    label "2   " with trailing spaces, as in the real file)."""
    rng = random.Random(4)
    folder = root / "chat"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "ChatbotData.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["Q", "A", "label"])
        for i in range(n):
            q, a, label = CHAT_KO[i % len(CHAT_KO)]
            suffix = rng.choice(["", " 진짜", " 요즘", " 정말", " 너무"]) + f" {i}"
            w.writerow([q + suffix, a, "2   " if i == n - 1 else label])
    return folder


def write_timeseries(root: Path) -> Path:
    """timeseries/airline_passengers.csv (Date,Passengers; 144 months) and sunspots.csv
    ("YEAR","SUNACTIVITY"; 309 years): trend times seasonality, and an 11-year cycle."""
    folder = root / "timeseries"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "airline_passengers.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Date", "Passengers"])
        for m in range(144):
            value = (110 + 2.5 * m) * (1 + 0.2 * math.sin(2 * math.pi * m / 12))
            w.writerow([f"{1949 + m // 12}-{m % 12 + 1:02d}", round(value)])
    with open(folder / "sunspots.csv", "w", newline="") as f:
        w = csv.writer(f, quoting=csv.QUOTE_NONNUMERIC)
        w.writerow(["YEAR", "SUNACTIVITY"])
        for y in range(309):
            w.writerow([1700 + y, round(60 + 55 * math.sin(2 * math.pi * y / 11), 1)])
    return folder


def write_all_text(root: Path) -> Path:
    write_shakespeare(root)
    write_imdb(root)
    write_sst2(root)
    write_nsmc(root)
    write_chatbot(root)
    write_timeseries(root)
    return root
