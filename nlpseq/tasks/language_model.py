"""One-to-many task: language modelling and text generation, optionally conditioned on one value.

Two ways to batch, ``data.line_mode``:

- ``stream`` (PTB, WikiText, running text): every line's tokens plus ``</s>`` form one stream, cut into
  ``trainer.batch_size`` columns and ``data.bptt`` windows (:mod:`nlpseq.data.stream`); the model
  carries its hidden state across windows. Evaluation runs over the whole stream the same way with
  ``data.eval_batch_size`` columns.
- ``document`` (required with ``data.condition_field``): every line / record is one example,
  ``<s> tokens`` -> ``tokens </s>``, batched by length like classification; each starts from the state
  its condition gives (a linear bridge from the condition's embedding), or from zeros.

``data.reverse: true`` makes a backward model: every text is read right to left, in training and in
``evaluate``, ``predict`` and ``generate`` (which writes the text before the prompt); the data side,
:mod:`nlpseq.tasks.lm_data`, shows where ``</s>`` goes.

Metrics: ``perplexity`` (exp of the mean loss per predicted token, ``</s>`` included); char models also
``bpc`` (mean loss / ln 2 per character, the newline ``</s>`` included); sentencepiece models also
``word_perplexity`` (the same total loss spread over whitespace words + ``</s>``, comparable across
tokenizers).
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import fields
from typing import Any, ClassVar, Literal

import datasets
import torch
from torch import nn

from nlpseq.config import Config, DataConfig
from nlpseq.data.records import read_records
from nlpseq.data.sources import load_file, load_split, load_splits
from nlpseq.data.stream import StreamBatches
from nlpseq.errors import ConfigError, DataError, NlpseqError
from nlpseq.models.dynamic_eval import dynamic_total_loss
from nlpseq.models.generation import beam_search, sample
from nlpseq.models.language_model import LanguageModel, LanguageModelConfig
from nlpseq.tasks.common import (
    BucketedBatches,
    id_batch,
    load_labels,
    prepare_tokenizer,
    restore_labels,
    save_labels,
)
from nlpseq.tasks.contract import ClassCounts, DataSummary, Task, model_device
from nlpseq.tasks.lm_data import LMData, LMDataConfig, ordered, tokenize_split
from nlpseq.tasks.options import LM_OPTIONS, GenerationOptions, OptionError, TaskOption
from nlpseq.tokenizers import BOS_ID, EOS_ID, load_tokenizer
from nlpseq.training.device import move

log = logging.getLogger("nlpseq.task")


def perplexity(loss: float) -> float:
    """``exp(loss)`` of a mean loss in nats, infinity past what a float holds (a loss above ~709.78
    from a diverging model): written as null in JSON (:func:`nlpseq.fileio.strict`), and the worst
    value for picking best.pt, where ``math.exp`` would raise OverflowError."""
    try:
        return math.exp(loss)
    except OverflowError:
        return math.inf


class LanguageModelTask(Task):
    name: ClassVar[str] = "lm"
    data_config: ClassVar[type[DataConfig]] = LMDataConfig
    model_config: ClassVar[type] = LanguageModelConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]] = {"perplexity": "min", "bpc": "min",
                                                           "word_perplexity": "min"}
    default_metric: ClassVar[str] = "perplexity"
    options: ClassVar[tuple[TaskOption, ...]] = LM_OPTIONS

    @classmethod
    def metrics_for(cls, config: Config) -> tuple[dict[str, Literal["max", "min"]], str]:
        kind = config.tokenizer.kind
        if kind == "char":
            return {"bpc": "min", "perplexity": "min"}, "bpc"
        if kind == "sentencepiece":
            return {"perplexity": "min", "word_perplexity": "min"}, "perplexity"
        return {"perplexity": "min"}, "perplexity"

    def __init__(self, config: Config, run_dir: Any):
        super().__init__(config, run_dir)
        self.splits: dict[str, LMData] = {}
        self.conditions: list[str] = []
        self._skipped = 0
        # (lr, decay) of dynamic evaluation (``nlpseq evaluate --dynamic-lr``), or None: static only.
        self.dynamic: tuple[float, float] | None = None

    def set_options(self, **options: Any) -> None:
        """``dynamic_lr`` (and ``dynamic_decay``, default 0), checked against :data:`LM_OPTIONS`:
        :meth:`evaluate` also reports the metrics under dynamic evaluation
        (:mod:`nlpseq.models.dynamic_eval`) as ``dynamic``."""
        unknown = sorted(set(options) - {"dynamic_lr", "dynamic_decay"})
        if unknown:
            super().set_options(**{name: options[name] for name in unknown})
        lr, decay = options.get("dynamic_lr"), options.get("dynamic_decay")
        if lr is None:
            if decay is not None:
                raise OptionError(lambda spell: f"{spell('dynamic_decay')} needs {spell('dynamic_lr')}")
            return
        if self.config.data.line_mode != "stream":
            raise ConfigError("dynamic evaluation reads one running text: it needs a stream-mode model "
                              "(data.line_mode: stream)")
        self.dynamic = (float(lr), float(decay or 0.0))

    # ---------------------------------------------------------------------------------- data
    def _normalize(self, record: dict[str, Any], source: str) -> dict[str, Any] | None:
        data: LMDataConfig = self.config.data
        line = record.get("line")
        if data.text_field not in record:
            raise DataError(f"missing field {data.text_field!r} (data.text_field)", source, line)
        text = record[data.text_field]
        if not isinstance(text, str):
            raise DataError(f"field {data.text_field!r} must be a string, got {type(text).__name__}",
                            source, line)
        if not text.strip():
            return None  # blank lines separate paragraphs (WikiText); they hold nothing to predict
        out = {"text": text}
        if data.condition_field is not None:
            value = record.get(data.condition_field)
            if isinstance(value, bool) or not isinstance(value, str | int):
                raise DataError(f"field {data.condition_field!r} (data.condition_field) must be a string "
                                f"or integer, got {value!r}", source, line)
            out["condition"] = str(value)
        return out

    def _read(self, path: str) -> Iterable[dict[str, Any]]:
        return read_records(path, self.config.data.format, self.config.data.text_field)

    def prepare(self) -> None:
        """Load the splits, build (or reload) the tokenizer and conditions, tokenise every split."""
        data: LMDataConfig = self.config.data
        splits = load_splits(data, self._read, self._normalize, self.config.trainer.seed)
        train = splits["train"].dataset
        self.tokenizer = prepare_tokenizer(self.run_dir, "tokenizer", self.config.tokenizer,
                                           texts=lambda: iter(train["text"]))
        if data.condition_field is not None:
            self.conditions = load_labels(self.run_dir, "conditions") or sorted(set(train["condition"]))
            save_labels(self.run_dir, "conditions", self.conditions)
        self.splits = {name: self._prepare_split(split.dataset, split.source)
                       for name, split in splits.items()}
        for name, split in self.splits.items():
            log.info("%s: %d tokens, %d words (with </s>) from %s", name, split.tokens, split.words,
                     split.source)

    def describe(self) -> DataSummary:
        """Lines (stream mode) or documents per split, the tokenizer size, and with a condition field
        each condition's training documents."""
        unit = "documents" if self.config.data.line_mode == "document" else "lines"
        summary = DataSummary({name: split.examples for name, split in self.splits.items()}, unit,
                              {"tokenizer": self.tokenizer.vocab_size})
        if self.conditions:
            summary.vocabularies["conditions"] = len(self.conditions)
            counts = Counter(self.conditions[i] for i in self.splits["train"].documents["condition"])
            summary.classes = [ClassCounts("conditions", counts, "documents")]
        return summary

    def _prepare_split(self, dataset: datasets.Dataset, source: str) -> LMData:
        return tokenize_split(self.tokenizer, self.config.data, dataset, source, self.conditions)

    def _collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = id_batch(rows)
        targets = torch.full_like(batch["input_ids"], -100)
        for i, row in enumerate(rows):
            targets[i, : len(row["targets"])] = torch.tensor(row["targets"])
        batch["targets"] = targets
        batch["reset"] = torch.tensor(True)
        if "condition" in rows[0]:
            batch["condition"] = torch.tensor([row["condition"] for row in rows])
        return batch

    def _documents(self, dataset: datasets.Dataset, train: bool) -> BucketedBatches:
        return BucketedBatches(dataset, dataset["length"], self._collate, self.config.trainer, train)

    def training_batches(self) -> StreamBatches | BucketedBatches:
        data: LMDataConfig = self.config.data
        train = self.splits["train"]
        if train.ids is not None:
            columns = self.config.trainer.batch_size
            if train.ids.numel() < 2 * columns:
                raise DataError(f"{train.tokens} training tokens are too few for {columns} stream columns "
                                "(trainer.batch_size) of at least 2 tokens", train.source)
            return StreamBatches(train.ids, self.config.trainer.batch_size, data.bptt, data.random_bptt,
                                 self.config.trainer.seed)
        return self._documents(train.documents, train=True)

    def split(self, name: str) -> LMData:
        return self.splits[name]

    def load_file(self, path: str) -> LMData:
        """Any file in the recipe's format and fields, tokenised like the recipe's splits."""
        split = load_file(self.config.data, self._read, self._normalize, path)
        return self._prepare_split(split.dataset, split.source)

    def restore(self) -> None:
        """Reload the tokenizer (and the conditions of a conditioned model) from the run folder: no
        data read, nothing written; a missing or damaged file is one DataError naming it."""
        self.tokenizer = load_tokenizer(self.run_dir, "tokenizer")
        conditioned = self.config.data.condition_field is not None
        self.conditions = restore_labels(self.run_dir, "conditions") if conditioned else []

    def load_split(self, name: str) -> LMData:
        """Split ``name`` of the recipe's data alone, tokenised (after :meth:`restore`)."""
        split = load_split(self.config.data, self._read, self._normalize, name, self.config.trainer.seed)
        return self._prepare_split(split.dataset, split.source)

    # ---------------------------------------------------------------------------------- model
    def build_model(self, training: bool) -> LanguageModel:
        cfg: LanguageModelConfig = self.config.model
        arguments = {f.name: getattr(cfg, f.name) for f in fields(cfg)}
        return LanguageModel(self.tokenizer.vocab_size, **arguments, num_conditions=len(self.conditions))

    # ---------------------------------------------------------------------------------- scoring
    @torch.no_grad()
    def total_loss(self, model: nn.Module, data: LMData, condition: str | None = None) -> tuple[float, int]:
        """(summed loss, predicted tokens) of ``data``; ``condition`` forces one condition value on every
        document instead of each one's own. Never touches the model's carried training state."""
        device = model_device(model)
        total = torch.zeros((), dtype=torch.float64, device=device)
        count = 0
        if data.ids is not None:
            state = None
            # A split shorter than 2 tokens per column is scored with fewer columns.
            columns = max(1, min(self.config.data.eval_batch_size, data.ids.numel() // 2))
            batches = StreamBatches(data.ids, columns, self.config.data.bptt, rank=0, world=1)
            for batch in batches:
                batch = move(batch, device)
                logits, state = model.score(batch["input_ids"], state)
                total += nn.functional.cross_entropy(logits.flatten(0, 1).float(),
                                                     batch["targets"].flatten(), reduction="sum")
            return total.item(), batches.num_targets
        forced = None if condition is None else self._condition_id(condition)
        for batch in self._documents(data.documents, train=False):
            batch = move(batch, device)
            cond = batch.get("condition")
            if forced is not None:
                cond = torch.full_like(cond, forced)
            state = model.initial_state(batch["input_ids"].size(0), cond)
            logits, _ = model.score(batch["input_ids"], state, cond, batch["lengths"])
            total += nn.functional.cross_entropy(logits.flatten(0, 1).float(), batch["targets"].flatten(),
                                                 ignore_index=-100, reduction="sum")
            count += int((batch["targets"] != -100).sum())
        return total.item(), count

    def _metrics(self, loss: float, count: int, data: LMData) -> dict[str, float]:
        per_token = loss / max(count, 1)
        metrics = {"loss": per_token, "perplexity": perplexity(per_token), "tokens": count}
        kind = self.config.tokenizer.kind
        if kind == "char":
            metrics["bpc"] = per_token / math.log(2)
        if kind == "sentencepiece":
            # Loss per token times tokens per word: the whole text's loss spread over its words.
            metrics["word_perplexity"] = perplexity(per_token * data.tokens / max(data.words, 1))
        return metrics

    def evaluate(self, model: nn.Module, data: LMData, details: bool = False) -> dict[str, Any]:
        """Perplexity (and bpc / word perplexity) under each document's own condition; with ``details``
        and conditions, also the perplexity of each condition's documents under every forced one; with
        dynamic evaluation set (:meth:`set_options`), also ``dynamic``: the same metrics under it."""
        was_training = model.training
        model.eval()
        try:
            metrics = self._metrics(*self.total_loss(model, data), data)
            if details and self.conditions and data.documents is not None:
                metrics["perplexity_by_condition"] = self.condition_table(model, data)
            if self.dynamic is not None and data.ids is not None:
                lr, decay = self.dynamic
                started = time.perf_counter()
                loss, count = dynamic_total_loss(model, data.ids, self.config.data.bptt, lr, decay)
                metrics["dynamic"] = {**self._metrics(loss, count, data), "lr": lr, "decay": decay,
                                      "seconds": round(time.perf_counter() - started, 1)}
        finally:
            model.train(was_training)
        return metrics

    def condition_table(self, model: nn.Module, data: LMData) -> dict[str, dict[str, float]]:
        """``{true value: {forced value: perplexity}}`` over every document of each true value.
        Scoring is forward-only: the whole split once per condition value (Shakespeare's test works
        under 5 genres: about 2 minutes on 1 thread). A sample such as the first 100 paragraphs of one
        play is one scene's tone, not its genre's."""
        table: dict[str, dict[str, float]] = {}
        conditions = data.documents["condition"]
        for true_id, true_value in enumerate(self.conditions):
            keep = [i for i, c in enumerate(conditions) if c == true_id]
            if not keep:
                continue
            subset = LMData(data.source, 0, 0, documents=data.documents.select(keep))
            table[true_value] = {}
            for forced in self.conditions:
                loss, count = self.total_loss(model, subset, forced)
                table[true_value][forced] = perplexity(loss / max(count, 1))
        return table

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """The perplexity of each raw text as one document (``<s> text </s>``; after ``</s>`` in stream
        mode); a backward model (``data.reverse``) reads it right to left. A conditioned model scores it
        under every condition and names the likeliest one."""
        device = model_device(model)
        start = BOS_ID if self.config.data.line_mode == "document" else EOS_ID
        values = self.conditions or [None]
        results: list[dict[str, Any]] = []
        for text in texts:
            ids = ordered(self.tokenizer.encode(text), self.config.data.reverse)
            if not ids:
                results.append({"tokens": 0, "perplexity": None})
                continue
            rows = len(values)
            inputs = torch.tensor([[start, *ids]] * rows, device=device)
            targets = torch.tensor([[*ids, EOS_ID]] * rows, device=device)
            cond = torch.arange(rows, device=device) if self.conditions else None
            logits, _ = model.score(inputs, model.initial_state(rows, cond), cond)
            losses = nn.functional.cross_entropy(logits.transpose(1, 2).float(), targets,
                                                 reduction="none").mean(1)
            result: dict[str, Any] = {"tokens": len(ids) + 1, "perplexity": perplexity(losses.min().item())}
            if self.conditions:
                result["condition"] = self.conditions[int(losses.argmin())]
                result["perplexity_by_condition"] = {value: perplexity(loss) for value, loss
                                                     in zip(self.conditions, losses.tolist(), strict=True)}
            results.append(result)
        return results

    def format_prediction(self, result: dict[str, Any]) -> str:
        """``perplexity 5.19`` (and ``<TAB>condition comedy`` for a conditioned model); empty input: an
        empty line."""
        if result["perplexity"] is None:
            return ""
        condition = f"\tcondition {result['condition']}" if "condition" in result else ""
        return f"perplexity {result['perplexity']:.2f}{condition}"

    # ---------------------------------------------------------------------------------- generation
    def _condition_id(self, value: str) -> int:
        if value not in self.conditions:
            known = ", ".join(self.conditions) if self.conditions else "none: this model is unconditioned"
            raise NlpseqError(f"unknown condition {value!r}; known conditions: {known}")
        return self.conditions.index(value)

    @torch.no_grad()
    def generate(self, model: nn.Module, prompts: list[str], options: GenerationOptions
                 ) -> list[dict[str, Any]]:
        """Continue each prompt ``options.num_samples`` times, all rows in one batch; see the contract.

        Unless ``options`` asks for sampling, decoding is beam search, of size 1 (greedy) by default:
        ``beam_size`` 1, ``top_k`` 1 and ``temperature`` 0 are the one same greedy path. A backward
        model (``data.reverse``) writes leftwards from the prompt's start: each record's ``text`` is
        what comes before the prompt, in reading order, and says so (``before_prompt``)."""
        condition, num_samples = options.condition, options.num_samples
        if self.conditions and condition is None:
            raise NlpseqError(f"this model is conditioned: give a condition (one of "
                              f"{', '.join(self.conditions)})")
        if condition is not None and not self.conditions:
            raise NlpseqError("this model is unconditioned: it takes no condition")
        device = model_device(model)
        start = BOS_ID if self.config.data.line_mode == "document" else EOS_ID
        # A backward model (data.reverse) reads the prompt right to left and writes the text before it,
        # leftwards; each record puts that text back in reading order (Generated.record).
        reverse = self.config.data.reverse
        encoded = [[start, *ordered(self.tokenizer.encode(p), reverse)] for p in prompts]
        rows = [ids for ids in encoded for _ in range(num_samples)]
        cond = None
        if condition is not None:
            cond = torch.full((len(rows),), self._condition_id(condition), dtype=torch.long, device=device)
        model.eval()
        if options.sampling:
            generator = torch.Generator(device=device).manual_seed(options.seed)
            temperature = 1.0 if options.temperature is None else options.temperature
            outputs = sample(model, rows, stop_id=EOS_ID, max_new_tokens=options.max_new_tokens,
                             temperature=temperature, top_k=options.top_k or 0,
                             top_p=1.0 if options.top_p is None else options.top_p, condition=cond,
                             generator=generator)
        else:
            outputs = beam_search(model, rows, stop_id=EOS_ID, max_new_tokens=options.max_new_tokens,
                                  beam_size=options.beam_size, condition=cond)
        return [output.record(prompts[index // num_samples], index % num_samples, self.tokenizer, reverse)
                for index, output in enumerate(outputs)]
