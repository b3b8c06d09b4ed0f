"""The task contract, checked for every registered task (HOUSE_STYLE 12): restore() reads the run folder
alone, writes nothing, and names a missing file in one error line.

Each task's run folder is made by ``prepare()`` on its tiny recipe (no training: the vocabularies are what
restore() reads), so the whole module runs in seconds.
"""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from nlpseq.errors import NlpseqError
from nlpseq.tasks import TASKS, get_task, load_config
from tests.helpers import ROOT, sentiment_files, write_jsonl

RECIPES = {"classification": "sentiment", "tagging": "tagging", "lm": "lm", "translation": "translation"}
WORDS = ["the", "cat", "dog", "sat", "ran", "on", "mat", "rug", "a", "big", "small", "red"]


def task_data(name: str, folder: Path) -> list[str]:
    """Tiny train/valid/test files for task ``name`` and their ``data.*=`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(1)
    if name == "classification":
        return sentiment_files(folder, 40, 10, 10)
    overrides = []
    for split, count in (("train", 120), ("valid", 10), ("test", 10)):
        lines = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))) for _ in range(count)]
        if name == "lm":
            path = folder / f"{split}.txt"
            path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        elif name == "translation":
            path = folder / split
            french = "".join(line.upper() + "\n" for line in lines)
            path.with_suffix(".fr").write_text(french, encoding="utf-8")
            path.with_suffix(".en").write_text("".join(line + "\n" for line in lines), encoding="utf-8")
        else:  # tagging: "cat"/"dog" are animals, the rest O
            rows = [{"tokens": line.split(), "tags": ["B-ANI" if w in ("cat", "dog") else "O"
                                                      for w in line.split()]} for line in lines]
            path = write_jsonl(folder / f"{split}.jsonl", rows)
        overrides.append(f"data.{split}={path}")
    return overrides


@pytest.fixture(scope="module", params=sorted(TASKS))
def prepared(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(config, run folder) of task ``request.param`` after prepare(): its vocabularies saved."""
    name = request.param
    folder = tmp_path_factory.mktemp(name)
    run = folder / "run"
    run.mkdir()
    config = load_config(ROOT / "recipes" / RECIPES[name] / "tiny.yaml",
                         [*task_data(name, folder / "data"), f"run_dir={run}",
                          f"data.cache_dir={folder / 'cache'}"])
    get_task(name)(config, run).prepare()
    return config, run


def listing(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in sorted(folder.rglob("*"))}


def test_restore_reads_the_run_folder_alone_and_builds_an_inference_model(prepared, tmp_path: Path) -> None:
    config, run = prepared
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    before = listing(copy)
    task = get_task(config.task)(config, copy)
    task.restore()
    model = task.build_model(training=False)
    assert sum(p.numel() for p in model.parameters()) > 0
    assert listing(copy) == before


def test_restore_names_each_missing_file_and_writes_nothing(prepared, tmp_path: Path) -> None:
    config, run = prepared
    files = sorted(p.name for p in run.iterdir() if p.is_file())
    assert files  # the vocabularies restore() needs
    for missing in files:
        copy = tmp_path / missing
        shutil.copytree(run, copy)
        (copy / missing).unlink()
        before = listing(copy)
        with pytest.raises(NlpseqError) as caught:
            get_task(config.task)(config, copy).restore()
        message = str(caught.value)
        assert missing in message and "\n" not in message, message
        assert listing(copy) == before, f"restore() wrote into the run folder without {missing}"


# ------------------------------------------------------------------------------------------ trained runs
LONG = " ".join(WORDS[i % len(WORDS)] for i in range(3000))


@pytest.fixture(scope="module", params=sorted(TASKS))
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """(task name, run folder, training data overrides) of a few-step training of the task's tiny recipe."""
    import nlpseq

    name = request.param
    folder = tmp_path_factory.mktemp(f"trained_{name}")
    run = folder / "run"
    data = task_data(name, folder / "data")
    nlpseq.train(ROOT / "recipes" / RECIPES[name] / "tiny.yaml",
                 [*data, f"run_dir={run}", f"data.cache_dir={folder / 'cache'}", "trainer.max_steps=10",
                  "trainer.device=cpu"])
    return name, run, data


