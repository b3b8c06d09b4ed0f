"""Command line: ``nlpseq train|evaluate|predict|data``. Also ``python -m nlpseq``.

Errors caused by input (config, data, run folders) print one line and exit with status 2; anything
else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from nlpseq.errors import NlpseqError

DEFAULT_RECIPE = "recipes/sentiment/mr_bigru.yaml"


def _default_recipe() -> Path:
    """The built-in default recipe: from the current folder, else beside the installed package."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[1]):
        if (root / DEFAULT_RECIPE).is_file():
            return root / DEFAULT_RECIPE
    raise NlpseqError(f"no config given and {DEFAULT_RECIPE} not found; run from the nlpseq checkout "
                      "or pass a recipe path")


def _setup_logging(run_dir: Path | None = None) -> None:
    from nlpseq.training.distributed import is_main

    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if run_dir is not None and is_main():
        run_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(run_dir / "train.log", encoding="utf-8"))
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("datasets", "huggingface_hub", "fsspec", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_train(args: argparse.Namespace) -> int:
    from nlpseq.api import train
    from nlpseq.config import load_config

    # ``nlpseq train key=value`` with no recipe: the first argument is an override, not a file.
    overrides = list(args.overrides)
    recipe = args.config
    if recipe is not None and "=" in recipe and not Path(recipe).is_file():
        overrides.insert(0, recipe)
        recipe = None
    config = load_config(recipe or _default_recipe(), overrides)
    _setup_logging(Path(config.run_dir))
    results = train(config)
    from nlpseq.training.distributed import is_main

    if is_main():
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
            print(_format_text(result))
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


def _format_text(result: dict) -> str:
    if "tags" in result:  # tagging: word/TAG pairs
        return " ".join(f"{w}/{t}" for w, t in zip(result["words"], result["tags"], strict=True))
    if result.get("label") is None:
        return ""
    return f"{result['label']}\t{result['probability']:.4f}"


def cmd_data(args: argparse.Namespace) -> int:
    from data_scripts import CORPORA, corpus_dir, fetch_corpus, is_fetched

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
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a recipe (default: the MR BiGRU sentiment recipe)")
    p.add_argument("config", nargs="?", help=f"recipe YAML (default {DEFAULT_RECIPE})")
    p.add_argument("overrides", nargs="*", help="dotted key=value overrides, e.g. trainer.lr=3e-4")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print test metrics of a run folder as one JSON object")
    p.add_argument("run_dir")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"])
    p.add_argument("--data", help="a labelled file in the recipe's format and field names")
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict raw texts, one per line (stdin by default)")
    p.add_argument("run_dir")
    p.add_argument("--input", help="file of raw texts, one per line")
    p.add_argument("--format", default="text", choices=["text", "jsonl"])
    p.add_argument("--device", default="auto")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("data", help="list or fetch the named real corpora")
    p.add_argument("action", choices=["list", "fetch"])
    p.add_argument("names", nargs="*")
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


if __name__ == "__main__":
    sys.exit(main())
