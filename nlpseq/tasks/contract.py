"""The task contract: what a task provides, and the only thing the trainer, ``api.py`` and the CLI call.

A task is one module with one :class:`Task` subclass and one line in :data:`nlpseq.tasks.TASKS`. It
owns everything that differs between the RNN shapes: the keys of its ``data`` and ``model`` config
sections, reading and checking its data, its vocabularies (saved in the run folder), its batches, its
model, its metrics, and how a prediction looks. Everything else (config parsing, the training loop,
checkpoints, run folders, the command line) is shared and never asks which task it is serving.

Life of a task object::

    training:   Task(config, run_dir) -> prepare() -> build_model(training=True) -> training_batches()
                                      -> describe() (logged) -> evaluate(model, "valid") ...
                                      -> evaluate(model, "test", details)
    inference:  Task(config, run_dir) -> restore() -> build_model(training=False) -> load weights
                                      -> [set_options(**checked options)]
                                      -> predict(model, texts) / evaluate(model, load_file(path))
                                      / generate(model, prompts, GenerationOptions)  (text-writing tasks)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch
from torch import nn

from nlpseq.config import Config, DataConfig, TokenizerConfig
from nlpseq.errors import NlpseqError
from nlpseq.tasks.options import GenerationOptions, OptionError, TaskOption
from nlpseq.training.batches import TrainingBatches
from nlpseq.training.summary import ClassCounts, DataSummary

__all__ = ["ClassCounts", "DataSummary", "Task", "TrainingBatches", "model_device"]


class Task(ABC):
    """One task family. Subclasses set the class attributes and implement the abstract methods.

    Class attributes:
        name: the registry name (``task:`` in a recipe).
        data_config: dataclass of the ``data`` section (extends :class:`DataConfig`).
        model_config: dataclass of the ``model`` section.
        tokenizer_config: dataclass of the ``tokenizer`` section (default the shared
            :class:`~nlpseq.config.TokenizerConfig`; translation's has a section per side).
        metrics: every validation metric ``evaluate`` reports, with its mode (``"max"``: larger is
            better). ``trainer.metric`` must be one of them; checked when the recipe loads.
        default_metric: the metric that picks ``best.pt`` when the recipe names none.
        options: the inference options :meth:`set_options` takes (default none); declared in
            :data:`nlpseq.tasks.options.TASK_OPTIONS`, which the command line reads without torch to
            make ``predict``/``evaluate`` flags of them.
    """

    name: ClassVar[str]
    data_config: ClassVar[type[DataConfig]]
    model_config: ClassVar[type]
    tokenizer_config: ClassVar[type] = TokenizerConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]]
    default_metric: ClassVar[str]
    options: ClassVar[tuple[TaskOption, ...]] = ()
    # predict takes lists of words as they are (pre-tokenised input; others get the words joined).
    takes_words: ClassVar[bool] = False
    # predict's input is blank-line separated blocks (CoNLL) that a batch of lines must not cut.
    input_blocks: bool = False

    def __init__(self, config: Config, run_dir: str | Path):
        self.config = config
        self.run_dir = Path(run_dir)

    @classmethod
    def upstream_keys(cls, config: Config) -> tuple[str, ...]:
        """Dotted keys of ``config`` that name another run this one starts from (``model.pretrained``).
        :func:`nlpseq.train` reads them: a value that is a recipe name, not a folder, is replaced by
        that recipe's run folder, trained first (resumable) when it has not finished. Default none."""
        return ()

    @classmethod
    def metrics_for(cls, config: Config) -> tuple[dict[str, Literal["max", "min"]], str]:
        """The metrics this recipe's evaluation reports and the default one. Most tasks always report
        the same; a task whose metrics depend on its data (entity F1 only with a tag scheme) narrows
        them here, so a wrong ``trainer.metric`` stops at load time."""
        return cls.metrics, cls.default_metric

    # ------------------------------------------------------------------------------ data
    @abstractmethod
    def prepare(self) -> None:
        """Training: read every split, build the vocabularies from train (saved in the run folder, or
        reloaded from it when resuming) and tokenise. Bad data raises DataError naming file and line."""

    @abstractmethod
    def restore(self) -> None:
        """Inference: reload vocabularies and tokenizers from the run folder alone. Reads no data and
        writes nothing (the folder may be read-only); a missing or damaged file is one
        :class:`~nlpseq.errors.DataError` naming it (see :func:`nlpseq.tasks.common.restore_labels`)."""

    @abstractmethod
    def training_batches(self) -> TrainingBatches:
        """The training split as :class:`TrainingBatches` (after :meth:`prepare`)."""

    def describe(self) -> DataSummary:
        """Training, after :meth:`prepare`: what the data holds, for the start-of-run log
        (:func:`nlpseq.training.summary.log_run_summary` adds the parameters and warns about rare
        classes). A task adds its vocabulary sizes and its class sets with their training counts
        (:class:`ClassCounts`: labels, tags, conditions) to this default, which counts the examples
        of every split :meth:`split` gives that has a length (right for any task, if bare)."""
        examples = {}
        for name in ("train", "valid", "test"):
            try:
                data = self.split(name)
            except KeyError:
                continue
            if hasattr(data, "__len__"):
                examples[name] = len(data)
        return DataSummary(examples=examples)

    @abstractmethod
    def split(self, name: str) -> Any:
        """A prepared split (``"valid"``, ``"test"``) in the form :meth:`evaluate` takes; KeyError
        when the data has no such split."""

    @abstractmethod
    def load_file(self, path: str) -> Any:
        """Any file in the recipe's format and fields, checked and tokenised, for :meth:`evaluate`."""

    @abstractmethod
    def load_split(self, name: str) -> Any:
        """Inference: split ``name`` of the recipe's data for :meth:`evaluate`, after :meth:`restore`.

        Reads that split alone (the training file may be gone; :func:`nlpseq.data.sources.load_split`
        reads train only when the validation split is carved off it) and writes nothing to the run
        folder (it may be read-only). Scored by :meth:`evaluate`, it gives the numbers training wrote
        into ``results.json``. No default: preparing everything would read and rewrite the lot.
        """

    # ------------------------------------------------------------------------------ model
    @abstractmethod
    def build_model(self, training: bool) -> nn.Module:
        """The model, sized from the vocabularies. ``model(batch)`` returns an output with ``loss``
        (the loss summed over what it predicts) and ``num_targets`` (how many things it predicted:
        tokens for sequence tasks, examples for classification); the trainer divides the first by the
        second summed over a whole optimizer step.

        ``training``: True after :meth:`prepare` (what is learnt from the training data, such as
        balanced class weights, and pretrained vectors may be read); False after :meth:`restore`,
        where the weights come from a checkpoint and no data may be read. Said by the caller, never
        guessed from what happens to be loaded (``evaluate`` after ``restore`` loads a split too)."""

    # ------------------------------------------------------------------------------ scoring
    @abstractmethod
    def evaluate(self, model: nn.Module, data: Any, details: bool = False) -> dict[str, Any]:
        """Metrics of ``model`` on ``data`` (from :meth:`split` or :meth:`load_file`): at least every
        key of :attr:`metrics`; with ``details`` also tables for ``results.json``. Every rank calls it
        under torchrun and gets the same numbers."""

    @abstractmethod
    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """One JSON-ready result per raw input text, in order.

        Every text gets its result: a text the model cannot take whole (longer than the task's
        ``data.max_length``) is cut, chunked or answered with an error record, never a reason to
        stop, since ``nlpseq predict`` streams a file batch by batch and one bad line would lose the
        rest. A warning or error about one text names its line: ``nlpseq.inputs.line_number(text,
        position)`` (a text read by :func:`nlpseq.inputs.input_batches` knows its number in the whole
        input; for a plain string, ``position`` is its 1-based place in ``texts``).

        Pre-tokenised input: a task whose ``takes_words`` is true (tagging) also gets lists of words
        among ``texts``, to use as they are (no re-segmentation); for the other tasks
        :meth:`nlpseq.api.Predictor.predict` joins a list of words with single spaces and passes the
        text."""

    @abstractmethod
    def format_prediction(self, result: dict[str, Any]) -> str:
        """One line of plain text for one :meth:`predict` result (``nlpseq predict --format text``)."""

    def report(self, results: dict[str, Any]) -> None:  # noqa: B027  (optional hook, empty by default)
        """Write extra files for a finished run (plots) into the run folder; rank 0 only."""

    def set_options(self, **options: Any) -> None:
        """Task-specific inference options for later :meth:`predict` / :meth:`evaluate` calls, e.g.
        translation's ``beam_size=5``. Values arrive checked against :attr:`options` (converted, in
        range, only those given: :func:`~nlpseq.tasks.options.check_options`, which
        :meth:`nlpseq.api.Predictor.set_options` calls); what is left to a task is how options combine
        (``n_best`` within the beam), raised as :class:`~nlpseq.tasks.options.OptionError`. A task
        with options overrides this; by default any option is refused."""
        if options:
            names = sorted(options)
            raise OptionError(lambda spell: f"{', '.join(map(spell, names))}: not an option of a "
                                            f"{self.name} run")

    def generate(self, model: nn.Module, prompts: list[str], options: GenerationOptions
                 ) -> list[dict[str, Any]]:
        """Continue each raw ``prompt`` (``""``: from the start symbol or the condition) with new text,
        ``options.num_samples`` times, batched; greedy, sampled or beam-searched as
        :class:`~nlpseq.tasks.options.GenerationOptions` says (greedy unless sampling is asked for).
        One JSON-ready dict per (prompt, sample) in order, with at least ``prompt``, ``sample`` and
        ``text``. Only tasks that write text implement it; the default says the task does not."""
        raise NlpseqError(f"task {self.name} does not generate text")


def model_device(model: nn.Module) -> torch.device:
    """The device a model's parameters live on."""
    return next(model.parameters()).device
