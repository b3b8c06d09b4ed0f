"""Typed configs: dataclasses loaded from a recipe YAML plus dotted ``key=value`` overrides.

A recipe is one YAML file whose top-level keys are the fields of :class:`Config`. Loading checks every
key and every type against the dataclasses, so a typo stops the run at once with a message naming the
key and the valid ones, instead of being ignored. Field names match the constructor arguments of the
modules they configure (``hidden_size``, ``num_layers``, ...), so a section can be splatted into the
constructor.

The ``data`` and ``model`` sections are typed by the recipe's task: each task declares its own
dataclasses, so a key another task uses is an unknown key here. This module knows no task;
:func:`nlpseq.tasks.load_config` picks the task's classes and calls :func:`parse_config`. Reading
recipe files and overrides is :mod:`nlpseq.config_files`.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import json
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import yaml

from nlpseq.errors import ConfigError
from nlpseq.fileio import write_text
from nlpseq.ranges import MAX_VOCAB, brief, local_path, matching, ranged


@dataclass
class DataConfig:
    """Where the data comes from: the keys every task shares. Each task extends this dataclass with the
    keys only it reads (fields, columns, tag schemes) and narrows ``format`` to what it can read.

    Either ``corpus`` (a named corpus fetched by ``nlpseq data fetch``, whose files fill ``train``/
    ``valid``/``test`` when those are not given), ``hub`` (a dataset name on the Hugging Face hub), or
    local files ``train``/``valid``/``test`` in ``format``.
    """

    # A named corpus (``nlpseq data list``), fetched on first use; its files fill train/valid/test
    # where those are not given.
    corpus: str | None = None
    # A dataset name on the Hugging Face hub; when set, its splits are read and train/valid/test are not.
    hub: str | None = None
    # The hub dataset's configuration (subset) name (None: the dataset's default).
    hub_config: str | None = None
    # Local training file, in ``format`` (for ``format: parallel``, the prefix of the two files).
    train: str | None = local_path()
    # Local validation file (None: the corpus's, else valid_fraction of train is held out).
    valid: str | None = local_path()
    # Local test file (None: the corpus's, else no test split).
    test: str | None = local_path()
    # Hub split read as training data (local files are mapped onto train/valid/test directly).
    train_split: str = "train"
    # Hub split read as validation data (None: valid_fraction of train is held out).
    valid_split: str | None = "validation"
    # Hub split read as test data (None: no test split).
    test_split: str | None = "test"
    # When the data has no validation split, carve this fraction off train (seeded).
    valid_fraction: float = ranged(0.1, gt=0, lt=1)
    format: str = "jsonl"
    # Longest sequence, and what each task does with a longer one: classification keeps a
    # text's first max_length tokens (every split, counted in the log, and predict); tagging counts
    # words, skips and counts longer training sentences (and those held out of train for validation)
    # and refuses them elsewhere and in predict; lm document mode keeps a document's first max_length
    # tokens (stream mode ignores it); translation has its own max_length.
    max_length: int = ranged(512, ge=1)
    # Cache folder: hub downloads (None: the ``datasets`` default) and tokenised splits (None:
    # $NLPSEQ_DATA/.cache, or data/.cache without it).
    cache_dir: str | None = local_path()


@dataclass
class TokenizerConfig:
    """One tokenizer. ``kind`` picks the implementation in :mod:`nlpseq.tokenizers`."""

    # "split" names dataset splits only; word-level keys say "segmentation" or "pretokenized".
    renamed_keys: ClassVar[dict[str, str]] = {"pre_split": "pretokenized"}

    # sentencepiece: subwords trained on the training split; word: a vocabulary of whole words;
    # char: a vocabulary of characters.
    kind: Literal["sentencepiece", "word", "char"] = "word"
    # Lower-case the text (word kind: each word after segmentation), when building the vocabulary or
    # model and at every later use.
    lowercase: bool = False
    # Language of raw text, for word segmentation (Moses rules with the language's non-breaking prefixes).
    language: str = "en"
    # Word level: the text is already tokenised (PTB, WikiText): split on whitespace only, no Moses rules.
    pretokenized: bool = False
    # sentencepiece
    # At least the 4 shared specials plus room for the characters of the text.
    vocab_size: int = ranged(8000, ge=16, le=MAX_VOCAB)
    # The sentencepiece algorithm: BPE merges or a unigram language model.
    model_type: Literal["bpe", "unigram"] = "unigram"
    # Share of the training text's characters the model covers; the rarest others become <unk>.
    character_coverage: float = ranged(1.0, gt=0, le=1)
    # word / char
    # Word level: every digit becomes 0, so numbers share entries (common for tagging).
    normalize_digits: bool = False
    # Units seen fewer times than this in the training data stay out of the vocabulary (<unk>).
    min_freq: int = ranged(1, ge=1)
    # Largest vocabulary, the 4 specials included: the most frequent units are kept (None: no cap).
    max_size: int | None = ranged(None, ge=1, le=MAX_VOCAB)
    # Take the vocabulary from this file (one unit per line; a tab and what follows are ignored)
    # instead of counting the training data: min_freq and max_size are then unused.
    vocab_file: str | None = local_path()


@dataclass
class TrainerConfig:
    """Arguments of :class:`nlpseq.training.trainer.Trainer`: optimisation, evaluation, checkpoints."""

    # asgd: SGD whose weights are averaged (Polyak-Juditsky; AWD-LSTM's NT-ASGD) from ``asgd_start``
    # steps on, or (``asgd_start`` None) once ``asgd_nonmono`` evaluations in a row did not improve;
    # the averaged weights are what is evaluated and kept as best.pt.
    optimizer: Literal["adamw", "sgd", "asgd"] = "adamw"
    # The base learning rate, which the schedule scales (warmup up to it, linear decay, plateau cuts).
    lr: float = ranged(1e-3, gt=0, lt=1e4)
    # Weight decay (AdamW's decoupled one, SGD's L2) on parameters of 2+ dimensions (weight and
    # embedding matrices); biases and other 1-D parameters get none.
    weight_decay: float = ranged(0.0, ge=0)
    # SGD momentum, for sgd and asgd (adamw does not read it).
    momentum: float = ranged(0.9, ge=0, lt=1)
    # constant, or linear (down to 0 at the last step), each after ``warmup_steps`` of linear warmup
    # (0: none); plateau: multiplied by ``plateau_factor`` when the metric stalls; slanted_triangular:
    # ULMFiT's short rise and long decay (``stlr_cut_frac``, ``stlr_ratio``; no warmup_steps).
    schedule: Literal["constant", "linear", "plateau", "slanted_triangular"] = field(
        default="constant", metadata={"renamed": {"warmup_linear": "linear"}})
    # Optimizer steps of linear warmup up to lr, for constant and linear (plateau has no warmup).
    warmup_steps: int = ranged(0, ge=0)
    # Plateau schedule: the factor the learning rate is multiplied by when the metric stalls.
    plateau_factor: float = ranged(0.5, gt=0, lt=1)
    # Plateau schedule: the learning rate is cut once more than this many evaluations in a row did not
    # improve the metric.
    plateau_patience: int = ranged(1, ge=0)
    # Stop after this many passes over the training batches (or at max_steps, whichever comes first).
    max_epochs: int = ranged(10, ge=1)
    # Stop after this many optimizer steps (None: max_epochs decides); with it, the linear schedule
    # reaches 0 at this step.
    max_steps: int | None = ranged(None, ge=1)
    # Stop training once this many wall-clock minutes (evaluations included, summed over resumes)
    # have passed, as if max_epochs had been reached: the final evaluation, best.pt and the test run
    # still happen. For fixed-time benchmarks and shared machines (fairseq's --stop-time-hours).
    max_minutes: float | None = ranged(None, gt=0)
    # Token budget per batch (padded size: rows x longest row); ``batch_size`` caps the rows.
    batch_tokens: int = ranged(2048, ge=1)
    # Most rows (examples) per batch; lm stream mode: the number of stream columns per rank, each
    # batch one bptt window of them (batch_tokens does not apply there).
    batch_size: int = ranged(64, ge=1)
    # Batches are sorted by length within shuffled pools of this many batches (bucketing).
    pool_batches: int = ranged(50, ge=1)
    # Largest gradient norm (None: no clipping).
    grad_clip: float | None = ranged(5.0, gt=0)
    # Evaluate and keep (as best.pt) an exponential moving average of the weights with this decay
    # per optimizer step (e.g. 0.998); None trains plain weights.
    ema_decay: float | None = ranged(None, gt=0, lt=1)
    # asgd: average the weights after this many optimizer steps (None: start on asgd_nonmono instead).
    asgd_start: int | None = ranged(None, ge=0)
    # asgd with asgd_start None: start averaging once this many evaluations in a row did not improve.
    asgd_nonmono: int = ranged(5, ge=1)
    # Micro-batches whose gradients add up to one optimizer step (an epoch's last batch always steps);
    # the loss is normalised over all their targets, so only memory use changes.
    grad_accum: int = ranged(1, ge=1)
    # Autocast dtype on CUDA; auto: bf16 where the GPU supports it, else fp16 (with gradient
    # scaling). On CPU and MPS every choice trains in fp32.
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    # auto: CUDA when a GPU is available, else CPU (MPS only when named); under torchrun with CUDA
    # each rank uses cuda:LOCAL_RANK. N has at most 4 digits (cuda:99999999999999999999 is no device).
    device: str = matching("auto", r"auto|cpu|cuda(:\d{1,4})?|mps", "a device (auto, cpu, cuda, cuda:N, mps)")
    # Evaluate every N optimizer steps (None: at the end of each epoch).
    eval_every: int | None = ranged(None, ge=1)
    # Also keep the weights of the last N evaluations as checkpoints/step-XXXXXXX.pt, for
    # `nlpseq average RUN_DIR --last N` (0: keep none).
    keep_checkpoints: int = ranged(0, ge=0)
    # The validation metric that picks best.pt; None: the task's own (each task lists its metrics).
    metric: str | None = None
    # Whether a larger metric is better; None: the task's mode for that metric.
    metric_mode: Literal["max", "min"] | None = None
    # Stop early once more than this many evaluations in a row did not improve the metric (None: never).
    patience: int | None = ranged(None, ge=0)
    # Seeds Python's and torch's RNGs (initialisation, dropout), the batch order (seed + epoch), the
    # validation share held out of train and lm's random BPTT lengths.
    seed: int = ranged(13, ge=0, lt=2**63)
    # DataLoader worker processes for length-bucketed batches (0: the main process); lm stream mode
    # does not use a DataLoader.
    num_workers: int = ranged(0, ge=0, le=1024)
    # Log the training loss, learning rate and tokens/s every N optimizer steps (and at each epoch's end).
    log_every: int = ranged(50, ge=1)
    # Stop with an error after this many optimizer steps in a row whose loss or gradient is not
    # finite (each such step is skipped: the weights never take a NaN).
    max_bad_steps: int = ranged(10, ge=1)
    # Show a live progress bar (rank 0) where someone watches: a terminal, or a widget in a Jupyter
    # notebook; nlpseq.train(verbose=False) hides it.
    progress: bool = True
    # Also write the rows of metrics.jsonl as TensorBoard scalars into run_dir/tensorboard/ (rank 0;
    # needs the ``tensorboard`` extra).
    tensorboard: bool = False
    # Warm start: a trained run folder of the same task whose vocabularies and weights (every tensor
    # whose name and shape fit this model) start a fresh run; the optimizer and schedule start anew.
    # A recipe name instead of a folder: that recipe is trained first when it has not finished.
    init_from: str | None = local_path()
    # Discriminative learning rates (ULMFiT: 2.6): the model's layer groups counted from the top (the
    # output layer, then each encoder layer down, then the embedding), group k trains at
    # lr / layer_lr_decay**k, so layers a pretrained model already taught move less. 1: one rate for all.
    layer_lr_decay: float = ranged(1.0, ge=1)
    # Gradual unfreezing (ULMFiT): epoch 0 trains only the top layer group (the output layer), each
    # later epoch one group more down to the embedding; frozen ones are not updated at all.
    gradual_unfreezing: bool = False
    # slanted_triangular: the share of the run's steps over which the rate rises from lr / stlr_ratio
    # to lr (ULMFiT: 0.1); it then falls back to lr / stlr_ratio at the last step.
    stlr_cut_frac: float = ranged(0.1, gt=0, lt=1)
    # slanted_triangular: how much smaller the lowest rate is than lr (ULMFiT: 32).
    stlr_ratio: float = ranged(32.0, ge=1)

    def __post_init__(self) -> None:
        if self.optimizer == "asgd" and self.ema_decay is not None:
            raise ConfigError("trainer.ema_decay and trainer.optimizer=asgd both average the weights; "
                              "choose one")
        if self.schedule == "slanted_triangular" and self.warmup_steps:
            raise ConfigError("trainer.warmup_steps: the slanted_triangular schedule warms up itself "
                              "(over trainer.stlr_cut_frac of the steps); set warmup_steps to 0")


@dataclass
class Config:
    """A whole recipe. ``data`` and ``model`` are the dataclasses of the recipe's task (see
    :func:`parse_config`); this module knows no task."""

    # The task (classification, tagging, lm, translation); it types the data and model sections.
    task: str = "classification"
    # A recipe file that sets none gets runs/<folder>_<stem> (see default_run_dir); no recipe at all,
    # this.
    run_dir: str = matching("runs/default", r".*\S.*", "a folder name (it is empty)")
    data: Any = None
    tokenizer: TokenizerConfig = field(default_factory=TokenizerConfig)
    model: Any = None
    trainer: TrainerConfig = field(default_factory=TrainerConfig)


# ---------------------------------------------------------------------------------------------------
# Parsing: dicts -> dataclasses with type checks


def _type_name(tp: Any) -> str:
    # typing.Union/Optional carry a __name__ ("Optional") that hides the options, Literal values included.
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(option) for option in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if origin is None and isinstance(tp, type):
        return tp.__name__
    return str(tp).replace("typing.", "")


def _coerce(value: Any, tp: Any, key: str) -> Any:
    """Check ``value`` against the annotation ``tp`` and convert where lossless (int -> float)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError:
                continue
        raise ConfigError(f"{key}: expected {_type_name(tp)}, got {brief(value)}")
    if origin is Literal:
        allowed = typing.get_args(tp)
        if value not in allowed:
            raise ConfigError(f"{key}: {brief(value)} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin is list:
        (item_type,) = typing.get_args(tp)
        if not isinstance(value, list):
            raise ConfigError(f"{key}: expected a list, got {brief(value)}")
        return [_coerce(item, item_type, f"{key}[{i}]") for i, item in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {brief(value)}")
        _, value_type = typing.get_args(tp)
        return {k: _coerce(v, value_type, f"{key}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        return from_dict(tp, value, prefix=key)
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{key}: expected a finite number, got {brief(value)}")
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {brief(value)}")
    if tp in (int, float, str):
        if isinstance(value, tp) and not isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected {tp.__name__}, got {brief(value)} ({type(value).__name__})")
    raise ConfigError(f"{key}: unsupported config type {_type_name(tp)}")


def from_dict(cls: type, values: dict[str, Any] | None, prefix: str = "",
              sections: dict[str, type] | None = None) -> Any:
    """Build dataclass ``cls`` from ``values``; unknown keys and wrong types raise ConfigError.

    ``sections`` replaces the declared type of some fields (a task's ``data`` and ``model`` classes).
    """
    values = values or {}
    where = prefix or cls.__name__
    if not isinstance(values, dict):
        raise ConfigError(f"{where}: expected a mapping of keys, got {brief(values)}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = [k for k in values if k not in names]
    # Keys of earlier versions (ClassVar ``renamed_keys``: old key -> new dotted key) name their successor.
    # ``moved_keys``: old key -> its dotted key from the top of the recipe (it moved to another section).
    renamed_keys, moved_keys = getattr(cls, "renamed_keys", {}), getattr(cls, "moved_keys", {})
    for key in unknown:
        if key in renamed_keys:
            raise ConfigError(f"{_join(prefix, key)} is now {_join(prefix, renamed_keys[key])}")
        if key in moved_keys:
            raise ConfigError(f"{_join(prefix, key)} is now {moved_keys[key]}")
    if unknown:
        # A near miss (max_epoch, hiden_size) names the key meant before the list to choose from.
        close = difflib.get_close_matches(unknown[0], names, n=1)
        meant = f" (did you mean {_join(prefix, close[0])}?)" if close else ""
        raise ConfigError(
            f"unknown key {brief(_join(prefix, unknown[0]))}{meant}; "
            f"valid keys{' in ' + prefix if prefix else ''}: " + ", ".join(names)
        )
    kwargs = {}
    fields = {f.name: f for f in dataclasses.fields(cls)}
    checks = {name: f.metadata.get("check") for name, f in fields.items()}
    # A nested section given as a mapping starts from ClassVar ``section_defaults`` (a task whose defaults
    # for a shared section differ from the section class's own), then takes the keys given.
    starts = getattr(cls, "section_defaults", {})
    for name in names:
        if name not in values:
            continue
        renamed = fields[name].metadata.get("renamed", {})
        if isinstance(values[name], str) and values[name] in renamed:
            # An old recipe stops with the new spelling, rather than a list of values to guess from.
            raise ConfigError(f"{_join(prefix, name)}: {brief(values[name])} is now called "
                              f"{renamed[values[name]]!r}; write {name}: {renamed[values[name]]}")
        raw = values[name]
        if name in starts and isinstance(raw, dict):
            raw = {**starts[name], **raw}
        value = _coerce(raw, (sections or {}).get(name, hints[name]), _join(prefix, name))
        problem = checks[name](value) if checks[name] is not None and value is not None else None
        if problem is not None:
            raise ConfigError(f"{_join(prefix, name)}: {problem}")
        kwargs[name] = value
    return cls(**kwargs)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def to_dict(obj: Any) -> Any:
    """Dataclass -> plain nested dict (YAML/JSON safe)."""
    return dataclasses.asdict(obj) if dataclasses.is_dataclass(obj) else obj


def parse_config(values: dict[str, Any], data: type, model: type, where: str | None = None,
                 tokenizer: type = TokenizerConfig) -> Config:
    """Typed :class:`Config` from raw values; ``data``/``model`` (and ``tokenizer``, a
    :class:`TokenizerConfig` or a subclass) are the task's section dataclasses.

    Errors name ``where`` (the recipe file) first. Which task's sections apply is the caller's
    business (:func:`nlpseq.tasks.load_config`): this module knows no task.
    """
    values = dict(values)
    values.setdefault("data", {})
    values.setdefault("model", {})
    try:
        return from_dict(Config, values, sections={"data": data, "model": model, "tokenizer": tokenizer})
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}" if where is not None else str(error)) from None


def save_config(config: Config, path: str | Path) -> None:
    """Written atomically: a full disk or a kill never leaves a half-written config.yaml."""
    write_text(path, yaml.safe_dump(to_dict(config), sort_keys=False))


def config_hash(config: Config) -> str:
    """A short stable hash of everything that shapes results (run_dir excluded)."""
    values = to_dict(config)
    values.pop("run_dir", None)
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:12]
