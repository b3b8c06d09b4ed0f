"""Run-folder files: written atomically and only when they change; an empty saved config is an error;
metrics.jsonl tied to the checkpoint; a damaged metrics line never stops a run (issue 22, items 2-3)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

import nlpseq
from nlpseq.errors import RunError
from nlpseq.fileio import write_bytes, write_text
from nlpseq.runfolder import saved_config
from nlpseq.tasks import load_config
from nlpseq.training.metrics_log import MetricsLog, read_rows
from nlpseq.training.plots import plot_curves
from tests.helpers import sentiment_files

TINY = "recipes/sentiment/tiny.yaml"


def test_an_unchanged_file_is_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    write_text(path, "a: 1\n")
    inode = path.stat().st_ino
    write_text(path, "a: 1\n")  # the same text: the file stays the very same file
    assert path.stat().st_ino == inode
    write_bytes(path, b"a: 2\n")  # a change: a new file renamed over it
    assert path.read_text() == "a: 2\n" and path.stat().st_ino != inode


def test_a_resumed_run_leaves_its_config_and_tokenizer_files_untouched(tmp_path: Path) -> None:
    overrides = [*sentiment_files(tmp_path / "data", 40, 10, 10), f"run_dir={tmp_path / 'run'}",
                 f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_steps=2", "trainer.progress=false"]
    nlpseq.train(load_config(TINY, overrides), verbose=False)
    run = tmp_path / "run"
    names = [run / "config.yaml", *run.glob("*tokenizer*"), *run.glob("*.model")]
    files = {p: p.stat().st_ino for p in names}
    nlpseq.train(load_config(TINY, overrides), verbose=False)
    assert {p: p.stat().st_ino for p in files} == files


@pytest.mark.parametrize("text", ["", "\n", "# nothing\n"])
def test_an_empty_saved_config_is_an_error_naming_it(tmp_path: Path, text: str) -> None:
    (tmp_path / "config.yaml").write_text(text)
    with pytest.raises(RunError) as error:
        saved_config(tmp_path)
    assert str(error.value).startswith(f"{tmp_path / 'config.yaml'}: empty")


def test_training_into_a_folder_with_an_empty_config_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("")
    overrides = [*sentiment_files(tmp_path / "data", 40, 10, 10), f"run_dir={run}", "trainer.max_steps=1"]
    with pytest.raises(RunError, match=r"config\.yaml: empty"):
        nlpseq.train(load_config(TINY, overrides), verbose=False)
    assert (run / "config.yaml").read_text() == ""  # not written over


def test_rows_past_the_checkpoint_and_torn_lines_are_dropped_on_resume(tmp_path: Path, caplog) -> None:
    path = tmp_path / "metrics.jsonl"
    good = [{"split": "train", "step": s, "loss": 1.0} for s in (2, 4)] + [{"split": "valid", "step": 4}]
    later = [{"split": "train", "step": 6, "loss": 0.5}]
    path.write_text("".join(json.dumps(r) + "\n" for r in good + later) + '{"split": "tra')
    with caplog.at_level(logging.WARNING):
        MetricsLog(path).drop_after(4)
    assert read_rows(path) == (good, 0)
    assert "dropped 1 rows logged after step 4 and 1 unparsable lines" in caplog.text
    inode = path.stat().st_ino
    MetricsLog(path).drop_after(4)  # nothing to drop: not rewritten
    assert path.stat().st_ino == inode


def test_a_fresh_start_drops_the_rows_of_a_run_killed_before_its_first_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text(json.dumps({"split": "train", "step": 1, "loss": 2.0}) + "\n")
    MetricsLog(path).drop_after(0)
    assert path.read_text() == ""


def test_plot_curves_skips_and_counts_unparsable_lines(tmp_path: Path, caplog) -> None:
    path = tmp_path / "metrics.jsonl"
    path.write_text('{"split": "train", "step": 1, "loss": 2.0}\n{"spl\n[1, 2]\n'
                    '{"split": "valid", "step": 1, "accuracy": 0.5}\n')
    with caplog.at_level(logging.WARNING):
        plot_curves(path, tmp_path / "curves.png", "accuracy")
    assert (tmp_path / "curves.png").stat().st_size > 0
    assert "skipped 2 unparsable lines" in caplog.text

