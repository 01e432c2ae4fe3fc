"""Baselines: scikit-learn on the same splits as the deep models.

    litlab baseline                       # MNIST and CIFAR-10, all models, writes results/
    litlab baseline --dataset mnist --models logreg
    litlab baseline --dataset imdb        # TF-IDF + logistic regression (also sst2, nsmc, text)
    litlab baseline --dataset sst2 --text-models minilm_logreg  # frozen MiniLM embeddings + LR
    litlab baseline --dataset bbc         # summarization: Lead, TextRank, ... (also kr50)
    litlab baseline --dataset fsdd        # spoken digits: MFCC + logistic regression / SVM,
                                          # own split and 6 leave-one-speaker-out splits

Each model is trained on the deep models' training split (train minus the validation
images, same seed) and scored on the test set. The comparison table puts the best deep run
of each data set next to them, read from the TensorBoard logs of ``litlab test`` runs
(``test/acc``), and gives the difference in points of accuracy. Rows of data sets that are
not re-run are kept from the previous ``baselines.json``. The text baselines live in
``experiments/text_baselines.py``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from litlab.common.errors import CommandParser, ConfigError
from litlab.experiments.summary_baselines import SUMMARY_DATASETS
from litlab.experiments.text_baselines import TEXT_DATASETS, TEXT_MODELS, run_text_baselines
from litlab.vision.data import CIFAR10DataModule, ImageDataModule, MNISTDataModule

DATASETS: dict[str, type[ImageDataModule]] = {
    "mnist": MNISTDataModule,
    "cifar10": CIFAR10DataModule,
}
DEEP_EXPERIMENTS = {  # data set -> "<domain>/<experiment>" under logs/
    "mnist": ["vision/mnist_mlp", "vision/mnist_cnn"],
    "cifar10": ["vision/cifar10_quick", "vision/cifar10_fast"],
    "imdb": [
        "sequence/imdb_bilstm_quick", "sequence/imdb_bilstm", "transformer/imdb_transformer",
        "transformer/imdb_minilm_cpu", "transformer/imdb_minilm",
    ],
    "sst2": ["sequence/sst2_bilstm", "transformer/sst2_minilm"],
    "fsdd": ["audio/fsdd_cnn", "audio/fsdd_m5"],
    "nsmc": [
        "sequence/nsmc_bilstm_quick", "sequence/nsmc_bilstm", "transformer/nsmc_transformer",
        "transformer/nsmc_scratch", "transformer/nsmc_finetune",
    ],
}
AUDIO_DATASETS = ["fsdd"]  # experiments/audio_baselines.py
ALL_DATASETS = [*DATASETS, *TEXT_DATASETS, *AUDIO_DATASETS]


def _models(seed: int) -> dict[str, Callable[[], object]]:
    return {
        # a linear model on standardised pixels: the "can we beat a straight line" baseline
        "logreg": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=200, C=0.05, random_state=seed)
        ),
        "random_forest": lambda: RandomForestClassifier(
            n_estimators=200, n_jobs=-1, random_state=seed, min_samples_leaf=1
        ),
    }


def split_arrays(dm: ImageDataModule, split: str) -> tuple[np.ndarray, np.ndarray]:
    """Flattened float pixels in [0, 1] and labels, for the DataModule's own split."""
    images, labels = dm.arrays(split)
    return images.flatten(1).float().div(255).numpy(), labels.numpy()


def run_baselines(
    dataset: str, models: list[str], root: str | None, val_size: int = 5000, seed: int = 0
) -> list[dict]:
    # the DataModule's defaults (val_size 5000, split seed 0) are those of every experiment
    dm = DATASETS[dataset](root=root, val_size=val_size, seed=0)
    x_train, y_train = split_arrays(dm, "train")
    x_test, y_test = split_arrays(dm, "test")
    rows = []
    for name in models:
        model = _models(seed)[name]()
        t = time.perf_counter()
        model.fit(x_train, y_train)
        seconds = time.perf_counter() - t
        acc = float((model.predict(x_test) == y_test).mean())
        rows.append(
            {
                "dataset": dataset,
                "model": name,
                "test_acc": acc,
                "train_seconds": round(seconds, 1),
                "train_size": len(y_train),
                "test_size": len(y_test),
            }
        )
        print(f"{dataset:8s} {name:14s} test acc {acc:.4f}  ({seconds:.0f} s)", flush=True)
    return rows


