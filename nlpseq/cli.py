"""Command line: ``nlpseq train|evaluate|predict|recipes|data``. Also ``python -m nlpseq``.

Errors caused by input (config, data, run folders) print one line and exit with status 2; anything
else is a bug and keeps its traceback.

Startup matters for a command people type: this module imports only the standard library and
light nlpseq modules at the top. torch, datasets and the training code are imported inside the
commands that use them, so ``--help``, ``--version``, ``recipes`` and ``data list`` answer at once
(``bench/startup.py`` measures it).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from nlpseq import __version__
from nlpseq.errors import NlpseqError
from nlpseq.recipes import DEFAULT_RECIPE, find_recipe, list_recipes


def _setup_logging(run_dir: Path | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if run_dir is not None and _is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(run_dir / "train.log", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("datasets", "huggingface_hub", "fsspec", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _is_main() -> bool:
    from nlpseq.distributed import is_main  # imports torch: only commands that train call this

    return is_main()


def cmd_train(args: argparse.Namespace) -> int:
    from nlpseq.api import train
    from nlpseq.tasks import load_config

    # ``nlpseq train key=value`` with no recipe: the first argument is an override, not a file.
    overrides = list(args.overrides)
    recipe = args.config
    if recipe is not None and "=" in recipe and not Path(recipe).is_file():
        overrides.insert(0, recipe)
        recipe = None
    config = load_config(find_recipe(recipe or DEFAULT_RECIPE), overrides)
    _setup_logging(Path(config.run_dir))
    results = train(config)
    if _is_main():
        summary = {k: v for k, v in results.items() if not isinstance(v, dict)}
        for split in ("valid", "test"):
            if split in results:
                summary[split] = {k: v for k, v in results[split].items()
                                  if isinstance(v, int | float)}
        print(json.dumps(summary, indent=1))
        print(f"run folder: {config.run_dir}", file=sys.stderr)
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    _setup_logging()
    predictor = load(args.run_dir, device=args.device)
    metrics = predictor.evaluate(split=args.split, data=args.data)
    print(json.dumps(metrics))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    _setup_logging()
    predictor = load(args.run_dir, device=args.device)
    lines = _read_input(args.input)
    for text, result in zip(lines, predictor.predict(lines), strict=True):
        if args.format == "jsonl":
            print(json.dumps({"text": text, **result}, ensure_ascii=False))
        else:
            print(predictor.format(result))
    return 0


def _read_input(path: str | None) -> list[str]:
    """Raw input lines from a file or stdin; a missing file or non-UTF-8 bytes is a clear error."""
    name = path or "<stdin>"
    try:
        if path is None:
            raw = sys.stdin.buffer.read()
        else:
            raw = Path(path).read_bytes()
    except OSError as error:
        raise NlpseqError(f"{name}: cannot read input ({error.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise NlpseqError(f"{name}:{line}: input is not UTF-8 (byte {raw[error.start]:#x})") from None
    return text.splitlines()


def cmd_recipes(args: argparse.Namespace) -> int:
    recipes = list_recipes()
    name_width = max((len(r.name) for r in recipes), default=0)
    task_width = max((len(r.task) for r in recipes), default=0)
    data_width = max((len(r.data) for r in recipes), default=0)
    for r in recipes:
        print(f"{r.name:{name_width}}  {r.task:{task_width}}  {r.data:{data_width}}  {r.metric}")
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from nlpseq.corpora import CORPORA, corpus_dir, fetch_corpus, is_fetched

    _setup_logging()
    if args.action == "list":
        for name, corpus in sorted(CORPORA.items()):
            state = "fetched" if is_fetched(name) else "not fetched"
            print(f"{name:12} {state:12} {corpus.description} [{corpus.licence}] -> {corpus_dir(name)}")
        return 0
    if not args.names:
        raise NlpseqError("data fetch: name at least one corpus (see `nlpseq data list`)")
    for name in args.names:
        print(fetch_corpus(name, force=args.force))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="nlpseq", description="GRU/LSTM models for NLP sequence tasks")
    parser.add_argument("--version", action="version", version=f"nlpseq {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help=f"train a recipe (default: {DEFAULT_RECIPE})",
                       description="Train a recipe, evaluate its best checkpoint on the test split and "
                       "print the metrics. Running the same command again resumes the run.")
    p.add_argument("config", nargs="?", metavar="RECIPE",
                   help=f"a recipe name from `nlpseq recipes` (e.g. sentiment/tiny, mr_bigru) or a YAML "
                   f"path (default {DEFAULT_RECIPE})")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dotted overrides, e.g. trainer.lr=3e-4 run_dir=runs/x")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print test metrics of a run folder as one JSON object")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"],
                   help="the recipe's split to evaluate (default test)")
    p.add_argument("--data", help="a labelled file in the recipe's format and field names")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict raw texts, one per line (stdin by default)")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--input", help="file of raw texts, one per line (default stdin)")
    p.add_argument("--format", default="text", choices=["text", "jsonl"],
                   help="text: label and probability (or word/TAG); jsonl: one JSON object a line")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("recipes", help="list the built-in recipes: name, task, data, metric")
    p.set_defaults(func=cmd_recipes)

    p = sub.add_parser("data", help="list or fetch the named real corpora")
    p.add_argument("action", choices=["list", "fetch"],
                   help="list: the corpora and whether they are here; fetch: download NAMES")
    p.add_argument("names", nargs="*", metavar="NAME", help="corpora to fetch (see `nlpseq data list`)")
    p.add_argument("--force", action="store_true", help="fetch again even when cached")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NlpseqError as error:
        print(f"nlpseq: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("nlpseq: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `nlpseq recipes | head`: the reader left. Point stdout at devnull so that Python's
        # final flush does not raise again, and end quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
