"""The library's front door: train from a config, load a run folder, predict and evaluate."""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import platform
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import datasets
import sentencepiece
import torch

import nlpseq
from nlpseq import distributed
from nlpseq.config import Config, config_hash, save_config, to_dict
from nlpseq.config_paths import get_value, path_keys, resolve_paths, set_value, with_resolved_paths
from nlpseq.errors import ConfigError, NlpseqError
from nlpseq.fileio import write_json
from nlpseq.logfile import LogFile
from nlpseq.models.allocation import named_allocation_failure
from nlpseq.recipes import find_recipe
from nlpseq.runfolder import RunLock, check_resume, record_changes, saved_config
from nlpseq.tasks import get_task, load_config
from nlpseq.tasks.options import GenerationOptions, OptionError, check_options
from nlpseq.training import run_files, tensorboard
from nlpseq.training.checkpoint import load_checkpoint
from nlpseq.training.device import choose_device
from nlpseq.training.summary import log_run_summary
from nlpseq.training.trainer import Trainer
from nlpseq.training.warmstart import WarmStart

log = logging.getLogger("nlpseq")


def seed_everything(seed: int) -> None:
    random.seed(seed)
    torch.manual_seed(seed)


def versions() -> dict[str, str]:
    return {"nlpseq": nlpseq.__version__, "python": platform.python_version(), "torch": torch.__version__,
            "datasets": datasets.__version__, "sentencepiece": sentencepiece.__version__}


def train(config: Config | str | Path, overrides: list[str] | dict[str, Any] | None = None,
          allow_changes: bool = False, verbose: bool = True) -> dict[str, Any]:
    """Train a recipe end to end and return its ``results.json`` contents.

    ``config`` is a :class:`Config`, a recipe name as the command line takes it (``"sentiment/tiny"``,
    ``"mr_bigru"``) or a recipe path; ``overrides`` are ``key=value`` strings or a dict of dotted keys
    (``{"trainer.lr": 3e-4}``).
    Running again with the same ``run_dir`` resumes from ``checkpoints/last.pt``; the config must then
    be the run's own, except for keys that are safe on resume (``max_epochs``, ``patience``, ...) when
    ``allow_changes`` is set. A run folder in use by another process is refused. A changed config is
    refused before anything is written; then rank 0 logs the run into ``train.log`` in its folder (a
    run that stops on bad input logs its error line there too). The run's ``config.yaml`` is written
    once its data and model are built: a first start that fails on its data leaves no config behind,
    so the corrected command starts afresh instead of being refused as a changed run.

    ``verbose`` (default): progress shows, a live bar on a terminal and a widget in a notebook
    (``trainer.progress``), and the log lines (the start-of-run summary, a step line every
    ``trainer.log_every`` steps with elapsed time and ETA, evaluations) go to stderr unless the
    caller's logging already writes to the console. ``verbose=False``: no bar and no nlpseq log lines
    on the console; ``train.log`` is written in full either way.
    """
    if not isinstance(config, Config):
        config = load_config(find_recipe(str(config)), _override_list(overrides))
    elif overrides:
        raise ValueError("overrides apply to recipe files; edit the Config object instead")
    config = _train_upstream(config, allow_changes, verbose)
    # Data and other local paths are saved absolute, so the run folder works from any directory; a
    # saved config of an earlier version kept them as typed, which are read against this directory.
    config = with_resolved_paths(config)
    run_dir = Path(config.run_dir)
    saved = saved_config(run_dir)
    saved = resolve_paths(saved, path_keys(config)) if saved is not None else None
    changes = check_resume(run_dir, saved, to_dict(config), allow_changes)
    device = choose_device(config.trainer.device)
    device = distributed.setup(device.type) or device
    rank, world = distributed.rank_and_world()
    main = rank == 0
    with _run_log(run_dir, verbose) if main else contextlib.nullcontext(), \
            RunLock(run_dir) if main else contextlib.nullcontext():
        return _train(config, run_dir, device, rank, world, changes, verbose)