def test_a_trained_run_predicts_on_empty_and_very_long_inputs(trained) -> None:
    import nlpseq

    name, run, _ = trained
    predictor = nlpseq.load(run, device="cpu")
    # Every task answers every line, a 3,000-word one included (cut, chunked or scored whole): one long
    # line never stops a stream of them.
    for text in ("", LONG):
        result = predictor.predict([text, "a short line"])
        print(name, repr(text[:20]), "->", str(result)[:200])
        assert isinstance(result, list) and len(result) == 2 and all(isinstance(r, dict) for r in result)


def test_a_trained_text_writing_run_generates_from_empty_and_long_prompts(trained) -> None:
    import nlpseq

    name, run, _ = trained
    predictor = nlpseq.load(run, device="cpu")
    if name != "lm":
        with pytest.raises(NlpseqError, match="does not generate text"):
            predictor.generate("the", max_new_tokens=3)
        return
    results = predictor.generate(["", LONG], max_new_tokens=5)
    assert [r["prompt"] for r in results] == ["", LONG]
    # A 10-step model may greedily end at once (text "", tokens [</s>]): the text is not judged here.
    assert all(isinstance(r["text"], str) and 1 <= len(r["tokens"]) <= 5 for r in results)


def test_evaluate_on_a_read_only_run_without_the_training_file_gives_the_trained_test_metrics(
        trained, tmp_path: Path) -> None:
    import json
    import os
    import stat

    from tests.helpers import run_cli

    name, run, data = trained
    train_path = Path(next(o for o in data if o.startswith("data.train=")).partition("=")[2])
    # Translation's train "file" is a PREFIX with .fr/.en beside it.
    train_files = ([train_path] if train_path.exists()
                   else sorted(train_path.parent.glob(train_path.name + ".*")))
    assert train_files
    aside = tmp_path / "aside"
    aside.mkdir()
    for path in train_files:
        shutil.move(path, aside / path.name)
    modes = {p: p.stat().st_mode for p in [run, *run.rglob("*")]}
    for p in modes:
        os.chmod(p, modes[p] & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    before = listing(run)
    try:
        done = run_cli("evaluate", str(run), "--split", "test", "--device", "cpu")
        after = listing(run)
    finally:
        for p, mode in sorted(modes.items(), key=lambda item: -len(item[0].parts)):
            os.chmod(p, mode)
        for path in train_files:
            shutil.move(aside / path.name, path)
    assert done.returncode == 0, done.stderr
    assert after == before  # nothing written (root ignores the mode bits, so this is the real check)
    metrics = json.loads(done.stdout)
    expected = json.loads((run / "results.json").read_text(encoding="utf-8"))["test"]
    task = get_task(name)
    for key in task.metrics_for(load_config(run / "config.yaml"))[0]:
        assert metrics[key] == pytest.approx(expected[key], rel=1e-6), key


@pytest.mark.parametrize("name", sorted(TASKS))
def test_a_failed_first_start_does_not_block_the_corrected_command(name: str, tmp_path: Path) -> None:
    """`nlpseq train X/tiny` with a mistyped data path stops with one line; the corrected command then
    trains (the failed start left no config to be refused against), and train.log holds the error."""
    from tests.helpers import run_cli

    run = tmp_path / "run"
    data = task_data(name, tmp_path / "data")
    recipe = f"{RECIPES[name]}/tiny"
    common = [f"run_dir={run}", f"data.cache_dir={tmp_path / 'cache'}", "trainer.max_steps=2"]
    wrong = [entry.replace("train", "trian", 1) if entry.startswith("data.train=") else entry
             for entry in data]
    failed = run_cli("train", recipe, *common, *wrong)
    assert failed.returncode == 2 and "trian" in failed.stderr, failed.stderr
    assert not (run / "config.yaml").exists()
    if name == "classification":  # a mistake found while reading the data, inside the run
        field = run_cli("train", recipe, *common, *data, "data.text_field=txt")
        assert field.returncode == 2 and "txt" in field.stderr, field.stderr
        assert not (run / "config.yaml").exists()
        log = (run / "train.log").read_text(encoding="utf-8")
        assert "ERROR nlpseq: stopped: " in log and "txt" in log.splitlines()[-1]
    done = run_cli("train", recipe, *common, *data)
    assert done.returncode == 0, done.stderr
    assert (run / "config.yaml").is_file() and (run / "results.json").is_file()
