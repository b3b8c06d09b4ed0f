"""The speed harness: every task's training, inference, data and startup numbers in one run, one table.

    python bench/run.py [--task classification,tagging,lm,translation,generation] [--device cpu|cuda]
                        [--quick] [--threads N] [--out bench/results] [--run-dir TASK=DIR ...]
                        [--recipe TASK=RECIPE ...] [--phases training,inference,data,startup]

For each task, on its real recipe's data (defaults in RECIPES):

* training tokens/s of the real pipeline (:class:`~nlpseq.training.trainer.Trainer`'s steps) against
  the raw fused RNN kernel at the same sizes and batch shapes, in alternating rounds: the efficiency
  ratio, and the batches' padding share (:mod:`bench.harness.training`);
* inference: sentences/s batched vs one at a time, translation's beam vs greedy, peak memory
  (:mod:`bench.harness.inference`); ``generation`` is the language model's sampling;
* data preparation time and peak memory at 1x, 4x, 16x the training corpus (``--quick``: 1x, 4x), with
  the slope (:mod:`bench.harness.scaling`);
* process start to the first training step.

Writes ``OUT/<machine>-<YYYY-MM-DD>.json`` and the markdown table beside it (``.md``), and prints the
table. A later run on the same machine and day in the same mode adds its tasks to that file. Threads:
``--threads`` (default 1) for this process and every subprocess. Speeds are measured here, never
asserted in tests. ``--quick`` takes a few minutes for all tasks; the full run, tens of minutes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `bench.harness` from the repository root

import torch

from bench.harness.inference import make_run_folder, measure_generation, measure_inference
from bench.harness.machine import describe_machine, machine_slug
from bench.harness.report import markdown_table
from bench.harness.scaling import measure_data, measure_startup
from bench.harness.training import measure_training
from nlpseq.errors import ConfigError
from nlpseq.recipes import find_recipe
from nlpseq.tasks import get_task, load_config

# task -> the recipe whose data, model and trainer settings it measures.
RECIPES: dict[str, str] = {
    "classification": "sentiment/mr_bigru",
    "tagging": "tagging/conll2003_ner_bilstm_crf",
    "lm": "lm/ptb_small_lstm",
    "translation": "translation/lohelp_fr_en_gru_bahdanau",
    # Sampling from the language model's run folder.
    "generation": "lm/ptb_small_lstm",
}
PHASES = ("training", "inference", "data", "startup")


@dataclass(frozen=True)
class Sizes:
    """How much each measurement runs: ``--quick`` or the full run."""

    # Optimizer steps of the uncounted first pipeline/kernel pair.
    warmup_steps: int
    # Counted pipeline/kernel round pairs, and optimizer steps per pipeline round.
    rounds: int
    steps: int
    # Test inputs predicted in one call, and how many of them one call each.
    sentences: int
    single: int
    # Translation's (beam search is the slow path): the same two counts.
    translation_sentences: int
    translation_single: int
    # Generation: samples of the empty prompt, and new tokens each.
    samples: int
    max_new_tokens: int
    # Data preparation: the corpus sizes, as multiples of the training file.
    factors: tuple[int, ...]


QUICK = Sizes(warmup_steps=3, rounds=2, steps=10, sentences=256, single=32, translation_sentences=32,
              translation_single=8, samples=16, max_new_tokens=30, factors=(1, 4))
FULL = Sizes(warmup_steps=10, rounds=4, steps=50, sentences=2000, single=200, translation_sentences=256,
             translation_single=32, samples=64, max_new_tokens=50, factors=(1, 4, 16))


def pairs(values: list[str], option: str, known: tuple[str, ...]) -> dict[str, str]:
    """``TASK=VALUE`` options as a dict; a bad one is a ConfigError naming the option."""
    result = {}
    for value in values:
        task, sep, rest = value.partition("=")
        if not sep or task not in known or not rest:
            raise ConfigError(f"{option} {value!r}: expected TASK=VALUE with TASK one of {', '.join(known)}")
        result[task] = rest
    return result


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--task", default=",".join(RECIPES), help="comma-separated tasks (default: all)")
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    parser.add_argument("--quick", action="store_true", help="fewer steps and sentences; 1x and 4x data")
    parser.add_argument("--threads", type=int, default=1, help="torch threads here and in subprocesses")
    parser.add_argument("--out", default="bench/results", help="folder of the JSON and markdown files")
    parser.add_argument("--run-dir", action="append", default=[], metavar="TASK=DIR",
                        help="measure inference on this trained run folder instead of untrained weights "
                             "(generation falls back to lm's)")
    parser.add_argument("--recipe", action="append", default=[], metavar="TASK=RECIPE",
                        help="another recipe for a task (its task must match)")
    parser.add_argument("--phases", default=",".join(PHASES), help=f"comma-separated, of {', '.join(PHASES)}")
    args = parser.parse_args(argv)
    args.tasks = [name.strip() for name in args.task.split(",") if name.strip()]
    unknown = [name for name in args.tasks if name not in RECIPES]
    if unknown:
        parser.error(f"--task: {', '.join(unknown)} not among {', '.join(RECIPES)}")
    args.phases = [name.strip() for name in args.phases.split(",") if name.strip()]
    if any(name not in PHASES for name in args.phases):
        parser.error(f"--phases: expected names among {', '.join(PHASES)}")
    if args.threads < 1:
        parser.error("--threads: at least 1")
    args.run_dirs = pairs(args.run_dir, "--run-dir", tuple(RECIPES))
    args.recipes = {**RECIPES, **pairs(args.recipe, "--recipe", tuple(RECIPES))}
    return args


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run_phase(result: dict[str, Any], phase: str, function: Any, *args: Any, **kwargs: Any) -> Any:
    """Run one measurement; a failure is recorded in the task's ``errors`` (and its traceback printed)
    so the other phases and tasks still run."""
    say(f"{result['task']}: {phase}")
    start = time.perf_counter()
    try:
        value = function(*args, **kwargs)
    except Exception as error:  # a bench reports what broke and goes on
        traceback.print_exc()
        result.setdefault("errors", []).append(f"{phase}: {type(error).__name__}: {error}")
        return None
    say(f"{result['task']}: {phase} done in {time.perf_counter() - start:.1f} s")
    return value


def measure_task(name: str, args: argparse.Namespace, sizes: Sizes, device: torch.device) -> dict[str, Any]:
    recipe = args.recipes[name]
    result: dict[str, Any] = {"task": name, "recipe": recipe}
    trained = args.run_dirs.get(name) or (args.run_dirs.get("lm") if name == "generation" else None)
    config_overrides = [f"trainer.device={device.type}"]
    with tempfile.TemporaryDirectory(prefix=f"nlpseq-bench-{name}-") as scratch:
        run_dir = Path(scratch) / "run"
        config = load_config(find_recipe(recipe), [*config_overrides, f"run_dir={run_dir}"])
        expected = "lm" if name == "generation" else name
        if config.task != expected:
            raise ConfigError(f"--recipe {name}={recipe}: that recipe's task is {config.task}, "
                              f"not {expected}")
        task = get_task(config.task)(config, run_dir)
        needs_folder = "inference" in args.phases and trained is None
        if (name != "generation" and "training" in args.phases) or needs_folder:
            start = time.perf_counter()
            run_phase(result, "prepare", task.prepare)
            result["prepare_seconds"] = round(time.perf_counter() - start, 2)
        if name != "generation" and "training" in args.phases:
            result["training"] = run_phase(result, "training", measure_training, task, run_dir, device,
                                           sizes.rounds, sizes.steps, sizes.warmup_steps)
        if "inference" in args.phases:
            folder = Path(trained) if trained else run_dir
            if trained is None:
                run_phase(result, "run folder", make_run_folder, task, run_dir)
            if name == "generation":
                result["inference"] = run_phase(result, "generation", measure_generation, folder, device,
                                                sizes.samples, sizes.max_new_tokens, trained is not None)
            else:
                translation = name == "translation"
                result["inference"] = run_phase(
                    result, "inference", measure_inference, folder, device,
                    sizes.translation_sentences if translation else sizes.sentences,
                    sizes.translation_single if translation else sizes.single, trained is not None)
    if name != "generation" and "data" in args.phases:
        result["data"] = run_phase(result, "data", measure_data, recipe, config, sizes.factors, args.threads)
    if name != "generation" and "startup" in args.phases:
        result["startup"] = run_phase(result, "startup", measure_startup, recipe, args.threads, device.type)
    return result


def write_results(results: dict[str, Any], out: Path) -> tuple[Path, Path]:
    """Write ``<slug>-<date>.json`` and ``.md`` under ``out``; an existing file of the same mode keeps
    the tasks this run did not measure."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{results['slug']}-{results['date']}.json"
    if path.is_file():
        earlier = json.loads(path.read_text())
        if earlier.get("quick") == results["quick"]:
            results["tasks"] = {**earlier.get("tasks", {}), **results["tasks"]}
    path.write_text(json.dumps(results, indent=1) + "\n")
    table = path.with_suffix(".md")
    table.write_text(markdown_table(results))
    return path, table


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("--device cuda: no CUDA device here")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sizes = QUICK if args.quick else FULL
    results: dict[str, Any] = {
        "slug": machine_slug(device), "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d"),
        "quick": args.quick, "machine": describe_machine(device, args.threads), "tasks": {},
    }
    started = time.perf_counter()
    for name in args.tasks:
        results["tasks"][name] = measure_task(name, args, sizes, device)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    path, table = write_results(results, Path(args.out))
    print(table.read_text())
    say(f"wrote {path} and {table} ({results['wall_seconds']:.0f} s)")


if __name__ == "__main__":
    main()
