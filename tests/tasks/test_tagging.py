"""Tagging: the tagger overfits a batch, constrained decoding stays legal, and the task runs end to end
(JSONL through the real CLI; CoNLL, CoNLL-U, hub-shaped parquet and sentencepiece in process) with one
clear error, naming file and line, for each kind of bad input."""

from __future__ import annotations

import json
import logging
import random
from collections.abc import Callable, Iterator
from pathlib import Path

import datasets
import pytest
import torch

from nlpseq import schemes
from nlpseq.api import train
from nlpseq.config import Config
from nlpseq.errors import DataError
from nlpseq.models.char_features import CharFeaturesConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.tagger import SequenceTagger
from nlpseq.tasks import load_config
from nlpseq.tasks.tagging import TaggingTask
from nlpseq.tokenizers import WORD_BOUNDARY
from tests.helpers import ROOT, CliResult, run_cli, write_jsonl

TINY = ROOT / "recipes" / "tagging" / "tiny.yaml"
UD_EWT = ROOT / "recipes" / "tagging" / "ud_ewt_upos_bilstm.yaml"

# ------------------------------------------------------------------------------------ synthetic data
# Names are PER (sometimes with a surname: B-PER I-PER), cities LOC; everything else is O. Learnable
# from word identity alone, so a tiny model reaches high F1 in a few epochs.
PERSONS = ["Alice", "Bob", "Carol", "David", "Emma", "Frank", "Grace", "Henry"]
SURNAMES = ["Smith", "Jones", "Brown"]
CITIES = ["Paris", "London", "Berlin", "Madrid", "Rome", "Vienna"]
FILLER = ["flew", "to", "met", "in", "the", "visited", "said", "that", "likes", "we", "often", ","]
OPENERS = [["Yesterday", ","], ["Today"]]  # capitalised words that are not names
UPOS = {"flew": "VERB", "to": "ADP", "met": "VERB", "in": "ADP", "the": "DET", "visited": "VERB",
        "said": "VERB", "that": "SCONJ", "likes": "VERB", "we": "PRON", "often": "ADV", ",": "PUNCT",
        ".": "PUNCT", "Yesterday": "NOUN", "Today": "NOUN"}


def ner_rows(count: int, seed: int) -> list[dict[str, list[str]]]:
    """``count`` sentences of filler with one or two PER/LOC entities each, IOB2 tags, ending in "."."""
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        tokens = rng.sample(FILLER, rng.randint(2, 6))
        tags = ["O"] * len(tokens)
        for _ in range(rng.randint(1, 2)):
            at = rng.randint(0, len(tokens))
            if rng.random() < 0.5:
                person = rng.choice(PERSONS)
                surname = [rng.choice(SURNAMES)] if rng.random() < 0.4 else []
                words, kind = [person, *surname], "PER"
            else:
                words, kind = [rng.choice(CITIES)], "LOC"
            tokens[at:at] = words
            tags[at:at] = [f"B-{kind}"] + [f"I-{kind}"] * (len(words) - 1)
        if rng.random() < 0.3:
            opener = rng.choice(OPENERS)
            tokens, tags = opener + tokens, ["O"] * len(opener) + tags
        rows.append({"tokens": [*tokens, "."], "tags": [*tags, "O"]})
    return rows


def upos(row: dict[str, list[str]]) -> list[str]:
    return [UPOS.get(word, "PROPN") for word in row["tokens"]]


SPLITS = {"train": (150, 1), "valid": (40, 2), "test": (40, 3)}


def write_splits(folder: Path, write: Callable[[Path, list[dict]], Path], suffix: str) -> list[str]:
    """Write the synthetic train/valid/test with ``write(path, rows)``; return ``data.*=`` overrides."""
    folder.mkdir(parents=True, exist_ok=True)
    overrides = []
    for split, (count, seed) in SPLITS.items():
        path = folder / f"{split}.{suffix}"
        write(path, ner_rows(count, seed))
        overrides.append(f"data.{split}={path}")
    return overrides


