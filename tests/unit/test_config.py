"""Typed configs: YAML + dotted overrides, exact errors, round trips, and every recipe in the repo."""

from dataclasses import fields
from pathlib import Path

import pytest

from nlpseq.config import Config, TrainerConfig, config_hash, save_config
from nlpseq.errors import ConfigError
from nlpseq.models.classifier import ClassifierConfig
from nlpseq.tasks import TASKS, get_task, load_config
from nlpseq.tasks.classification import ClassificationDataConfig
from tests.helpers import ROOT

RECIPES = sorted(ROOT.glob("recipes/**/*.yaml"))

RECIPE_YAML = """\
task: classification
run_dir: runs/test
data:
  format: csv
  text_field: review
tokenizer:
  kind: char
model:
  encoder:
    rnn_type: gru
    hidden_size: 32
  pooling: mean
trainer:
  lr: 0.01
  max_epochs: 2
"""


def write(tmp_path: Path, text: str, name: str = "recipe.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def config_error(path: Path | None, overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        load_config(path, overrides)
    return str(info.value)


def test_yaml_values_land_in_typed_sections(tmp_path):
    config = load_config(write(tmp_path, RECIPE_YAML))
    assert config.task == "classification"
    assert config.run_dir == "runs/test"
    assert config.data.format == "csv"
    assert config.data.text_field == "review"
    assert config.data.label_field == "label"  # default kept
    assert config.tokenizer.kind == "char"
    assert isinstance(config.model, ClassifierConfig)
    assert config.model.encoder.rnn_type == "gru"
    assert config.model.encoder.hidden_size == 32
    assert config.model.encoder.num_layers == 1  # default kept
    assert config.model.pooling == "mean"
    assert config.trainer.lr == 0.01
    assert config.trainer.max_epochs == 2


def test_no_file_gives_the_defaults():
    config = load_config(None)
    # The trainer's metric and mode are filled from the task: classification picks by accuracy.
    assert config == Config(data=ClassificationDataConfig(), model=ClassifierConfig(),
                            trainer=TrainerConfig(metric="accuracy", metric_mode="max"))


def test_a_key_of_another_tasks_data_section_is_unknown():
    message = config_error(None, ["data.tag_scheme=IOB2"])
    assert message.startswith("unknown key 'data.tag_scheme'; valid keys in data: corpus, hub, ")
    assert message.endswith("text_field, label_field, label_names, train_fraction, train_fraction_seed")


def test_a_key_of_another_tasks_model_section_is_unknown():
    message = config_error(None, ["model.head=crf"])
    assert message == ("unknown key 'model.head'; valid keys in model: "
                       "embedding, encoder, pretrained, pooling, dropout, class_weights")


def test_a_metric_the_task_does_not_produce_is_refused_at_load_time(tmp_path):
    path = write(tmp_path, "task: classification\ntrainer:\n  metric: f1\n")
    assert config_error(path, []) == (f"{path}: trainer.metric: 'f1' is not a metric of this "
                                      "classification recipe; valid: accuracy, macro_f1")


def test_tagging_metric_depends_on_the_tag_scheme():
    pos = load_config(None, ["task=tagging"])
    assert (pos.trainer.metric, pos.trainer.metric_mode) == ("accuracy", "max")
    ner = load_config(None, ["task=tagging", "data.tag_scheme=IOB2"])
    assert (ner.trainer.metric, ner.trainer.metric_mode) == ("f1", "max")
    assert config_error(None, ["task=tagging", "trainer.metric=f1"]) == (
        "trainer.metric: 'f1' is not a metric of this tagging recipe; valid: accuracy")


def test_an_explicit_metric_mode_is_kept():
    config = load_config(None, ["trainer.metric=macro_f1", "trainer.metric_mode=min"])
    assert (config.trainer.metric, config.trainer.metric_mode) == ("macro_f1", "min")


def test_every_task_declares_its_sections_and_metrics():
    for name in TASKS:
        task = get_task(name)
        assert task.name == name
        assert task.default_metric in task.metrics
        assert set(task.metrics.values()) <= {"max", "min"}


def test_dotted_overrides(tmp_path):
    config = load_config(write(tmp_path, RECIPE_YAML), [
        "trainer.lr=3e-4",
        "model.encoder.hidden_size=64",
        "data.label_names=[a,b]",
        f"run_dir={tmp_path / 'run'}",
        "trainer.max_steps=100",
        "trainer.grad_clip=null",
    ])
    assert config.trainer.lr == 0.0003
    assert type(config.trainer.lr) is float
    assert config.model.encoder.hidden_size == 64
    assert config.model.encoder.rnn_type == "gru"  # siblings from the file survive
    assert config.data.label_names == ["a", "b"]
    assert config.run_dir == str(tmp_path / "run")
    assert config.trainer.max_steps == 100
    assert config.trainer.grad_clip is None


def test_override_creates_a_section_missing_from_the_file(tmp_path):
    config = load_config(write(tmp_path, "task: classification\n"), ["model.encoder.hidden_size=8"])
    assert config.model.encoder.hidden_size == 8


def test_exponent_without_a_dot_is_a_float_in_a_file_too(tmp_path):
    # YAML 1.1 alone reads "3e-4" as a string; a recipe must accept what an override accepts.
    config = load_config(write(tmp_path, "trainer:\n  lr: 3e-4\n  weight_decay: 1E-2\n"))
    assert config.trainer.lr == 0.0003
    assert config.trainer.weight_decay == 0.01


def test_int_is_coerced_to_float(tmp_path):
    config = load_config(write(tmp_path, "trainer:\n  lr: 1\n  grad_clip: 2\n"), ["trainer.weight_decay=0"])
    assert config.trainer.lr == 1.0 and type(config.trainer.lr) is float
    assert config.trainer.grad_clip == 2.0 and type(config.trainer.grad_clip) is float
    assert type(config.trainer.weight_decay) is float


def test_unknown_top_level_key_names_it_and_the_valid_keys(tmp_path):
    path = write(tmp_path, "task: classification\ntrainr:\n  lr: 0.1\n")
    message = config_error(path, [])
    assert message == (f"{path}: unknown key 'trainr' (did you mean trainer?); "
                       "valid keys: task, run_dir, data, tokenizer, model, trainer")


def test_unknown_nested_key_names_it_and_the_section_keys():
    message = config_error(None, ["trainer.lrr=1"])
    valid = ", ".join(f.name for f in fields(TrainerConfig))
    assert valid.startswith("optimizer, lr, weight_decay, ")
    assert message == f"unknown key 'trainer.lrr' (did you mean trainer.lr?); valid keys in trainer: {valid}"


def test_unknown_key_in_the_model_section(tmp_path):
    path = write(tmp_path, "model:\n  encoder:\n    hiden_size: 3\n")
    message = config_error(path, [])
    assert message == (f"{path}: unknown key 'model.encoder.hiden_size' "
                       "(did you mean model.encoder.hidden_size?); valid keys in model.encoder: "
                       "rnn_type, hidden_size, num_layers, bidirectional, dropout, locked_dropout, "
                       "weight_drop")


@pytest.mark.parametrize(("override", "expected"), [
    ("trainer.max_epochs=abc", "trainer.max_epochs: expected int, got 'abc' (str)"),
    ("trainer.lr=true", "trainer.lr: expected float, got True (bool)"),
    ("trainer.progress=1", "trainer.progress: expected true or false, got 1"),
    ("trainer.batch_size=2.5", "trainer.batch_size: expected int, got 2.5 (float)"),
    ("trainer.grad_clip=abc", "trainer.grad_clip: expected float | None, got 'abc'"),
    ("data.label_names=[a,1]", "data.label_names: expected list[str] | None, got ['a', 1]"),
    ("data=3", "data: expected a mapping of keys, got 3"),
])
def test_wrong_type_names_the_key(override, expected):
    assert config_error(None, [override]) == expected


def test_wrong_type_in_a_file_names_the_file(tmp_path):
    path = write(tmp_path, "trainer:\n  max_epochs: many\n")
    assert config_error(path, []) == f"{path}: trainer.max_epochs: expected int, got 'many' (str)"


def test_literal_violation_lists_the_allowed_values():
    message = config_error(None, ["model.encoder.rnn_type=rnn"])
    assert message == "model.encoder.rnn_type: 'rnn' is not one of 'gru', 'lstm'"


def test_optional_literal_violation_lists_the_allowed_values():
    message = config_error(None, ["task=tagging", "data.tag_scheme=IOB3"])
    assert message == "data.tag_scheme: expected Literal['IOB1', 'IOB2', 'IOBES'] | None, got 'IOB3'"


def test_unknown_task_lists_the_tasks(tmp_path):
    assert "classification" in TASKS
    assert config_error(None, ["task=parsing"]) == f"task: 'parsing' is not one of {', '.join(sorted(TASKS))}"
    path = write(tmp_path, "task: parsing\n")
    assert config_error(path, []) == f"{path}: task: 'parsing' is not one of {', '.join(sorted(TASKS))}"


def test_invalid_yaml_names_the_file_and_line(tmp_path):
    path = write(tmp_path, "task: classification\ntrainer:\n  lr: [0.1\n  max_epochs: 2\n")
    message = config_error(path, [])
    assert message.startswith(f"{path}:4: invalid YAML")


def test_yaml_that_is_not_a_mapping(tmp_path):
    path = write(tmp_path, "- a\n- b\n")
    assert config_error(path, []) == f"{path}: a config must be a mapping of sections, got list"


def test_missing_file(tmp_path):
    path = tmp_path / "nope.yaml"
    assert config_error(path, []) == f"{path}: config file not found"


@pytest.mark.parametrize(("override", "expected"), [
    ("trainer.lr", "override 'trainer.lr' must look like key=value (e.g. trainer.lr=0.001)"),
    ("=3", "override '=3' has no key"),
    ("trainer.lr.x=1", "override 'trainer.lr.x=1': 'lr' is not a section"),
])
def test_malformed_override(tmp_path, override, expected):
    path = write(tmp_path, "trainer:\n  lr: 0.1\n")
    assert config_error(path, [override]) == expected


def test_save_then_load_round_trips(tmp_path):
    config = load_config(write(tmp_path, RECIPE_YAML), [
        "trainer.lr=3e-4", "data.label_names=[neg,pos]", "model.class_weights=[1,2.5]",
        "trainer.max_steps=7",
    ])
    save_config(config, tmp_path / "saved.yaml")
    again = load_config(tmp_path / "saved.yaml")
    assert again == config
    assert again.model.class_weights == [1.0, 2.5]
    assert config != load_config(write(tmp_path, RECIPE_YAML))  # the overrides did change something


def test_config_hash_ignores_run_dir_but_not_lr():
    base = load_config(None, ["run_dir=a"])
    assert len(config_hash(base)) == 12
    assert config_hash(load_config(None, ["run_dir=b"])) == config_hash(base)
    assert config_hash(load_config(None, ["run_dir=a", "trainer.lr=0.5"])) != config_hash(base)
    assert config_hash(load_config(None, ["run_dir=a", "model.encoder.hidden_size=7"])) != config_hash(base)


def test_there_are_recipes():
    assert RECIPES, "no recipes/**/*.yaml found"


@pytest.mark.parametrize("recipe", RECIPES, ids=[str(p.relative_to(ROOT)) for p in RECIPES])
def test_every_recipe_loads(recipe):
    config = load_config(recipe)
    task = get_task(config.task)
    assert isinstance(config.model, task.model_config)
    assert isinstance(config.data, task.data_config)
    assert config.trainer.metric in task.metrics_for(config)[0]


@pytest.mark.parametrize(("override", "expected"), [
    ("trainer.batch_size=0", "trainer.batch_size: 0 is out of range; allowed: >= 1"),
    ("trainer.batch_size=-1", "trainer.batch_size: -1 is out of range; allowed: >= 1"),
    ("trainer.batch_tokens=0", "trainer.batch_tokens: 0 is out of range; allowed: >= 1"),
    ("trainer.lr=-1", "trainer.lr: -1.0 is out of range; allowed: > 0 and < 10000.0"),
    ("trainer.lr=1e300", "trainer.lr: 1e+300 is out of range; allowed: > 0 and < 10000.0"),
    ("trainer.lr=.nan", "trainer.lr: expected a finite number, got nan"),
    ("trainer.lr=.inf", "trainer.lr: expected a finite number, got inf"),
    ("trainer.grad_accum=0", "trainer.grad_accum: 0 is out of range; allowed: >= 1"),
    ("trainer.grad_accum=-1", "trainer.grad_accum: -1 is out of range; allowed: >= 1"),
    ("trainer.log_every=0", "trainer.log_every: 0 is out of range; allowed: >= 1"),
    ("trainer.eval_every=-1", "trainer.eval_every: -1 is out of range; allowed: >= 1"),
    ("trainer.max_epochs=0", "trainer.max_epochs: 0 is out of range; allowed: >= 1"),
    ("trainer.grad_clip=-1", "trainer.grad_clip: -1.0 is out of range; allowed: > 0"),
    ("trainer.ema_decay=2", "trainer.ema_decay: 2.0 is out of range; allowed: > 0 and < 1"),
    ("trainer.num_workers=-1", "trainer.num_workers: -1 is out of range; allowed: >= 0 and <= 1024"),
    ("trainer.seed=100000000000000000000000",
     "trainer.seed: 100000000000000000000000 is out of range; allowed: >= 0 and < 9223372036854775808"),
    ("trainer.device=bogus", "trainer.device: 'bogus' is not a device (auto, cpu, cuda, cuda:N, mps)"),
    ("model.encoder.hidden_size=0",
     "model.encoder.hidden_size: 0 is out of range; allowed: >= 1 and <= 16384"),
    ("model.encoder.num_layers=0", "model.encoder.num_layers: 0 is out of range; allowed: >= 1 and <= 64"),
    ("model.dropout=1.5", "model.dropout: 1.5 is out of range; allowed: >= 0 and < 1"),
    ("data.max_length=0", "data.max_length: 0 is out of range; allowed: >= 1"),
    ("tokenizer.vocab_size=5", "tokenizer.vocab_size: 5 is out of range; allowed: >= 16 and <= 2000000"),
    ("run_dir=", "run_dir: '' is not a folder name (it is empty)"),
])
def test_values_out_of_range_are_one_line_naming_key_and_range(override: str, expected: str) -> None:
    assert config_error(None, [override]) == expected


def test_every_numeric_config_field_of_every_section_declares_its_range() -> None:
    """Ranges are declared beside the fields: a new number without one is a decision to make."""
    import dataclasses
    import typing

    from nlpseq.config import TokenizerConfig
    from nlpseq.models.embedding import EmbeddingConfig
    from nlpseq.models.encoder import EncoderConfig

    sections = [TrainerConfig, TokenizerConfig, EmbeddingConfig, EncoderConfig]
    for name in TASKS:
        task = get_task(name)
        sections += [task.data_config, task.model_config]
    unbounded = []
    for section in sections:
        hints = typing.get_type_hints(section)
        for item in dataclasses.fields(section):
            numeric = hints[item.name] in (int, float, int | None, float | None)
            if numeric and "check" not in item.metadata and item.name not in ("token_column", "tag_column"):
                unbounded.append(f"{section.__name__}.{item.name}")
    assert not unbounded, f"numeric fields without a declared range: {unbounded}"


def test_a_recipe_that_is_not_utf8_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("task: classification\n# r\xe9sum\xe9\n".encode("latin-1"))
    assert config_error(path, []) == f"{path}: not UTF-8 (byte 0xe9 on line 2); save the recipe as UTF-8"


def test_plain_text_for_classification_says_it_has_no_labels() -> None:
    assert config_error(None, ["data.format=text"]) == (
        "data.format: 'text' is not a labelled format (jsonl, csv or tsv); plain text has no labels")


def test_warmup_linear_is_refused_with_one_line_naming_linear(tmp_path: Path) -> None:
    path = write(tmp_path, "task: classification\ntrainer:\n  schedule: warmup_linear\n  warmup_steps: 10\n")
    assert config_error(path, []) == (
        f"{path}: trainer.schedule: 'warmup_linear' is now called 'linear'; write schedule: linear")
    refused = config_error(None, ["trainer.schedule=warmup_linear"])
    assert refused.startswith("trainer.schedule: 'warmup_linear'")
    linear = load_config(path, ["trainer.schedule=linear"]).trainer
    assert (linear.schedule, linear.warmup_steps) == ("linear", 10)


def test_no_recipe_uses_a_renamed_value() -> None:
    import dataclasses

    renamed = {f.name: f.metadata["renamed"] for f in dataclasses.fields(TrainerConfig)
               if "renamed" in f.metadata}
    assert renamed == {"schedule": {"warmup_linear": "linear"}}
    # load_config over every recipe (above) would refuse one; this says which, and that none is left.
    assert not [p for p in RECIPES if "schedule: warmup_linear" in p.read_text(encoding="utf-8")]


def test_run_dir_defaults_to_the_recipe_folder_and_stem(tmp_path: Path) -> None:
    folder = tmp_path / "sentiment"
    folder.mkdir()
    bare = write(folder, "task: classification\n", "small.yaml")
    assert load_config(bare).run_dir == "runs/sentiment_small"
    assert load_config(bare, ["run_dir=elsewhere"]).run_dir == "elsewhere"  # an override still wins
    assert load_config(write(folder, "run_dir: runs/mine\n", "own.yaml")).run_dir == "runs/mine"
    assert load_config(None).run_dir == "runs/default"  # no recipe file: nothing to name it after
    # The tiny recipes keep the run folders they set.
    assert load_config(ROOT / "recipes/sentiment/tiny.yaml").run_dir == "runs/tiny"


def test_nlpseq_recipes_reads_yaml_as_nlpseq_train_does(tmp_path: Path) -> None:
    """One loader: 1e-3 is a float in both (plain yaml.safe_load would read the string '1e-3')."""
    from nlpseq.config_files import read_values
    from nlpseq.recipes import _read

    path = write(tmp_path, "task: classification\ntrainer:\n  lr: 1e-3\n  metric: accuracy\n")
    assert _read(path)["trainer"]["lr"] == read_values(path)["trainer"]["lr"] == 0.001
    latin = tmp_path / "latin1.yaml"
    latin.write_bytes("task: lm\n# r\xe9sum\xe9\n".encode("latin-1"))
    with pytest.raises(ConfigError) as listed:
        _read(latin)
    assert str(listed.value) == config_error(latin, []) == (
        f"{latin}: not UTF-8 (byte 0xe9 on line 2); save the recipe as UTF-8")
