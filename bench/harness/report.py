"""The harness's arithmetic and its markdown table: no clocks here, so tests pin every number exactly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Protocol


class Padded(Protocol):
    """A batch's padding: (real, all) slots per side, and their sums."""

    sides: dict[str, tuple[int, int]]
    real: int
    slots: int


def tokens_per_s(tokens: float, seconds: float) -> float:
    """Throughput; 0.0 when no time was measured (nothing ran)."""
    return tokens / seconds if seconds > 0 else 0.0


def efficiency(pipeline_tokens_per_s: float, kernel_tokens_per_s: float) -> float:
    """Pipeline over kernel throughput on the same batches: 1.0 means the pipeline costs nothing over
    the fused RNN kernel (the ceiling); 0.0 when the kernel was not measured."""
    return pipeline_tokens_per_s / kernel_tokens_per_s if kernel_tokens_per_s > 0 else 0.0


def padding_share(records: Iterable[Padded], side: str | None = None) -> float:
    """Padded slots over all slots, pooled over batches (a long batch weighs by its size); over every
    side, or over ``side`` alone (a batch key, e.g. ``target_in``)."""
    real = slots = 0
    for record in records:
        counts = (record.real, record.slots) if side is None else record.sides.get(side, (0, 0))
        real += counts[0]
        slots += counts[1]
    return 1.0 - real / slots if slots else 0.0


def scaling_summary(points: Sequence[dict[str, float]], flat_tolerance: float = 0.25) -> dict[str, Any]:
    """Sum up the data-preparation points (``factor``, ``seconds``, ``peak_mib``, ``base_mib``) of 1x,
    4x, 16x a corpus, smallest first.

    ``seconds_per_1x``: the least-squares slope of time against the factor (what each extra copy of the
    corpus costs; ``fixed_seconds``, the intercept, is what any size pays). ``time_linear``: the cost
    per 1x of the last step up (4x -> 16x) is at most 1.25 times that of the first (1x -> 4x); None
    with fewer than three sizes, where any two points lie on a line. ``memory_growth_mib``: how much
    the peak above the process's start grew from the smallest size to the largest; ``memory_flat``:
    that growth is at most ``flat_tolerance`` of the smallest size's peak above start (memory that
    grows with the data means the data is held, not streamed)."""
    if len(points) < 2:
        return {"seconds_per_1x": None, "fixed_seconds": None, "time_linear": None,
                "memory_growth_mib": None, "memory_flat": None}
    xs = [float(p["factor"]) for p in points]
    ys = [float(p["seconds"]) for p in points]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    slope = (sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
             / sum((x - mean_x) ** 2 for x in xs))
    linear = None
    if len(points) >= 3:
        first = (ys[1] - ys[0]) / (xs[1] - xs[0])
        last = (ys[-1] - ys[-2]) / (xs[-1] - xs[-2])
        linear = last <= 1.25 * max(first, 1e-9)
    used = [float(p["peak_mib"]) - float(p["base_mib"]) for p in points]
    growth = used[-1] - used[0]
    return {"seconds_per_1x": round(slope, 3), "fixed_seconds": round(mean_y - slope * mean_x, 3),
            "time_linear": linear, "memory_growth_mib": round(growth, 1),
            "memory_flat": growth <= flat_tolerance * max(used[0], 1.0)}


# ------------------------------------------------------------------------------ the table
def _cell(value: Any, digits: int = 0) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.{digits}f}"
    return str(value)


def _get(result: dict[str, Any], path: str) -> Any:
    value: Any = result
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


# (header, dotted key in a task's result, decimals)
COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("task", "task", 0),
    ("pipeline tok/s", "training.pipeline_tokens_per_s", 0),
    ("kernel tok/s", "training.kernel_tokens_per_s", 0),
    ("efficiency", "training.efficiency", 2),
    ("padding", "training.padding_share", 3),
    ("batched sent/s", "inference.batched_sentences_per_s", 1),
    ("1-by-1 sent/s", "inference.one_by_one_sentences_per_s", 1),
    ("greedy sent/s", "inference.greedy_batched_sentences_per_s", 1),
    ("train peak MiB", "training.peak_memory_mib", 0),
    ("infer peak MiB", "inference.peak_memory_mib", 0),
    ("prep s/1x", "data.seconds_per_1x", 2),
    ("prep mem flat", "data.memory_flat", 0),
    ("start→step 1 s", "startup.seconds_to_first_step", 1),
)