def write_conll(path: Path, rows: list[dict[str, list[str]]]) -> Path:
    """CoNLL-2003 shape: ``word POS chunk NER`` columns, a -DOCSTART- line, blank lines between sentences."""
    lines = ["-DOCSTART- -X- -X- O", ""]
    for row in rows:
        for word, pos, tag in zip(row["tokens"], upos(row), row["tags"], strict=True):
            lines.append(f"{word} {pos} {'I-NP' if pos == 'PROPN' else 'O'} {tag}")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_conllu(path: Path, rows: list[dict[str, list[str]]]) -> Path:
    """UD English-EWT shape: comments, 10 tab-separated columns, UPOS in column 4, and (every fifth
    sentence) a multiword token ``cannot`` = ``can`` + ``not`` whose range line is not a word."""
    lines = []
    for number, row in enumerate(rows):
        words, tags = list(row["tokens"]), upos(row)
        if number % 5 == 0:
            words[-1:-1], tags[-1:-1] = ["can", "not"], ["AUX", "PART"]
        lines += [f"# sent_id = synthetic-{number}", f"# text = {' '.join(words)}"]
        for index, (word, tag) in enumerate(zip(words, tags, strict=True), 1):
            if word == "can":
                lines.append(f"{index}-{index + 1}\tcannot\t_\t_\t_\t_\t_\t_\t_\t_")
            head, relation = (0, "root") if index == 1 else (1, "dep")
            lines.append(f"{index}\t{word}\t{word.lower()}\t{tag}\t_\t_\t{head}\t{relation}\t_\t_")
        lines.append("")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def tiny_config(tmp_path: Path, *overrides: str, recipe: Path = TINY) -> Config:
    """A recipe with its run folder and datasets cache inside ``tmp_path``."""
    return load_config(recipe, [f"run_dir={tmp_path / 'run'}", f"data.cache_dir={tmp_path / 'cache'}",
                                *overrides])


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    # These models are tiny: extra threads cost more than they save, and on a busy machine they
    # oversubscribe the cores and slow training down many times over.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def nlpseq(*args: str, stdin: str | None = None) -> CliResult:
    # In this process; tests/e2e/test_cli.py runs each subcommand once in a real subprocess.
    return run_cli(*args, stdin=stdin, cwd=ROOT)


# ------------------------------------------------------------------------------------ the model
IOBES_TAGS = ["O", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "B-PER", "I-PER", "E-PER", "S-PER"]
SENTENCES = [  # IOBES, of different lengths so that padding is exercised
    ("Alice Smith visited Paris .".split(), "B-PER E-PER O S-LOC O".split()),
    ("we met Bob in New York today".split(), "O O S-PER O B-LOC E-LOC O".split()),
    ("Rome .".split(), "S-LOC O".split()),
    ("Carol likes Berlin".split(), "S-PER O S-LOC".split()),
    ("the Anna Maria Lopez said hello".split(), "O B-PER I-PER E-PER O O".split()),
]


def hand_batch(sentences: list[tuple[list[str], list[str]]], tags: list[str]) -> dict[str, torch.Tensor]:
    """The tensors ``TaggingTask.collate`` makes (ids 0-3 are the special tokens)."""
    words = sorted({w for sentence, _ in sentences for w in sentence})
    chars = sorted({c for w in words for c in w})
    lengths = torch.tensor([len(s) for s, _ in sentences])
    width, longest = int(lengths.max()), max(len(w) for w in words)
    batch = {"input_ids": torch.zeros(len(sentences), width, dtype=torch.long),
             "chars": torch.zeros(len(sentences), width, longest, dtype=torch.long),
             "tags": torch.zeros(len(sentences), width, dtype=torch.long),
             "lengths": lengths, "mask": torch.arange(width)[None, :] < lengths[:, None]}
    for row, (sentence, sentence_tags) in enumerate(sentences):
        for position, (word, tag) in enumerate(zip(sentence, sentence_tags, strict=True)):
            batch["input_ids"][row, position] = 4 + words.index(word)
            batch["chars"][row, position, : len(word)] = torch.tensor([4 + chars.index(c) for c in word])
            batch["tags"][row, position] = tags.index(tag)
    return batch


