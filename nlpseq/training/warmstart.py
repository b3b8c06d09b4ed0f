"""Warm start (``trainer.init_from: RUN_DIR``): a fresh run that begins from a trained run of its task.

Fine-tuning on one's own data, as Joey NMT's ``load_model`` and Flair's load-then-train do. Two steps,
around the task's own ``prepare`` and ``build_model`` (which stay unaware of it):

1. before ``prepare``, the trained run's tokenizers are copied into the new run folder, so that
   ``prepare`` finds them as a resumed run would and the token ids the weights were trained on keep
   their meaning; label and tag sets are not copied: they come from the new data (a new label set of
   another size gets a new output layer, below);
2. after ``build_model``, every tensor of the trained run's ``best.pt`` whose name and shape fit the
   new model is copied into it; the rest keeps its fresh initialisation, and the log names it.

The optimizer, schedule, step counter and early stopping start anew. A run folder that already has
``checkpoints/last.pt`` resumes from it instead: the warm start happened at its first start.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from nlpseq.config_files import read_yaml
from nlpseq.errors import ConfigError, NlpseqError
from nlpseq.tokenizers import copy_tokenizer, saved_tokenizers
from nlpseq.training.run_files import load_state

log = logging.getLogger("nlpseq.train")

KEY = "trainer.init_from"


@dataclass(frozen=True)
class WarmStart:
    """A checked ``trainer.init_from`` run folder."""

    run_dir: Path

    @classmethod
    def check(cls, init_from: str | Path, task: str, run_dir: str | Path) -> WarmStart:
        """The run folder ``init_from`` after checking it can start a ``task`` run in ``run_dir``;
        ConfigError naming the key and the problem otherwise."""
        source = Path(init_from)
        config = source / "config.yaml"
        if not config.is_file():
            raise ConfigError(f"{KEY}: {source} is not a run folder (no config.yaml)")
        if not (source / "checkpoints" / "best.pt").is_file():
            raise ConfigError(f"{KEY}: {source} has no checkpoints/best.pt (has it finished an evaluation?)")
        if source.resolve() == Path(run_dir).resolve():
            raise ConfigError(f"{KEY}: {source} is this run's own folder; to resume it, run the same "
                              "command without init_from")
        trained = (read_yaml(config) or {}).get("task")
        if trained != task:
            raise ConfigError(f"{KEY}: {source} is a {trained} run; this recipe trains {task}")
        return cls(source)

    def copy_vocabularies(self, run_dir: Path) -> None:
        """Copy the trained run's tokenizers into ``run_dir`` (rank 0, before the task's ``prepare``)."""
        run_dir.mkdir(parents=True, exist_ok=True)
        for name in saved_tokenizers(self.run_dir):
            tokenizer = copy_tokenizer(self.run_dir, name, run_dir)
            log.info("warm start: tokenizer %r (%d entries) from %s", name, tokenizer.vocab_size,
                     self.run_dir)

    def load_weights(self, model: nn.Module) -> None:
        """Copy every tensor of the trained run's ``best.pt`` whose name and shape fit ``model``; log what
        was loaded and what starts fresh. ConfigError when no weight matrix fits (another architecture)."""
        # Checked: a dict of finite weights (NaN weights would "warm start" a model that predicts nan).
        try:
            trained = load_state(self.run_dir / "checkpoints" / "best.pt")
        except NlpseqError as error:  # the message names the file
            raise ConfigError(f"{KEY}: {error}") from None
        # Tensors only: a language model's extra state (the hidden state carried across windows)
        # belongs to the trained run's stream, not to the new data's; the new model keeps its own.
        own = {name: value for name, value in model.state_dict().items() if torch.is_tensor(value)}
        trained = {name: value for name, value in trained.items() if torch.is_tensor(value)}
        fits = {name: tensor for name, tensor in trained.items()
                if name in own and own[name].shape == tensor.shape}
        # Matching biases alone (an output layer's, sized by the label count) are no warm start.
        if not any(tensor.dim() >= 2 for tensor in fits.values()):
            raise ConfigError(f"{KEY}: no weight of {self.run_dir} fits this model (another architecture: "
                              "compare its config.yaml's model section with this recipe's)")
        reshaped = [f"{name} {tuple(trained[name].shape)} -> {tuple(own[name].shape)}"
                    for name in own if name in trained and name not in fits]
        fresh = [name for name in own if name not in trained]
        with torch.no_grad():
            model.load_state_dict({**model.state_dict(), **fits})
        count = sum(own[name].numel() for name in fits)
        log.info("warm start: %d of %d tensors (%d of %d values) loaded from %s", len(fits), len(own), count,
                 sum(t.numel() for t in own.values()), self.run_dir)
        if reshaped:
            log.info("warm start: new shape, trained afresh: %s", "; ".join(reshaped))
        if fresh:
            log.info("warm start: not in the trained run, trained afresh: %s", ", ".join(fresh))
