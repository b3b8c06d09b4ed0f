"""An ensemble of classification runs: their class probabilities averaged (ULMFiT's forward + backward).

Howard & Ruder (2018) average the predictions of a classifier fine-tuned from a forward language model
and one fine-tuned from a backward one. Here any finished classification runs of the same label set
can be averaged with the run that is loaded: ``nlpseq evaluate RUN --ensemble OTHER[,OTHER...]``,
``nlpseq predict RUN --ensemble OTHER``, or ``nlpseq.load(RUN).set_options(ensemble="OTHER")``.

Each member reads the raw texts its own way (its tokenizer, its ``data.max_length``) with the weights
of its ``checkpoints/best.pt``, on the loaded run's device; its probabilities are put in the loaded
run's label order (the same labels, in any order), and the ensemble's probability of a class is the
plain mean of the members' (the loaded run's included). Errors name the run and say what is wrong, as
an :class:`~nlpseq.tasks.options.OptionError` (``ensemble:`` from Python, ``--ensemble:`` on the
command line).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import datasets
import torch
from torch import nn

from nlpseq.metrics.classification import classification_metrics
from nlpseq.tasks.options import OptionError
from nlpseq.training import run_files

if TYPE_CHECKING:
    from nlpseq.tasks.classification import ClassificationTask


@dataclass
class Member:
    """One other run of an ensemble, restored for inference."""

    run_dir: Path
    task: ClassificationTask  # restored from the member's own folder (tokenizer, labels, config)
    model: nn.Module  # its best.pt weights, in eval mode
    order: list[int]  # for each label of the loaded run, in its order: that label's index in this run's

    def probabilities(self, dataset: datasets.Dataset, texts: list[str] | None,
                      device: torch.device) -> torch.Tensor:
        """Class probabilities ``[N, C]`` in the loaded run's label order, for ``texts`` (raw) or, when
        None, for the ``text`` column of ``dataset`` (a split the loaded run tokenised: re-tokenised
        here with this member's tokenizer, cached as any split is)."""
        encoded = (self.task.encode_texts(texts) if texts is not None
                   else self.task.tokenize(dataset, f"ensemble member {self.run_dir}"))
        self.model.to(device)
        return self.task.probabilities(self.model, encoded)[:, self.order]


def run_folders(value: str) -> list[Path]:
    """The run folders named in an ``ensemble`` value: comma-separated, blanks around them ignored."""
    runs = [Path(part.strip()).expanduser() for part in value.split(",") if part.strip()]
    if not runs:
        raise OptionError(lambda spell: f"{spell('ensemble')}: {value!r} names no run folder")
    return runs


def load_members(value: str, owner: ClassificationTask) -> list[Member]:
    """The runs named in ``value`` (see :func:`run_folders`), each checked and restored: a folder that
    is not a finished classification run, predicts other labels, is the loaded run itself or is named
    twice stops with one OptionError naming it."""
    from nlpseq.tasks import get_task, load_config  # the registry imports the task modules lazily

    members: list[Member] = []
    seen = {owner.run_dir.resolve()}
    for run in run_folders(value):

        def refuse(problem: str, run: Path = run) -> OptionError:
            return OptionError(lambda spell: f"{spell('ensemble')}: {run}: {problem}")

        if run.resolve() in seen:
            raise refuse("is the loaded run itself" if run.resolve() == owner.run_dir.resolve()
                         else "named twice")
        seen.add(run.resolve())
        if not (run / "config.yaml").is_file():
            raise refuse("not a run folder (config.yaml is missing)")
        config = load_config(run / "config.yaml", saved=True)
        if config.task != owner.name:
            raise refuse(f"is a {config.task} run; an ensemble averages {owner.name} runs")
        checkpoint = run / "checkpoints" / "best.pt"
        if not checkpoint.is_file():
            raise refuse("has no checkpoints/best.pt (not a trained run)")
        task = get_task(config.task)(config, run)
        task.restore()
        if sorted(task.labels) != sorted(owner.labels):
            raise refuse(f"predicts the labels {', '.join(task.labels)}; the loaded run "
                         f"{', '.join(owner.labels)} (an ensemble averages the same labels)")
        model = task.build_model(training=False)
        run_files.load_into(model, checkpoint)
        members.append(Member(run, task, model.eval(), [task.labels.index(label) for label in owner.labels]))
    return members


def ensemble_report(own_run: Path, members: list[Member], each: list[torch.Tensor], gold: list[int],
                    labels: list[str]) -> dict[str, Any]:
    """What ``evaluate`` adds under ``ensemble``: the runs averaged (the loaded one first) and each
    one's own accuracy and macro-F1 on the same data, to set beside the ensemble's."""
    runs = [str(own_run), *(str(member.run_dir) for member in members)]
    scores = {}
    for run, probs in zip(runs, each, strict=True):
        metrics = classification_metrics(gold, probs.argmax(-1).tolist(), labels)
        scores[run] = {"accuracy": metrics["accuracy"], "macro_f1": metrics["macro_f1"]}
    return {"runs": runs, "members": scores}