def markdown_table(results: dict[str, Any]) -> str:
    """The whole run as markdown: a header of where and how it ran, one row per task, then the notes
    (the data-scaling points, generation, what the models were)."""
    machine = results.get("machine", {})
    lines = [f"# nlpseq speed harness: {results.get('slug', '?')} ({results.get('date', '?')})", "",
             f"- machine: {machine.get('gpu') or machine.get('cpu', '?')}, "
             f"{machine.get('cores_available', '?')} cores available, {machine.get('threads', '?')} "
             f"thread(s), device {machine.get('device', '?')}; torch {machine.get('torch', '?')}",
             f"- mode: {'quick' if results.get('quick') else 'full'}; command: "
             f"`{' '.join(machine.get('argv', []))}`",
             "- efficiency = pipeline tokens/s over the raw fused-RNN kernel's on the same batch shapes "
             "(1.0 = the ceiling); tokens are what the trainer counts (translation: target tokens). The "
             "kernel is the RNNs alone: embeddings, attention, pooling, CRF and output layers are what the "
             "pipeline costs over it. Padding: padded slots of all the sequences an RNN reads.",
             "- inference and generation run untrained weights unless a trained run folder was given "
             "(`--run-dir`); sent/s of generation are samples/s.", ""]
    lines.append("| " + " | ".join(header for header, _, _ in COLUMNS) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "--:" for i in range(len(COLUMNS))) + "|")
    tasks = results.get("tasks", {})
    for name, result in tasks.items():
        row = {**result, "task": name}
        lines.append("| " + " | ".join(_cell(_get(row, key), digits) for _, key, digits in COLUMNS) + " |")
    lines.append("")
    for name, result in tasks.items():
        lines.extend(_notes(name, result))
    return "\n".join(lines).rstrip() + "\n"


def _notes(name: str, result: dict[str, Any]) -> list[str]:
    notes = [f"**{name}** ({result.get('recipe', '?')}):"]
    inference = result.get("inference") or {}
    if inference and "samples" in inference:
        notes.append(f"- generation on {inference.get('model', '?')}: {inference['samples']} samples x "
                     f"{inference.get('max_new_tokens')} new tokens (sampled, empty prompt): batched "
                     f"{_cell(inference.get('batched_tokens_per_s'), 0)} tokens/s, one at a time "
                     f"{_cell(inference.get('one_by_one_tokens_per_s'), 0)} tokens/s; the row's sent/s are "
                     "samples/s")
    elif inference:
        notes.append(f"- inference on {inference.get('model', '?')}; {inference.get('sentences', '?')} "
                     f"sentences batched, {inference.get('one_by_one_sentences', '?')} one at a time"
                     + (f"; beam {inference['beam_size']} (batched and 1-by-1) vs greedy batched"
                        if "beam_size" in inference else ""))
    data = result.get("data") or {}
    if data.get("points"):
        points = ", ".join(f"{p['factor']}x: {p['seconds']:.2f} s, peak {p['peak_mib']:.0f} MiB "
                           f"(start {p['base_mib']:.0f})" for p in data["points"])
        notes.append(f"- data preparation ({data.get('train_lines', '?')} training lines at 1x): {points}; "
                     f"slope {_cell(data.get('seconds_per_1x'), 2)} s per 1x, time linear "
                     f"{_cell(data.get('time_linear'))}, memory growth "
                     f"{_cell(data.get('memory_growth_mib'), 0)} MiB")
    for error in result.get("errors", []):
        notes.append(f"- not measured: {error}")
    notes.append("")
    return notes
