"""What a tagging run predicts on (issue 18, items 4 and 10): a stream that survives an over-long line
(tagged in chunks, the line named by its number in the whole input), lists of words from Python, and
CoNLL columns in and out."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import nlpseq
from nlpseq.api import Predictor
from nlpseq.inputs import input_batches
from nlpseq.tasks.tagging_input import chunks, conll_sentences, is_separator, with_tag, words_of
from tests.helpers import ROOT, CliResult, run_cli, write_jsonl
from tests.tasks.test_tagging import TINY, write_splits

SENTENCE = "Alice visited Paris today ."  # 5 words, two entities


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: more threads only contend on a small machine
    yield
    torch.set_num_threads(threads)


def nlpseq_cli(*args: str, stdin: str | None = None) -> CliResult:
    return run_cli(*args, stdin=stdin, cwd=ROOT)


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny NER run (PER, LOC; IOB2 data, IOBES model) with data.max_length=20."""
    tmp = tmp_path_factory.mktemp("tagging_input")
    done = nlpseq_cli("train", str(TINY), *write_splits(tmp / "data", write_jsonl, "jsonl"),
                      f"run_dir={tmp / 'run'}", f"data.cache_dir={tmp / 'cache'}", "data.max_length=20")
    assert done.returncode == 0, done.stderr
    return tmp / "run"


@pytest.fixture(scope="module")
def predictor(run: Path) -> Predictor:
    return nlpseq.load(run, device="cpu")


def pairs(line: str) -> list[tuple[str, str]]:
    return [tuple(pair.rsplit("/", 1)) for pair in line.split(" ")]


# ------------------------------------------------------------------------------------ helpers, exactly
def test_words_of_a_list_are_kept_and_offset_into_the_words_joined_by_spaces() -> None:
    text, words = words_of(["EU", "New York", "Paris."], "en")
    assert text == "EU New York Paris."
    assert words == [("EU", 0, 2), ("New York", 3, 11), ("Paris.", 12, 18)]
    assert all(text[start:end] == word for word, start, end in words)
    assert words_of("Paris.", "en")[1] == [("Paris", 0, 5), (".", 5, 6)]  # raw text is segmented


def test_chunks_and_conll_helpers() -> None:
    assert chunks(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]
    assert chunks([1, 2], 3) == [[1, 2]] and chunks([], 3) == [[]]
    lines = ["-DOCSTART- -X- O", "", "EU NNP", "rejects VBZ", "", "", "Peter NNP"]
    assert [is_separator(line) for line in lines] == [True, True, False, False, True, True, False]
    assert conll_sentences(lines) == [[2, 3], [6]]
    assert with_tag("EU\tNNP  ", "B-ORG") == "EU\tNNP\tB-ORG"
    assert with_tag("EU NNP", "B-ORG") == "EU NNP B-ORG"


# ------------------------------------------------------------------------------------ item 4: long lines
def test_a_20000_word_line_is_tagged_in_chunks_and_the_stream_goes_on(run: Path, tmp_path: Path) -> None:
    short = ["we met Bob Smith", "Carol likes Berlin", "Alice flew to Paris .", "the", "Emma said that",
             None, "Grace visited Rome", "", "Henry met Frank in Madrid"]
    long_line = " ".join([SENTENCE] * 4000)  # 20,000 words: 1,000 chunks of data.max_length=20
    lines = [long_line if line is None else line for line in short]
    source = tmp_path / "long.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = nlpseq_cli("predict", str(run), "--input", str(source), "--batch-lines", "4")
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")[:-1]
    assert len(out) == len(lines)
    # Every other line is tagged as it would be alone, in its place.
    others = "".join(line + "\n" for line in short if line is not None)
    alone = nlpseq_cli("predict", str(run), stdin=others)
    assert [line for number, line in enumerate(out, 1) if number != 6] == alone.stdout.split("\n")[:-1]
    # Line 6 is 1,000 chunks of the same 20 words: its tags are the 20 words' tags, 1,000 times.
    chunk = nlpseq_cli("predict", str(run), stdin=" ".join([SENTENCE] * 4) + "\n").stdout.strip()
    assert pairs(out[5]) == pairs(chunk) * 1000
    assert "input line 6: 20000 words, more than max_length=20: tagged in 1000 chunks" in done.stderr