def small_tagger(num_tags: int, head: str, char_kind: str,
                 allowed: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = None,
                 constrain: bool = True) -> SequenceTagger:
    return SequenceTagger(
        60, num_tags, 40, embedding=EmbeddingConfig(embedding_dim=8),
        char_features=CharFeaturesConfig(kind=char_kind, embedding_dim=6, hidden_size=6),
        encoder=EncoderConfig(hidden_size=12), head=head, constrain=constrain, dropout=0.0, allowed=allowed)


@pytest.mark.parametrize("char_kind", ["cnn", "lstm"])
@pytest.mark.parametrize("head", ["crf", "softmax"])
def test_tagger_overfits_one_batch(head: str, char_kind: str) -> None:
    torch.manual_seed(0)
    batch = hand_batch(SENTENCES, IOBES_TAGS)
    gold = [[IOBES_TAGS.index(t) for t in tags] for _, tags in SENTENCES]
    model = small_tagger(len(IOBES_TAGS), head, char_kind, schemes.allowed_transitions(IOBES_TAGS, "IOBES"))
    assert model.decode(batch) != gold
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    first = model(batch).loss.item()
    for _ in range(150):
        loss = model(batch).loss
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert loss.item() < first / 20
    assert model.training  # decode switches to eval mode and back
    assert model.decode(batch) == gold
    output = model({k: v for k, v in batch.items() if k != "tags"})
    assert output.loss is None and output.scores.shape == (5, 7, len(IOBES_TAGS))


def is_legal(path: list[str], scheme: str) -> bool:
    """Legal under the scheme's constraints = already in the scheme's canonical form."""
    return schemes.convert(path, scheme, scheme) == path


@pytest.mark.parametrize("scheme", ["IOB2", "IOBES"])
def test_constrained_decoding_is_legal_even_with_random_weights(scheme: str) -> None:
    prefixes = {"IOB2": "BI", "IOBES": "BIES"}[scheme]
    tags = ["O"] + [f"{p}-{t}" for t in ("LOC", "MISC", "PER") for p in prefixes]
    torch.manual_seed(0)
    model = small_tagger(len(tags), "crf", "cnn", schemes.allowed_transitions(tags, scheme))
    with torch.no_grad():  # large random scores everywhere, transitions included
        for parameter in model.parameters():
            parameter.normal_(0.0, 3.0)
    lengths = torch.randint(1, 13, (32,))
    mask = torch.arange(12)[None, :] < lengths[:, None]
    batch = {"input_ids": torch.randint(1, 60, (32, 12)) * mask, "lengths": lengths, "mask": mask,
             "chars": torch.randint(1, 40, (32, 12, 5)) * mask[:, :, None]}
    paths = [[tags[i] for i in path] for path in model.decode(batch)]
    assert [len(p) for p in paths] == lengths.tolist()
    assert all(is_legal(path, scheme) for path in paths), paths
    # The same weights without constraints do decode illegal paths: the constraints did the work.
    free = small_tagger(len(tags), "crf", "cnn", schemes.allowed_transitions(tags, scheme), constrain=False)
    free.load_state_dict(model.state_dict())
    assert not all(is_legal([tags[i] for i in path], scheme) for path in free.decode(batch))


# ------------------------------------------------------------------------------------ the CLI, end to end
@pytest.fixture(scope="module")
def ner_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp = tmp_path_factory.mktemp("tagging_cli")
    run = tmp / "run"
    done = nlpseq("train", str(TINY), *write_splits(tmp / "data", write_jsonl, "jsonl"), f"run_dir={run}",
                  f"data.cache_dir={tmp / 'cache'}", "data.max_length=20")
    assert done.returncode == 0, done.stderr
    return run, json.loads(done.stdout)