def deep_results(log_root: Path) -> list[dict]:
    """The best ``test/acc`` logged under ``logs/<domain>/<experiment>/version_*``."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    rows = []
    for dataset, experiments in DEEP_EXPERIMENTS.items():
        for exp in experiments:
            best = None
            for run in sorted((log_root / exp).glob("version_*")):
                acc = EventAccumulator(str(run), size_guidance={"scalars": 0})
                acc.Reload()
                if "test/acc" in acc.Tags()["scalars"]:
                    value = acc.Scalars("test/acc")[-1].value
                    if best is None or value > best["test_acc"]:
                        best = {
                            "dataset": dataset,
                            "model": exp.split("/")[-1],
                            "test_acc": value,
                            "run": str(run),
                        }
            if best:
                rows.append(best)
    return rows


def comparison_markdown(baselines: list[dict], deep: list[dict]) -> str:
    lines = [
        "| data set | model | kind | test accuracy | vs best scikit-learn |",
        "|---|---|---|---|---|",
    ]
    for dataset in ALL_DATASETS:
        base = [r for r in baselines if r["dataset"] == dataset]
        best = max((r["test_acc"] for r in base), default=None)
        for r in base:
            pretrained = "minilm" in r["model"]  # frozen MiniLM embeddings, then scikit-learn
            kind = "pretrained features + scikit-learn" if pretrained else "scikit-learn"
            lines.append(f"| {dataset} | {r['model']} | {kind} | {100 * r['test_acc']:.2f} % | |")
        for r in (r for r in deep if r["dataset"] == dataset):
            gap = f"{100 * (r['test_acc'] - best):+.2f} points" if best is not None else "n/a"
            acc = f"{100 * r['test_acc']:.2f} %"
            lines.append(f"| {dataset} | {r['model']} | deep (litlab) | {acc} | {gap} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = CommandParser(prog="litlab baseline", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--dataset",
        choices=[*ALL_DATASETS, "all", "text", *SUMMARY_DATASETS, "summaries"],
        default="all",
        help="all: the image data sets; text: imdb, sst2 and nsmc; summaries: bbc and kr50 "
        "(ROUGE, written to <out>/summarization.md)",
    )
    parser.add_argument("--models", nargs="+", choices=list(_models(0)), default=list(_models(0)))
    parser.add_argument(
        "--text-models",
        nargs="+",
        choices=TEXT_MODELS,
        default=["tfidf_logreg"],
        help="text baselines: TF-IDF + logistic regression, and/or frozen pretrained MiniLM "
        "sentence embeddings + logistic regression (extra [transfer])",
    )
    parser.add_argument(
        "--audio-splits",
        nargs="+",
        default=None,
        help="fsdd: 'own' (takes 0-4 test) and/or held-out speakers (default: own and all six); "
        "the per-split table goes to <out>/audio_fsdd.md",
    )
    parser.add_argument("--root", default=None, help="data root (default $DATA_DIR, else ./data)")
    parser.add_argument(
        "--val-size",
        type=int,
        default=None,
        help="as in the experiments (5000 images, 2000 texts, 300 clips)",
    )
    parser.add_argument("--logs", default="logs", help="where the deep runs' TensorBoard logs are")
    parser.add_argument("--out", default="results", help="folder for baselines.json / baselines.md")
    parser.add_argument(
        "--table-only",
        action="store_true",
        help="no training: rebuild the table from <out>/baselines.json and the current logs",
    )
    args = parser.parse_args(argv)
    if args.val_size is not None and args.val_size <= 0:
        parser.error(f"--val-size must be greater than 0, got {args.val_size}")
    out = Path(args.out)
    if args.dataset in (*SUMMARY_DATASETS, "summaries"):
        from litlab.experiments import summary_baselines

        wanted = list(SUMMARY_DATASETS) if args.dataset == "summaries" else [args.dataset]
        return summary_baselines.main(wanted, args.root, args.logs, args.out)
    if args.table_only:
        if not (out / "baselines.json").is_file():
            raise ConfigError(
                f"--table-only rebuilds the table from {out / 'baselines.json'}, which does not "
                "exist: run litlab baseline once without --table-only (or give --out)"
            )
        rows = json.loads((out / "baselines.json").read_text())["baselines"]
    else:
        groups = {"all": list(DATASETS), "text": list(TEXT_DATASETS)}
        datasets = groups.get(args.dataset, [args.dataset])
        rows = []
        for d in datasets:
            if d in AUDIO_DATASETS:
                rows += _audio_rows(args)
            elif d in TEXT_DATASETS:
                rows += run_text_baselines(d, args.root, args.val_size or 2000, args.text_models)
            else:
                rows += run_baselines(d, args.models, args.root, args.val_size or 5000)
        previous = out / "baselines.json"
        if previous.exists():  # keep the other data sets' rows
            old = json.loads(previous.read_text())["baselines"]
            done = {(r["dataset"], r["model"]) for r in rows}
            rows = [r for r in old if (r["dataset"], r["model"]) not in done] + rows
    deep = deep_results(Path(args.logs))
    if (out / "baselines.json").is_file():  # runs whose logs are gone here keep their row
        found = {(r["dataset"], r["model"]) for r in deep}
        old_deep = json.loads((out / "baselines.json").read_text()).get("deep", [])
        deep = [r for r in old_deep if (r["dataset"], r["model"]) not in found] + deep
    out.mkdir(parents=True, exist_ok=True)
    (out / "baselines.json").write_text(json.dumps({"baselines": rows, "deep": deep}, indent=2))
    table = comparison_markdown(rows, deep)
    (out / "baselines.md").write_text(table)
    print(table)
    if args.dataset in AUDIO_DATASETS:
        from litlab.experiments.audio_baselines import write_report

        print(write_report(rows, Path(args.logs), out))


def _audio_rows(args) -> list[dict]:
    """The MFCC baselines on the splits asked for (``--audio-splits``)."""
    from litlab.audio.data import SPEAKERS
    from litlab.experiments.audio_baselines import run_audio_baselines

    splits = args.audio_splits or ["own", *SPEAKERS]
    unknown = [s for s in splits if s not in ("own", *SPEAKERS)]
    if unknown:
        raise ConfigError(
            f"--audio-splits {' '.join(unknown)}: use 'own' or speakers of {', '.join(SPEAKERS)}"
        )
    return run_audio_baselines(args.root, splits, val_size=args.val_size or 300)