def test_entities_of_a_chunked_line_have_offsets_into_the_whole_line(predictor: Predictor) -> None:
    text = " ".join([SENTENCE] * 12)  # 60 words: 3 chunks
    result = predictor.predict(text)
    one = predictor.predict(SENTENCE)
    assert len(result["words"]) == 60 and result["tags"] == one["tags"] * 12
    assert len(result["entities"]) == 12 * len(one["entities"]) > 0
    assert all(text[e["start"]:e["end"]] == e["text"] for e in result["entities"])
    # The entities of the last chunk point into the end of the line, not the start of their chunk.
    assert result["entities"][-1]["start"] == len(text) - len(SENTENCE) + one["entities"][-1]["start"]


def test_max_length_sets_the_chunk_size(run: Path) -> None:
    done = nlpseq_cli("predict", str(run), "--max-length", "5",
                      stdin="Bob met Carol\n" + " ".join([SENTENCE] * 3) + "\n")
    assert done.returncode == 0, done.stderr
    _, second = done.stdout.splitlines()
    alone = nlpseq_cli("predict", str(run), stdin=SENTENCE + "\n").stdout.strip()
    assert pairs(second) == pairs(alone) * 3
    assert "input line 2: 15 words, more than max_length=5: tagged in 3 chunks" in done.stderr
    assert "input line 1" not in done.stderr
    refused = nlpseq_cli("predict", str(run), "--max-length", "0", stdin="Bob\n")
    assert refused.returncode == 2 and "--max-length: " in refused.stderr
    assert "Traceback" not in refused.stderr
    listed = nlpseq_cli("predict", str(run), "--help")
    assert "--max-length N" in listed.stdout and "--input-format {text,conll}" in listed.stdout


def test_a_bad_line_later_in_a_file_is_named_by_its_number_in_the_file(run: Path, tmp_path: Path) -> None:
    source = tmp_path / "bad.txt"
    source.write_bytes(b"".join(b"Bob met Carol %d\n" % n for n in range(1, 7)) + b"Paris \xff\nRome\n")
    done = nlpseq_cli("predict", str(run), "--input", str(source), "--batch-lines", "2")
    assert done.returncode == 2
    assert f"{source}:7: input is not UTF-8 (byte 0xff)" in done.stderr and "Traceback" not in done.stderr
    assert len(done.stdout.splitlines()) == 6  # the lines before it were tagged and written


# ------------------------------------------------------------------------------------ item 10: words
def test_lists_of_words_are_tagged_as_given(predictor: Predictor) -> None:
    (result,) = predictor.predict([["Alice", "visited", "Paris", "."]])
    assert result["words"] == ["Alice", "visited", "Paris", "."]
    assert result == predictor.predict("Alice visited Paris .")
    # No re-segmentation: "Paris." stays one word (raw text would split off the full stop), and the
    # offsets are into the words joined with single spaces.
    one = predictor.predict(["we", "met", "Bob", "in", "Paris."], is_split_into_words=True)
    assert isinstance(one, dict) and one["words"] == ["we", "met", "Bob", "in", "Paris."]
    joined = "we met Bob in Paris."
    assert [e["text"] for e in one["entities"]] == [joined[e["start"]:e["end"]] for e in one["entities"]]
    assert predictor.predict("we met Bob in Paris.")["words"][-2:] == ["Paris", "."]
    # A plain list of strings is still a batch of texts; an empty word list an empty result.
    assert [r["words"] for r in predictor.predict(["Bob met Carol", "Rome"])] == [["Bob", "met", "Carol"],
                                                                               ["Rome"]]
    assert predictor.predict([[]]) == [{"words": [], "tags": [], "entities": []}]
    with pytest.raises(TypeError, match=r"predict: input 2 is \[1\]; expected a text"):
        predictor.predict(["fine", [1]])


