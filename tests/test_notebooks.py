"""The learning path in notebooks/: every notebook runs top to bottom, its .py pair says the
same, and the committed .ipynb holds the outputs of a full run.

Each notebook is executed in a fresh kernel with ``LITLAB_NOTEBOOK_TINY=1`` (its parameters
cell then picks a few steps and tiny settings) on the tiny data root of ``conftest.py``, so
the run proves the cells work, including the checks they make against the library (a
hand-written convolution against ``nn.Conv2d``, attention against litlab's module, ...), with
or without the offline data. The full runs that produce the stored outputs are made with
``notebooks/run_notebooks.py``.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from conftest import REPO

sys.path.insert(0, str(REPO / "notebooks"))
import run_notebooks  # noqa: E402  (notebooks/run_notebooks.py: how the notebooks are run)

NOTEBOOKS = REPO / "notebooks"
EXPECTED = [
    "01_pytorch_basics",
    "02_first_network_to_lightning",
    "03_cnn",
    "04_rnn",
    "05_transformer",
    "06_deploy",
]
SOURCES = run_notebooks.sources()
MAX_NOTEBOOK_BYTES = 600_000  # a few hundred KB: quick to open on GitHub
MAX_IMAGE_BYTES = 150_000  # one stored PNG


def _cells(nb: nbformat.NotebookNode) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source.strip()) for c in nb.cells]


def test_the_learning_path_has_six_notebooks_each_with_its_pair():
    assert [p.stem for p in SOURCES] == EXPECTED
    assert sorted(p.stem for p in NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")) == EXPECTED


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_ipynb_and_py_pair_are_in_sync(py: Path):
    """The same cells, in the same order, with the same source (outputs aside)."""
    stored = nbformat.read(py.with_suffix(".ipynb"), as_version=4)
    paired = jupytext.read(py)
    assert _cells(stored) == _cells(paired), (
        f"{py.name} and its .ipynb differ: run `python notebooks/run_notebooks.py --sync "
        f"{py.stem}` (or edit in JupyterLab with jupytext, which keeps both)"
    )
    assert stored.metadata.get("jupytext", {}).get("formats") == "ipynb,py:percent"


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_stored_outputs_come_from_a_full_run_and_stay_small(py: Path):
    ipynb = py.with_suffix(".ipynb")
    nb = nbformat.read(ipynb, as_version=4)
    run = nb.metadata.get("litlab", {})
    assert run.get("run") == "full", f"{ipynb.name}: outputs are not from a full run ({run})"
    assert run.get("wall_seconds", 0) > 0
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"{ipynb.name}: a cell was never run"
    counts = [c.execution_count for c in code]
    assert counts == sorted(counts), f"{ipynb.name}: cells were run out of order"
    outputs = [o for c in code for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"], f"{ipynb.name} stored an error"
    images = [o.data["image/png"] for o in outputs if "image/png" in o.get("data", {})]
    assert images, f"{ipynb.name} shows no figure"
    for c in code:  # a bare `fig` at the end of a cell shows it a second time
        pngs = [o.data["image/png"] for o in c.outputs if "image/png" in o.get("data", {})]
        assert len(pngs) == len(set(pngs)), f"{ipynb.name}: a figure shown twice in one cell"
    biggest = max(len(i) * 3 // 4 for i in images)  # base64 -> bytes
    assert biggest < MAX_IMAGE_BYTES, f"{ipynb.name}: a {biggest // 1000} KB image"
    size = ipynb.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{ipynb.name} is {size // 1000} KB"


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_notebook_teaches_with_the_projects_modules_not_copies(py: Path):
    """Models come from litlab: no notebook defines its own nn.Module or LightningModule, each
    imports litlab, and each ends with exercises and their solutions."""
    source = py.read_text(encoding="utf-8")
    tree = ast.parse(source)
    classes = [n.name for n in ast.walk(tree) if isinstance(n, ast.ClassDef)]
    assert classes == [], f"{py.name} defines {classes}: import the model from litlab instead"
    assert re.search(r"^\s*(from|import) (litlab|zero_to_webapp)\b", source, re.M)
    assert "## 연습 문제" in source and "## 풀이" in source
    assert 'tags=["solution"]' in source


@pytest.mark.parametrize("py", SOURCES, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_on_tiny_settings(
    py: Path, tiny_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A fresh kernel, the tiny data root, logs and models in a temporary folder: every cell
    runs (a failing cell, or a failing check inside one, raises CellExecutionError)."""
    monkeypatch.setenv("DATA_DIR", str(tiny_root))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # small tensors: one thread is faster
    nb = run_notebooks.read(py)
    seconds = run_notebooks.execute(nb, tiny=True, work=tmp_path, timeout=300)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    print(f"{py.stem}: {seconds:.1f} s")