def test_train_reaches_high_f1_and_reports_entity_scores(ner_run: tuple[Path, dict]) -> None:
    run, summary = ner_run
    results = json.loads((run / "results.json").read_text())
    test = results["test"]
    assert test["f1"] >= 0.8
    assert {"precision", "recall", "accuracy"} <= set(test)
    assert set(test["per_type"]) == {"LOC", "PER"}
    assert set(test["per_type"]["PER"]) == {"precision", "recall", "f1", "support"}
    assert test["sentences"] == 40
    # Each gold entity is counted once per type: the supports add up to the entities in the file.
    gold_entities = sum(t.startswith("B-") for row in ner_rows(*SPLITS["test"]) for t in row["tags"])
    assert sum(v["support"] for v in test["per_type"].values()) == gold_entities
    assert summary["test"]["f1"] == round(test["f1"], 4)  # what train prints is rounded
    # The run folder holds the tag vocabulary in the training scheme (IOBES), every prefix per type.
    assert json.loads((run / "tags.json").read_text()) == IOBES_TAGS


def test_evaluate_prints_the_same_f1_as_training(ner_run: tuple[Path, dict]) -> None:
    run, _ = ner_run
    done = nlpseq("evaluate", str(run))
    assert done.returncode == 0, done.stderr
    (line,) = done.stdout.splitlines()
    metrics = json.loads(line)
    saved = json.loads((run / "results.json").read_text())["test"]
    assert metrics["f1"] == saved["f1"]
    assert metrics["per_type"] == saved["per_type"]


def test_evaluate_on_another_file(ner_run: tuple[Path, dict], tmp_path: Path) -> None:
    run, _ = ner_run
    data = write_jsonl(tmp_path / "more.jsonl", [
        {"tokens": ["Alice", "visited", "Paris", "."], "tags": ["B-PER", "O", "B-LOC", "O"]},
        {"tokens": ["we", "met", "Bob", "Smith"], "tags": ["O", "O", "B-PER", "I-PER"]},
    ])
    done = nlpseq("evaluate", str(run), "--data", str(data))
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert (metrics["sentences"], metrics["tokens"]) == (2, 8)
    assert set(metrics["per_type"]) == {"LOC", "PER"}
    assert metrics["per_type"]["PER"]["support"] == 2


def test_evaluate_on_a_file_with_an_unknown_type_names_file_and_line(ner_run: tuple[Path, dict],
                                                                      tmp_path: Path) -> None:
    run, _ = ner_run
    data = write_jsonl(tmp_path / "odd.jsonl", [
        {"tokens": ["Alice", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]},
        {"tokens": ["Acme", "hired", "Bob"], "tags": ["B-ORG", "O", "B-PER"]},
    ])
    done = nlpseq("evaluate", str(run), "--data", str(data))
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert (f"{data}:2: entity type 'ORG' (word 1) never occurs in the training data; "
            "known types: LOC, PER") in done.stderr


def test_predict_prints_word_tag_pairs(ner_run: tuple[Path, dict]) -> None:
    run, _ = ner_run
    done = nlpseq("predict", str(run), stdin="Alice visited Paris .\nwe met Bob Smith in London\n")
    assert done.returncode == 0, done.stderr
    # Tags come in the data's scheme (IOB2), although the model trains and decodes in IOBES.
    assert done.stdout.splitlines() == ["Alice/B-PER visited/O Paris/B-LOC ./O",
                                        "we/O met/O Bob/B-PER Smith/I-PER in/O London/B-LOC"]


def test_predict_jsonl_gives_entities_with_character_offsets(ner_run: tuple[Path, dict],
                                                             tmp_path: Path) -> None:
    run, _ = ner_run
    lines = ["Yesterday, Alice flew to Paris.", "", "we met Grace Jones in Vienna"]
    source = tmp_path / "raw.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = nlpseq("predict", str(run), "--input", str(source), "--format", "jsonl")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["text"] for row in rows] == lines
    assert rows[0]["words"] == ["Yesterday", ",", "Alice", "flew", "to", "Paris", "."]
    assert len(rows[0]["tags"]) == 7
    assert rows[0]["entities"] == [{"type": "PER", "start": 11, "end": 16, "text": "Alice"},
                                   {"type": "LOC", "start": 25, "end": 30, "text": "Paris"}]
    assert rows[1] == {"text": "", "words": [], "tags": [], "entities": []}
    assert [(e["type"], e["text"]) for e in rows[2]["entities"]] == [("PER", "Grace Jones"),
                                                                      ("LOC", "Vienna")]
    for line, row in zip(lines, rows, strict=True):
        assert all(line[e["start"]:e["end"]] == e["text"] for e in row["entities"])


