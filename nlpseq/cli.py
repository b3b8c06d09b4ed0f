"""Command line: ``nlpseq train|evaluate|predict|generate|average|recipes|data|serve``; ``python -m nlpseq``.

This module holds the parser, ``train``, ``average`` and ``data``; the commands on a trained run folder
(``evaluate``, ``predict``, ``generate``) are :mod:`nlpseq.cli_run`, ``recipes`` is
:mod:`nlpseq.cli_recipes`, ``serve`` :mod:`nlpseq.cli_serve`.

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
import os
import sys
from pathlib import Path
from typing import Any

from nlpseq import __version__
from nlpseq.cli_recipes import add_recipes
from nlpseq.cli_run import cmd_evaluate, cmd_generate, cmd_predict, setup_logging
from nlpseq.cli_serve import add_serve
from nlpseq.errors import NlpseqError, Terminated
from nlpseq.recipes import DEFAULT_RECIPE, find_recipe
from nlpseq.tasks.options import TASK_OPTIONS, GenerationOptions, OptionError, TaskOption, check_options, flag


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
    if recipe is not None and (Path(recipe) / "config.yaml").is_file():
        # ``nlpseq train RUN_DIR``: resume that run with its own config. Its run_dir is the folder as
        # named here (the saved one may be relative to wherever it was trained from); run_dir is not
        # compared on resume, and a later run_dir= override still wins.
        overrides.insert(0, f"run_dir={json.dumps(str(Path(recipe)))}")
        config = load_config(Path(recipe) / "config.yaml", overrides, saved=True)
    else:
        config = load_config(find_recipe(recipe or DEFAULT_RECIPE), overrides)
    # train() refuses a changed config before writing anything, then copies the log into train.log.
    setup_logging()
    results = train(config, allow_changes=args.allow_changes)
    if _is_main():
        print(json.dumps(_summary(results), indent=1))
        print(f"run folder: {config.run_dir}", file=sys.stderr)
    return 0


def _summary(results: dict[str, Any]) -> dict[str, Any]:
    """What ``train`` prints: the numbers of ``results.json`` (tables left out), floats to 4 decimals
    (``best_valid_bleu`` 30.6123, not 30.612345678901234); results.json keeps them whole."""
    def rounded(value: Any) -> Any:
        return round(value, 4) if isinstance(value, float) else value

    summary = {k: rounded(v) for k, v in results.items() if not isinstance(v, dict)}
    for split in ("valid", "test"):
        if split in results:
            summary[split] = {k: rounded(v) for k, v in results[split].items() if isinstance(v, int | float)}
    return summary


def cmd_average(args: argparse.Namespace) -> int:
    from nlpseq.training.averaging import average_checkpoints

    setup_logging()
    print(average_checkpoints(args.run_dir, args.last))
    return 0


def cmd_data(args: argparse.Namespace) -> int:
    from nlpseq.corpora import CORPORA, corpus_dir, fetch_corpus, is_fetched

    setup_logging()
    if args.action == "list":
        for name, corpus in sorted(CORPORA.items()):
            state = "fetched" if is_fetched(name) else "not fetched"
            print(f"{name:12} {state:12} {corpus.description} [{corpus.licence}] -> {corpus_dir(name)}")
        return 0
    if not args.names:
        raise NlpseqError("data fetch: name at least one corpus (see `nlpseq data list`)")
    for name in args.names:
        print(fetch_corpus(name, force=args.force, from_dir=args.from_dir, include=args.include))
    return 0


# ------------------------------------------------------------------------------------------ the parser
# Each subcommand has its own builder. ``predict``, ``evaluate`` and ``generate`` take the options
# their run's task declares (nlpseq.tasks.options): the run folder is found in the arguments before
# parsing, so ``nlpseq predict RUN --help`` lists that task's flags and no other task's.
RUN_COMMANDS = ("predict", "evaluate", "generate")


def _run_task(argv: list[str]) -> str | None:
    """The task of the first argument after a run command that is a run folder (its ``config.yaml``
    names it); None when there is none, or it cannot be read (the command then says why)."""
    from nlpseq.config_files import read_yaml

    for token in argv[1:]:
        path = Path(token) / "config.yaml"
        if token.startswith("-") or not path.is_file():
            continue
        try:  # read_yaml bounds what it reads (nesting, aliases) and says so as an NlpseqError
            task = read_yaml(path).get("task")
        except (NlpseqError, AttributeError):
            return None
        return task if isinstance(task, str) else None
    return None


def _task_options(task: str | None, command: str) -> list[TaskOption]:
    """The options ``task`` declares for ``command``: the built-in tasks' from their light declarations
    (no torch import), any other registered task's from its class."""
    from nlpseq.tasks import TASKS, get_task

    if command == "generate":
        declared: tuple[TaskOption, ...] = GenerationOptions.declarations()
    elif task in TASK_OPTIONS:
        declared = TASK_OPTIONS[task]
    elif task in TASKS:
        declared = get_task(task).options
    else:
        declared = ()
    return [option for option in declared if command in option.commands]


