"""Recipes by name (nlpseq/recipes.py) and the packaging config that ships them."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlpseq.errors import ConfigError
from nlpseq.recipes import DEFAULT_RECIPE, find_recipe, list_recipes, recipe_root
from tests.helpers import ROOT

RECIPES = ROOT / "recipes"


def test_in_a_checkout_the_root_is_the_checkouts_recipes_folder() -> None:
    assert recipe_root() == RECIPES


@pytest.mark.parametrize("name", ["sentiment/mr_bigru", "sentiment/mr_bigru.yaml", "mr_bigru",
                                  "recipes/sentiment/mr_bigru.yaml"])
def test_names_from_any_folder(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no recipes/ here: every form must go through recipe_root()
    assert find_recipe(name) == RECIPES / "sentiment" / "mr_bigru.yaml"


def test_the_default_recipe_exists() -> None:
    assert find_recipe(DEFAULT_RECIPE) == RECIPES / "sentiment" / "mr_bigru.yaml"


def test_an_existing_file_wins_over_a_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    own = tmp_path / "sentiment" / "tiny.yaml"
    own.parent.mkdir()
    own.write_text("task: classification\n")
    monkeypatch.chdir(tmp_path)
    assert find_recipe("sentiment/tiny.yaml") == Path("sentiment/tiny.yaml")
    assert find_recipe(str(own)) == own
    assert find_recipe("sentiment/tiny") == RECIPES / "sentiment" / "tiny.yaml"  # no such file here


def test_a_bare_name_in_two_folders_is_ambiguous_and_lists_both() -> None:
    with pytest.raises(ConfigError, match=r"^recipe 'tiny' is ambiguous: .*sentiment/tiny, tagging/tiny"):
        find_recipe("tiny")


def test_an_unknown_name_is_one_line_listing_the_valid_names() -> None:
    with pytest.raises(ConfigError) as error:
        find_recipe("sentiment/mr_bigruu")
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("unknown recipe 'sentiment/mr_bigruu'")
    assert "sentiment/mr_bigru," in message and "tagging/tiny" in message


def test_list_recipes_reads_task_data_and_metric() -> None:
    infos = {info.name: info for info in list_recipes()}
    assert set(infos) == {path.relative_to(RECIPES).with_suffix("").as_posix()
                          for path in RECIPES.rglob("*.yaml")}
    mr = infos["sentiment/mr_bigru"]
    assert (mr.task, mr.data, mr.metric) == ("classification", "mr", "accuracy")
    assert mr.path == RECIPES / "sentiment" / "mr_bigru.yaml"
    assert infos["tagging/conll2003_ner_bilstm_crf"].metric == "f1"
    assert infos["sentiment/imdb_bilstm"].data == "stanfordnlp/imdb"
    assert infos["sentiment/tiny"].metric == "(task default)"


def test_list_recipes_does_not_validate(tmp_path: Path) -> None:
    (tmp_path / "lm").mkdir()
    (tmp_path / "lm" / "own.yaml").write_text("task: lm\ndata: {train: t.txt}\nmodel: {nonsense: 1}\n")
    (tmp_path / "lm" / "empty.yaml").write_text("")
    infos = list_recipes(tmp_path)
    assert [(i.name, i.task, i.data, i.metric) for i in infos] == [
        ("lm/empty", "(default)", "(none)", "(task default)"),
        ("lm/own", "lm", "t.txt", "(task default)"),
    ]


def test_list_recipes_names_a_file_that_is_not_yaml(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("task: [unclosed\n")
    with pytest.raises(ConfigError, match=r"bad\.yaml:\d+: invalid YAML"):
        list_recipes(tmp_path)


def test_every_package_and_recipe_folder_is_in_the_wheel_config() -> None:
    """pyproject lists the code packages by hand (see its comment); recipe folders are globbed."""
    tomllib = pytest.importorskip("tomllib")
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    packages = {init.parent.relative_to(ROOT).as_posix().replace("/", ".")
                for init in (ROOT / "nlpseq").rglob("__init__.py")}
    assert packages | {"nlpseq._recipes"} == listed
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "**/*.yaml" in globs["nlpseq._recipes"]  # any recipe folder, present or future
