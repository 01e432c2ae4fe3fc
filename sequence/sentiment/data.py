"""LightningDataModules for sentiment: IMDB, SST-2 (GLUE) and Korean NSMC.

Each one only finds its files (offline copies first, a download when online and allowed)
and reads texts and labels; splitting, tokenizing, batching and the ``TextData`` protocol
come from :class:`~litlab.sequence.sentiment.text_classification.TextClassificationDataModule`.
"""

from __future__ import annotations

import gzip
import urllib.request
from pathlib import Path

from litlab.common.data import (
    ARCHIVE_ERRORS,
    CorruptDataError,
    MissingDataError,
    find_first,
    locate_dataset,
    online,
)
from litlab.sequence.sentiment.batching import BucketBatchSampler, TextSplits, clean_text
from litlab.sequence.sentiment.predict import KoreanTextCodec
from litlab.sequence.sentiment.text_classification import TextClassificationDataModule

__all__ = [
    "BucketBatchSampler",
    "IMDBDataModule",
    "NSMCDataModule",
    "SST2DataModule",
    "TextClassificationDataModule",
    "TextSplits",
]


def _read_imdb_folder(folder: Path, split: str) -> tuple[list[str], list[int]]:
    texts, labels = [], []
    for label, name in ((0, "neg"), (1, "pos")):
        for f in sorted((folder / split / name).glob("*.txt")):
            texts.append(clean_text(f.read_text(encoding="utf-8")))
            labels.append(label)
    return texts, labels


def _download_imdb(root: Path) -> None:
    """Hugging Face ``stanfordnlp/imdb`` written out in the aclImdb folder layout."""
    from datasets import load_dataset

    ds = load_dataset("stanfordnlp/imdb")
    for split in ("train", "test"):
        for i, row in enumerate(ds[split]):
            d = root / "imdb" / "aclImdb" / split / ("pos" if row["label"] else "neg")
            d.mkdir(parents=True, exist_ok=True)
            (d / f"{i}_0.txt").write_text(row["text"], encoding="utf-8")


class IMDBDataModule(TextClassificationDataModule):
    """IMDB movie reviews (Maas et al. 2011): 25,000 train / 25,000 test, positive/negative.

    Offline: an ``aclImdb`` folder or ``imdb/aclImdb_50k_labeled.tar.gz`` (extracted once into
    the cache). Online: Hugging Face ``stanfordnlp/imdb``.
    """

    name = "imdb"

    def read(self) -> TextSplits:
        folder = locate_dataset(
            self.root,
            "IMDB",
            layouts=["aclImdb", "imdb/aclImdb"],
            archives=[
                "imdb/aclImdb_50k_labeled.tar.gz",
                "aclImdb_50k_labeled.tar.gz",
                "aclImdb_v1.tar.gz",
                "imdb/aclImdb_v1.tar.gz",
            ],
            download=_download_imdb,
        )
        train, test = _read_imdb_folder(folder, "train"), _read_imdb_folder(folder, "test")
        return TextSplits(*train, *test, sources=[folder])


def _read_tsv(path: Path, text_col: int, label_col: int) -> tuple[list[str], list[int], int]:
    """Tab-separated rows with a header; returns texts, labels and how many empty texts were
    skipped (NSMC has a few reviews with no text). A text holding a line break continues on
    the next line: a record ends only where its last column is an integer label. A ``.gz``
    file cut short, or bytes that are not UTF-8, raise :class:`CorruptDataError` naming it."""
    try:
        return _read_tsv_rows(path, text_col, label_col)
    except (*ARCHIVE_ERRORS, UnicodeDecodeError) as err:
        raise CorruptDataError(path, err) from err