class RecordingTask:
    """Stands in for a task that reads text: records what it was given."""

    def __init__(self, takes_words: bool):
        self.takes_words, self.given = takes_words, []

    def predict(self, model: object, texts: list) -> list[dict]:
        self.given.append(texts)
        return [{"n": len(texts)} for _ in texts]


@pytest.mark.parametrize("takes_words", [False, True])
def test_words_reach_a_text_task_joined_with_spaces(takes_words: bool) -> None:
    predictor = object.__new__(Predictor)  # no run folder needed: only how inputs reach the task
    predictor.task, predictor.model = RecordingTask(takes_words), None
    predictor.predict([["the", "film"], "raw text", ("a", "b")])
    predictor.predict(["one", "list"], is_split_into_words=True)
    words = [["the", "film"], "raw text", ["a", "b"]], [["one", "list"]]
    text = ["the film", "raw text", "a b"], ["one list"]
    assert predictor.task.given == list(words if takes_words else text)


# ------------------------------------------------------------------------------------ item 10: CoNLL
CONLL = ["-DOCSTART- -X- O", "", "Alice NNP", "visited VBD", "Paris NNP", ". .", "",
         "we\tPRP", "met\tVBD", "Bob\tNNP", "Smith\tNNP"]


def test_conll_in_conll_out(run: Path, predictor: Predictor, tmp_path: Path) -> None:
    source = tmp_path / "in.conll"
    source.write_text("\n".join(CONLL) + "\n", encoding="utf-8")
    done = nlpseq_cli("predict", str(run), "--input", str(source), "--input-format", "conll")
    assert done.returncode == 0, done.stderr
    first = predictor.predict([["Alice", "visited", "Paris", "."]])[0]["tags"]
    second = predictor.predict([["we", "met", "Bob", "Smith"]])[0]["tags"]
    assert first[0] == "B-PER" and second[2:] == ["B-PER", "I-PER"]  # the model can tag them
    expected = [*CONLL[:2], *(f"{line} {tag}" for line, tag in zip(CONLL[2:6], first, strict=True)), "",
                *(f"{line}\t{tag}" for line, tag in zip(CONLL[7:], second, strict=True))]
    expected[0] = "-DOCSTART- -X- O O"
    assert done.stdout.split("\n")[:-1] == expected
    rows = [json.loads(line) for line in nlpseq_cli("predict", str(run), "--input", str(source),
                                                    "--input-format", "conll", "--format", "jsonl")
            .stdout.splitlines()]
    assert rows[2] == {"text": "Alice NNP", "word": "Alice", "tag": first[0], "conll": expected[2]}
    assert rows[1] == {"text": "", "word": None, "tag": None, "conll": ""}


def test_conll_from_python_with_a_long_sentence_in_chunks(predictor: Predictor) -> None:
    lines = [f"{word} X" for word in SENTENCE.split()] * 6  # one 30-word sentence: two chunks
    predictor.set_options(input_format="conll")
    try:
        results = predictor.predict(lines)
    finally:
        predictor.set_options(input_format="text")
    tags = predictor.predict(" ".join([SENTENCE] * 6))["tags"]
    assert [r["tag"] for r in results] == tags
    with pytest.raises(nlpseq.errors.ConfigError, match="input_format: 'json' is not one of 'text', 'conll'"):
        predictor.set_options(input_format="json")


def test_conll_batches_never_cut_a_sentence(predictor: Predictor, tmp_path: Path) -> None:
    # What `nlpseq predict` does batch by batch, with batches of 3 lines: the task asks for blocks.
    source = tmp_path / "in.conll"
    source.write_text("\n".join(CONLL) + "\n", encoding="utf-8")
    predictor.set_options(input_format="conll")
    try:
        assert predictor.task.input_blocks
        batches = list(input_batches(str(source), 3, blocks=predictor.task.input_blocks))
        streamed = [result for lines in batches for result in predictor.predict(lines)]
        whole = predictor.predict(CONLL)
    finally:
        predictor.set_options(input_format="text")
    assert [len(lines) for lines in batches] == [7, 4]  # the first sentence is not cut after 3 lines
    assert streamed == whole
    assert not predictor.task.input_blocks
