"""Many-to-many, unsynced: translation with an attention encoder-decoder (French -> English and others).

Data are sentence pairs (:mod:`nlpseq.data.parallel`: aligned ``PREFIX.src``/``PREFIX.tgt`` files, TSV,
JSONL, hub ``translation`` objects); subwords come from sentencepiece trained on the training split,
one model per side (``source.model``, ``target.model`` in the run folder; ``tokenizer.source`` and
``tokenizer.target`` set each side's keys) or one joint model (``joint.model``, ``tokenizer.joint:
true``, which also shares the embeddings). Output is the
target model's own detokenisation; raw input to ``predict`` is taken as typed (no pre-splitting).
A new run can start from language models (``model.pretrained_encoder``, ``_encoder_backward``,
``model.pretrained_decoder``: :mod:`nlpseq.training.pretrained_seq2seq`) and, with
``tokenizer.from_pretrained``, take their sentencepiece models. The config sections are in
:mod:`nlpseq.tasks.translation_config`.

Validation scores greedy output (cheap) and picks ``best.pt`` by BLEU; with ``details`` (the test split
in ``results.json``) it scores greedy AND beam search, with sacreBLEU signatures.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import fields, replace
from itertools import chain
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
import torch
from torch import nn

from nlpseq import distributed
from nlpseq.config import Config
from nlpseq.data.batching import pad
from nlpseq.data.parallel import pair_fields, parallel_paths, read_pairs
from nlpseq.data.sources import Split, cached_map, load_file, load_split, load_splits
from nlpseq.errors import ConfigError, DataError
from nlpseq.inputs import line_number
from nlpseq.metrics.translation import translation_metrics
from nlpseq.models.search import Hypothesis, max_lengths, translate
from nlpseq.models.seq2seq import Seq2Seq, Seq2SeqConfig
from nlpseq.tasks.common import DatasetSplits, id_batch, prepare_tokenizer, tokenizer_key
from nlpseq.tasks.contract import DataSummary, Task, model_device
from nlpseq.tasks.options import TRANSLATION_OPTIONS, OptionError, TaskOption
from nlpseq.tasks.translation_config import (
    DecodingConfig,
    TranslationDataConfig,
    TranslationModelConfig,
    TranslationTokenizerConfig,
)
from nlpseq.tokenizers import BOS_ID, EOS_ID, PAD_ID, Tokenizer, load_tokenizer
from nlpseq.training.device import move
from nlpseq.training.plots import plot_attention
from nlpseq.training.pretrained import starts_from_pretrained
from nlpseq.training.pretrained_seq2seq import (
    BACKWARD_KEY,
    DECODER_KEY,
    ENCODER_KEY,
    load_pretrained_seq2seq,
    pretrained_runs,
    pretrained_tokenizer,
)

log = logging.getLogger("nlpseq.task")


# Validation samples logged at each evaluation during training (Joey NMT logs a few too).
LOGGED_SAMPLES = 3
# Options that replace the recipe's DecodingConfig keys of the same name (the others are predict's own).
_DECODING_OPTIONS = ("beam_size", "length_penalty")


class TranslationTask(DatasetSplits, Task):
    """Pairs in, sentencepiece per side (or joint), :class:`Seq2Seq`, BLEU/chrF out."""

    name = "translation"
    data_config = TranslationDataConfig
    model_config = TranslationModelConfig
    tokenizer_config = TranslationTokenizerConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]] = {"bleu": "max", "chrf": "max"}
    default_metric = "bleu"
    options: ClassVar[tuple[TaskOption, ...]] = TRANSLATION_OPTIONS

    @classmethod
    def upstream_keys(cls, config: Config) -> tuple[str, ...]:
        """``model.pretrained_encoder`` (+ ``_backward``) and ``model.pretrained_decoder``, those set."""
        return tuple(pretrained_runs(config.model))

    def __init__(self, config: Config, run_dir: str | Path):
        super().__init__(config, run_dir)
        self.splits: dict[str, Split] = {}
        self.source_tokenizer: Tokenizer | None = None
        self.target_tokenizer: Tokenizer | None = None
        self.decoding: DecodingConfig = config.model.decoding
        self.n_best = 1
        self.with_attention = False
        self.plot_dir: Path | None = None
        self._warned = 0
        self._plotted = 0

    # ---------------------------------------------------------------------------------- options
    def set_options(self, **options: Any) -> None:
        """``beam_size``, ``length_penalty``, ``n_best``, ``attention`` (include weights in results),
        ``plot_attention`` (a folder for one PNG heatmap per input); checked against
        :data:`TRANSLATION_OPTIONS`, so only how they combine is left to check here."""
        unknown = sorted(set(options) - {option.name for option in TRANSLATION_OPTIONS})
        if unknown:
            super().set_options(**{name: options[name] for name in unknown})
        changes = {name: options[name] for name in _DECODING_OPTIONS if options.get(name) is not None}
        self.decoding = replace(self.decoding, **changes)
        n_best, beam = int(options.get("n_best") or 1), self.decoding.beam_size
        if n_best > beam:
            raise OptionError(lambda spell: f"{spell('n_best')} {n_best} must be between 1 and the beam "
                                            f"size {beam}")
        self.n_best = n_best
        self.plot_dir = Path(options["plot_attention"]) if options.get("plot_attention") else None
        self.with_attention = bool(options.get("attention")) or self.plot_dir is not None

    # ---------------------------------------------------------------------------------- data
    def _normalize(self, record: dict[str, Any], source: str) -> dict[str, Any] | None:
        data = self.config.data
        line = record.get("line")
        pair = pair_fields(record, data.source_lang, data.target_lang, source)
        for value, side in zip(pair, ("source", "target"), strict=True):
            if not isinstance(value, str):
                raise DataError(f"the {side} side must be a string, got {type(value).__name__}", source, line)
        if not pair[0].strip() or not pair[1].strip():
            side = 0 if not pair[0].strip() else 1
            if self._warned < 5:
                where = source
                if data.format == "parallel" and data.hub is None:  # name the file of the empty side
                    where = str(parallel_paths(source, data.source_lang, data.target_lang)[side])
                log.warning("%s:%s: empty %s side, skipped", where, line, ("source", "target")[side])
            self._warned += 1
            return None
        return {"source": pair[0], "target": pair[1]}

    def _read(self, path: str) -> Iterable[dict[str, Any]]:
        data = self.config.data
        return read_pairs(path, data.format, data.source_lang, data.target_lang)

    def _tokenizers(self, train: datasets.Dataset | None) -> None:
        cfg: TranslationTokenizerConfig = self.config.tokenizer
        if cfg.joint:
            texts = (lambda: chain(train["source"], train["target"])) if train is not None else None
            joint = prepare_tokenizer(self.run_dir, "joint", cfg.side("source"), texts)
            self.source_tokenizer = self.target_tokenizer = joint
            return
        def texts(column: str) -> Callable[[], Iterator[str]] | None:
            return (lambda: iter(train[column])) if train is not None else None

        def side(name: Literal["source", "target"]) -> Tokenizer:
            keys = (ENCODER_KEY, BACKWARD_KEY) if name == "source" else (DECODER_KEY,)
            key = next((key for key in keys if key in runs), None)
            if cfg.from_pretrained and key is not None:
                return pretrained_tokenizer(self.run_dir, name, runs[key], key)
            return prepare_tokenizer(self.run_dir, name, cfg.side(name), texts(name))

        runs = pretrained_runs(self.config.model)
        if cfg.from_pretrained and not runs:
            raise ConfigError("tokenizer.from_pretrained: no language model to take a tokenizer from: set "
                              f"{ENCODER_KEY} or {DECODER_KEY}")
        self.source_tokenizer, self.target_tokenizer = side("source"), side("target")

    def _tokenizer_names(self) -> list[str]:
        return ["joint"] if self.config.tokenizer.joint else ["source", "target"]

    def prepare(self) -> None:
        """Load the splits, build (or reload) the tokenizers from train, tokenise (cached), and drop
        training pairs longer than ``data.max_length`` tokens on either side (counted)."""
        self.splits = load_splits(self.config.data, self._read, self._normalize, self.config.trainer.seed)
        self._tokenizers(self.splits["train"].dataset)
        for split in self.splits.values():
            split.dataset = self.tokenize(split.dataset)
        train = self.splits["train"]
        limit = self.config.data.max_length
        lengths = zip(train.dataset["source_length"], train.dataset["target_length"], strict=True)
        keep = [i for i, (source, target) in enumerate(lengths) if source <= limit and target < limit]
        if len(keep) < len(train.dataset):
            log.warning("%s: skipped %d training pairs longer than data.max_length=%d tokens",
                        train.source, len(train.dataset) - len(keep), limit)
            train.dataset = train.dataset.select(keep)
        if not len(train.dataset):
            raise DataError(f"no training pair within data.max_length={limit} tokens", train.source)

    def describe(self) -> DataSummary:
        """Pairs per split (training pairs after the length limit) and the tokenizer sizes."""
        # ["joint"] pairs with the one shared tokenizer, ["source", "target"] with one each.
        sides = zip(self._tokenizer_names(), (self.source_tokenizer, self.target_tokenizer), strict=False)
        return replace(super().describe(), unit="pairs",
                       vocabularies={name: tokenizer.vocab_size for name, tokenizer in sides})

    def tokenize(self, dataset: datasets.Dataset) -> datasets.Dataset:
        """Add ``input_ids`` (source), ``target_ids`` and their lengths; ``length`` (what batching pays
        for) is the longer of source and target + 1."""
        source, target = self.source_tokenizer, self.target_tokenizer

        def encode(batch: dict[str, list]) -> dict[str, list]:
            src = [row or [PAD_ID] for row in source.encode(batch["source"])]
            tgt = target.encode(batch["target"])
            return {"input_ids": src, "target_ids": tgt, "source_length": [len(r) for r in src],
                    "target_length": [len(r) for r in tgt],
                    "length": [max(len(s), len(t) + 1) for s, t in zip(src, tgt, strict=True)]}

        key = "|".join(tokenizer_key(self.run_dir, name) for name in self._tokenizer_names())
        return cached_map(dataset, encode, key, self.config.data.cache_dir)

    @staticmethod
    def collate(rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        """Source as :func:`id_batch`, plus ``target_in`` (BOS + target) and ``target_out`` (target + EOS);
        ``num_tokens`` counts target tokens (EOS included), the usual unit of NMT throughput."""
        batch = id_batch(rows)
        targets = [row["target_ids"] for row in rows]
        batch["target_in"] = pad([[BOS_ID, *t] for t in targets], PAD_ID)
        batch["target_out"] = pad([[*t, EOS_ID] for t in targets], PAD_ID)
        batch["num_tokens"] = torch.tensor(sum(len(t) + 1 for t in targets))
        return batch

    def load_file(self, path: str) -> datasets.Dataset:
        """Pairs in the recipe's format (``evaluate --data PREFIX`` for the parallel format)."""
        return self.tokenize(load_file(self.config.data, self._read, self._normalize, path).dataset)

    def restore(self) -> None:
        """Reload the sentencepiece model(s) from the run folder: no data read, nothing written (never
        trains one); a missing or damaged file is one DataError naming it."""
        loaded = [load_tokenizer(self.run_dir, name) for name in self._tokenizer_names()]
        self.source_tokenizer, self.target_tokenizer = loaded[0], loaded[-1]

    def load_split(self, name: str) -> datasets.Dataset:
        """Split ``name`` of the recipe's data alone, tokenised (after :meth:`restore`). Like
        :meth:`prepare`, over-long pairs are kept outside train (they are scored, not trained on)."""
        split = load_split(self.config.data, self._read, self._normalize, name, self.config.trainer.seed)
        return self.tokenize(split.dataset)

    # ---------------------------------------------------------------------------------- model
    def build_model(self, training: bool) -> nn.Module:
        cfg: TranslationModelConfig = self.config.model
        # Seq2Seq takes the Seq2SeqConfig keys; decoding and the language-model run folders are the task's.
        options = {f.name: getattr(cfg, f.name) for f in fields(Seq2SeqConfig)}
        if cfg.embedding.pretrained:
            raise ConfigError("model.embedding.pretrained: not supported by the translation task")
        runs = pretrained_runs(cfg)
        model = Seq2Seq(self.source_tokenizer.vocab_size, self.target_tokenizer.vocab_size,
                        share_embeddings=self.config.tokenizer.joint, **options)
        if starts_from_pretrained(next(iter(runs.values()), None), self.run_dir, training):
            load_pretrained_seq2seq(model, runs, self.source_tokenizer, self.target_tokenizer)
        return model

    # ---------------------------------------------------------------------------------- decoding
    @torch.no_grad()
    def translate_ids(self, model: nn.Module, sources: list[list[int]], beam_size: int | None = None
                      ) -> list[list[Hypothesis]]:
        """n-best hypotheses (``self.n_best``, 1 for greedy) for each source id list, in input order.

        Sentences are decoded in length-sorted batches of ``decoding.batch_size``; ``beam_size`` 1 is
        greedy search (the length penalty then changes nothing: one hypothesis has nothing to beat)."""
        decoding = self.decoding
        beam = decoding.beam_size if beam_size is None else beam_size
        device = model_device(model)
        order = sorted(range(len(sources)), key=lambda i: (len(sources[i]), i))
        results: list[list[Hypothesis]] = [[] for _ in sources]
        was_training = model.training
        model.eval()
        for start in range(0, len(order), decoding.batch_size):
            chunk = order[start:start + decoding.batch_size]
            batch = id_batch([{"input_ids": sources[i] or [PAD_ID], "index": i} for i in chunk])
            batch = move(batch, device)
            lengths = batch["lengths"]
            memory, state = model.encode(batch["input_ids"], lengths, batch["mask"])
            limits = max_lengths(lengths, decoding.max_length_ratio, decoding.max_length_constant)
            found = translate(model, memory, state, limits, beam, decoding.length_penalty,
                              min(self.n_best, beam), self.with_attention)
            for index, hypotheses in zip(chunk, found, strict=True):
                results[index] = hypotheses
        model.train(was_training)
        return results

    def _score(self, model: nn.Module, dataset: datasets.Dataset, beam_size: int, log_samples: bool = False
               ) -> dict[str, Any]:
        found = self.translate_ids(model, dataset["input_ids"], beam_size)
        hypotheses = [self.target_tokenizer.decode(h[0].tokens) for h in found]
        if log_samples and distributed.is_main():
            _log_samples(dataset, hypotheses)
        metrics = translation_metrics(hypotheses, dataset["target"])
        return {**metrics, "examples": len(hypotheses), "samples": [
            {"source": s, "reference": r, "hypothesis": h}
            for s, r, h in zip(dataset["source"][:5], dataset["target"][:5], hypotheses[:5], strict=True)]}

    # ---------------------------------------------------------------------------------- scoring
    def evaluate(self, model: nn.Module, dataset: datasets.Dataset, details: bool = False) -> dict[str, Any]:
        """Greedy BLEU and chrF (validation picks best.pt by them); with ``details`` also beam search
        (``decoding.beam_size``, ``length_penalty``) under ``beam``, and signatures and samples. With
        ``details`` the top-level ``bleu``/``chrf`` are those of the recipe's own decoding (beam search
        when ``beam_size`` > 1), named in ``decoding``: what ``predict`` would write."""
        # Validation during training (no details) logs a few samples, so the log shows what BLEU means.
        greedy = self._score(model, dataset, 1, log_samples=not details)
        if not details:
            return {"bleu": greedy["bleu"], "chrf": greedy["chrf"]}
        result: dict[str, Any] = {"bleu": greedy["bleu"], "chrf": greedy["chrf"], "decoding": "greedy",
                                  "greedy": greedy}
        if self.decoding.beam_size > 1:
            beam = self._score(model, dataset, self.decoding.beam_size)
            result["beam"] = {**beam, "beam_size": self.decoding.beam_size,
                              "length_penalty": self.decoding.length_penalty}
            result.update(bleu=beam["bleu"], chrf=beam["chrf"], decoding="beam")
        return result

    def predict(self, model: nn.Module, texts: list[str]) -> list[dict[str, Any]]:
        """Translation and score of each raw text (``n_best`` list with more than one; attention, source
        and target pieces with ``attention``); an empty text gives an empty translation."""
        filled = [i for i, text in enumerate(texts) if text.strip()]
        sources = self.source_tokenizer.encode([texts[i] for i in filled])
        # A source past the model's training length keeps its first data.max_length tokens: attention
        # over a 20,000-token line would stall the whole stream for one line (said in the log).
        limit = self.config.data.max_length
        for index, source in zip(filled, sources, strict=True):
            if len(source) > limit:
                log.warning("input line %d: %d tokens, more than data.max_length=%d: translated its first %d",
                            line_number(texts[index], index + 1), len(source), limit, limit)
        sources = [source[:limit] for source in sources]
        found = self.translate_ids(model, sources)
        results: list[dict[str, Any]] = [{"translation": "", "score": None} for _ in texts]
        for index, source, hypotheses in zip(filled, sources, found, strict=True):
            best = hypotheses[0]
            result: dict[str, Any] = {"translation": self.target_tokenizer.decode(best.tokens),
                                      "score": round(best.score, 4)}
            if self.n_best > 1:
                result["n_best"] = [{"translation": self.target_tokenizer.decode(h.tokens),
                                     "score": round(h.score, 4)} for h in hypotheses]
            if self.with_attention and best.attention is not None:
                result["source_pieces"] = _pieces(self.source_tokenizer, source)
                result["target_pieces"] = _pieces(self.target_tokenizer, [*best.tokens, EOS_ID])
                result["attention"] = [[round(w, 4) for w in row] for row in best.attention.float().tolist()]
            results[index] = result
        if self.plot_dir is not None:
            for result in results:
                self._plotted += 1  # numbered by input line, across predict calls
                if "attention" in result:
                    plot_attention(result, self.plot_dir / f"{self._plotted:05d}.png")
        return results

    def format_prediction(self, result: dict[str, Any]) -> str:
        """The translation; with an n-best list, one line per hypothesis, best first:
        ``rank<TAB>score<TAB>translation`` (rank 1 starts each input's list, so lists stay apart)::

            1\t-0.2113\tthe cat
            2\t-1.5260\tthe dog
        """
        if "n_best" not in result:
            return result["translation"]
        return "\n".join(f"{rank}\t{h['score']:.4f}\t{h['translation']}"
                         for rank, h in enumerate(result["n_best"], 1))

    def report(self, results: dict[str, Any]) -> None:
        """Nothing beyond results.json and curves.png."""


def _log_samples(dataset: datasets.Dataset, hypotheses: list[str]) -> None:
    """Log :data:`LOGGED_SAMPLES` (source, reference, hypothesis) triples at fixed places of a split
    (first, middle, last...), the same ones at every evaluation so the log shows them improve."""
    last = len(hypotheses) - 1
    if last < 0:
        return
    for place in sorted({i * last // max(LOGGED_SAMPLES - 1, 1) for i in range(LOGGED_SAMPLES)}):
        log.info("valid #%d source:     %s", place + 1, dataset[place]["source"])
        log.info("valid #%d reference:  %s", place + 1, dataset[place]["target"])
        log.info("valid #%d hypothesis: %s", place + 1, hypotheses[place])


def _pieces(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """Display strings of token ids (sentencepiece pieces, or vocabulary entries)."""
    return [tokenizer.piece(i) for i in ids]
