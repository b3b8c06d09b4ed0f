"""Run files that do not fit are one line naming the file (issue 22, item 6): nlpseq.training.run_files
and the places that load a run folder (Predictor, averaging, warm start, tokenizers, label files)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from nlpseq.api import load
from nlpseq.config import save_config
from nlpseq.config_paths import with_resolved_paths
from nlpseq.errors import ConfigError, DataError, NlpseqError
from nlpseq.tasks import get_task, load_config
from nlpseq.tasks.common import restore_labels, tokenizer_key
from nlpseq.tokenizers import VocabTokenizer, load_tokenizer, saved_tokenizers
from nlpseq.training import run_files
from nlpseq.training.averaging import average_checkpoints
from nlpseq.training.checkpoint import save_checkpoint
from nlpseq.training.warmstart import WarmStart
from tests.helpers import ROOT, sentiment_files

RECIPE = ROOT / "recipes" / "sentiment" / "tiny.yaml"


class Head(nn.Module):
    def __init__(self, labels: int):
        super().__init__()
        self.head = nn.Linear(32, labels)


def within(seconds: float, call: Callable[[], Any]) -> Any:
    """``call()``'s result, or a test failure when it has not returned in ``seconds`` (a read of a FIFO
    blocks forever; the daemon thread left behind does not keep the test run alive)."""
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as error:  # handed to the test below
            box["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        pytest.fail(f"still blocked after {seconds} s (a FIFO read?)")
    if "error" in box:
        raise box["error"]
    return box.get("value")


def make_run(folder: Path, data: Path) -> Path:
    """An untrained run folder of sentiment/tiny (config, tokenizer, labels, best.pt): what a trained one
    holds, in a second instead of a training."""
    overrides = [*sentiment_files(data, 40, 10, 10), f"run_dir={folder}", f"data.cache_dir={data / 'cache'}"]
    config = with_resolved_paths(load_config(RECIPE, overrides))
    task = get_task(config.task)(config, folder)
    task.prepare()
    model = task.build_model(training=True)
    save_config(config, folder / "config.yaml")
    save_checkpoint(folder / "checkpoints" / "best.pt", {"model": model.state_dict()})
    return folder


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("run_files")
    return make_run(root / "run", root / "data")


@pytest.fixture
def run(trained: Path, tmp_path: Path) -> Path:
    """A fresh copy of the run folder, free to damage."""
    copy = tmp_path / "run"
    for path in trained.rglob("*"):
        if path.is_file():
            target = copy / path.relative_to(trained)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    return copy


# ---------------------------------------------------------------------------- the module itself
def test_a_fifo_or_a_folder_is_refused_before_any_read(tmp_path: Path) -> None:
    fifo, folder = tmp_path / "labels.json", tmp_path / "tokenizer.d"
    os.mkfifo(fifo)
    folder.mkdir()
    for path in (fifo, folder):
        with pytest.raises(DataError, match=r"not a regular file \(a folder, a FIFO or a device\)"):
            within(5, lambda path=path: run_files.read_json(path))
    with pytest.raises(DataError, match=r"missing\.json: missing from the run folder"):
        run_files.read_bytes(tmp_path / "missing.json")


def test_duplicate_labels_are_refused_naming_the_label(tmp_path: Path) -> None:
    path = tmp_path / "labels.json"
    path.write_text(json.dumps(["neg", "pos", "neg"]), encoding="utf-8")
    with pytest.raises(DataError, match=r"labels\.json: damaged label file \(label 'neg' appears twice\)"):
        restore_labels(tmp_path, "labels")
    path.write_text(json.dumps(["neg", "pos"]), encoding="utf-8")
    assert restore_labels(tmp_path, "labels") == ["neg", "pos"]


@pytest.mark.parametrize(("payload", "message"), [
    ([1, 2], r"not a checkpoint \(holds a list, expected a dict with 'model'\)"),
    ({"weights": {}}, r"not a checkpoint \(no 'model' weights; it holds weights\)"),
    ({"model": {}}, r"damaged checkpoint \('model' holds no weights\)"),
    ({"model": [torch.zeros(2)]}, r"damaged checkpoint \('model' is a list, expected a state dict\)"),
    ({"model": {"head.weight": torch.full((2, 32), float("nan"))}},
     r"holds non-finite weights \(NaN or infinity in head\.weight\): refused"),
])
def test_well_formed_checkpoints_that_are_no_model_are_one_line(tmp_path: Path, payload: Any,
                                                                message: str) -> None:
    path = tmp_path / "best.pt"
    torch.save(payload, path)
    with pytest.raises(DataError, match=rf"best\.pt: {message}"):
        run_files.load_state(path)


def test_a_state_of_another_shape_names_the_tensor_and_both_shapes(tmp_path: Path) -> None:
    path = tmp_path / "best.pt"
    torch.save({"model": Head(2).state_dict()}, path)
    with pytest.raises(DataError, match=r"best\.pt: does not match this run's model "
                                        r"\(head\.weight 2x32 vs 3x32; head\.bias 2 vs 3\)$"):
        run_files.load_into(Head(3), path)
    torch.save({"model": {"other.weight": torch.zeros(3, 32)}}, path)
    with pytest.raises(DataError, match=r"\(missing head\.weight, head\.bias; unexpected other\.weight\)"):
        run_files.load_into(Head(3), path)
    model = Head(2)
    torch.save({"model": Head(2).state_dict()}, path)
    run_files.load_into(model, path)  # a fitting state loads


def test_a_last_pt_to_resume_from_needs_its_whole_state(tmp_path: Path) -> None:
    path = tmp_path / "last.pt"
    torch.save({"model": {}, "optimizer": {}}, path)
    with pytest.raises(DataError, match=r"last\.pt: damaged checkpoint \('model' holds no weights\)"):
        run_files.load_resume(Head(2), path)
    torch.save({"model": Head(2).state_dict(), "optimizer": {}}, path)
    with pytest.raises(DataError, match=r"last\.pt: damaged checkpoint \(its 'scheduler' is missing\)"):
        run_files.load_resume(Head(2), path)


def test_averaging_step_files_of_other_shapes_is_one_line(tmp_path: Path) -> None:
    folder = tmp_path / "checkpoints"
    save_checkpoint(folder / "step-0000010.pt", {"model": Head(2).state_dict()})
    save_checkpoint(folder / "step-0000020.pt", {"model": Head(3).state_dict()})
    with pytest.raises(NlpseqError, match=r"step-0000020\.pt: does not match step-0000010\.pt "
                                          r"\(head\.weight 3x32 vs 2x32; head\.bias 3 vs 2\): another model"):
        average_checkpoints(tmp_path, 2)


# ---------------------------------------------------------------------------- tokenizers
def test_tokenizer_files_that_are_fifos_or_folders_are_one_line(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "tokenizer.json")
    with pytest.raises(DataError, match=r"tokenizer\.json: not a regular file"):
        within(5, lambda: load_tokenizer(tmp_path, "tokenizer"))
    (tmp_path / "source.json").write_text(json.dumps({"kind": "sentencepiece", "lowercase": False,
                                                      "model": "source.model"}), encoding="utf-8")
    os.mkfifo(tmp_path / "source.model")
    with pytest.raises(DataError, match=r"source\.model: not a regular file"):
        within(5, lambda: load_tokenizer(tmp_path, "source"))


def test_a_fifo_or_folder_beside_the_tokenizer_neither_blocks_nor_changes_its_key(tmp_path: Path) -> None:
    VocabTokenizer("word", ["<pad>", "<unk>", "<s>", "</s>", "film"]).save(tmp_path, "tokenizer")
    key = tokenizer_key(tmp_path, "tokenizer")
    (tmp_path / "tokenizer.d").mkdir()
    os.mkfifo(tmp_path / "tokenizer.fifo")
    os.mkfifo(tmp_path / "labels.json")
    assert within(5, lambda: tokenizer_key(tmp_path, "tokenizer")) == key
    assert within(5, lambda: saved_tokenizers(tmp_path)) == ["tokenizer"]


def test_a_fifo_language_model_file_of_a_tagging_run_fails_at_once(tmp_path: Path) -> None:
    from nlpseq.models.lm_features import LMFeaturesConfig
    from nlpseq.tasks.tagging_lm import restore_lm_inputs

    os.mkfifo(tmp_path / "lm_forward.json")
    with pytest.raises(DataError, match=r"lm_forward\.json: not a regular file"):
        within(5, lambda: restore_lm_inputs(tmp_path, LMFeaturesConfig(forward="lm-run")))


# ---------------------------------------------------------------------------- a run folder
def test_a_nan_best_pt_is_refused_naming_it(run: Path) -> None:
    best = run / "checkpoints" / "best.pt"
    payload = torch.load(best, weights_only=True)
    name = next(iter(payload["model"]))
    payload["model"][name] = torch.full_like(payload["model"][name], float("nan"))
    torch.save(payload, best)
    with pytest.raises(DataError, match=rf"best\.pt: holds non-finite weights \(NaN or infinity in {name}\)"):
        load(run, device="cpu")


def test_a_labels_json_of_another_size_is_one_line_naming_the_output_layer(run: Path) -> None:
    labels = json.loads((run / "labels.json").read_text(encoding="utf-8"))
    (run / "labels.json").write_text(json.dumps([*labels, "neutral"]), encoding="utf-8")
    with pytest.raises(DataError, match=r"best\.pt: does not match this run's model \(\S+\.weight 2x\d+ "
                                        r"vs 3x\d+"):
        load(run, device="cpu")


def test_a_fifo_label_file_fails_at_once(run: Path) -> None:
    (run / "labels.json").unlink()
    os.mkfifo(run / "labels.json")
    with pytest.raises(DataError, match=r"labels\.json: not a regular file"):
        within(10, lambda: load(run, device="cpu"))


def test_a_warm_start_from_nan_weights_names_the_key_and_the_file(run: Path) -> None:
    best = run / "checkpoints" / "best.pt"
    payload = torch.load(best, weights_only=True)
    payload["model"] = {name: torch.full_like(t, float("inf")) if t.is_floating_point() else t
                        for name, t in payload["model"].items()}
    torch.save(payload, best)
    with pytest.raises(ConfigError, match=r"trainer\.init_from: .*best\.pt: holds non-finite weights"):
        WarmStart(run).load_weights(nn.Linear(2, 2))
