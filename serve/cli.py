"""``litlab serve``: every model of the registry behind one port, JSON API and web app.

    litlab serve [--root models] [--model NAME[@vN] ...] [--host 127.0.0.1] [--port 8000]
                 [--no-ui] [--max-image-mb 5]

Binds 127.0.0.1 unless ``--host`` says otherwise (``--host 0.0.0.0`` exposes it to the
network), loads each model once at start-up, then logs one line per request with its
latency. The web app is at ``/ui`` (``/`` redirects there), the API documentation at
``/docs``. Exit status 2, with one line, when there is nothing to serve.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time

from litlab.common.errors import CommandParser

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _parser() -> argparse.ArgumentParser:
    p = CommandParser(prog="litlab serve", description=__doc__.split("\n\n")[0])
    p.add_argument("--root", default="models", help="registry folder (default: models)")
    p.add_argument(
        "--model",
        action="append",
        default=None,
        help="a model to serve, NAME or NAME@vN (repeatable; default: every model, latest)",
    )
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default: loopback)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--no-ui", action="store_true", help="the JSON API only, no web app")
    p.add_argument("--max-image-mb", type=float, default=5.0, help="upload limit in MiB")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    log = logging.getLogger("litlab.serve")
    t = time.perf_counter()
    import uvicorn  # imported here: `litlab --help` stays fast

    from litlab.serve.api import create_app
    from litlab.serve.hub import ModelHub

    hub = ModelHub(args.root, args.model, max_image_bytes=int(args.max_image_mb * 2**20))
    for name, why in hub.skipped.items():
        log.warning("not serving %s: %s", name, why)
    if not hub.models:
        print(
            f"litlab serve: error: no servable model in {args.root}/ "
            "(add one with litlab export --ckpt C --name N)",
            file=sys.stderr,
        )
        return 2
    app = create_app(hub, ui=not args.no_ui)
    for m in hub.describe():
        log.info("serving %s@%s (%s, %s)", m["name"], m["version"], m["kind"], m["metric"])
    log.info("loaded %d models in %.1f s", len(hub.models), time.perf_counter() - t)
    log.info("web app: http://%s:%d/ui   API docs: http://%s:%d/docs", args.host, args.port,
             args.host, args.port)  # fmt: skip
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0
