"""Task registry: one plain dict, one place. Each task module owns its data, model and metrics glue."""

from __future__ import annotations

from nlpseq.config import MODEL_CONFIGS
from nlpseq.tasks.classification import ClassificationTask
from nlpseq.tasks.tagging import TaggingTask

TASKS: dict[str, type] = {
    "classification": ClassificationTask,
    "tagging": TaggingTask,
}

for _name, _task in TASKS.items():
    MODEL_CONFIGS[_name] = _task.model_config
