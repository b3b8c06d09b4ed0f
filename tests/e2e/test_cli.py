"""The tiny recipe end to end through the real command line: train, evaluate, predict, recipes, data.

Most calls run ``cli.main`` in this process; each subcommand has one test in a real subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import ROOT, CliResult, run_cli, run_cli_subprocess, sentiment_files, write_jsonl


def nlpseq(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> CliResult:
    return run_cli(*args, stdin=stdin, cwd=cwd)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("cli")
    run = tmp / "run"
    # The train subcommand's subprocess test.
    done = run_cli_subprocess("train", "recipes/sentiment/tiny.yaml", *sentiment_files(tmp / "data"),
                  f"run_dir={run}", "trainer.max_epochs=6")
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["test"]["accuracy"] >= 0.8
    return run


def test_evaluate_prints_one_json_object(run_dir: Path) -> None:
    done = run_cli_subprocess("evaluate", str(run_dir))
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    saved = json.loads((run_dir / "results.json").read_text())
    assert metrics["accuracy"] == saved["test"]["accuracy"]
    assert metrics["confusion"] == saved["test"]["confusion"]


def test_evaluate_on_another_file(run_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "more.jsonl", [{"text": "a great film", "label": "pos"},
                                                 {"text": "an awful film", "label": "neg"}])
    done = nlpseq("evaluate", str(run_dir), "--data", str(data))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["examples"] == 2


def test_evaluate_with_an_unseen_label_names_file_and_line(run_dir: Path, tmp_path: Path) -> None:
    data = write_jsonl(tmp_path / "odd.jsonl", [{"text": "a great film", "label": "pos"},
                                                {"text": "meh", "label": "neutral"}])
    done = nlpseq("evaluate", str(run_dir), "--data", str(data))
    assert done.returncode == 2
    assert f"{data}:2: label 'neutral' never occurs in the training data" in done.stderr
    assert "Traceback" not in done.stderr


def test_predict_reads_stdin_and_files(run_dir: Path, tmp_path: Path) -> None:
    done = run_cli_subprocess("predict", str(run_dir), stdin="the film was superb fun\nawful boring plot\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split("\t")[0] for line in lines] == ["pos", "neg"]
    assert all(0.5 < float(line.split("\t")[1]) <= 1 for line in lines)
    source = tmp_path / "in.txt"
    source.write_text("a lovely movie\n\nthe acting was dull\n", encoding="utf-8")
    done = nlpseq("predict", str(run_dir), "--input", str(source), "--format", "jsonl")
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["label"] for r in rows] == ["pos", None, "neg"]
    assert rows[0]["text"] == "a lovely movie"
    assert set(rows[0]["probabilities"]) == {"pos", "neg"}


def test_predict_rejects_bad_input_clearly(run_dir: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine text\nbad \xff bytes\n")
    done = nlpseq("predict", str(run_dir), "--input", str(bad))
    assert done.returncode == 2 and f"{bad}:2: input is not UTF-8" in done.stderr
    done = nlpseq("predict", str(run_dir), "--input", str(tmp_path / "missing.txt"))
    assert done.returncode == 2 and "cannot read input" in done.stderr


def test_library_loads_and_predicts(run_dir: Path) -> None:
    import nlpseq as library

    predictor = library.load(run_dir, device="cpu")
    one = predictor.predict("superb fun")
    assert one["label"] == "pos"
    assert [r["label"] for r in predictor.predict(["superb fun", "dull and weak"])] == ["pos", "neg"]


def test_config_typo_is_one_clear_line(tmp_path: Path) -> None:
    done = nlpseq("train", "recipes/sentiment/tiny.yaml", "trainer.learning_rate=0.1")
    assert done.returncode == 2
    assert "unknown key 'trainer.learning_rate'" in done.stderr and "lr" in done.stderr
    assert "Traceback" not in done.stderr


def test_missing_run_folder_is_clear(tmp_path: Path) -> None:
    done = nlpseq("predict", str(tmp_path / "nothing"), stdin="x\n")
    assert done.returncode == 2 and "not a run folder" in done.stderr


def test_data_list_names_the_corpora() -> None:
    done = run_cli_subprocess("data", "list")
    assert done.returncode == 0, done.stderr
    names = [line.split()[0] for line in done.stdout.splitlines()]
    assert {"mr", "brown", "conll2003"} <= set(names)


def test_version() -> None:
    done = nlpseq("--version")
    assert done.returncode == 0 and done.stdout.strip() == "nlpseq 0.1.0"


def test_recipes_lists_one_aligned_line_per_recipe(tmp_path: Path) -> None:
    done = run_cli_subprocess("recipes", cwd=tmp_path)  # any folder: the recipes come with the package
    assert done.returncode == 0, done.stderr
    header, *lines = done.stdout.splitlines()
    assert header.split()[:4] == ["NAME", "TASK", "DATA", "METRIC"]
    assert len(lines) == len(list((ROOT / "recipes").rglob("*.yaml")))
    mr = next(line for line in lines if line.startswith("sentiment/mr_bigru "))
    assert mr.split()[:4] == ["sentiment/mr_bigru", "classification", "mr", "accuracy"]
    task_column = {len(line) - len(line.split(maxsplit=1)[1]) for line in lines}
    assert len(task_column) == 1


def test_train_takes_a_recipe_name_from_any_folder(tmp_path: Path) -> None:
    # A config typo stops before any data is read, so this runs no training.
    done = nlpseq("train", "sentiment/tiny", "trainer.learning_rate=0.1", cwd=tmp_path)
    assert done.returncode == 2
    assert "sentiment/tiny.yaml" in done.stderr and "unknown key 'trainer.learning_rate'" in done.stderr


def test_an_ambiguous_recipe_name_is_one_clear_line(tmp_path: Path) -> None:
    done = nlpseq("train", "tiny", cwd=tmp_path)
    assert done.returncode == 2
    message = done.stderr.strip()
    assert message.startswith("nlpseq: error: recipe 'tiny' is ambiguous: it could be ")
    assert {"sentiment/tiny", "tagging/tiny"} <= set(message.split(": it could be ")[1].split(", "))
    assert len(message.splitlines()) == 1


HEAVY = ("torch", "datasets", "seqeval", "sklearn", "scipy", "matplotlib", "sentencepiece")


def test_predict_help_after_a_sentiment_run_lists_only_its_own_flags(run_dir: Path) -> None:
    for command in ("predict", "evaluate"):
        done = nlpseq(command, str(run_dir), "--help")
        assert done.returncode == 0, done.stderr
        assert "--checkpoint" in done.stdout and "--ensemble RUNS" in done.stdout
        for other in ("--beam-size", "--length-penalty", "--n-best", "--attention", "--dynamic-lr"):
            assert other not in done.stdout, (command, other)
    bare = nlpseq("predict", "--help")  # no run folder named: where the task flags are is said
    assert "--beam-size" not in bare.stdout and "nlpseq predict RUN --help" in " ".join(bare.stdout.split())


@pytest.mark.parametrize(("args", "message"), [
    (["--beam-size", "3"], "--beam-size: not an option of a classification run"),
    (["--n-best=2", "--attention"], "--attention, --n-best: not an option"),
])
def test_another_tasks_flag_is_one_line_naming_it(run_dir: Path, args: list[str], message: str) -> None:
    done = nlpseq("predict", str(run_dir), *args, stdin="good\n")
    assert done.returncode == 2 and message in done.stderr and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_flag_after_a_missing_run_folder_blames_the_folder(tmp_path: Path) -> None:
    done = nlpseq("predict", str(tmp_path / "nowhere"), "--beam-size", "3")
    assert done.returncode == 2 and "nowhere: not a run folder" in done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["recipes"], ["data", "list"]])
def test_commands_that_train_nothing_import_nothing_heavy(argv: list[str], tmp_path: Path) -> None:
    # Which modules load is the contract; how long that takes is bench/startup.py's business.
    script = (f"import sys\nfrom nlpseq.cli import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n"
              f"    pass\nheavy = {HEAVY!r}\n"
              "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)), file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "[]"


def test_import_nlpseq_is_light_and_names_are_lazy() -> None:
    script = ("import sys, nlpseq\nprint(nlpseq.__version__, 'torch' in sys.modules, "
              "'train' in dir(nlpseq), nlpseq.load_config.__module__)")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0.1.0", "False", "True", "nlpseq.tasks"]


@pytest.mark.parametrize(("extra", "expected"), [
    (["task=parsing"], "task: 'parsing' is not one of classification, "),
    (["data.tag_scheme=IOB2"], "unknown key 'data.tag_scheme'; valid keys in data: corpus, hub, "),
    (["trainer.metric=f1"], "trainer.metric: 'f1' is not a metric of this classification recipe; "
                            "valid: accuracy, macro_f1"),
])
def test_recipe_mistakes_stop_before_any_data_is_read(tmp_path: Path, extra: list[str],
                                                      expected: str) -> None:
    # The data file does not exist: reaching it would be a different error.
    done = nlpseq("train", "sentiment/tiny", f"data.train={tmp_path / 'missing.jsonl'}",
                  f"run_dir={tmp_path / 'run'}", *extra)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("nlpseq: error: ") and expected in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
    assert not (tmp_path / "run").exists()


def test_an_unknown_recipe_name_lists_the_valid_ones(tmp_path: Path) -> None:
    done = nlpseq("train", "sentiment/nosuch", cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith("nlpseq: error: unknown recipe 'sentiment/nosuch'")
    assert "sentiment/mr_bigru" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_the_library_takes_recipe_names_and_overrides_as_a_list_or_a_dict(tmp_path: Path) -> None:
    import nlpseq as library

    data = dict(item.split("=", 1) for item in sentiment_files(tmp_path / "data", 40, 10, 10))
    run = tmp_path / "run"
    # A recipe name as the command line takes it, and a dict of dotted keys (values of any type).
    results = library.train("sentiment/tiny", {**data, "run_dir": run, "trainer.max_steps": 2,
                                                "trainer.lr": 0.01})
    assert results["steps"] == 2 and (run / "train.log").read_text(encoding="utf-8").strip()
    assert library.load(run).config.trainer.lr == 0.01
    for wrong in ("trainer.max_steps=2", [("trainer.max_steps", 2)]):
        with pytest.raises(TypeError, match=r"^overrides: expected a list of 'key=value' strings or a dict"):
            library.train("sentiment/tiny", wrong)


def test_the_building_blocks_the_docs_name_are_importable() -> None:
    import nlpseq.data
    import nlpseq.models

    assert nlpseq.models.RNNEncoder.__module__ == "nlpseq.models.encoder"
    blocks = {"TokenEmbedding", "CRF", "LanguageModel", "Seq2Seq", "SequenceTagger"}
    assert blocks <= set(nlpseq.models.__all__)
    assert nlpseq.data.read_records.__module__ == "nlpseq.data.records"
    with pytest.raises(AttributeError, match=r"nlpseq\.models"):
        nlpseq.models.Transformer  # noqa: B018


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_batch_lines_must_be_a_positive_whole_number(run_dir: Path, value: str) -> None:
    done = nlpseq("predict", str(run_dir), "--batch-lines", value, stdin="good\n")
    assert done.returncode == 2 and "--batch-lines" in done.stderr and done.stdout == ""
