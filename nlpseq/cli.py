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
from collections.abc import Iterator
from pathlib import Path

from nlpseq import __version__
from nlpseq.errors import NlpseqError, Terminated
from nlpseq.recipes import DEFAULT_RECIPE, find_recipe, list_recipes


def _setup_logging(run_dir: Path | None = None) -> None:
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if run_dir is not None and _is_main():
        try:
            run_dir.mkdir(parents=True, exist_ok=True)
            handlers.append(logging.FileHandler(run_dir / "train.log", encoding="utf-8"))
        except OSError as error:
            raise NlpseqError(f"{run_dir}: cannot use this run folder ({error.strerror or error})") from None
    logging.basicConfig(level=logging.INFO, handlers=handlers, force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("datasets", "huggingface_hub", "fsspec", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _is_main() -> bool:
    from nlpseq.distributed import is_main  # imports torch: only commands that train call this

    return is_main()


def cmd_train(args: argparse.Namespace) -> int:
    from nlpseq.api import train
    from nlpseq.config import to_dict
    from nlpseq.runfolder import check_resume, saved_config
    from nlpseq.tasks import load_config

    # ``nlpseq train key=value`` with no recipe: the first argument is an override, not a file.
    overrides = list(args.overrides)
    recipe = args.config
    if recipe is not None and "=" in recipe and not Path(recipe).is_file():
        overrides.insert(0, recipe)
        recipe = None
    config = load_config(find_recipe(recipe or DEFAULT_RECIPE), overrides)
    # A changed config is refused before the run folder gets so much as a log line.
    run_dir = Path(config.run_dir)
    check_resume(run_dir, saved_config(run_dir), to_dict(config), args.allow_changes)
    _setup_logging(Path(config.run_dir))
    results = train(config, allow_changes=args.allow_changes)
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
    predictor = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    predictor.set_options(**_task_options(args, ("beam_size", "length_penalty", "dynamic_lr",
                                                 "dynamic_decay")))
    metrics = predictor.evaluate(split=args.split, data=args.data)
    print(json.dumps(metrics))
    return 0


def cmd_predict(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    _setup_logging()
    predictor = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    predictor.set_options(**_task_options(args, ("beam_size", "n_best", "length_penalty", "attention",
                                                 "plot_attention")))
    # Streaming: each batch is printed and flushed as soon as it is done; a person typing at a terminal
    # gets each line back at once.
    interactive = args.input is None and sys.stdin.isatty()
    for lines in _input_batches(args.input, 1 if interactive else args.batch_lines):
        for text, result in zip(lines, predictor.predict(lines), strict=True):
            if args.format == "jsonl":
                print(json.dumps({"text": text, **result}, ensure_ascii=False))
            else:
                print(predictor.format(result))
        sys.stdout.flush()
    return 0


def _add_checkpoint_and_search(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="best", choices=["best", "last", "averaged"],
                   help="which checkpoint to load (averaged: written by `nlpseq average`; default best)")
    p.add_argument("--beam-size", type=int, help="translation: beam width (1: greedy; default: the recipe's)")
    p.add_argument("--length-penalty", type=float,
                   help="translation: GNMT length penalty alpha for beam search (default: the recipe's)")


def _task_options(args: argparse.Namespace, names: tuple[str, ...]) -> dict[str, object]:
    """The task-specific flags the user actually gave (None / False: not given). Compared by identity:
    ``0.0 in (None, False)`` is true, and ``--length-penalty 0`` is a value."""
    given = {name: getattr(args, name, None) for name in names}
    return {name: value for name, value in given.items() if value is not None and value is not False}


def _split_lines(text: str) -> list[str]:
    """Lines split on "\\n" only (str.splitlines also splits on U+2028, \\x0c, \\x85 ...), a CRLF's
    "\\r" dropped, no empty last line for a final newline: one line out per input line, always."""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _decode_line(raw: bytes, name: str, number: int) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise NlpseqError(f"{name}:{number}: input is not UTF-8 (byte {raw[error.start]:#x})") from None


def _input_batches(path: str | None, size: int) -> Iterator[list[str]]:
    """Input lines in groups of ``size``, read as they arrive (stdin) so output can stream."""
    if path is not None:
        lines = _read_input(path)
        for start in range(0, len(lines), size):
            yield lines[start:start + size]
        return
    batch: list[str] = []
    for number, raw in enumerate(iter(sys.stdin.buffer.readline, b""), 1):
        text = _decode_line(raw, "<stdin>", number)
        if number == 1:
            text = text.removeprefix("\ufeff")
        batch.extend(_split_lines(text))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def cmd_generate(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    _setup_logging()
    if args.prompt is not None and args.input is not None:
        raise NlpseqError("generate: give --prompt or --input, not both")
    prompts = [args.prompt or ""] if args.input is None else _read_input(args.input)
    predictor = load(args.run_dir, device=args.device)
    results = predictor.generate(prompts, max_new_tokens=args.max_new_tokens, temperature=args.temperature,
                                 top_k=args.top_k, top_p=args.top_p, num_samples=args.num_samples,
                                 seed=args.seed, beam_size=args.beam_size, condition=args.condition)
    for result in results:
        if args.format == "jsonl":
            print(json.dumps(result, ensure_ascii=False))
        else:
            print(" ".join(part for part in (result["prompt"], result["text"]) if part))
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
    return _split_lines(text.removeprefix("\ufeff"))


def cmd_average(args: argparse.Namespace) -> int:
    from nlpseq.training.averaging import average_checkpoints

    _setup_logging()
    print(average_checkpoints(args.run_dir, args.last))
    return 0


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
        print(fetch_corpus(name, force=args.force, from_dir=args.from_dir))
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
    p.add_argument("--allow-changes", action="store_true",
                   help="resume a run whose config differs in keys that are safe on resume (max_epochs, "
                   "max_steps, patience, eval_every, ...); the changes are logged and recorded in the run")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("evaluate", help="print test metrics of a run folder as one JSON object")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--split", default="test", choices=["train", "valid", "test"],
                   help="the recipe's split to evaluate (default test)")
    p.add_argument("--data", help="a labelled file in the recipe's format and field names")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    _add_checkpoint_and_search(p)
    p.add_argument("--dynamic-lr", type=float,
                   help="language model (stream mode): also report the metrics under dynamic evaluation "
                   "(Krause et al. 2018: an SGD step of this size after each scored window), as 'dynamic'")
    p.add_argument("--dynamic-decay", type=float,
                   help="with --dynamic-lr: pull the adapted weights back towards the trained ones by this "
                   "fraction after each step (default 0)")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("predict", help="predict raw texts, one per line (stdin by default)")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--input", help="file of raw texts, one per line (default stdin)")
    p.add_argument("--format", default="text", choices=["text", "jsonl"],
                   help="text: label and probability (or word/TAG); jsonl: one JSON object a line")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.add_argument("--batch-lines", type=int, default=64,
                   help="lines predicted together; each batch is printed as soon as it is done (default 64)")
    _add_checkpoint_and_search(p)
    p.add_argument("--n-best", type=int, help="translation: print the N best hypotheses with scores")
    p.add_argument("--attention", action="store_true",
                   help="translation, jsonl: include the attention weights and the pieces")
    p.add_argument("--plot-attention", metavar="DIR",
                   help="translation: write one attention heatmap PNG per input line into DIR")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("generate", help="write text with a language-model run folder",
                       description="Continue a prompt (or each line of a file) with sampled or beam-searched "
                       "text, batched over prompts and samples.")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train` with a generating task (lm)")
    p.add_argument("--prompt", help="text to continue (default: empty, start from scratch)")
    p.add_argument("--input", help="file of prompts, one per line (instead of --prompt)")
    p.add_argument("--condition", help="the condition value (e.g. a genre) of a conditioned model")
    p.add_argument("--max-new-tokens", type=int, default=50,
                   help="most tokens added per sample (default 50)")
    p.add_argument("--temperature", type=float, default=1.0,
                   help="divide logits by this before sampling; 0 is greedy (default 1.0)")
    p.add_argument("--top-k", type=int, default=0,
                   help="sample among the K likeliest tokens; 0: all (default)")
    p.add_argument("--top-p", type=float, default=1.0,
                   help="sample within the smallest set of tokens of this total probability (default 1.0)")
    p.add_argument("--num-samples", type=int, default=1, help="samples per prompt (default 1)")
    p.add_argument("--seed", type=int, default=0, help="sampling seed: the same seed gives the same text")
    p.add_argument("--beam-size", type=int, default=1,
                   help="beam search with this many hypotheses (default 1)")
    p.add_argument("--format", default="text", choices=["text", "jsonl"],
                   help="text: prompt and continuation a line; jsonl: also tokens and log-probabilities")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("average", help="average the last N kept checkpoints into checkpoints/averaged.pt",
                       description="Average the weights of the newest N checkpoints/step-*.pt (kept with "
                       "trainer.keep_checkpoints) into checkpoints/averaged.pt; evaluate and predict load "
                       "it with --checkpoint averaged.")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--last", type=int, default=3, help="how many of the newest checkpoints (default 3)")
    p.set_defaults(func=cmd_average)

    p = sub.add_parser("recipes", help="list the built-in recipes: name, task, data, metric")
    p.set_defaults(func=cmd_recipes)

    p = sub.add_parser("data", help="list or fetch the named real corpora")
    p.add_argument("action", choices=["list", "fetch"],
                   help="list: the corpora and whether they are here; fetch: download NAMES")
    p.add_argument("names", nargs="*", metavar="NAME", help="corpora to fetch (see `nlpseq data list`)")
    p.add_argument("--force", action="store_true", help="fetch again even when cached")
    p.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="read archives you already have from DIR (lohelp-fr-en: the two .deb files)")
    p.set_defaults(func=cmd_data)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except NlpseqError as error:
        print(f"nlpseq: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print("nlpseq: terminated (SIGTERM); run the same command again to resume", file=sys.stderr)
        return 143
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
