"""litlab installs under one import name, ``litlab``, and claims no generic top-level name.

Both install modes are checked: the editable install the README uses (this test run's own
venv) and a regular wheel built from the repository and installed into a folder.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import REPO

tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")

DOMAINS = ("common", "vision", "sequence", "transformer", "audio", "serve", "experiments")
PROBE = (
    "import importlib.util as u, litlab.common.checkpoints as c; print(c.__file__); "
    "print([n for n in {names} if u.find_spec(n) is not None])"
)


def _probe(cwd: Path, env: dict | None = None) -> list[str]:
    """Import litlab from a folder that holds no source: (where it came from, bare names
    that are importable)."""
    code = PROBE.format(names=list(DOMAINS))
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def test_pyproject_lists_every_package_folder_under_litlab():
    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {f"litlab.{d}": d for d in DOMAINS}
    folders = sorted(
        "litlab." + str(p.parent.relative_to(REPO)).replace(os.sep, ".")
        for d in DOMAINS
        for p in (REPO / d).rglob("__init__.py")
    )
    assert sorted(config["packages"]) == folders


def test_the_editable_install_offers_litlab_and_no_bare_domain_name(tmp_path: Path):
    where, bare = _probe(tmp_path)
    assert Path(where) == REPO / "common" / "checkpoints.py"
    assert bare == "[]"


def test_a_regular_wheel_holds_only_litlab_and_installs_under_it(tmp_path: Path):
    source = tmp_path / "src"  # a copy: setuptools writes build/ into the tree it builds
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    for d in DOMAINS:
        shutil.copytree(REPO / d, source / d, ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path / "dist"), str(source)],
        check=True, capture_output=True,
    )  # fmt: skip
    (wheel,) = (tmp_path / "dist").glob("litlab-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == {"litlab"}
    assert "litlab/experiments/vision/cifar10_quick.yaml" in names
    assert "litlab/common/callbacks/gradcam.py" in names
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
         str(wheel)],
        check=True, capture_output=True,
    )  # fmt: skip
    where, bare = _probe(tmp_path, {**os.environ, "PYTHONPATH": str(target)})
    assert Path(where) == target / "litlab" / "common" / "checkpoints.py"
    assert bare == "[]"
