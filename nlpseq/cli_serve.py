"""``nlpseq serve RUN_DIR [RUN_DIR ...]``: trained runs over HTTP (:mod:`nlpseq.serve`).

An optional extra (``pip install "nlpseq[serve]"``: FastAPI, uvicorn): this module imports neither, so
the command line starts without them, and ``nlpseq serve`` without the extra says which to install.
"""

from __future__ import annotations

import argparse

from nlpseq.serve.config import ServeConfig


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_serve(sub: argparse._SubParsersAction) -> None:
    defaults = ServeConfig()
    p = sub.add_parser("serve", help="serve run folders over HTTP, with a page to try them",
                       description="Serve trained run folders over HTTP (predict, generate, a page at /, "
                       "OpenAPI docs at /docs), concurrent requests batched together. Needs the serve "
                       'extra: pip install "nlpseq[serve]".')
    p.add_argument("runs", nargs="+", metavar="RUN_DIR",
                   help="run folders, each served under its folder's name, or NAME=RUN_DIR")
    p.add_argument("--host", default=defaults.host,
                   help=f"address to listen on (default {defaults.host}: this machine only)")
    p.add_argument("--port", type=int, default=defaults.port, help=f"TCP port (default {defaults.port})")
    p.add_argument("--max-batch", type=_positive, default=defaults.max_batch,
                   help=f"most inputs in one model call (1: no batching; default {defaults.max_batch})")
    p.add_argument("--max-wait-ms", type=float, default=defaults.max_wait_ms,
                   help=f"how long a request waits for others to batch with (default {defaults.max_wait_ms})")
    p.add_argument("--workers", type=_positive, default=defaults.workers,
                   help="processes behind the port, each with every model loaded (default 1)")
    p.add_argument("--max-queue", type=_positive, default=defaults.max_queue,
                   help=f"inputs waiting per model before requests get 503 (default {defaults.max_queue})")
    p.add_argument("--max-inputs", type=_positive, default=defaults.max_inputs,
                   help=f"most inputs in one request (default {defaults.max_inputs})")
    p.add_argument("--max-input-chars", type=_positive, default=defaults.max_input_chars,
                   help=f"longest input, in characters (default {defaults.max_input_chars})")
    p.add_argument("--device", default="auto", help="auto (default), cpu, cuda, cuda:N or mps")
    p.add_argument("--checkpoint", default="best", choices=["best", "last", "averaged"],
                   help="which checkpoint of each run (default best)")
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> int:
    from nlpseq.cli_run import setup_logging
    from nlpseq.serve import check_installed

    check_installed()  # one line naming the extra, before anything loads
    from nlpseq.serve.runner import serve, served_names

    config = ServeConfig(host=args.host, port=args.port, max_batch=args.max_batch,
                         max_wait_ms=args.max_wait_ms, workers=args.workers, max_queue=args.max_queue,
                         max_inputs=args.max_inputs, max_input_chars=args.max_input_chars)
    runs = served_names(args.runs)
    setup_logging()
    serve(runs, config, args.device, args.checkpoint)
    return 0
