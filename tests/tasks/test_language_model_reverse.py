"""Backward language models (``data.reverse``) and the pretraining recipes, on tiny fixtures."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
import yaml

import nlpseq
from nlpseq.models.generation import Generated
from nlpseq.tasks import load_config
from nlpseq.tasks.language_model import LanguageModelTask
from nlpseq.tasks.lm_data import LMData
from nlpseq.tokenizers import BOS_ID, EOS_ID
from tests.helpers import ROOT, run_cli
from tests.tasks.test_language_model import WORDS, text_files


def _task(tmp_path: Path, name: str, overrides: list[str]) -> LanguageModelTask:
    folder = tmp_path / name
    folder.mkdir()
    config = load_config(None, ["task=lm", f"run_dir={folder}", "model.embedding.embedding_dim=8",
                                "model.encoder.hidden_size=8", *overrides])
    task = LanguageModelTask(config, folder)
    task.prepare()
    return task


def _lines(tmp_path: Path, lines: list[str]) -> list[str]:
    path = tmp_path / "text.txt"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return [f"data.{split}={path}" for split in ("train", "valid", "test")]


def test_a_backward_stream_reads_the_lines_and_their_tokens_right_to_left(tmp_path: Path) -> None:
    data = _lines(tmp_path, ["a b c", "d e"])
    task = _task(tmp_path, "back", [*data, "tokenizer.pretokenized=true", "data.reverse=true"])
    expected = [task.tokenizer.encode(word)[0] for word in "e d".split()] + [EOS_ID]
    expected += [task.tokenizer.encode(word)[0] for word in "c b a".split()] + [EOS_ID]
    assert task.split("train").ids.tolist() == expected
    assert task.split("train").tokens == 7 and task.split("train").words == 7


@pytest.mark.parametrize("kind", ["word", "char", "sentencepiece"])
def test_every_split_of_a_backward_run_is_the_forward_one_flipped(tmp_path: Path, kind: str) -> None:
    """Tokens reverse as the model's units (words, characters, pieces), never as the text's letters."""
    data = text_files(tmp_path / "d")
    options = [*data, f"tokenizer.kind={kind}", "tokenizer.vocab_size=40"]
    forward = _task(tmp_path, "forward", options)
    backward = _task(tmp_path, "backward", [*options, "data.reverse=true"])
    assert backward.tokenizer.vocab_size == forward.tokenizer.vocab_size
    for split in ("train", "valid", "test"):
        ids = forward.split(split).ids
        assert ids[-1].item() == EOS_ID
        # Flipped, the forward stream starts with the last line's </s>: it moves to the end.
        expected = torch.cat([ids.flip(0)[1:], ids[-1:]])
        torch.testing.assert_close(backward.split(split).ids, expected, rtol=0, atol=0)
        assert backward.split(split).tokens == forward.split(split).tokens
    if kind == "sentencepiece":  # pieces stay whole: "▁cat" is not read as "tac▁"
        text = "the cat sat"
        pieces = forward.tokenizer.encode(text)
        assert len(pieces) < len(text) and backward.tokenizer.encode(text) == pieces


def test_a_backward_document_keeps_its_start_symbol_first_and_predicts_the_sentence_start_last(
        tmp_path: Path) -> None:
    data = _lines(tmp_path, ["a b c d", "e f"])
    options = [*data, "tokenizer.pretokenized=true", "data.line_mode=document", "data.max_length=3"]
    forward, backward = _task(tmp_path, "f", options), _task(tmp_path, "b", [*options, "data.reverse=true"])
    ids = {word: forward.tokenizer.encode(word)[0] for word in "abcdef"}
    rows = backward.split("train").documents
    # Cut to max_length before reversing: both directions keep the same three tokens of "a b c d".
    assert rows["input_ids"] == [[BOS_ID, ids["c"], ids["b"], ids["a"]], [BOS_ID, ids["f"], ids["e"]]]
    assert rows["targets"] == [[ids["c"], ids["b"], ids["a"], EOS_ID], [ids["f"], ids["e"], EOS_ID]]
    assert forward.split("train").documents["input_ids"][0] == [BOS_ID, ids["a"], ids["b"], ids["c"]]


@pytest.fixture(scope="module")
def backward_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny recipe trained backwards on the tiny grammar (through the CLI)."""
    tmp_path = tmp_path_factory.mktemp("backward")
    run = tmp_path / "run"
    done = run_cli("train", "lm/tiny", f"run_dir={run}", "data.reverse=true", "trainer.max_epochs=4",
                   *text_files(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    return run


def _perplexity(model: torch.nn.Module, inputs: list[int], targets: list[int]) -> float:
    logits, _ = model.score(torch.tensor([inputs]), model.initial_state(1))
    return math.exp(F.cross_entropy(logits[0], torch.tensor(targets)).item())


def test_a_backward_model_scores_text_as_its_manually_reversed_ids(backward_run: Path) -> None:
    predictor = nlpseq.load(backward_run)
    task, model = predictor.task, predictor.model
    model.eval()
    text = "the dog ran under the rug and N cat sat"
    ids = task.tokenizer.encode(text)
    reversed_ids = ids[::-1]
    result = predictor.predict(text)
    result = result[0] if isinstance(result, list) else result
    # Stream mode: the text is read after a </s>, right to left, and ends with </s> (the sentence start).
    expected = _perplexity(model, [EOS_ID, *reversed_ids], [*reversed_ids, EOS_ID])
    assert result["perplexity"] == pytest.approx(expected, rel=1e-5)
    assert result["tokens"] == len(ids) + 1
    # Read forwards the same model finds the text far less likely: the direction was learnt.
    assert _perplexity(model, [EOS_ID, *ids], [*ids, EOS_ID]) > 2 * expected

    # evaluate: the test split's perplexity equals scoring the flipped forward stream of the same file.
    config = yaml.safe_load((backward_run / "config.yaml").read_text(encoding="utf-8"))
    lines = Path(config["data"]["test"]).read_text(encoding="utf-8").splitlines()
    stream = [token for line in reversed(lines) for token in (*task.tokenizer.encode(line)[::-1], EOS_ID)]
    total, count = task.total_loss(model, LMData("manual", len(stream), 0, ids=torch.tensor(stream)))
    assert predictor.evaluate("test")["perplexity"] == pytest.approx(math.exp(total / count), rel=1e-6)


def test_a_backward_model_writes_the_text_before_the_prompt_in_reading_order(backward_run: Path) -> None:
    predictor = nlpseq.load(backward_run)
    rows = predictor.generate(["sat on the mat", "ran under the rug"], max_new_tokens=10)
    for row in rows:
        # The grammar's sentences start "the|a cat|dog|<unk>": greedy reaches the start and stops there.
        assert row["before_prompt"] is True and row["stopped"] is True, row
        assert row["token_strings"][0] == "</s>" and row["tokens"][0] == EOS_ID  # the start, first
        words = row["text"].split()
        assert len(words) == 2 and words[0] in ("the", "a") and words[1] in ("cat", "dog", "<unk>"), row
        assert row["token_strings"][1:] == words
        assert len(row["token_logprobs"]) == len(row["tokens"])
    # The log-probabilities are in reading order too: the last word (written first) is the likeliest
    # given the prompt's start, and scoring "</s> w2 w1 | prompt" backwards gives the same numbers.
    row = rows[0]
    prompt = predictor.task.tokenizer.encode("sat on the mat")[::-1]
    written = row["tokens"][::-1]
    logits, _ = predictor.model.score(torch.tensor([[EOS_ID, *prompt, *written[:-1]]]),
                                      predictor.model.initial_state(1))
    logprobs = logits[0, len(prompt):].log_softmax(-1).gather(1, torch.tensor(written)[:, None])[:, 0]
    assert row["token_logprobs"] == pytest.approx(logprobs.tolist()[::-1], abs=1e-4)
    # Through the CLI: the jsonl line carries before_prompt, and the text stays in the grammar's words.
    done = run_cli("generate", str(backward_run), "--prompt", "sat on the mat", "--num-samples", "2",
                   "--seed", "3", "--temperature", "1.0", "--max-new-tokens", "8", "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["before_prompt"] for line in lines] == [True, True]
    assert all(set(line["text"].split()) <= set(WORDS) for line in lines)


def test_a_forward_record_is_unchanged_and_a_backward_one_is_put_in_reading_order() -> None:
    from nlpseq.tokenizers import VocabTokenizer

    tokenizer = VocabTokenizer.build("word", ["the cat sat"], pretokenized=True)
    the, cat = tokenizer.encode("the cat")
    written = Generated(tokens=[cat, the, EOS_ID], logprobs=[-0.1, -0.2, -0.3], stopped=True)
    forward = written.record("sat", 0, tokenizer)
    assert "before_prompt" not in forward and forward["tokens"] == [cat, the, EOS_ID]
    backward = written.record("sat", 0, tokenizer, reverse=True)
    assert backward["text"] == "the cat" and backward["before_prompt"] is True
    assert backward["tokens"] == [EOS_ID, the, cat] and backward["token_logprobs"] == [-0.3, -0.2, -0.1]
    assert backward["token_strings"] == ["</s>", "the", "cat"]


# ------------------------------------------------------------------------------------------- recipes
PRETRAIN = ["pretrain_en_word_lstm", "pretrain_en_subword_lstm", "pretrain_en_char_lstm",
            "pretrain_fr_subword_lstm"]


@pytest.mark.parametrize("name", PRETRAIN)
def test_each_backward_pretraining_recipe_is_its_forward_twin_reversed(name: str) -> None:
    def values(recipe: str) -> dict:
        return yaml.safe_load((ROOT / "recipes" / "lm" / f"{recipe}.yaml").read_text(encoding="utf-8"))

    forward, backward = values(name), values(f"{name}_backward")
    assert backward["data"].pop("reverse") is True and "reverse" not in forward["data"]
    assert backward.pop("run_dir") == f"runs/{name}_backward" and forward.pop("run_dir") == f"runs/{name}"
    assert backward == forward
    for recipe in (name, f"{name}_backward"):
        config = load_config(ROOT / "recipes" / "lm" / f"{recipe}.yaml")
        assert config.data.corpus == ("pretrain-fr" if "_fr_" in name else "pretrain-en")
        assert config.data.reverse is recipe.endswith("_backward")
        # A CPU recipe: a time cap, and the encoder reads left to right (the LM's one direction).
        assert config.trainer.max_minutes is not None and not config.model.encoder.bidirectional