def _train_upstream(config: Config, allow_changes: bool, verbose: bool) -> Config:
    """``config`` with each upstream run that is a recipe name, not a folder, replaced by that recipe's
    run folder, trained first exactly as ``nlpseq train NAME`` would (resumed when interrupted) unless
    it has finished: the runs its task names (``model.pretrained``: see
    :meth:`~nlpseq.tasks.contract.Task.upstream_keys`) and a warm start's ``trainer.init_from``. One
    command then runs the chain: pretrain, fine-tune the language model, fine-tune the task, test."""
    keys = get_task(config.task).upstream_keys(config)
    if config.trainer.init_from is not None:  # a warm start from a recipe's run: every task
        keys = (*keys, "trainer.init_from")
    if not keys:
        return config
    config = copy.deepcopy(config)
    resuming = (Path(config.run_dir) / "checkpoints" / "last.pt").is_file()
    for key in keys:
        value = str(get_value(config, key))
        if Path(value).expanduser().is_dir():
            continue  # a run folder: the task's loader checks its kind when the model is built
        if not _is_recipe(value):
            if resuming:  # the run continues from its own last.pt: the upstream folder may be gone
                continue
            # Said now, before any data is read or tokenised, not once the model is built.
            raise ConfigError(f"{key}: {value} does not exist (neither a run folder nor a recipe name; "
                              "nlpseq recipes lists the recipes)")
        upstream = load_config(find_recipe(value))
        run = Path(upstream.run_dir)
        if (run / "results.json").is_file():
            log.info("%s: recipe %s has finished in %s", key, value, run)
        else:
            log.info("%s: recipe %s has no finished run in %s: training it first", key, value, run)
            train(upstream, allow_changes=allow_changes, verbose=verbose)
        set_value(config, key, str(run))
    return config


def _is_recipe(name: str) -> bool:
    try:
        find_recipe(name)
    except NlpseqError:
        return False
    return True


def _override_list(overrides: list[str] | dict[str, Any] | None) -> list[str]:
    """``key=value`` strings from a list of them or a dict (values written as JSON, which YAML reads
    back as the same value); anything else is a TypeError, not a string read character by character."""
    if overrides is None:
        return []
    if isinstance(overrides, dict):
        return [f"{key}={json.dumps(value, default=str)}" for key, value in overrides.items()]
    if isinstance(overrides, list | tuple) and all(isinstance(item, str) for item in overrides):
        return list(overrides)
    raise TypeError(f"overrides: expected a list of 'key=value' strings or a dict of keys and values, "
                    f"got {overrides!r}")


@contextlib.contextmanager
def _run_log(run_dir: Path, verbose: bool = True) -> Iterator[None]:
    """Copy the log into ``run_dir/train.log`` (appended: a resumed run continues it) for the life of
    a training. The ``nlpseq`` loggers are opened to INFO meanwhile, so the file holds the run's story
    even when the caller configured no logging; the level is put back afterwards. The console shows
    them as :func:`_console` says."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        handler = LogFile(str(run_dir / "train.log"))  # a full disk: one line, not tracebacks
    except OSError as error:
        raise NlpseqError(f"{run_dir}: cannot use this run folder ({error.strerror or error})") from None
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S"))
    root, package = logging.getLogger(), logging.getLogger("nlpseq")
    level = package.level
    if package.getEffectiveLevel() > logging.INFO:
        package.setLevel(logging.INFO)
    root.addHandler(handler)
    try:
        with _console(verbose, handler):
            yield
    except NlpseqError as error:
        # The line the command prints goes into the file too (only there: stderr gets it from the CLI).
        handler.handle(logging.makeLogRecord({"name": "nlpseq", "levelno": logging.ERROR,
                                              "levelname": "ERROR", "msg": f"stopped: {error}"}))
        raise
    finally:
        root.removeHandler(handler)
        handler.close()
        package.setLevel(level)


@contextlib.contextmanager
def _console(verbose: bool, file_handler: logging.Handler) -> Iterator[None]:
    """The console during a training. ``verbose``: the ``nlpseq`` log lines go to stderr too, through
    a handler of their own unless the root logger already writes to the console (the CLI's, a
    script's ``logging.basicConfig``), so no line shows twice. Not ``verbose``: the ``nlpseq`` lines
    reach the run's file only, not the root's handlers, and ``datasets`` draws no progress bars."""
    package = logging.getLogger("nlpseq")
    propagate, bars = package.propagate, datasets.is_progress_bar_enabled()
    added: logging.Handler | None = None
    if not verbose:
        package.propagate, added = False, file_handler
        datasets.disable_progress_bars()
    elif not any(_is_console(h) for h in logging.getLogger().handlers):
        added = logging.StreamHandler(sys.stderr)
        added.setFormatter(file_handler.formatter)
    if added is not None:
        package.addHandler(added)
    try:
        yield
    finally:
        if added is not None:
            package.removeHandler(added)
        package.propagate = propagate
        if not verbose and bars:
            datasets.enable_progress_bars()


def _is_console(handler: logging.Handler) -> bool:
    """Whether ``handler`` writes to this process's stdout or stderr (not a file, not a test capture)."""
    return (isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler)
            and handler.stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__))