def _add_options(p: argparse.ArgumentParser, options: list[TaskOption], title: str) -> None:
    """One flag per option, in a group of its own; every default is None ("not given"), so what the
    user typed is all that reaches the task, which checks it (:func:`nlpseq.tasks.options.check_options`)."""
    group = p.add_argument_group(title)
    for option in options:
        if option.type is bool:
            group.add_argument(flag(option.name), action="store_const", const=True, help=option.help)
        else:
            kind = str if option.type is Path else option.type
            group.add_argument(flag(option.name), type=kind, metavar=option.metavar, help=option.help,
                               choices=option.choices)
    p.set_defaults(task_options=[option.name for option in options])


def _at_least_one(text: str) -> int:
    """An argparse type: a whole number >= 1 (argparse's own message names the flag)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is out of range; allowed: >= 1")
    return value


def _add_run(p: argparse.ArgumentParser, what: str = "a run folder written by `nlpseq train`") -> None:
    p.add_argument("run_dir", help=what)
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default auto)")


def _add_checkpoint(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", default="best", choices=["best", "last", "averaged"],
                   help="which checkpoint to load (averaged: written by `nlpseq average`; default best)")


def _with_task_options(p: argparse.ArgumentParser, task: str | None, command: str) -> None:
    options = _task_options(task, command)
    if options:
        _add_options(p, options, f"options of a {task} run")
        return
    p.set_defaults(task_options=[])
    p.epilog = (f"The options of a run's task are listed after its folder: `nlpseq {command} RUN --help`."
                if task is None else f"A {task} run takes no options.")


def _add_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("train", help=f"train a recipe (default: {DEFAULT_RECIPE}), or resume a run",
                       description="Train a recipe, evaluate its best checkpoint on the test split and "
                       "print the metrics. Running the same command again resumes the run, and so does "
                       "`nlpseq train RUN_DIR` (the run's own config.yaml, overrides allowed after it).")
    p.add_argument("config", nargs="?", metavar="RECIPE",
                   help=f"a recipe name from `nlpseq recipes` (e.g. sentiment/tiny, mr_bigru), a YAML "
                   f"path, or a run folder to resume (default {DEFAULT_RECIPE})")
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE",
                   help="dotted overrides, e.g. trainer.lr=3e-4 run_dir=runs/x")
    p.add_argument("--allow-changes", action="store_true",
                   help="resume a run whose config differs in keys that are safe on resume (max_epochs, "
                   "max_steps, patience, eval_every, ...); the changes are logged and recorded in the run")
    p.set_defaults(func=cmd_train)


def _add_evaluate(sub: argparse._SubParsersAction, task: str | None) -> None:
    p = sub.add_parser("evaluate", help="print test metrics of a run folder as one JSON object")
    _add_run(p)
    p.add_argument("--split", default="test", choices=["train", "valid", "test"],
                   help="the recipe's split to evaluate (default test)")
    p.add_argument("--data", nargs="+", metavar=("FILE", "data.KEY=VALUE"),
                   help="a labelled file, read in the recipe's format and field names unless data keys "
                   "after it say otherwise (--data reviews.csv data.format=csv data.text_field=review)")
    p.add_argument("--pretty", action="store_true", help="indented JSON (default: one line)")
    _add_checkpoint(p)
    _with_task_options(p, task, "evaluate")
    p.set_defaults(func=cmd_evaluate)


def _add_predict(sub: argparse._SubParsersAction, task: str | None) -> None:
    p = sub.add_parser("predict", help="predict raw texts, one per line (stdin by default)")
    _add_run(p)
    p.add_argument("--input", help="file of raw texts, one per line (default stdin)")
    p.add_argument("--format", default="text", choices=["text", "jsonl"],
                   help="text: label and probability (or word/TAG); jsonl: one JSON object a line")
    p.add_argument("--batch-lines", type=_at_least_one, default=64,
                   help="lines predicted together; each batch is printed as soon as it is done (default 64)")
    _add_checkpoint(p)
    _with_task_options(p, task, "predict")
    p.set_defaults(func=cmd_predict)


def _add_generate(sub: argparse._SubParsersAction, task: str | None) -> None:
    p = sub.add_parser("generate", help="write text with a language-model run folder",
                       description="Continue a prompt (or each line of a file) with text, batched over "
                       "prompts and samples: greedy by default (the likeliest token each step), sampled "
                       "when a sampling option asks for it, beam-searched with --beam-size above 1.")
    _add_run(p, "a run folder written by `nlpseq train` with a generating task (lm)")
    p.add_argument("--prompt", help="text to continue (default: empty, start from scratch)")
    p.add_argument("--input", help="file of prompts, one per line (instead of --prompt)")
    p.add_argument("--format", default="text", choices=["text", "jsonl"],
                   help="text: prompt and continuation a line; jsonl: also tokens and log-probabilities")
    _add_options(p, _task_options(task, "generate"), "generation options")
    p.set_defaults(func=cmd_generate)


def _add_average(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("average", help="average the last N kept checkpoints into checkpoints/averaged.pt",
                       description="Average the weights of the newest N checkpoints/step-*.pt (kept with "
                       "trainer.keep_checkpoints) into checkpoints/averaged.pt; evaluate and predict load "
                       "it with --checkpoint averaged.")
    p.add_argument("run_dir", help="a run folder written by `nlpseq train`")
    p.add_argument("--last", type=int, default=3, help="how many of the newest checkpoints (default 3)")
    p.set_defaults(func=cmd_average)


def _add_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("data", help="list or fetch the named real corpora")
    p.add_argument("action", choices=["list", "fetch"],
                   help="list: the corpora and whether they are here; fetch: download NAMES")
    p.add_argument("names", nargs="*", metavar="NAME", help="corpora to fetch (see `nlpseq data list`)")
    p.add_argument("--force", action="store_true", help="fetch again even when cached")
    p.add_argument("--from", dest="from_dir", type=Path, metavar="DIR",
                   help="read archives you already have from DIR (lohelp-fr-en: the two .deb files)")
    p.add_argument("--include", metavar="SOURCES",
                   help="pretrain-en/-fr: opt-in sources, comma-separated (nlp-corpus,pattern-reviews)")
    p.set_defaults(func=cmd_data)


def build_parser(task: str | None = None) -> argparse.ArgumentParser:
    """The whole command line; ``task``: the run folder's task, whose options ``predict``/``evaluate``
    then take (None: no run folder named, so no task flags)."""
    parser = argparse.ArgumentParser(prog="nlpseq", description="GRU/LSTM models for NLP sequence tasks")
    parser.add_argument("--version", action="version", version=f"nlpseq {__version__}",
                        help="print the version and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_train(sub)
    _add_evaluate(sub, task)
    _add_predict(sub, task)
    _add_generate(sub, task)
    _add_average(sub)
    add_recipes(sub)
    _add_data(sub)
    add_serve(sub)
    return parser


def _parse(argv: list[str]) -> argparse.Namespace:
    """Parse with the flags of the named run's task. A flag left over is refused as the task would
    refuse it: "--beam-size: not an option of a classification run", or, when no run folder could be
    read, as an error about the run folder rather than about the flag."""
    command = next((token for token in argv if not token.startswith("-")), None)
    task = _run_task(argv[argv.index(command):]) if command in RUN_COMMANDS else None
    parser = build_parser(task)
    args, extra = parser.parse_known_args(argv)
    flags = [token.partition("=")[0] for token in extra if token.startswith("--")]
    if not flags or args.command not in RUN_COMMANDS:
        return parser.parse_args(argv)  # argparse's own error
    if task is None:
        raise NlpseqError(f"{args.run_dir}: not a run folder (no readable config.yaml), so {flags[0]} "
                          "cannot be checked against a task's options")
    names = {name.removeprefix("--").replace("-", "_"): None for name in flags}
    check_options(_task_options(task, args.command), names, task)  # raises: these are not its options
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    command = None
    try:
        args = _parse(argv)
        command = args.command
        return args.func(args)
    except OptionError as error:  # flags, not keywords: --beam-size
        print(f"nlpseq: error: {error.render(flag)}", file=sys.stderr)
        return 2
    except NlpseqError as error:
        print(f"nlpseq: error: {error}", file=sys.stderr)
        return 2
    except Terminated:
        print(f"nlpseq: terminated (SIGTERM){_resume_hint(command)}", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print(f"nlpseq: interrupted{_resume_hint(command)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `nlpseq recipes | head`: the reader left. Point stdout at devnull so that Python's
        # final flush does not raise again, and end quietly, as other command-line tools do.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


def _resume_hint(command: str | None) -> str:
    """Only a training has something to resume; an interrupted predict or evaluate just stopped."""
    return "; run the same command again to resume" if command == "train" else ""


if __name__ == "__main__":
    sys.exit(main())
