"""Run the learning path's notebooks from their jupytext pairs, and store the outputs.

    python notebooks/run_notebooks.py                 every notebook, full settings, outputs saved
    python notebooks/run_notebooks.py 03 05           some of them (by number or name)
    python notebooks/run_notebooks.py --tiny --dry    tiny settings, nothing saved (what the tests do)
    python notebooks/run_notebooks.py --sync          only rewrite each .ipynb's cells from its .py

The ``.py`` file (jupytext "percent" format) is the source that diffs are read in; the
``.ipynb`` beside it holds the same cells plus the outputs of the last full run, so the
notebooks read well on GitHub without running. A run reads the ``.py``, executes it in a
fresh kernel whose working folder is ``notebooks/`` (as ``jupyter lab notebooks/`` does) and
writes the ``.ipynb`` with its outputs and, in ``metadata.litlab``, how it was run and how
long it took. ``LITLAB_NOTEBOOK_TINY=1`` (``--tiny``) makes every notebook use tiny settings;
``LITLAB_NOTEBOOK_WORK`` moves the logs/ and models/ the notebooks write (default: the
repository). Heavy: run full builds under the shared CPU lock.
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import sys
import time
from pathlib import Path

import jupytext
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

HERE = Path(__file__).resolve().parent
FORMATS = "ipynb,py:percent"


def sources() -> list[Path]:
    """The notebooks' ``.py`` sources in learning order (``01_...py`` to ``06_...py``)."""
    return sorted(HERE.glob("[0-9][0-9]_*.py"))


def pick(names: list[str]) -> list[Path]:
    """Sources whose name starts with one of ``names`` (``03`` or ``03_cnn``); all if none."""
    if not names:
        return sources()
    picked = [p for p in sources() if any(p.stem.startswith(n) for n in names)]
    if len(picked) == 0:
        raise SystemExit(f"no notebook matches {names}: choose from {[p.stem for p in sources()]}")
    return picked


def read(py: Path) -> nbformat.NotebookNode:
    """The notebook the ``.py`` pair describes (cells and metadata, no outputs)."""
    nb = jupytext.read(py)
    nb.metadata.setdefault("jupytext", {})["formats"] = FORMATS
    return nb


def execute(
    nb: nbformat.NotebookNode, tiny: bool, work: Path | None = None, timeout: int = 1800
) -> float:
    """Run every cell in a fresh python3 kernel started in notebooks/; returns the seconds.

    ``tiny``: the kernel gets ``LITLAB_NOTEBOOK_TINY=1``. ``work``: ``LITLAB_NOTEBOOK_WORK``.
    A failing cell raises ``nbclient.exceptions.CellExecutionError`` naming it.
    """
    saved = {k: os.environ.get(k) for k in ("LITLAB_NOTEBOOK_TINY", "LITLAB_NOTEBOOK_WORK")}
    os.environ["LITLAB_NOTEBOOK_TINY"] = "1" if tiny else "0"
    if work is not None:
        os.environ["LITLAB_NOTEBOOK_WORK"] = str(work)
    try:
        client = NotebookClient(
            nb,
            timeout=timeout,
            kernel_name="python3",
            resources={"metadata": {"path": str(HERE)}},
            record_timing=False,
        )
        start = time.perf_counter()
        client.execute()
        return time.perf_counter() - start
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_info(tiny: bool, seconds: float) -> dict:
    """What ``metadata.litlab`` records about a run: settings, wall time, machine."""
    import torch

    return {
        "run": "tiny" if tiny else "full",
        "wall_seconds": round(seconds, 1),
        "executed": datetime.datetime.now().isoformat(timespec="seconds"),
        "machine": f"{os.cpu_count()} CPU cores ({platform.machine()}), "
        f"torch threads {torch.get_num_threads()}, "
        f"{'CUDA ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}",
        "load_average_1_5_15_min": [round(x, 2) for x in os.getloadavg()],  # a shared CPU shows
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("names", nargs="*", help="notebooks to run, e.g. 01 04_rnn (default: all)")
    p.add_argument("--tiny", action="store_true", help="tiny settings (LITLAB_NOTEBOOK_TINY=1)")
    p.add_argument("--dry", action="store_true", help="run, but do not write the .ipynb")
    p.add_argument("--sync", action="store_true", help="only rewrite the .ipynb cells, no run")
    # 06 trains three models in one cell: 31 min on a 2-core CPU shared with other jobs
    p.add_argument("--timeout", type=int, default=4 * 3600, help="seconds a cell may take")
    args = p.parse_args(argv)
    failed: list[str] = []
    for py in pick(args.names):
        ipynb = py.with_suffix(".ipynb")
        nb = read(py)
        if args.sync:
            if ipynb.exists():  # keep the outputs of cells whose source did not change
                old = {c.source: c for c in nbformat.read(ipynb, as_version=4).cells}
                for cell in nb.cells:
                    if cell.cell_type == "code" and cell.source in old:
                        cell.outputs = old[cell.source].get("outputs", [])
                        cell.execution_count = old[cell.source].get("execution_count")
                run = nbformat.read(ipynb, as_version=4).metadata.get("litlab")
                if run:  # how the stored outputs were made; none before a first run
                    nb.metadata["litlab"] = run
            jupytext.write(nb, ipynb)
            print(f"synced {ipynb.name}")
            continue
        print(f"running {py.name} ({'tiny' if args.tiny else 'full'}) ...", flush=True)
        try:
            seconds = execute(nb, args.tiny, timeout=args.timeout)
        except (CellExecutionError, CellTimeoutError) as err:  # the others still run
            failed.append(py.stem)
            print(f"{py.stem} FAILED, .ipynb left as it was:\n{str(err)[-3000:]}", flush=True)
            continue
        print(f"{py.stem}: {seconds:.0f} s", flush=True)
        if not args.dry:
            nb.metadata["litlab"] = run_info(args.tiny, seconds)
            jupytext.write(nb, ipynb)
    if failed:
        print(f"failed: {' '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
