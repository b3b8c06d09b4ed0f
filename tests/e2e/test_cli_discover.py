"""A command line you can discover: ``nlpseq recipes`` (list, ``show``, ``cp``), ``nlpseq train RUN_DIR``
and "did you mean" for a near-miss config key (issue 18, item 6)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import yaml

from nlpseq.config import to_dict
from nlpseq.recipe_view import recipe_keys
from nlpseq.recipes import recipe_header
from nlpseq.tasks import get_task, load_config
from tests.helpers import ROOT, run_cli, run_cli_subprocess, sentiment_files

TINY = ROOT / "recipes" / "sentiment" / "tiny.yaml"


def test_recipes_lists_a_header_row_and_one_row_per_recipe(tmp_path: Path) -> None:
    done = run_cli_subprocess("recipes", cwd=tmp_path)  # from any folder; listing imports no torch (test_cli)
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["NAME", "TASK", "DATA", "METRIC", "EXPECTED", "TIME", "PATH", "DESCRIPTION"]
    assert len(rows) == len(list((ROOT / "recipes").rglob("*.yaml")))
    # Every column starts where its header does: cut each row at the header's column starts.
    starts = [header.index(name) for name in ("TASK", "DATA", "METRIC", "EXPECTED", "TIME", "PATH",
                                              "DESCRIPTION")]
    cells = {}
    for row in rows:
        bounds = [0, *starts, len(row)]
        parts = [row[a:b].strip() for a, b in itertools.pairwise(bounds)]
        assert all(row[s - 2:s] == "  " for s in starts), row  # two spaces before every column
        cells[parts[0]] = parts
    mr = cells["sentiment/mr_bigru"]
    assert mr[1:5] == ["classification", "mr", "accuracy", "test accuracy 77.7"]
    assert mr[5] == "-"  # the recipe names no time
    assert Path(mr[6]) == (ROOT / "recipes" / "sentiment" / "mr_bigru.yaml")
    assert mr[7] == ("MR movie-review sentiment (Pang & Lee sentences, binarised by the sign of the "
                     "human rating), a word-level BiGRU with attention pooling and randomly initialised "
                     "embeddings.")
    assert cells["lm/ptb_small_lstm"][4:6] == ["test perplexity 93.8", "< 30 min"]
    assert cells["sentiment/tiny"][4:6] == ["-", "seconds"]
    assert cells["translation/lohelp_fr_en_gru_bahdanau"][4] == "beam-5 BLEU 30.6"


def test_the_header_comment_gives_description_metric_and_time(tmp_path: Path) -> None:
    recipe = tmp_path / "r.yaml"
    recipe.write_text("# A 2x650 LSTM (Merity et al. 2017) in under 2 hours. GPU-sized.\n#\n"
                      "#   nlpseq train r.yaml\n#\n# Measured: test bpc 1.41 (target <= 1.5), one GPU.\n"
                      "task: lm\n# a comment after the first key is not the header\n", encoding="utf-8")
    header = recipe_header(recipe)
    assert header.description == "A 2x650 LSTM (Merity et al. 2017) in under 2 hours."
    assert (header.expected, header.time) == ("test bpc 1.41", "< 2 h")
    recipe.write_text("task: lm\n# Measured: test bpc 9.9\n", encoding="utf-8")
    assert (recipe_header(recipe).description, recipe_header(recipe).expected) == ("-", "-")


def test_recipes_show_is_the_recipe_with_every_key_documented(tmp_path: Path) -> None:
    done = run_cli("recipes", "show", "sentiment/tiny", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    shown = tmp_path / "shown.yaml"
    shown.write_text(text, encoding="utf-8")
    # What is shown is what would train: it loads to the very config of the recipe.
    assert to_dict(load_config(shown)) == to_dict(load_config(TINY))
    values = yaml.safe_load(text)
    for key in recipe_keys(get_task("classification")):
        node = values
        for part in key.name.split("."):
            node = node[part]  # every key is written out (KeyError otherwise)
    lines = text.splitlines()
    lr = lines.index("  lr: 0.01  # set by the recipe")
    assert lines[lr - 1] == "  # float; allowed: > 0 and < 10000.0; default: 0.001"
    assert lines[lr - 2].startswith("  # The base learning rate")
    decay = lines.index("  weight_decay: 0.0")  # not in the recipe: its default, unmarked
    assert "default: 0.0" in lines[decay - 1]
    assert "# A seconds-long recipe for the tests" in text  # the recipe's own header comes along


def test_recipes_show_lists_an_unset_sections_keys_commented_out(tmp_path: Path) -> None:
    tagging = (ROOT / "recipes" / "tagging" / "tiny.yaml").read_text(encoding="utf-8")
    recipe = tmp_path / "words_only.yaml"
    recipe.write_text(tagging.replace("  char_features:\n    kind: lstm\n    embedding_dim: 8\n"
                                      "    hidden_size: 8\n", "  char_features: null\n"), encoding="utf-8")
    done = run_cli("recipes", "show", str(recipe))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "  char_features: null  # set by the recipe; off: write the section to use the keys below" in lines
    assert "    # kind: cnn" in lines and "    # hidden_size: 50" in lines  # its keys, with their defaults
    shown = tmp_path / "shown.yaml"
    shown.write_text(done.stdout, encoding="utf-8")
    assert to_dict(load_config(shown)) == to_dict(load_config(recipe))


def test_recipes_cp_copies_and_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    done = run_cli("recipes", "cp", "sentiment/tiny", "mine.yaml", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    mine = tmp_path / "mine.yaml"
    assert mine.read_bytes() == TINY.read_bytes()
    assert "wrote mine.yaml" in done.stdout and "nlpseq train mine.yaml" in done.stdout
    mine.write_text("task: lm\n", encoding="utf-8")
    again = run_cli("recipes", "cp", "sentiment/tiny", "mine.yaml", cwd=tmp_path)
    assert again.returncode == 2 and again.stderr.strip() == (
        "nlpseq: error: mine.yaml: already exists; pass --force to overwrite it")
    assert mine.read_text(encoding="utf-8") == "task: lm\n"
    forced = run_cli("recipes", "cp", "sentiment/tiny", "mine.yaml", "--force", cwd=tmp_path)
    assert forced.returncode == 0 and mine.read_bytes() == TINY.read_bytes()
    into = run_cli("recipes", "cp", "tagging/tiny", ".", cwd=tmp_path)  # a folder keeps the file name
    assert into.returncode == 0 and (tmp_path / "tiny.yaml").read_bytes() == (
        ROOT / "recipes" / "tagging" / "tiny.yaml").read_bytes()


def test_train_run_dir_resumes_the_run_with_its_own_config(tmp_path: Path) -> None:
    data = sentiment_files(tmp_path / "data")
    run = tmp_path / "run"
    first = run_cli("train", "sentiment/tiny", *data, f"run_dir={run}", "trainer.max_epochs=1",
                    f"data.cache_dir={tmp_path / 'cache'}")
    assert first.returncode == 0, first.stderr
    steps = json.loads(first.stdout)["steps"]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    refused = run_cli("train", str(run), "trainer.max_epochs=2", cwd=elsewhere)  # a change needs consent
    assert refused.returncode == 2 and "trainer.max_epochs: 1 -> 2" in refused.stderr
    resumed = run_cli("train", str(run), "trainer.max_epochs=2", "--allow-changes", cwd=elsewhere)
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads(resumed.stdout)["steps"] == 2 * steps  # the second epoch, not a new run's first
    assert yaml.safe_load((run / "config.yaml").read_text())["trainer"]["max_epochs"] == 2
    assert not (elsewhere / "runs").exists()  # trained in the folder named, not in a runs/ beside it


def test_a_near_miss_key_says_which_was_meant() -> None:
    done = run_cli("train", "sentiment/tiny", "trainer.max_epoch=2")
    assert done.returncode == 2
    message = done.stderr.strip()
    assert "unknown key 'trainer.max_epoch' (did you mean trainer.max_epochs?); valid keys in trainer: " \
           "optimizer, lr, " in message
    far = run_cli("train", "sentiment/tiny", "trainer.learning_rate=2").stderr
    assert "unknown key 'trainer.learning_rate'; valid keys in trainer:" in far and "did you mean" not in far
