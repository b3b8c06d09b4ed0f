"""The task registry (one plain dict, one place) and recipe loading, which needs the task's sections.

Adding a task: one module with a :class:`~nlpseq.tasks.contract.Task` subclass, and one line in
:data:`TASKS`. Task modules are imported on first use, so naming tasks costs no torch import.
"""

from __future__ import annotations

import importlib
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from nlpseq.config import Config, parse_config
from nlpseq.config_files import read_values
from nlpseq.errors import ConfigError

if TYPE_CHECKING:
    from nlpseq.tasks.contract import Task

# task name -> "module:class"
TASKS: dict[str, str] = {
    "classification": "nlpseq.tasks.classification:ClassificationTask",
    "tagging": "nlpseq.tasks.tagging:TaggingTask",
    "lm": "nlpseq.tasks.language_model:LanguageModelTask",
    "translation": "nlpseq.tasks.translation:TranslationTask",
}


def get_task(name: str) -> type[Task]:
    """The task class registered as ``name``; an unknown name is a ConfigError listing the known ones."""
    if name not in TASKS:
        raise ConfigError(f"task: {name!r} is not one of {', '.join(sorted(TASKS))}")
    module, _, cls = TASKS[name].partition(":")
    return getattr(importlib.import_module(module), cls)


def load_config(path: str | Path | None, overrides: list[str] | None = None, saved: bool = False) -> Config:
    """Load a recipe (or built-in defaults when ``path`` is None) with ``key=value`` overrides.

    The task named in the recipe types its ``data`` and ``model`` sections, so a key that only another
    task uses is an unknown key; ``trainer.metric`` must be one of the task's metrics and defaults to the
    task's own, with its mode. Every error names the file and stops before any data is read.
    ``saved``: ``path`` is a run folder's own ``config.yaml``, whose keys of earlier versions are read
    as today's (:mod:`nlpseq.config_upgrade`, each one logged) instead of refused.
    """
    values = read_values(path, overrides)
    where = str(path) if path is not None else None
    name = values.get("task", Config.task)
    try:
        if not isinstance(name, str):
            raise ConfigError(f"task: expected a task name, got {name!r}")
        task = get_task(name)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}" if where else str(error)) from None
    if saved:
        from nlpseq.config_upgrade import upgrade

        values, notes = upgrade(values, Config, {"data": task.data_config, "model": task.model_config,
                                                 "tokenizer": task.tokenizer_config})
        for note in notes:
            logging.getLogger("nlpseq").info("%s: read the key of an earlier version as today's: %s",
                                             where, note)
    config = parse_config(values, task.data_config, task.model_config, where, task.tokenizer_config)
    metrics, default = task.metrics_for(config)
    trainer = config.trainer
    metric = trainer.metric or default
    if metric not in metrics:
        message = (f"trainer.metric: {metric!r} is not a metric of this {name} recipe; "
                   f"valid: {', '.join(metrics)}")
        raise ConfigError(f"{where}: {message}" if where else message)
    return replace(config, trainer=replace(trainer, metric=metric,
                                           metric_mode=trainer.metric_mode or metrics[metric]))