def _read_tsv_rows(path: Path, text_col: int, label_col: int) -> tuple[list[str], list[int], int]:
    opener = gzip.open if path.suffix == ".gz" else open
    ncols = max(text_col, label_col) + 1
    texts, labels, empty = [], [], 0
    with opener(path, "rt", encoding="utf-8", newline="\n") as f:
        next(f)  # header row
        record = ""
        for line in f:
            record += line.rstrip("\r\n") if not record else " " + line.rstrip("\r\n")
            cols = record.split("\t")
            if len(cols) < ncols or not cols[label_col].strip().lstrip("-").isdigit():
                continue  # an unfinished record (or a blank line)
            record = ""
            text = " ".join(cols[text_col].split())
            if not text:
                empty += 1
                continue
            texts.append(text)
            labels.append(int(cols[label_col]))
    return texts, labels, empty


def _find_files(root: Path, dataset: str, candidates: dict[str, list[str]], download=None):
    """Each split's first existing candidate; a download when allowed; else one clear error."""
    found = {s: find_first(root, c) for s, c in candidates.items()}
    if None in found.values() and download is not None and online():
        try:
            download(root)
        except Exception as err:  # no network: explain, don't crash
            expected = [p for c in candidates.values() for p in c]
            raise MissingDataError(dataset, root, expected, f"Download failed: {err}") from err
        found = {s: find_first(root, c) for s, c in candidates.items()}
    if None in found.values():
        raise MissingDataError(dataset, root, [p for c in candidates.values() for p in c])
    return found


def _download_sst2(root: Path) -> None:
    from datasets import load_dataset

    ds = load_dataset("nyu-mll/glue", "sst2")
    (root / "sst2").mkdir(parents=True, exist_ok=True)
    for split, name in (("train", "train"), ("validation", "dev")):
        rows = ["sentence\tlabel"] + [f"{r['sentence']}\t{r['label']}" for r in ds[split]]
        (root / "sst2" / f"{name}.tsv").write_text("\n".join(rows) + "\n", encoding="utf-8")


class SST2DataModule(TextClassificationDataModule):
    """SST-2 as in GLUE: 67,349 short movie-review phrases; ``dev.tsv`` (872) is the test split
    because GLUE's test labels are not public. Online: Hugging Face ``nyu-mll/glue``.
    """

    name = "sst2"

    def read(self) -> TextSplits:
        files = _find_files(
            self.root,
            "SST-2",
            {
                "train": ["sst2/train.tsv", "SST-2/train.tsv", "glue/SST-2/train.tsv"],
                "test": ["sst2/dev.tsv", "SST-2/dev.tsv", "glue/SST-2/dev.tsv"],
            },
            download=_download_sst2,
        )
        train = _read_tsv(files["train"], 0, 1)[:2]
        test = _read_tsv(files["test"], 0, 1)[:2]
        return TextSplits(*train, *test, sources=[files["train"], files["test"]])


NSMC_URL = "https://raw.githubusercontent.com/e9t/nsmc/master/ratings_{}.txt"


def _download_nsmc(root: Path) -> None:
    (root / "nsmc").mkdir(parents=True, exist_ok=True)
    for split in ("train", "test"):
        urllib.request.urlretrieve(NSMC_URL.format(split), root / "nsmc" / f"ratings_{split}.txt")


class NSMCDataModule(KoreanTextCodec, TextClassificationDataModule):
    """Naver movie reviews in Korean (NSMC): ``id<TAB>document<TAB>label``, 150k / 50k.

    Reviews with an empty document (a few in the real data) are skipped and counted in
    ``skipped``. The tokenizer is BPE over Hangul syllables (``kind="korean"`` and
    ``language="ko"``, from ``KoreanTextCodec``).
    """

    name = "nsmc"

    def read(self) -> TextSplits:
        files = _find_files(
            self.root,
            "NSMC",
            {
                split: [
                    f"nsmc/ratings_{split}.txt",
                    f"nsmc/ratings_{split}.txt.gz",
                    f"ratings_{split}.txt",
                    f"ratings_{split}.txt.gz",
                ]
                for split in ("train", "test")
            },
            download=_download_nsmc,
        )
        *train, skipped_train = _read_tsv(files["train"], 1, 2)
        *test, skipped_test = _read_tsv(files["test"], 1, 2)
        self.skipped = {"train": skipped_train, "test": skipped_test}
        return TextSplits(*train, *test, sources=[files["train"], files["test"]])