def _train(config: Config, run_dir: Path, device: torch.device, rank: int, world: int,
           changes: dict[str, tuple[Any, Any]], verbose: bool = True) -> dict[str, Any]:
    tensorboard.check_available(config.trainer.tensorboard)  # before any data is read
    seed_everything(config.trainer.seed)
    started = time.perf_counter()
    task = get_task(config.task)(config, run_dir)
    warm = _warm_start(config, run_dir, rank)
    task.prepare()
    with named_allocation_failure("model"):  # an impossible size is one line naming it, not a traceback
        model = task.build_model(training=True)
    if warm is not None:
        warm.load_weights(model)
    if rank == 0:  # data and model are good: the run now exists under this config
        save_config(config, run_dir / "config.yaml")
        record_changes(run_dir, changes)
    distributed.barrier()
    batches = task.training_batches()
    valid = task.split("valid")
    trainer = Trainer(model, config.trainer, run_dir, batches, lambda m: task.evaluate(m, valid),
                      device=device, verbose=verbose)
    if rank == 0:
        log_run_summary(task.describe(), model, f"{config.task}: {len(batches)} training batches per epoch, "
                                                f"device {device} x{world}")
    state = trainer.fit()

    model.load_state_dict(load_checkpoint(run_dir / "checkpoints" / "best.pt", device)["model"])
    model.eval()
    results: dict[str, Any] = {
        "task": config.task,
        "config_hash": config_hash(config),
        "seed": config.trainer.seed,
        "best_step": state.best_step,
        f"best_valid_{config.trainer.metric}": state.best_metric,
        "steps": state.step,
        "train_seconds": round(state.train_seconds, 1),
        "train_tokens_per_s": round(state.train_tokens / max(state.train_seconds, 1e-9), 1),
        **batches.statistics(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "device": str(device),
        "world_size": world,
        "versions": versions(),
    }
    for split in ("valid", "test"):
        try:
            data = task.split(split)
        except KeyError:
            continue  # the recipe's data has no test split
        results[split] = task.evaluate(model, data, details=True)
    results["wall_seconds"] = round(time.perf_counter() - started, 1)
    if rank == 0:
        write_json(run_dir / "results.json", results)
        task.report(results)
    distributed.teardown()
    return results


def _warm_start(config: Config, run_dir: Path, rank: int) -> WarmStart | None:
    """``trainer.init_from`` checked, its tokenizers copied in (rank 0); None when not asked for or when
    the run resumes from its own ``last.pt`` (it was warm-started at its first start)."""
    if config.trainer.init_from is None or (run_dir / "checkpoints" / "last.pt").is_file():
        return None
    warm = WarmStart.check(config.trainer.init_from, config.task, run_dir)
    if rank == 0:
        warm.copy_vocabularies(run_dir)
    distributed.barrier()
    return warm


class Predictor:
    """A trained run folder, ready to predict on raw input and to evaluate on files.

    >>> predictor = nlpseq.load("runs/mr_bigru")
    >>> predictor.predict("a gripping, beautifully acted film")
    {'label': 'positive', 'probability': 0.93, ...}
    """

    def __init__(self, run_dir: str | Path, device: str = "auto", checkpoint: str = "best"):
        self.run_dir = Path(run_dir)
        config_file = self.run_dir / "config.yaml"
        if not config_file.is_file():
            raise NlpseqError(f"{self.run_dir}: not a run folder (config.yaml is missing)")
        self.config = load_config(config_file, saved=True)  # a run of an earlier version loads too
        self.device = choose_device(device)
        self.task = get_task(self.config.task)(self.config, self.run_dir)
        self.task.restore()
        with named_allocation_failure("model"):
            self.model = self.task.build_model(training=False)
        path = self.run_dir / "checkpoints" / f"{checkpoint}.pt"
        # Checked: a dict of finite weights that fits the model the run's files build, else one line.
        run_files.load_into(self.model, path, self.device)
        self.model.to(self.device).eval()
        # The cache folder the run's config.yaml names is the training's, not this reader's: evaluate
        # tokenises into a private temporary folder instead, unless the user names another (see evaluate).
        self._saved_cache_dir = self.config.data.cache_dir

    def predict(self, inputs: str | list[str] | list[list[str]], is_split_into_words: bool = False
                ) -> dict[str, Any] | list[dict[str, Any]]:
        """Predict one input (returns a dict) or a list of inputs (returns a list, in order).

        An input is a raw text or a list of words (pre-tokenised). A tagging run tags the words as
        they are, with entity offsets into the words joined by single spaces; the other tasks join
        them with single spaces and read the result as text. A list holding lists is a batch of word
        lists (``predict([["EU", "rejects", "German", "call"]])``); a plain list of strings is a batch
        of texts, so one list of words says so: ``predict(["EU", "rejects"], is_split_into_words=True)``
        (as in Hugging Face tokenizers). Anything else is a TypeError.
        """
        single = isinstance(inputs, str) or (is_split_into_words and all(isinstance(w, str) for w in inputs))
        items = [inputs] if single else list(inputs)
        for position, item in enumerate(items, 1):
            words = isinstance(item, list | tuple) and all(isinstance(w, str) for w in item)
            if not isinstance(item, str) and not words:
                raise TypeError(f"predict: input {position} is {item!r}; expected a text (str) or a list "
                                "of words (str)")
        # Only the task knows whether it reads words (tagging) or text; joined, words are text.
        takes_words = self.task.takes_words
        items = [item if isinstance(item, str) or takes_words else " ".join(item) for item in items]
        items = [list(item) if isinstance(item, tuple) else item for item in items]
        results = self.task.predict(self.model, items)
        return results[0] if single else results

    def evaluate(self, split: str = "test", data: str | Path | None = None) -> dict[str, Any]:
        """Metrics on a split of the recipe's data, or on ``data``, a file in the recipe's format.

        Inference writes nothing outside the run: the tokenisation cache goes to a private temporary
        folder, removed on return, not to ``./data/.cache`` (the working folder may be read-only) nor to
        the ``data.cache_dir`` the run's ``config.yaml`` names (a folder of the machine it was trained
        on); a ``data.cache_dir`` the caller set on the task's config since loading is used as given.
        Without ``data``, the split's files are those the run's config names (what training scored
        into ``results.json``), refused unless each is a regular file: a FIFO or a device there would
        block or never end."""
        if data is None:
            run_files.check_saved_data(self.task.config.data, split)
        data_config = self.task.config.data
        if data_config.cache_dir != self._saved_cache_dir:  # the caller's own choice
            return self._evaluate(split, data)
        with tempfile.TemporaryDirectory(prefix="nlpseq-evaluate-") as private:
            data_config.cache_dir = private
            try:
                return self._evaluate(split, data)
            finally:
                data_config.cache_dir = self._saved_cache_dir

    def _evaluate(self, split: str, data: str | Path | None) -> dict[str, Any]:
        dataset = self.task.load_file(str(data)) if data is not None else self.task.load_split(split)
        return self.task.evaluate(self.model, dataset, details=True)

    def format(self, result: dict[str, Any]) -> str:
        """One :meth:`predict` result as a line of plain text (what ``nlpseq predict`` prints)."""
        return self.task.format_prediction(result)

    def set_options(self, **options: Any) -> None:
        """Task-specific options for later predict/evaluate calls, as keywords (classification:
        ``ensemble``, comma-separated run folders whose class probabilities are averaged with this
        run's; translation: ``beam_size``, ``length_penalty``, ``n_best``, ``attention``,
        ``plot_attention``; lm: ``dynamic_lr``, ``dynamic_decay``; see
        :data:`nlpseq.tasks.options.TASK_OPTIONS`). None means not given; an unknown name or a value out
        of range is one OptionError naming the keyword."""
        self.task.set_options(**check_options(self.task.options, options, self.task.name))

    def generate(self, prompts: str | list[str] = "", options: GenerationOptions | None = None,
                 **keywords: Any) -> list[dict[str, Any]]:
        """Continue one prompt or a list of prompts (``""``: from scratch) with generated text: one dict
        per (prompt, sample) with ``text`` (see :meth:`nlpseq.tasks.contract.Task.generate`).

        How: a :class:`~nlpseq.tasks.options.GenerationOptions`, or its fields as keywords
        (``max_new_tokens=20, top_p=0.9, seed=3``). Greedy unless sampling is asked for
        (``temperature`` > 0, ``top_k`` > 1, ``top_p`` < 1 or ``num_samples`` > 1), so
        ``beam_size=1``, ``top_k=1`` and ``temperature=0`` give the same text."""
        if options is not None and keywords:
            raise OptionError(lambda spell: f"give options or {', '.join(map(spell, sorted(keywords)))}, "
                                            "not both")
        prompts = [prompts] if isinstance(prompts, str) else list(prompts)
        return self.task.generate(self.model, prompts, options or GenerationOptions.of(**keywords))

def load(run_dir: str | Path, device: str = "auto", checkpoint: str = "best") -> Predictor:
    """Load a run folder for prediction: ``nlpseq.load("runs/x").predict("some text")``.

    ``checkpoint``: ``best``, ``last`` or ``averaged`` (written by ``nlpseq average``)."""
    return Predictor(run_dir, device, checkpoint)
