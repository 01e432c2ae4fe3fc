"""``litlab score``: a trained text classifier on a labelled file of the user's own (TSV, CSV,
a folder of classes), from a checkpoint or the registry; bad input ends in exit 2."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch
import yaml
from conftest import REPO

from litlab.common.checkpoints import load_trained
from litlab.common.cli import main
from litlab.common.cli import run as litlab
from litlab.common.registry import load
from litlab.common.registry_export import export
from litlab.common.score import run_score

QUIET = ["--trainer.enable_progress_bar=false", "--test=false", "--trainer.callbacks=[]"]
TOY = {
    "model": {"class_path": "toy_text.ToyRNNClassifier"},
    "data": {"class_path": "toy_text.ToyTextDataModule"},
    "trainer": {"max_epochs": 2},
}
REVIEWS = [  # toy-vocabulary sentences (tests/toy_text.py), one sentiment word each
    "the film was great", "this plot is awful and dull", "a story of actors it is fine",
    "the scene was bad", "with this plot the film is good", "dull actors and a dull story",
    "the story was great and the actors fine", "it is an awful film",
]  # fmt: skip


def _fit(work: Path, args: list[str]) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(work)
        litlab(["fit", *args, *QUIET])
    return sorted(work.glob("logs/*/*/version_0/checkpoints/*.ckpt"))[0]  # best, else last


@pytest.fixture(autouse=True)
def _trust_toy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LITLAB_TRUSTED_MODULES", "toy_text")  # the toy model's own package
    monkeypatch.delenv("LITLAB_DEBUG", raising=False)


@pytest.fixture(scope="module")
def toy_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """best.ckpt of two epochs of the toy BiLSTM (a model without ``logits``)."""
    work = tmp_path_factory.mktemp("toy")
    (work / "toy.yaml").write_text(yaml.safe_dump(TOY))
    return _fit(work, ["--config", str(work / "toy.yaml"), "--experiment=toy/rnn"])


@pytest.fixture(scope="module")
def imdb_registry(tiny_root: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The registry holding ``imdb-bilstm``: one epoch of the real IMDB BiLSTM, tiny data."""
    work = tmp_path_factory.mktemp("imdb")
    ckpt = _fit(work, ["--config", str(REPO / "experiments/sequence/imdb_bilstm.yaml"),
                       f"--data.root={tiny_root}", "--data.init_args.batch_size=8",
                       "--data.init_args.vocab_size=500", "--trainer.max_epochs=1"])  # fmt: skip
    export(ckpt, "imdb-bilstm", work / "models")
    return work / "models"


def _predicted(model, data, texts: list[str]) -> list[str]:
    """The model's own class names for ``texts``, all in one batch."""
    with torch.inference_mode():
        return [data.classes[i] for i in model(*data.encode_texts(texts)).argmax(-1).tolist()]


def _tsv(path: Path, texts: list[str], labels: list, header=("text", "label")) -> Path:
    rows = ["\t".join(header), *(f"{t}\t{y}" for t, y in zip(texts, labels))]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def _same(a: dict, b: dict) -> None:
    for key in ("n", "accuracy", "macro_f1", "per_class", "confusion_matrix"):
        assert a[key] == b[key], key


def test_own_predictions_score_1_flipped_score_0(toy_ckpt: Path, tmp_path: Path, capsys):
    preds = _predicted(*load_trained(toy_ckpt), REVIEWS)
    assert set(preds) == {"negative", "positive"}  # both classes, so F1 means something
    flipped = ["positive" if p == "negative" else "negative" for p in preds]
    right = run_score(str(_tsv(tmp_path / "a.tsv", [*REVIEWS, "  "], [*preds, "positive"])),
                      ckpt=str(toy_ckpt))  # fmt: skip
    assert right["accuracy"] == 1.0 and right["macro_f1"] == 1.0
    assert right["n"] == len(REVIEWS) and right["skipped_empty"] == 1
    n_pos = preds.count("positive")
    assert right["confusion_matrix"] == [[len(preds) - n_pos, 0], [0, n_pos]]
    assert right["per_class"]["positive"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0,
                                              "support": n_pos}  # fmt: skip
    printed = capsys.readouterr().out
    assert "accuracy  1.0000" in printed and "1 empty skipped" in printed
    wrong = run_score(str(_tsv(tmp_path / "b.tsv", REVIEWS, flipped)), ckpt=str(toy_ckpt))
    assert wrong["accuracy"] == 0.0 and wrong["macro_f1"] == 0.0
    assert wrong["confusion_matrix"] == [[0, n_pos], [len(preds) - n_pos, 0]]


def test_folder_csv_and_integer_tsv_give_the_same_figures(toy_ckpt: Path, tmp_path: Path):
    labels = [1, 0, 1, 0, 1, 0, 0, 1]  # not all the model's answers: some errors to compare
    texts = [f'{t}, "so to speak"' for t in REVIEWS]  # commas and quotes for the CSV
    with open(tmp_path / "r.csv", "w", newline="", encoding="utf-8") as f:
        names = ["Positive" if y else "negative" for y in labels]  # any case
        csv.writer(f).writerows([["Review", "Label"], *zip(texts, names)])
    for i, (t, y) in enumerate(zip(texts, labels)):
        folder = tmp_path / "reviews" / ("pos" if y else "neg")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{i}.txt").write_text(t + "\n", encoding="utf-8")
    (tmp_path / "reviews" / "neg" / "empty.txt").write_text("\n")
    by_csv = run_score(str(tmp_path / "r.csv"), ckpt=str(toy_ckpt))
    by_folder = run_score(str(tmp_path / "reviews"), ckpt=str(toy_ckpt))
    by_index = run_score(str(_tsv(tmp_path / "i.tsv", texts, labels)), ckpt=str(toy_ckpt))
    _same(by_csv, by_folder)
    _same(by_csv, by_index)
    assert by_folder["skipped_empty"] == 1 and by_csv["n"] == 8
    assert 0.0 < by_csv["accuracy"] < 1.0  # the labels above are not the model's answers


