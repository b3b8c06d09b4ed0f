"""The tagging task's side of ``model.lm_features`` (TagLM): open and check the ``lm`` runs, keep what
inference needs in the tagging run folder, give each word through each language model's own
tokenizer, and build the :class:`~nlpseq.models.lm_features.LMFeatures` with the trained weights.

The tagging run folder holds, per direction (``forward``/``backward``)::

    lm_forward_tokenizer.json   the language model's tokenizer (its lowercasing, its vocabulary, <unk>)
    lm_forward.json             its source run, reading direction, start token, vocabulary size and
                                model section: enough to rebuild the language model's layers

so a finished run evaluates and predicts without the ``lm`` run folders; their weights are in the
tagger's own checkpoints. Only word-level language models are read: a sentencepiece or char model
would need one state per word out of several pieces, and is refused with one ConfigError.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nlpseq import distributed
from nlpseq.config import Config, from_dict, to_dict
from nlpseq.errors import ConfigError, DataError, NlpseqError
from nlpseq.fileio import write_json
from nlpseq.models.language_model import LanguageModelConfig
from nlpseq.models.lm_features import LMFeatures, LMFeaturesConfig, LMReader
from nlpseq.tokenizers import BOS_ID, EOS_ID, UNK_ID, Tokenizer, load_tokenizer
from nlpseq.training.pretrained import LanguageModelRun, starts_from_pretrained
from nlpseq.training.run_files import read_json

log = logging.getLogger("nlpseq.model")


def key_of(direction: str) -> str:
    """The config key naming the language model read in ``direction``."""
    return f"model.lm_features.{direction}"


def upstream_keys(config: Config) -> tuple[str, ...]:
    """The keys of ``model.lm_features`` that name a run (or a recipe to train first)."""
    features: LMFeaturesConfig | None = config.model.lm_features
    return tuple(key_of(direction) for direction in features.runs()) if features is not None else ()


@dataclass
class LMInput:
    """One language model as the task uses it: its tokenizer and what rebuilds its layers."""

    direction: str  # "forward" or "backward"
    tokenizer: Tokenizer
    spec: dict[str, Any]  # lm_DIRECTION.json: source, reverse, start_id, vocab_size, model
    state: dict[str, Any] | None = field(default=None, repr=False)  # best.pt's weights (new runs)

    @property
    def batch_key(self) -> str:
        return f"lm_{self.direction}_ids"

    def encode(self, words: list[str]) -> list[int]:
        """One id per word in the language model's vocabulary (normalised as it was trained; <unk> for
        the words it does not know)."""
        return [pieces[0] if pieces else UNK_ID for pieces in self.tokenizer.encode_words(words)]

    def reader(self) -> LMReader:
        model = from_dict(LanguageModelConfig, self.spec["model"], prefix=key_of(self.direction))
        return LMReader(self.spec["vocab_size"], model, self.spec["reverse"], self.spec["start_id"])


def _names(direction: str) -> tuple[str, str]:
    """(tokenizer name, spec file name) in the tagging run folder."""
    return f"lm_{direction}_tokenizer", f"lm_{direction}.json"


def open_lm_run(path: str | Path, direction: str) -> LMInput:
    """Check the ``lm`` run at ``path`` for ``direction``: a missing folder, a run of another task, a
    model reading the other way, a non-word or conditioned model is one ConfigError naming the key."""
    from nlpseq.tasks import load_config  # the registry imports this task's module

    key = key_of(direction)
    lm = LanguageModelRun.open(path, key)
    if lm.reverse != (direction == "backward"):
        reads, other = ("right to left (data.reverse: true)", "backward") if lm.reverse \
            else ("left to right (no data.reverse)", "forward")
        raise ConfigError(f"{key}: {lm.run_dir} reads {reads}: name it as model.lm_features.{other}")
    if getattr(lm.tokenizer, "kind", None) != "word":
        raise ConfigError(f"{key}: {lm.run_dir} is a {getattr(lm.tokenizer, 'kind', '?')} language model; "
                          "model.lm_features reads word-level ones only (tokenizer.kind: word)")
    try:
        saved = load_config(lm.run_dir / "config.yaml", saved=True)
    except NlpseqError as error:
        raise ConfigError(f"{key}: {error}") from None
    if saved.data.condition_field is not None:
        raise ConfigError(f"{key}: {lm.run_dir} is conditioned on data.condition_field; model.lm_features "
                          "reads unconditioned language models only")
    spec = {"source": str(lm.run_dir), "reverse": lm.reverse,
            # The token every line starts from in its training (LanguageModelTask.score does the same).
            "start_id": BOS_ID if saved.data.line_mode == "document" else EOS_ID,
            "vocab_size": lm.tokenizer.vocab_size, "model": to_dict(saved.model)}
    return LMInput(direction, lm.tokenizer, spec, lm.state)


def prepare_lm_inputs(run_dir: Path, features: LMFeaturesConfig | None) -> dict[str, LMInput]:
    """Training: the language models of ``features``. A new run opens and checks their run folders
    (all of them before anything is written) and copies tokenizer and spec into ``run_dir``; a resumed
    one (``last.pt`` holds the weights) reads its own copies, so the ``lm`` folders may be gone."""
    if features is None:
        return {}
    runs = features.runs()
    if not starts_from_pretrained(next(iter(runs.values())), run_dir, training=True):
        return restore_lm_inputs(run_dir, features)
    opened = {direction: open_lm_run(path, direction) for direction, path in runs.items()}
    if distributed.is_main():
        for direction, lm in opened.items():
            tokenizer_name, spec_name = _names(direction)
            lm.tokenizer.save(run_dir, tokenizer_name)
            write_json(run_dir / spec_name, lm.spec)
    distributed.barrier()
    return opened


def restore_lm_inputs(run_dir: Path, features: LMFeaturesConfig | None) -> dict[str, LMInput]:
    """Inference (or resuming): the language models' tokenizers and specs from the tagging run folder
    alone; a missing or damaged file is one DataError naming it."""
    if features is None:
        return {}
    inputs = {}
    for direction in features.runs():
        tokenizer_name, spec_name = _names(direction)
        path = run_dir / spec_name
        spec = read_json(path, "language-model file")  # a FIFO or a folder there is one line, too
        if not isinstance(spec, dict) or not {"reverse", "start_id", "vocab_size", "model"} <= set(spec):
            raise DataError("damaged language-model file (expected reverse, start_id, vocab_size and model)",
                            path)
        inputs[direction] = LMInput(direction, load_tokenizer(run_dir, tokenizer_name), spec)
    return inputs


def build_lm_features(features: LMFeaturesConfig, inputs: dict[str, LMInput]) -> LMFeatures:
    """The language-model readers, with the ``lm`` runs' weights when :func:`prepare_lm_inputs` read
    them (a new training run); otherwise the weights come from the tagger's checkpoint."""
    readers = {}
    for direction, lm in inputs.items():
        readers[direction] = reader = lm.reader()
        if lm.state is None:
            continue
        try:
            reader.load_language_model(lm.state)
        except RuntimeError as error:  # a state that does not fit the saved model section
            first = str(error).strip().splitlines()[0]
            raise ConfigError(f"{key_of(direction)}: {lm.spec['source']}'s best.pt does not fit its own "
                              f"config.yaml ({first})") from None
        log.info("%s: %d %s layer(s) of hidden size %d from %s (%s)", key_of(direction), len(reader.layers),
                 reader.layers[0].rnn_type, reader.hidden_size, lm.spec["source"],
                 "frozen" if features.freeze else "fine-tuned")
    return LMFeatures(readers, features.freeze, features.dropout)
