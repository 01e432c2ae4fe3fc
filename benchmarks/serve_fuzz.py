"""A bigger schemathesis run against ``litlab serve``'s JSON API than the test does: a benchmark
of robustness, not a test.

    python benchmarks/serve_fuzz.py --examples 200              # the models/ registry
    python benchmarks/serve_fuzz.py --root /tmp/reg --model imdb-bilstm --examples 50

The app runs in-process (no socket) on the registry's models; ``--examples`` valid and as many
invalid requests go to every operation, with the checks and schema edits of
``tests/test_serve_fuzz.py`` (no 5xx; status code, content type and body as documented).
Prints the cases and status codes per operation, then each failure Hypothesis shrank; exit
status 1 when there was any.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import time
import traceback
from pathlib import Path

from schemathesis.core.failures import FailureGroup

from litlab.serve.hub import ModelHub

# the fuzzer is the test suite's own (tests/test_serve_fuzz.py), loaded from its file
_spec = importlib.util.spec_from_file_location(
    "test_serve_fuzz", Path(__file__).resolve().parents[1] / "tests" / "test_serve_fuzz.py"
)
_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_tests)
fuzz, table = _tests.fuzz, _tests.table


def describe(err: BaseException) -> str:
    """A failure with Hypothesis's notes (the falsifying example), each one of a group; the
    traceback of an exception the app raised."""
    group = getattr(err, "exceptions", None)
    if group is not None and not isinstance(err, FailureGroup):
        return "\n\n".join(describe(e) for e in group)
    if isinstance(err, FailureGroup):
        return "\n".join([str(err), *getattr(err, "__notes__", [])])
    return "".join(traceback.format_exception(type(err), err, err.__traceback__))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="models", help="registry folder (default: models)")
    p.add_argument("--model", action="append", default=None, help="NAME[@vN] (repeatable)")
    p.add_argument("--examples", type=int, default=100, help="cases per operation and mode")
    p.add_argument("--no-shrink", action="store_true", help="report failures as found (faster)")
    p.add_argument("--only", action="append", default=[], help='e.g. "POST /chat" (repeatable)')
    args = p.parse_args()
    hub = ModelHub(args.root, args.model)
    if not hub.models:
        print(f"serve_fuzz: no servable model in {args.root}", file=sys.stderr)
        return 2
    served = ", ".join(f"{s.name} ({s.kind})" for s in hub.models.values())
    print(f"# schemathesis on litlab serve: {served}; {args.examples} examples per mode")
    failures: list[tuple[str, BaseException]] = []
    start = time.perf_counter()
    counts = fuzz(hub, args.examples, on_error=lambda op, err: failures.append((op, err)),
                  only=args.only, shrink=not args.no_shrink)  # fmt: skip
    print(table(counts))
    print(f"{time.perf_counter() - start:.0f} s, {len(failures)} operations with failures")
    for op, err in failures:
        print(f"\n=== {op}\n{describe(err)}")
    server_errors = any(code >= 500 for seen in counts.values() for code in seen)
    return 1 if failures or server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