def test_nsmc_style_tsv_with_a_line_break_in_a_text(toy_ckpt: Path, tmp_path: Path):
    path = tmp_path / "ratings.txt"
    path.write_text("id\tdocument\tlabel\n1\tthe film was\ngreat\t1\n2\t\t0\n3\tawful\t0\n")
    scores = run_score(str(path), ckpt=str(toy_ckpt))
    assert scores["n"] == 2 and scores["skipped_empty"] == 1
    assert [row["support"] for row in scores["per_class"].values()] == [1, 1]


def test_limit_takes_the_folder_classes_in_turn(toy_ckpt: Path, tmp_path: Path):
    for name, words in (("neg", "awful"), ("pos", "great")):
        (tmp_path / name).mkdir()
        for i in range(5):
            (tmp_path / name / f"{i}.txt").write_text(f"the film was {words}")
    scores = run_score(str(tmp_path), ckpt=str(toy_ckpt), limit=4)
    assert scores["n"] == 4 and [s["support"] for s in scores["per_class"].values()] == [2, 2]


def test_registry_name_and_checkpoint_agree_and_out_writes_json_and_png(
    imdb_registry: Path, tmp_path: Path
):
    loaded = load("imdb-bilstm", imdb_registry)
    texts = ["a wonderful and moving film", "boring, awful and dull", "great fun", "bad"]
    preds = _predicted(loaded.model, loaded.data, texts)
    data = _tsv(tmp_path / "r.tsv", texts, preds, header=("sentence", "label"))
    out = tmp_path / "scored"
    main(["score", "--model", "imdb-bilstm", "--version", "v1", "--root", str(imdb_registry),
          "--data", str(data), "--out", str(out), "--batch-size", "3"])  # fmt: skip
    saved = json.loads((out / "score.json").read_text())
    assert saved["accuracy"] == 1.0 and saved["model"] == "imdb-bilstm@v1"
    assert saved["classes"] == ["negative", "positive"] and saved["n"] == 4
    assert (out / "confusion_matrix.png").read_bytes()[:4] == b"\x89PNG"
    ckpt = next(imdb_registry.parent.glob("logs/*/*/version_0/checkpoints/best.ckpt"))
    _same(run_score(str(data), ckpt=str(ckpt)), saved)


# --- user errors: exit 2, a few lines naming the value ---------------------------------


def _exit_2(argv: list[str], capsys) -> str:
    """Run ``litlab score argv``: exit 2, at most 4 lines, no traceback; returns them."""
    capsys.readouterr()  # what came before (a fit's summary) is not the command's
    with pytest.raises(SystemExit) as exit_:
        main(["score", *argv])
    assert exit_.value.code == 2
    out = capsys.readouterr()
    text = out.err + out.out
    assert "Traceback" not in text and len(text.strip().splitlines()) <= 4, text
    return text


def test_an_unknown_label_names_the_label_the_line_and_the_classes(toy_ckpt, tmp_path, capsys):
    data = _tsv(tmp_path / "r.tsv", REVIEWS[:3], ["positive", "negative", "neutral"])
    err = _exit_2(["--ckpt", str(toy_ckpt), "--data", str(data)], capsys)
    assert "'neutral'" in err and "line 4" in err and "['negative', 'positive']" in err
    (tmp_path / "reviews" / "meh").mkdir(parents=True)
    err = _exit_2(["--ckpt", str(toy_ckpt), "--data", str(tmp_path / "reviews")], capsys)
    assert "'meh'" in err


@pytest.mark.parametrize(
    "argv, named",
    [
        (["--data", "{missing}"], "{missing}"),
        (["--data", "{no_label}"], "label column"),
        (["--data", "{tsv}", "--limit", "0"], "--limit"),
        (["--data", "{tsv}", "--version", "v1"], "--version"),
    ],
)
def test_bad_input_ends_in_exit_2(toy_ckpt, tmp_path, capsys, argv, named):
    paths = {
        "missing": str(tmp_path / "nope.tsv"),
        "tsv": str(_tsv(tmp_path / "r.tsv", ["a"], [0])),
        "no_label": str(_tsv(tmp_path / "x.tsv", ["a"], [0], header=("text", "stars"))),
    }
    argv = [a.format(**paths) for a in argv]
    assert named.format(**paths) in _exit_2(["--ckpt", str(toy_ckpt), *argv], capsys)


def test_an_unknown_registry_version_and_an_image_model_are_refused(
    imdb_registry, tiny_root, tmp_path, capsys
):
    data = str(_tsv(tmp_path / "r.tsv", ["great"], ["positive"]))
    err = _exit_2(["--model", "imdb-bilstm", "--version", "v9", "--root", str(imdb_registry),
                   "--data", data], capsys)  # fmt: skip
    assert "v9" in err
    image = _fit(tmp_path, ["--config", str(REPO / "experiments/vision/mnist_mlp.yaml"),
                            f"--data.root={tiny_root}", "--data.init_args.val_size=40",
                            "--trainer.max_steps=1", "--trainer.limit_val_batches=1"])  # fmt: skip
    err = _exit_2(["--ckpt", str(image), "--data", data], capsys)
    assert "not a text classifier" in err and "image classifier" in err
