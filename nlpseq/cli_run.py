"""The commands on a trained run folder: ``nlpseq evaluate``, ``predict`` and ``generate``.

Each loads the run through :mod:`nlpseq.api` (imported inside, so the command line starts without
torch) and knows the run's task only through the contract: its options arrive as argparse values named
as the task declared them (:mod:`nlpseq.tasks.options`), its results are dicts printed as JSON or as
the task formats them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import secrets
import sys
from typing import Any

from nlpseq.errors import ConfigError, DataError, NlpseqError
from nlpseq.fileio import json_line, strict
from nlpseq.inputs import input_batches
from nlpseq.tasks.options import GenerationOptions, flag


def setup_logging() -> None:
    """Log lines to stderr (a training also copies them into its run folder: ``nlpseq.api.train``)."""
    logging.basicConfig(level=logging.INFO, handlers=[logging.StreamHandler(sys.stderr)], force=True,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("datasets", "huggingface_hub", "fsspec", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    setup_logging()
    data, overrides = (args.data[0], args.data[1:]) if args.data else (None, [])
    predictor = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    predictor.set_options(**_given(args, args.task_options))
    if overrides:
        _read_data_as(predictor, overrides)
    try:
        metrics = predictor.evaluate(split=args.split, data=data)
    except DataError as error:
        if args.data is None and error.message.startswith("cannot read file"):
            raise DataError(f"{error.message}: the run's {args.split} split is not where its config.yaml "
                            f"says; score a file with `nlpseq evaluate {args.run_dir} --data FILE`",
                            error.path) from None
        raise
    # Strict JSON: an infinite perplexity (a diverged model) is null, never the non-JSON "Infinity".
    print(json.dumps(strict(metrics), indent=2 if args.pretty else None, allow_nan=False))
    return 0


def _read_data_as(predictor: Any, overrides: list[str]) -> None:
    """Read the ``--data`` file with other ``data.*`` keys (``data.format=csv data.text_field=review``):
    the run's config with those overrides, checked as a recipe is. Only ``data.*`` keys: the rest made
    the model. The task reads ``config.data`` when it loads a file, so the new section is all it takes.
    (A keyword of :meth:`nlpseq.api.Predictor.evaluate` would let Python callers do the same.)"""
    from nlpseq.tasks import load_config

    for override in overrides:
        if not override.startswith("data.") or "=" not in override:
            raise NlpseqError(f"evaluate: {override!r}: only data.KEY=VALUE overrides describe a --data file "
                              "(the other keys made the trained model)")
    saved = predictor.run_dir / "config.yaml"
    try:
        config = load_config(saved, overrides, saved=True)
    except ConfigError as error:  # the override is wrong, not the run's file
        raise ConfigError(f"evaluate --data: {str(error).removeprefix(f'{saved}: ')}") from None
    predictor.task.config = dataclasses.replace(predictor.task.config, data=config.data)


def cmd_predict(args: argparse.Namespace) -> int:
    from nlpseq.api import load

    setup_logging()
    options = _given(args, args.task_options)
    jsonl_only = sorted(name for name in options if name in JSONL_ONLY)
    if jsonl_only and args.format != "jsonl":
        raise NlpseqError(f"{', '.join(map(flag, jsonl_only))}: only --format jsonl has room for it "
                          "(a text line holds the prediction alone)")
    predictor = load(args.run_dir, device=args.device, checkpoint=args.checkpoint)
    predictor.set_options(**options)
    # Streaming: each batch is printed and flushed as soon as it is done; a person typing at a terminal
    # gets each line back at once.
    interactive = args.input is None and sys.stdin.isatty()
    if interactive:
        print("reading lines from the terminal; Ctrl-D to end", file=sys.stderr, flush=True)
    # A task whose input is blank-line separated blocks (CoNLL) never has one cut between batches.
    batches = input_batches(args.input, 1 if interactive else args.batch_lines,
                            blocks=predictor.task.input_blocks)
    for lines in batches:
        for text, result in zip(lines, predictor.predict(lines), strict=True):
            if args.format == "jsonl":
                print(json_line({"text": text, **result}))
            else:
                print(predictor.format(result))
        sys.stdout.flush()
    return 0


# Options whose output only a JSON line carries (translation's attention weights and pieces).
JSONL_ONLY = ("attention",)


def _given(args: argparse.Namespace, names: list[str]) -> dict[str, object]:
    """The option flags the user actually gave (None: not given; a switch's default is None too).
    Compared by identity: ``0.0 in (None, False)`` is true, and ``--length-penalty 0`` is a value."""
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}


def cmd_generate(args: argparse.Namespace) -> int:
    setup_logging()
    if args.prompt is not None and args.input is not None:
        raise NlpseqError("generate: give --prompt or --input, not both")
    given = _given(args, args.task_options)
    options = GenerationOptions.of(**given)  # checked before the model loads
    if options.max_new_tokens > MAX_NEW_TOKENS:
        raise NlpseqError(f"--max-new-tokens {options.max_new_tokens}: at most {MAX_NEW_TOKENS:,} tokens a "
                          "continuation (its text is printed only when it is done)")
    if options.sampling and "seed" not in given:
        # A fresh draw each run, said so that a run worth keeping can be repeated exactly.
        options = dataclasses.replace(options, seed=secrets.randbelow(2**31))
        print(f"sampling with seed {options.seed} (repeat with --seed {options.seed})", file=sys.stderr)
    from nlpseq.api import load  # after the options' checks: a bad option needs no torch

    predictor = load(args.run_dir, device=args.device)
    if args.prompt is None and args.input is None and sys.stdin.isatty():
        # Interactive: one prompt a line, each continued as soon as it is typed.
        print("type a prompt and Enter to continue it (an empty line: from scratch); Ctrl-D to end",
              file=sys.stderr, flush=True)
        for prompts in input_batches(None, 1):
            _print_generated(predictor.generate(prompts, options), args.format)
        return 0
    # A file's prompts stream in batches, each printed when done: a long or endless input never
    # waits whole in memory, and a FIFO's prompts are answered as they come.
    batches = [[args.prompt or ""]] if args.input is None else input_batches(args.input, GENERATE_BATCH)
    for prompts in batches:
        _print_generated(predictor.generate(prompts, options), args.format)
    return 0


# The most tokens ``generate`` adds to one continuation: a continuation is printed whole once done, and
# a model that rarely stops must not grow one for hours in silence (the server's cap is lower: 512).
MAX_NEW_TOKENS = 10_000
# Prompts of an --input file continued together.
GENERATE_BATCH = 16


def _print_generated(results: list[dict[str, Any]], form: str) -> None:
    """Text: the prompt and its continuation on a line (a backward model's text before its prompt).
    JSONL: the result as the task gave it, whose ``text`` is the continuation alone (the contract: new
    text), said by ``prompt_included``."""
    for result in results:
        if form == "jsonl":
            print(json_line({**result, "prompt_included": result.get("prompt_included", False)}))
        else:
            # A backward model writes what comes before its prompt: the line reads in text order.
            parts = ((result["text"], result["prompt"]) if result.get("before_prompt")
                     else (result["prompt"], result["text"]))
            print(" ".join(part for part in parts if part))
    sys.stdout.flush()
