"""The start-of-run summary: examples per split, class counts (a warning for a rare class), vocabulary
sizes and parameters, through ``Task.describe`` for every registered task; step lines with elapsed time
and ETA; translation's validation samples."""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path

import pytest
from torch import nn

import nlpseq
from nlpseq.tasks import TASKS, get_task, load_config
from nlpseq.training.summary import ClassCounts, DataSummary, parameter_counts, summary_lines
from tests.helpers import ROOT, sentiment_files, sentiment_rows, write_jsonl
from tests.tasks.test_contract import RECIPES, task_data

STEP_LINE = re.compile(r"step (\d+)/(\d+) epoch \d+ loss \S+ lr \S+ \d+ tokens/s elapsed (\d+:\d\d:\d\d) "
                       r"eta (\d+:\d\d:\d\d|\?)$")


def _lines(counts: ClassCounts) -> list[tuple[int, str]]:
    return summary_lines(DataSummary(classes=[counts]), nn.Linear(1, 1))


def test_summary_lines_name_every_part_and_the_parameters() -> None:
    summary = DataSummary({"train": 1200, "valid": 40}, "sentences", {"words": 5000, "tags": 9},
                          [ClassCounts("labels", {"neg": 600, "pos": 600})])
    model = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 3))  # 40 + 12 + 3
    model[0].weight.requires_grad_(False)
    assert summary_lines(summary, model) == [
        (logging.INFO, "data: train 1,200, valid 40 sentences"),
        (logging.INFO, "training examples per label (2 labels): neg 600, pos 600"),
        (logging.INFO, "vocabularies: words 5,000, tags 9 entries"),
        (logging.INFO, "model: 55 parameters, 15 trainable"),
    ]


def test_a_class_under_five_examples_or_one_percent_is_warned_about_rarest_first() -> None:
    counts = ClassCounts("labels", {"positive": 400, "negative": 590, "Positive": 1, "neutral": 9})
    warnings = [message for level, message in _lines(counts) if level == logging.WARNING]
    # 9 of 1000 is under 1%, 1 is under 5 examples; 400 and 590 are fine.
    assert [w.split(":")[1].split()[0] for w in warnings] == ["'Positive'", "'neutral'"]
    assert warnings[0].startswith("labels: 'Positive' is only 1 of the 1,000 training examples (0.1%)")
    assert ClassCounts("tags", {"NOUN": 5000, "SYM": 5}, "tokens", rare_share=0.0).rare() == []
    assert ClassCounts("tags", {"NOUN": 5000, "SYM": 4}, "tokens", rare_share=0.0).rare() == [("SYM", 4)]


def test_parameters_shared_by_two_modules_count_once() -> None:
    embedding = nn.Embedding(7, 3)
    head = nn.Linear(3, 7, bias=False)
    head.weight = embedding.weight  # tied, as a language model's output layer may be
    assert parameter_counts(nn.ModuleList([embedding, head])) == (21, 21)


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_task_describes_its_splits_vocabularies_and_classes(name: str, tmp_path: Path) -> None:
    run = tmp_path / "run"
    config = load_config(ROOT / "recipes" / RECIPES[name] / "tiny.yaml",
                         [*task_data(name, tmp_path / "data"), f"run_dir={run}",
                          f"data.cache_dir={tmp_path / 'cache'}"])
    task = get_task(name)(config, run)
    task.prepare()
    summary = task.describe()
    # task_data writes 40/10/10 texts for classification and 120/10/10 lines, sentences or pairs else.
    assert summary.examples == ({"train": 40, "valid": 10, "test": 10} if name == "classification"
                                else {"train": 120, "valid": 10, "test": 10})
    assert summary.unit == {"classification": "examples", "tagging": "sentences", "lm": "lines",
                            "translation": "pairs"}[name]
    sizes = {path.stem: len(json.loads(path.read_text())) for path in run.glob("*.json")
             if path.stem in ("labels", "tags")}
    if name == "translation":
        assert summary.vocabularies == {"source": task.source_tokenizer.vocab_size,
                                        "target": task.target_tokenizer.vocab_size}
    else:
        words = "words" if name == "tagging" else "tokenizer"
        chars = {"chars": task.chars.vocab_size} if getattr(task, "chars", None) is not None else {}
        assert summary.vocabularies == {words: task.tokenizer.vocab_size, **sizes, **chars}
    train = [json.loads(line) for line in (tmp_path / "data/train.jsonl").read_text().splitlines()] \
        if name in ("classification", "tagging") else []
    if name == "classification":
        assert [(c.name, dict(c.counts)) for c in summary.classes] == [
            ("labels", dict(Counter(row["label"] for row in train)))]
    elif name == "tagging":  # one ANI entity per "cat" or "dog"
        animals = sum(word in ("cat", "dog") for row in train for word in row["tokens"])
        assert [(c.name, dict(c.counts), c.unit) for c in summary.classes] == [
            ("entity types", {"ANI": animals}, "entities")]
    else:
        assert summary.classes == []


def test_the_default_describe_counts_the_examples_of_every_split_with_a_length() -> None:
    from nlpseq.tasks.contract import Task

    class Bare:  # only what the default reads: split(), KeyError for a split the data lacks
        def split(self, name: str) -> list[int]:
            return {"train": [1, 2, 3], "valid": [4]}[name]

    assert Task.describe(Bare()) == DataSummary({"train": 3, "valid": 1})