def test_predict_tags_a_line_longer_than_max_length_in_chunks(ner_run: tuple[Path, dict]) -> None:
    run, _ = ner_run
    done = nlpseq("predict", str(run), stdin="Alice visited Paris\n" + "we " * 21 + "\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1] == " ".join(["we/O"] * 21)
    assert "input line 2: 21 words, more than max_length=20: tagged in 2 chunks" in done.stderr


# ------------------------------------------------------------------------------------ other data shapes
def test_conll_files_train(tmp_path: Path) -> None:
    overrides = write_splits(tmp_path / "data", write_conll, "conll")
    results = train(tiny_config(tmp_path, *overrides, "data.format=conll", "data.tag_column=3"))
    assert results["test"]["sentences"] == 40  # -DOCSTART- is not a sentence
    assert results["test"]["accuracy"] >= 0.9
    assert results["test"]["f1"] >= 0.8


def test_conllu_files_train_the_ud_recipe(tmp_path: Path) -> None:
    overrides = write_splits(tmp_path / "data", write_conllu, "conllu")
    config = tiny_config(tmp_path, "data.hub=null", "data.format=conllu", *overrides,
                         "trainer.max_epochs=4", "trainer.batch_size=8", "trainer.lr=0.02",
                         "trainer.progress=false", "model.embedding.embedding_dim=8",
                         "model.char_features.embedding_dim=4", "model.char_features.hidden_size=4",
                         "model.encoder.hidden_size=8", "model.dropout=0.0", recipe=UD_EWT)
    results = train(config)
    test = results["test"]
    assert test["accuracy"] >= 0.8
    assert "f1" not in test  # plain tags: no entity scores
    # One token per syntactic word: the sentences plus "can" and "not" in every fifth, not "cannot".
    rows = ner_rows(*SPLITS["test"])
    assert test["tokens"] == sum(len(row["tokens"]) for row in rows) + 2 * len(rows[::5])
    tags = json.loads((tmp_path / "run" / "tags.json").read_text())
    assert tags == sorted(set(UPOS.values()) | {"PROPN", "AUX", "PART"})


def test_hub_shaped_parquet_with_class_label_tags(tmp_path: Path) -> None:
    names = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    sequence = getattr(datasets, "List", None) or datasets.Sequence
    features = datasets.Features({"tokens": sequence(datasets.Value("string")),
                                  "ner_tags": sequence(datasets.ClassLabel(names=names))})
    folder = tmp_path / "hub"
    folder.mkdir()
    for split, (count, seed) in zip(["train", "validation", "test"], SPLITS.values(), strict=True):
        rows = ner_rows(count, seed)
        table = {"tokens": [row["tokens"] for row in rows],
                 "ner_tags": [[names.index(t) for t in row["tags"]] for row in rows]}
        datasets.Dataset.from_dict(table, features=features).to_parquet(str(folder / f"{split}.parquet"))
    config = tiny_config(tmp_path, f"data.hub={folder}", "data.tags_field=ner_tags")
    task = TaggingTask(config, tmp_path / "run")
    task.prepare()
    # Class ids came back as tag names (then IOB2 -> IOBES), row by row.
    first = ner_rows(*SPLITS["train"])[0]
    assert task.splits["train"].dataset[0]["tags"] == schemes.convert(first["tags"], "IOB2", "IOBES")
    assert task.tags == IOBES_TAGS
    results = train(config)
    assert results["test"]["sentences"] == 40
    assert results["test"]["f1"] >= 0.8


def test_sentencepiece_gives_one_id_per_word(tmp_path: Path) -> None:
    overrides = write_splits(tmp_path / "data", write_jsonl, "jsonl")
    config = tiny_config(tmp_path, *overrides, "tokenizer.kind=sentencepiece", "tokenizer.vocab_size=60")
    results = train(config)
    assert results["test"]["f1"] >= 0.8
    task = TaggingTask(config, tmp_path / "run")
    task.prepare()
    processor = task.tokenizer.processor
    assert task.tokenizer.vocab_size <= 60
    boundary = processor.piece_to_id(WORD_BOUNDARY)
    bare = 0
    for row in task.splits["test"].dataset:
        assert len(row["input_ids"]) == len(row["chars"]) == len(row["tokens"]) == row["length"]
        for word, word_id in zip(row["tokens"], row["input_ids"], strict=True):
            pieces = processor.encode(word)
            # The word's first piece, unless that is the bare "▁" that many words share.
            bare += pieces[0] == boundary
            assert word_id == (pieces[1] if pieces[0] == boundary and len(pieces) > 1 else pieces[0]), word
    assert bare > 0  # this vocabulary is small enough that the bare "▁" case is exercised


# ------------------------------------------------------------------------------------ bad input
def prepare(tmp_path: Path, files: dict[str, list[dict]], *overrides: str) -> TaggingTask:
    """Write JSONL splits (train/valid/test) and run ``TaggingTask.prepare`` on them."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    paths = [f"data.{split}={write_jsonl(tmp_path / f'{split}.jsonl', rows)}"
             for split, rows in files.items()]
    config = tiny_config(tmp_path, *paths, *overrides)
    task = TaggingTask(config, tmp_path / "run")
    task.prepare()
    return task


GOOD = [{"tokens": ["Alice", "visited", "Paris"], "tags": ["B-PER", "O", "B-LOC"]},
        {"tokens": ["Bob", "Smith", "said", "so"], "tags": ["B-PER", "I-PER", "O", "O"]}]


@pytest.mark.parametrize(("tags", "message"), [
    (["B-PER", "I-", "O"], "position 1: tag 'I-' is not a valid IOB2 tag (expected 'O' or one of B-/I- "
                           "followed by a type) (data.tag_scheme=IOB2)"),
    (["S-PER", "O", "O"], "position 0: tag 'S-PER' is not a valid IOB2 tag (expected 'O' or one of B-/I- "
                          "followed by a type) (data.tag_scheme=IOB2)"),
])
def test_tag_outside_the_scheme_names_file_and_line(tmp_path: Path, tags: list[str], message: str) -> None:
    bad = [*GOOD, {"tokens": ["Alice", "left", "early"], "tags": tags}]
    with pytest.raises(DataError) as error:
        prepare(tmp_path, {"train": bad, "valid": GOOD}, "data.tag_scheme=IOB2")
    assert str(error.value) == f"{tmp_path / 'train.jsonl'}:3: {message}"


def test_tag_type_unseen_in_training_names_test_file_line_and_type(tmp_path: Path) -> None:
    test = [GOOD[0], {"tokens": ["Acme", "hired", "Bob"], "tags": ["B-ORG", "O", "B-PER"]}]
    with pytest.raises(DataError) as error:
        prepare(tmp_path, {"train": GOOD, "valid": GOOD, "test": test})
    assert str(error.value) == (f"{tmp_path / 'test.jsonl'}:2: entity type 'ORG' (word 1) never occurs "
                                "in the training data; known types: LOC, PER")


def test_plain_tag_unseen_in_training_names_the_tag(tmp_path: Path) -> None:
    train_rows = [{"tokens": ["we", "ran"], "tags": ["PRON", "VERB"]}]
    valid = [{"tokens": ["we", "ran", "fast"], "tags": ["PRON", "VERB", "ADV"]}]
    with pytest.raises(DataError) as error:
        prepare(tmp_path, {"train": train_rows, "valid": valid}, "data.tag_scheme=null",
                "data.train_tag_scheme=null", "trainer.metric=accuracy")
    assert str(error.value) == (f"{tmp_path / 'valid.jsonl'}:1: tag 'ADV' (word 3) never occurs in the "
                                "training data; known tags: PRON, VERB")


def test_sentence_longer_than_max_length_fails_in_test_and_is_skipped_in_train(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long = {"tokens": ["we"] * 5 + ["Alice"], "tags": ["O"] * 5 + ["B-PER"]}
    with pytest.raises(DataError) as error:
        prepare(tmp_path, {"train": GOOD, "valid": GOOD, "test": [GOOD[0], GOOD[1], long]},
                "data.max_length=5")
    assert str(error.value) == (f"{tmp_path / 'test.jsonl'}:3: sentence of 6 words is longer than "
                                "data.max_length=5")

    with caplog.at_level(logging.WARNING, logger="nlpseq.task"):
        task = prepare(tmp_path / "skip", {"train": [long, *GOOD, long], "valid": GOOD}, "data.max_length=5")
    assert task.splits["train"].dataset["tokens"] == [row["tokens"] for row in GOOD]
    warning = f"{tmp_path / 'skip' / 'train.jsonl'}: skipped 2 sentences longer than data.max_length=5"
    assert warning in caplog.text


def test_long_sentences_held_out_of_train_for_validation_are_skipped_too(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    long = {"tokens": ["we"] * 5 + ["Alice"], "tags": ["O"] * 5 + ["B-PER"]}
    with caplog.at_level(logging.WARNING, logger="nlpseq.task"):
        task = prepare(tmp_path, {"train": [GOOD[0], long] * 10}, "data.max_length=5")  # no valid file
    valid, train_split = task.splits["valid"], task.splits["train"]
    assert valid.source == f"{tmp_path / 'train.jsonl'} (held out)"
    assert len(train_split.dataset) + len(valid.dataset) == 10  # the ten short ones, nothing else
    assert all(len(tokens) == 3 for tokens in valid.dataset["tokens"])
    skipped = [r.getMessage() for r in caplog.records if "longer than data.max_length=5" in r.getMessage()]
    assert skipped == [f"{tmp_path / 'train.jsonl'}: skipped 9 sentences longer than data.max_length=5",
                       f"{valid.source}: skipped 1 sentences longer than data.max_length=5"]


def test_conll_row_with_the_wrong_number_of_columns_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.conll"
    path.write_text("-DOCSTART- -X- -X- O\n\nAlice NNP I-NP B-PER\nleft VBD O\n", encoding="utf-8")
    with pytest.raises(DataError) as error:
        TaggingTask(tiny_config(tmp_path, f"data.train={path}", "data.format=conll", "data.tag_column=3"),
                    tmp_path / "run").prepare()
    assert str(error.value) == f"{path}:4: row has 3 column(s) but the file's first row (line 3) has 4"


def test_conll_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "train.conll"
    path.write_bytes(b"Alice NNP I-NP B-PER\nleft VBD O O\n\nZo\xeb NNP I-NP B-PER\n")
    with pytest.raises(DataError) as error:
        TaggingTask(tiny_config(tmp_path, f"data.train={path}", "data.format=conll", "data.tag_column=3"),
                    tmp_path / "run").prepare()
    assert str(error.value).startswith(f"{path}:4: ")
    assert "UTF-8" in str(error.value)


def test_iob1_data_is_converted_to_the_training_scheme(tmp_path: Path) -> None:
    iob1 = [{"tokens": ["Alice", "Bob", "visited", "Paris"], "tags": ["I-PER", "B-PER", "O", "I-LOC"]},
            {"tokens": ["Anna", "Maria", "left", "New", "York"],
             "tags": ["I-PER", "I-PER", "O", "I-LOC", "I-LOC"]}]
    task = prepare(tmp_path, {"train": iob1, "valid": iob1[:1], "test": iob1[1:]},
                   "data.tag_scheme=IOB1", "data.train_tag_scheme=IOB2")
    assert task.scheme == "IOB2"
    assert task.tags == ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]
    assert task.splits["train"].dataset["tags"] == [["B-PER", "B-PER", "O", "B-LOC"],
                                                    ["B-PER", "I-PER", "O", "B-LOC", "I-LOC"]]
    assert task.splits["valid"].dataset["tags"] == [["B-PER", "B-PER", "O", "B-LOC"]]
    assert task.splits["test"].dataset["tag_ids"] == [[3, 4, 0, 1, 2]]
