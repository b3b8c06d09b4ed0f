"""Readable output (issue 18, items 11 and 5): what ``train``, ``evaluate``, ``predict`` and ``generate``
print, a terminal as input, Ctrl-C, and ``evaluate --data`` read with other data keys."""

from __future__ import annotations

import csv
import io
import json
import logging
import shutil
import sys
from pathlib import Path

import pytest
import yaml

import nlpseq.api
from nlpseq import cli
from nlpseq.models.generation import Generated
from tests.helpers import run_cli, sentiment_files, sentiment_rows
from tests.tasks.test_language_model import text_files
from tests.tasks.test_translation import toy_pairs, write_prefix


class Terminal(io.TextIOWrapper):
    """stdin as a person at a terminal: lines typed, then Ctrl-D."""

    def __init__(self, typed: str):
        super().__init__(io.BytesIO(typed.encode("utf-8")), encoding="utf-8")

    def isatty(self) -> bool:
        return True


def at_terminal(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], typed: str,
                *args: str) -> tuple[int, str, str]:
    """``nlpseq ARGS`` reading ``typed`` from a terminal; (status, stdout, stderr)."""
    monkeypatch.setattr(sys, "stdin", Terminal(typed))
    try:
        code = cli.main(list(args))
    finally:
        logging.getLogger().handlers.clear()
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def sentiment(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A trained tiny sentiment run, and what ``train`` printed."""
    folder = tmp_path_factory.mktemp("sentiment")
    run = folder / "run"
    done = run_cli("train", "sentiment/tiny", *sentiment_files(folder / "data"), f"run_dir={run}",
                   f"data.cache_dir={folder / 'cache'}")
    assert done.returncode == 0, done.stderr
    return run, done.stdout


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("lm")
    run = folder / "run"
    done = run_cli("train", "lm/tiny", f"run_dir={run}", f"data.cache_dir={folder / 'cache'}",
                   *text_files(folder / "data"))
    assert done.returncode == 0, done.stderr
    return run


@pytest.fixture(scope="module")
def translation(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("translation")
    splits = {name: write_prefix(folder / name, toy_pairs(n, seed))
              for name, n, seed in (("train", 400, 1), ("valid", 40, 2), ("test", 40, 3))}
    run = folder / "run"
    done = run_cli("train", "translation/tiny", *(f"data.{k}={v}" for k, v in splits.items()),
                   f"run_dir={run}", f"data.cache_dir={folder / 'cache'}", "trainer.keep_checkpoints=0")
    assert done.returncode == 0, done.stderr
    return run


def test_train_prints_numbers_to_four_decimals_and_results_json_keeps_them(sentiment: tuple[Path, str]
                                                                           ) -> None:
    run, printed = sentiment
    results = json.loads((run / "results.json").read_text())
    assert json.loads(printed) == cli._summary(results)  # what train printed: results.json, rounded
    results = {"best_valid_bleu": 30.612345678, "steps": 7, "valid": {"bleu": 1 / 3, "examples": 3,
                                                                      "per_class": {"a": 0.123456}}}
    assert cli._summary(results) == {"best_valid_bleu": 30.6123, "steps": 7,
                                     "valid": {"bleu": 0.3333, "examples": 3}}
    assert results["valid"]["bleu"] == 1 / 3  # the results themselves are left whole


def test_evaluate_pretty_indents_the_same_object(sentiment: tuple[Path, str]) -> None:
    run, _ = sentiment
    plain, pretty = (run_cli("evaluate", str(run), *flags) for flags in ([], ["--pretty"]))
    assert plain.returncode == pretty.returncode == 0, pretty.stderr
    assert len(plain.stdout.splitlines()) == 1 and pretty.stdout.startswith('{\n  "accuracy": ')
    assert json.loads(pretty.stdout) == json.loads(plain.stdout)


def test_evaluate_data_reads_a_file_with_other_data_keys(sentiment: tuple[Path, str], tmp_path: Path) -> None:
    run, _ = sentiment
    reviews = tmp_path / "reviews.csv"
    with reviews.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["review", "label"])
        writer.writerows((row["text"], row["label"]) for row in sentiment_rows(30, 7))
    done = run_cli("evaluate", str(run), "--data", str(reviews), "data.format=csv", "data.text_field=review")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["examples"] == 30
    # The saved config is untouched: the keys were for this file only.
    assert yaml.safe_load((run / "config.yaml").read_text())["data"]["format"] == "jsonl"
    model_key = run_cli("evaluate", str(run), "--data", str(reviews), "model.dropout=0.1")
    assert model_key.returncode == 2 and "only data.KEY=VALUE overrides describe a --data file" in \
        model_key.stderr
    typo = run_cli("evaluate", str(run), "--data", str(reviews), "data.formt=csv")
    assert typo.returncode == 2
    assert "evaluate --data: unknown key 'data.formt' (did you mean data.format?)" in typo.stderr


def test_evaluate_names_a_missing_split_file_and_suggests_data(sentiment: tuple[Path, str],
                                                               tmp_path: Path) -> None:
    run = tmp_path / "moved"
    shutil.copytree(sentiment[0], run)
    config = yaml.safe_load((run / "config.yaml").read_text())
    gone = tmp_path / "gone" / "test.jsonl"
    config["data"]["test"] = str(gone)
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    done = run_cli("evaluate", str(run))
    assert done.returncode == 2 and done.stdout == ""
    message = done.stderr.strip().splitlines()[-1]
    assert message.startswith(f"nlpseq: error: {gone}: cannot read file")
    assert message.endswith(f"score a file with `nlpseq evaluate {run} --data FILE`")


def test_predict_at_a_terminal_says_how_to_end(sentiment: tuple[Path, str], monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    run, _ = sentiment
    code, out, err = at_terminal(monkeypatch, capsys, "a good film\n", "predict", str(run))
    assert code == 0 and len(out.splitlines()) == 1
    assert "reading lines from the terminal; Ctrl-D to end" in err
    piped = run_cli("predict", str(run), stdin="a good film\n")  # not a terminal: no hint
    assert piped.returncode == 0 and "Ctrl-D" not in piped.stderr


def test_ctrl_c_says_resume_only_for_train(sentiment: tuple[Path, str], monkeypatch: pytest.MonkeyPatch,
                                           tmp_path: Path) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(nlpseq.api.Predictor, "predict", interrupted)
    monkeypatch.setattr(nlpseq.api, "train", interrupted)
    predict = run_cli("predict", str(sentiment[0]), stdin="good\n")
    assert predict.returncode == 130 and predict.stderr.strip().splitlines()[-1] == "nlpseq: interrupted"
    train = run_cli("train", "sentiment/tiny", f"run_dir={tmp_path / 'run'}")
    assert train.returncode == 130
    last = train.stderr.strip().splitlines()[-1]
    assert last == "nlpseq: interrupted; run the same command again to resume"


def test_lm_predict_prints_perplexity(lm: Path) -> None:
    done = run_cli("predict", str(lm), stdin="the cat sat on the mat\n\n")
    assert done.returncode == 0, done.stderr
    first, empty = done.stdout.split("\n")[:2]
    word, value = first.split()
    assert word == "perplexity" and float(value) > 1 and len(value.split(".")[1]) == 2
    assert empty == ""  # an empty line in, an empty line out


def test_generate_jsonl_gives_token_strings_and_says_the_prompt_is_not_in_text(lm: Path) -> None:
    done = run_cli("generate", str(lm), "--prompt", "the cat", "--max-new-tokens", "8", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    row = json.loads(done.stdout)
    assert row["prompt"] == "the cat" and row["prompt_included"] is False
    assert len(row["token_strings"]) == len(row["tokens"]) == len(row["token_logprobs"])
    # The pieces are the continuation's words (the stop symbol aside): text is their join.
    words = [piece for piece in row["token_strings"] if piece != "</s>"]
    assert " ".join(words) == row["text"]


def test_a_generated_record_carries_the_pieces_of_its_tokens() -> None:
    class Words:
        itos = ("<pad>", "<unk>", "<s>", "</s>", "the", "cat")

        def piece(self, token: int) -> str:
            return self.itos[token]

        def decode(self, ids: list[int]) -> str:
            return " ".join(self.itos[i] for i in ids if i > 3)

    record = Generated([4, 5, 3], [-0.5, -0.25, -1.0], True).record("a", 2, Words())
    assert record == {"prompt": "a", "sample": 2, "text": "the cat", "prompt_included": False,
                      "tokens": [4, 5, 3], "token_strings": ["the", "cat", "</s>"],
                      "token_logprobs": [-0.5, -0.25, -1.0], "stopped": True}


def test_sampling_without_a_seed_prints_the_one_it_drew(lm: Path) -> None:
    args = ("generate", str(lm), "--prompt", "the", "--max-new-tokens", "10", "--temperature", "1.5")
    first = run_cli(*args)
    assert first.returncode == 0, first.stderr
    said = [line for line in first.stderr.splitlines() if line.startswith("sampling with seed ")]
    assert len(said) == 1
    seed = said[0].split()[3]
    assert said[0] == f"sampling with seed {seed} (repeat with --seed {seed})"
    again = run_cli(*args, "--seed", seed)
    assert again.stdout == first.stdout and "sampling with seed" not in again.stderr
    greedy = run_cli("generate", str(lm), "--prompt", "the", "--max-new-tokens", "5")
    assert greedy.returncode == 0 and "seed" not in greedy.stderr  # nothing drawn, nothing to repeat


def test_generate_at_a_terminal_continues_each_line_typed(lm: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = at_terminal(monkeypatch, capsys, "the cat\na dog\n", "generate", str(lm),
                                 "--max-new-tokens", "4")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("the cat ") and lines[1].startswith("a dog ")
    assert "Ctrl-D to end" in err


def test_translation_n_best_is_one_hypothesis_a_line(translation: Path) -> None:
    done = run_cli("predict", str(translation), "--beam-size", "3", "--n-best", "3",
                   stdin="le chat\nle chien\n")
    assert done.returncode == 0, done.stderr
    rows = [line.split("\t") for line in done.stdout.splitlines()]
    assert [row[0] for row in rows] == ["1", "2", "3", "1", "2", "3"]
    assert rows[0][2] == "the cat" and rows[3][2] == "the dog"
    scores = [float(row[1]) for row in rows[:3]]
    assert scores == sorted(scores, reverse=True)


def test_attention_without_jsonl_is_an_error(translation: Path) -> None:
    done = run_cli("predict", str(translation), "--attention", stdin="le chat\n")
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip() == ("nlpseq: error: --attention: only --format jsonl has room for it "
                                   "(a text line holds the prediction alone)")