def test_a_tiny_run_logs_the_summary_a_stray_class_and_step_lines_with_an_eta(tmp_path: Path) -> None:
    overrides = sentiment_files(tmp_path / "data")
    rows = [*sentiment_rows(160, 1), {"text": "the film was good", "label": "Positive"}]
    write_jsonl(tmp_path / "data/train.jsonl", rows)
    run = tmp_path / "run"
    nlpseq.train("sentiment/tiny", [*overrides, f"run_dir={run}", "trainer.max_epochs=1"], verbose=False)
    log = (run / "train.log").read_text()
    counts = Counter(row["label"] for row in rows)
    assert "data: train 161, valid 40, test 40 examples" in log
    ranked = ", ".join(f"{label} {n}" for label, n in sorted(counts.items(), key=lambda x: (-x[1], x[0])))
    assert f"training examples per label (3 labels): {ranked}" in log
    assert ("WARNING nlpseq.train: labels: 'Positive' is only 1 of the 161 training examples (0.6%)"
            in log)
    assert log.count("WARNING nlpseq.train: labels:") == 1
    predictor = nlpseq.load(run)
    total = sum(p.numel() for p in predictor.model.parameters())
    trainable = sum(p.numel() for p in predictor.model.parameters() if p.requires_grad)
    assert f"model: {total:,} parameters, {trainable:,} trainable" in log
    assert f"vocabularies: tokenizer {predictor.task.tokenizer.vocab_size}, labels 3 entries" in log
    steps = [STEP_LINE.search(line) for line in log.splitlines() if "nlpseq.train: step" in line
             and "valid" not in line]
    assert steps and all(steps), log
    assert [int(m[1]) for m in steps][-1] == int(steps[-1][2])  # the last step line is the last step
    assert all(m[4] != "?" for m in steps)  # every step line follows a step, so the pace is known


def test_translation_logs_the_same_validation_samples_at_each_evaluation(tmp_path: Path) -> None:
    run = tmp_path / "run"
    overrides = [*task_data("translation", tmp_path / "data"), f"run_dir={run}", "trainer.max_steps=4",
                 "trainer.eval_every=2", f"data.cache_dir={tmp_path / 'cache'}"]
    nlpseq.train(load_config(ROOT / "recipes/translation/tiny.yaml", overrides), verbose=False)
    log = (run / "train.log").read_text().splitlines()
    sources = (tmp_path / "data/valid.fr").read_text().splitlines()
    references = (tmp_path / "data/valid.en").read_text().splitlines()
    evaluations = sum("valid bleu=" in line for line in log)
    assert evaluations == 2
    # Three fixed places of the 10 pairs (first, middle, last), each with its three lines, per evaluation.
    for place in (1, 5, 10):
        assert sum(line.endswith(f"valid #{place} source:     {sources[place - 1]}") for line in log) == 2
        assert sum(line.endswith(f"valid #{place} reference:  {references[place - 1]}") for line in log) == 2
        assert sum(f"valid #{place} hypothesis: " in line for line in log) == 2
    assert sum("valid #" in line for line in log) == 2 * 3 * 3


def test_eta_is_this_sessions_pace_times_the_steps_left_capped_by_the_time_budget(monkeypatch) -> None:
    from nlpseq.training import progress

    now = iter([100.0, 120.0, 120.0, 120.0])  # created at 100 s; read at 120 s
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(now))
    clock = progress.Progress(total=100, done=10, show_bar=False)  # resumed at step 10
    try:
        assert clock.eta(20) == 160.0  # 10 steps in 20 s, 80 to go
        assert clock.eta(20, seconds_left=100.0) == 100.0  # trainer.max_minutes ends it sooner
        assert clock.times(20, elapsed=3725.0) == "elapsed 1:02:05 eta 0:02:40"
        assert clock.eta(10) is None  # no step yet in this session: no pace to go by
    finally:
        clock.close()


def test_a_conditioned_language_model_counts_its_training_documents_per_condition(tmp_path: Path) -> None:
    genres = ["comedy"] * 30 + ["tragedy"] * 8 + ["history"] * 2
    rows = [{"text": f"the {genre} of a cat", "genre": genre} for genre in genres]
    overrides = [f"data.{split}={write_jsonl(tmp_path / f'{split}.jsonl', rows)}"
                 for split in ("train", "valid")]
    config = load_config(ROOT / "recipes/lm/tiny.yaml", [
        *overrides, "data.test=null", "data.format=jsonl", "data.condition_field=genre",
        "data.line_mode=document", f"run_dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path / 'cache'}"])
    task = get_task("lm")(config, tmp_path / "run")
    task.prepare()
    summary = task.describe()
    assert (summary.examples, summary.unit) == ({"train": 40, "valid": 40}, "documents")
    assert summary.vocabularies == {"tokenizer": task.tokenizer.vocab_size, "conditions": 3}
    [conditions] = summary.classes
    assert dict(conditions.counts) == {"comedy": 30, "tragedy": 8, "history": 2}
    assert conditions.rare() == [("history", 2)]
