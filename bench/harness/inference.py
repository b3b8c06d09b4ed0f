"""Inference speed of a run folder: batched vs one sentence at a time, beam vs greedy, generation.

What ``bench/predict.py``, ``bench/decode.py`` and ``bench/generate.py`` measured separately, through
the same public :class:`nlpseq.api.Predictor` a user calls, on the recipe's test split (raw lines:
tagging's words as lists, the others' text). The run folder is the harness's own (weights after its few
training steps: an untrained model, which the table says) unless ``--run-dir TASK=DIR`` names a
trained one. An untrained translation model writes until the length cap, so its beam and greedy times
are upper bounds of a trained model's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from bench.harness.machine import clock, peak_memory_mib, reset_peak_memory
from nlpseq.api import Predictor
from nlpseq.config import save_config
from nlpseq.data.sources import resolve_corpus
from nlpseq.tasks.contract import Task
from nlpseq.training.checkpoint import save_checkpoint


def make_run_folder(task: Task, run_dir: Path) -> None:
    """Make the harness's run folder loadable by :class:`Predictor`: its ``config.yaml`` and, when no
    training round left one, ``checkpoints/best.pt`` with the freshly initialised weights."""
    save_config(task.config, run_dir / "config.yaml")
    best = run_dir / "checkpoints" / "best.pt"
    if not best.is_file():
        torch.manual_seed(task.config.trainer.seed)
        save_checkpoint(best, {"model": task.build_model(training=True).state_dict()})


def test_texts(predictor: Predictor, split: str = "test") -> list[Any]:
    """Raw inputs of a split: words (tagging), text (classification), source lines (translation);
    a language model's stream has no rows, so its file's non-empty lines."""
    data = predictor.task.load_split(split)
    columns = getattr(data, "column_names", None)
    if columns is None:  # a language model's LMData
        path = getattr(resolve_corpus(predictor.config.data), split)
        with open(path, encoding="utf-8") as handle:
            return [line.strip() for line in handle if line.strip()]
    for column in ("tokens", "text", "source"):
        if column in columns:
            return list(data[column])
    raise ValueError(f"{predictor.task.name}: no text column among {', '.join(columns)}")


def _rate(predictor: Predictor, items: list[Any], per_call: int, device: torch.device) -> float:
    """Sentences per second predicting ``items`` ``per_call`` at a time."""
    start = clock(device)
    for first in range(0, len(items), per_call):
        predictor.predict(items[first:first + per_call])
    return len(items) / max(clock(device) - start, 1e-9)


def measure_inference(run_dir: Path, device: torch.device, sentences: int, single: int,
                      trained: bool, beam_size: int = 5) -> dict[str, Any]:
    """Sentences/s of ``Predictor.predict`` on up to ``sentences`` test inputs in one call (the task
    batches them) and on ``single`` of them one call each; translation also greedy batched; the peak
    memory of the phase (RSS on CPU, allocated on CUDA)."""
    reset_peak_memory(device)
    predictor = Predictor(run_dir, device=str(device))
    items = test_texts(predictor)[:sentences]
    translation = predictor.task.name == "translation"
    if translation:
        predictor.set_options(beam_size=beam_size)
    predictor.predict(items[:4])  # warm-up: first-call allocations
    result: dict[str, Any] = {
        "model": "a trained run folder" if trained else "untrained weights (speed only)",
        "sentences": len(items), "one_by_one_sentences": min(single, len(items)),
        "batched_sentences_per_s": round(_rate(predictor, items, len(items), device), 1),
        "one_by_one_sentences_per_s": round(_rate(predictor, items[:single], 1, device), 1),
    }
    if translation:
        result["beam_size"] = beam_size
        predictor.set_options(beam_size=1)
        result["greedy_batched_sentences_per_s"] = round(_rate(predictor, items, len(items), device), 1)
    result["batched_over_one_by_one"] = round(result["batched_sentences_per_s"]
                                              / max(result["one_by_one_sentences_per_s"], 1e-9), 1)
    result["peak_memory_mib"] = round(peak_memory_mib(device), 1)
    return result


def measure_generation(run_dir: Path, device: torch.device, samples: int, max_new_tokens: int,
                       trained: bool) -> dict[str, Any]:
    """A language model's sampling (``bench/generate.py``): ``samples`` continuations of the empty
    prompt in one call (one forward step per token for the whole batch) vs one call each."""
    reset_peak_memory(device)
    predictor = Predictor(run_dir, device=str(device))
    options = {"max_new_tokens": max_new_tokens, "top_k": 0}
    predictor.generate("", num_samples=2, seed=99, **options)  # warm-up

    def tokens(results: list[dict[str, Any]]) -> int:
        return sum(len(result["tokens"]) for result in results)

    start = clock(device)
    batched = tokens(predictor.generate("", num_samples=samples, seed=0, **options))
    batched_s = max(clock(device) - start, 1e-9)
    start = clock(device)
    single = sum(tokens(predictor.generate("", num_samples=1, seed=index, **options))
                 for index in range(samples))
    single_s = max(clock(device) - start, 1e-9)
    return {
        "model": "a trained run folder" if trained else "untrained weights (speed only)",
        "samples": samples, "max_new_tokens": max_new_tokens,
        # Samples stop at end-of-sequence, so both sides generate about, not exactly, as many tokens.
        "batched_tokens_per_s": round(batched / batched_s, 1),
        "one_by_one_tokens_per_s": round(single / single_s, 1),
        "batched_sentences_per_s": round(samples / batched_s, 1),
        "one_by_one_sentences_per_s": round(samples / single_s, 1),
        "batched_over_one_by_one": round((batched / batched_s) / max(single / single_s, 1e-9), 1),
        "peak_memory_mib": round(peak_memory_mib(device), 1),
    }
