"""What a training shows while it runs, from Python and from the command line: progress and log lines by
default, nothing with ``verbose=False`` (train.log is complete either way), a live bar where someone
watches (a terminal, a notebook) with the log lines above it rather than on it, and no line twice."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import nlpseq
from nlpseq.training import progress
from tests.helpers import run_cli, sentiment_files

BAR = re.compile(r"train: +\d+%\|")  # tqdm's "train:  33%|███▎      | 20/60 ..."
STEP = re.compile(r"^\d\d:\d\d:\d\d INFO nlpseq.train: step (\d+)/60 epoch \d .* elapsed \S+ eta \S+$")


def _overrides(tmp_path: Path, *extra: str) -> list[str]:
    # 20 batches an epoch, 3 epochs: 60 steps, a step line every 20.
    return [*sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / 'run'}", "trainer.log_every=20",
            *extra]


def _step_lines(text: str) -> list[int]:
    """The steps of the step lines in ``text``, each a whole line (a bar redraws itself after ``\\r``);
    a step line that is not a whole line, or shows twice, fails."""
    steps = [int(m[1]) for part in re.split(r"[\r\n]", text) if (m := STEP.match(part))]
    assert text.count(" tokens/s ") == len(steps), text
    return steps


def test_verbose_false_prints_nothing_and_train_log_is_complete(tmp_path: Path, capfd) -> None:
    nlpseq.train("sentiment/tiny", _overrides(tmp_path, "trainer.progress=true"), verbose=False)
    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    log = (tmp_path / "run/train.log").read_text()
    assert _step_lines(log) == [20, 40, 60]
    assert "data: train 160, valid 40, test 40 examples" in log


def test_by_default_a_script_shows_the_log_lines_on_stderr(tmp_path: Path, capfd) -> None:
    nlpseq.train("sentiment/tiny", _overrides(tmp_path))
    out, err = capfd.readouterr()
    assert out == ""
    # stderr is no terminal here: plain lines, no bar; the same lines as train.log.
    assert _step_lines(err) == [20, 40, 60]
    assert not BAR.search(err)
    assert "INFO nlpseq.train: data: train 160, valid 40, test 40 examples" in err
    assert _step_lines((tmp_path / "run/train.log").read_text()) == [20, 40, 60]


def test_in_a_notebook_the_bar_shows_with_the_log_lines_above_it(tmp_path: Path, capfd,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)  # what a Jupyter kernel answers
    nlpseq.train("sentiment/tiny", _overrides(tmp_path, "trainer.progress=true"))
    err = capfd.readouterr().err
    assert re.search(r"train: 100%\|.*\| 60/60", err)
    # Each step line is a line of its own (written above the bar), never glued to a bar's text.
    assert _step_lines(err) == [20, 40, 60]
    assert not [part for part in re.split(r"[\r\n]", err) if BAR.search(part) and "nlpseq" in part]
    assert _step_lines((tmp_path / "run/train.log").read_text()) == [20, 40, 60]


def test_trainer_progress_false_shows_no_bar_even_in_a_notebook(tmp_path: Path, capfd,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    nlpseq.train("sentiment/tiny", _overrides(tmp_path, "trainer.progress=false"))
    err = capfd.readouterr().err
    assert not BAR.search(err)
    assert _step_lines(err) == [20, 40, 60]


def test_the_command_line_prints_each_log_line_once(tmp_path: Path) -> None:
    done = run_cli("train", "sentiment/tiny", *_overrides(tmp_path))
    assert done.returncode == 0, done.stderr
    # The CLI's own stderr handler is the console: train() adds none of its own, so nothing doubles.
    assert _step_lines(done.stderr) == [20, 40, 60]
    assert done.stderr.count("data: train 160, valid 40, test 40 examples") == 1
