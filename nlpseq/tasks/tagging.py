"""Many-to-many (synced) task: one tag per word, for POS tagging and named-entity recognition.

The run folder holds ``tokenizer.*`` (words, or sentencepiece whose first subword stands for the
word), ``chars.json`` (char vocabulary for char features) and ``tags.json`` (the tag vocabulary, in
the training scheme); with ``model.lm_features``, each language model's tokenizer and layer spec
(:mod:`nlpseq.tasks.tagging_lm`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, ClassVar, Literal

import datasets
import torch
from torch import nn

from nlpseq import schemes
from nlpseq.config import Config, TokenizerConfig
from nlpseq.data.batching import pad
from nlpseq.data.records import read_jsonl
from nlpseq.data.sources import Split, cached_map, load_file, load_split, load_splits
from nlpseq.data.tagged_readers import check_tagged_lists, read_tagged_file
from nlpseq.errors import DataError
from nlpseq.inputs import line_number
from nlpseq.metrics.tagging import entity_scores, token_accuracy
from nlpseq.models.aux_lm import frequent_word_classes
from nlpseq.models.tagger import SequenceTagger, TaggerConfig
from nlpseq.tasks.common import (
    DatasetSplits,
    gather_by_index,
    id_batch,
    load_labels,
    prepare_tokenizer,
    restore_labels,
    save_labels,
    tag_summary,
    tokenizer_key,
    training_embedding,
)
from nlpseq.tasks.contract import DataSummary, Task, model_device
from nlpseq.tasks.options import TAGGING_OPTIONS, TaskOption
from nlpseq.tasks.tagging_config import TAGGED_FORMATS, TaggingDataConfig, tag_vocabulary
from nlpseq.tasks.tagging_input import (
    MAX_WORD_CHARS,
    NUM_CASES,
    casing,
    chunks,
    conll_results,
    conll_sentences,
    conll_word,
    entities,
    words_of,
)
from nlpseq.tasks.tagging_lm import (
    LMInput,
    build_lm_features,
    prepare_lm_inputs,
    restore_lm_inputs,
    upstream_keys,
)
from nlpseq.tokenizers import PAD_ID, UNK_ID, load_tokenizer
from nlpseq.training.device import move

log = logging.getLogger("nlpseq.task")

class TaggingTask(DatasetSplits, Task):
    """Loads tagged sentences, owns tokenizers and the tag vocabulary, builds and scores the tagger.

    Metrics: token ``accuracy`` always; entity ``precision``/``recall``/``f1`` (seqeval) when the tags
    have a scheme (NER), so ``f1`` is the default metric there and ``accuracy`` otherwise.
    """

    name = "tagging"
    data_config = TaggingDataConfig
    model_config = TaggerConfig
    metrics: ClassVar[dict[str, Literal["max", "min"]]] = {
        "accuracy": "max", "f1": "max", "precision": "max", "recall": "max"}
    default_metric = "f1"
    options: ClassVar[tuple[TaskOption, ...]] = TAGGING_OPTIONS
    takes_words = True  # predict takes lists of words as they are (nlpseq.api.Predictor.predict)

    @classmethod
    def metrics_for(cls, config: Config) -> tuple[dict[str, Literal["max", "min"]], str]:
        if config.data.tag_scheme is None:  # plain tags (POS): no entities to score
            return {"accuracy": "max"}, "accuracy"
        return cls.metrics, cls.default_metric

    @classmethod
    def upstream_keys(cls, config: Config) -> tuple[str, ...]:
        """``model.lm_features.forward`` / ``.backward``: language-model runs, or recipe names trained
        first."""
        return upstream_keys(config)

    def __init__(self, config: Config, run_dir: str | Path):
        super().__init__(config, run_dir)
        self.splits: dict[str, Split] = {}
        self.tokenizer: Any = None
        self.chars: Any = None
        self.tags: list[str] = []
        self.lm_inputs: dict[str, LMInput] = {}  # model.lm_features: direction -> its language model
        self.max_length: int | None = None  # predict: the chunk size (None: data.max_length)
        self.input_format = "text"  # predict: "text" (raw lines, or lists of words) or "conll"

    @property
    def scheme(self) -> str | None:
        """The scheme the model is trained and decodes in (None: plain tags such as POS)."""
        data = self.config.data
        return data.train_tag_scheme or data.tag_scheme

    # ---------------------------------------------------------------------------------- data
    def _normalize(self, record: dict[str, Any], source: str) -> dict[str, Any]:
        data = self.config.data
        line = record.get("line")
        # Files read by the tagged readers always say tokens/tags; JSONL and hub rows use the fields.
        tagged = data.format in TAGGED_FORMATS and data.hub is None
        tokens_field = "tokens" if tagged else data.tokens_field
        tags_field = "tags" if tagged else data.tags_field
        for name in (tokens_field, tags_field):
            if name not in record:
                fields = ", ".join(k for k in record if k != "line")
                raise DataError(f"missing field {name!r} (fields present: {fields})", source, line)
        tokens, tags = record[tokens_field], record[tags_field]
        if data.hub is None:  # a file's JSON holds what its writer put there: words, or not
            check_tagged_lists(tokens, tags, (tokens_field, tags_field), source, line)
        if not isinstance(tokens, list) or not isinstance(tags, list):
            raise DataError(f"{tokens_field!r} and {tags_field!r} must be lists", source, line)
        if len(tokens) != len(tags):
            raise DataError(f"{len(tokens)} tokens but {len(tags)} tags", source, line)
        if not tokens:
            raise DataError("empty sentence", source, line)
        tokens, tags = [str(t) for t in tokens], [str(t) for t in tags]
        if data.tag_scheme is not None:
            try:
                schemes.validate(tags, data.tag_scheme)
            except ValueError as error:
                raise DataError(f"{error} (data.tag_scheme={data.tag_scheme})", source, line) from None
            if data.train_tag_scheme and data.train_tag_scheme != data.tag_scheme:
                tags = schemes.convert(tags, data.tag_scheme, data.train_tag_scheme)
        return {"tokens": tokens, "tags": tags}

    def _read(self, path: str) -> Iterable[dict[str, Any]]:
        data = self.config.data
        if data.format == "jsonl":
            return read_jsonl(Path(path))
        options = {"token_column": data.token_column, "tag_column": data.tag_column} \
            if data.format == "conll" else {}
        return read_tagged_file(path, data.format, **options)

    def prepare(self) -> None:
        """Load splits, build (or reload) tokenizers and tags, check lengths and tags, tokenise."""
        # The language-model runs first: a wrong one stops before any data is read.
        self.lm_inputs = prepare_lm_inputs(self.run_dir, self.config.model.lm_features)
        self.splits = load_splits(self.config.data, self._read, self._normalize, self.config.trainer.seed)
        held_out = f"{self.splits['train'].source} (held out)"  # validation carved off the train file
        for name, split in self.splits.items():
            # Training sentences are skipped when too long, also those held out of them for validation.
            self._limit_lengths(split, skip=name == "train" or split.source == held_out)
        train = self.splits["train"].dataset
        self.tokenizer = prepare_tokenizer(self.run_dir, "tokenizer", self.config.tokenizer,
                                           words=lambda: iter(train["tokens"]))
        if self.config.model.char_features is not None:
            self.chars = prepare_tokenizer(self.run_dir, "chars", TokenizerConfig(kind="char"),
                                           words=lambda: iter(train["tokens"]))
        self.tags = load_labels(self.run_dir, "tags") or tag_vocabulary(train["tags"], self.scheme)
        save_labels(self.run_dir, "tags", self.tags)
        for split in self.splits.values():
            self._check_tags(split)
            split.dataset = self.tokenize(split.dataset)

    def describe(self) -> DataSummary:
        """Sentences per split, the word, char and tag vocabulary sizes, and the training counts of
        entity types (with a tag scheme) or tags."""
        vocabularies = {"words": self.tokenizer.vocab_size, "tags": len(self.tags)}
        if self.chars is not None:
            vocabularies["chars"] = self.chars.vocab_size
        rows = self.splits["train"].dataset["tags"]
        return tag_summary(super().describe(), rows, self.scheme, vocabularies)

    def _limit_lengths(self, split: Split, skip: bool) -> None:
        """Sentences longer than data.max_length: skipped and counted (training), else an error."""
        limit = self.config.data.max_length
        lengths = [len(row) for row in split.dataset["tokens"]]
        too_long = [i for i, n in enumerate(lengths) if n > limit]
        if not too_long:
            return
        if not skip:
            first = too_long[0]
            raise DataError(f"sentence of {lengths[first]} words is longer than data.max_length={limit}",
                            split.source, split.dataset[first]["line"])
        log.warning("%s: skipped %d sentences longer than data.max_length=%d", split.source,
                    len(too_long), limit)
        drop = set(too_long)
        split.dataset = split.dataset.select([i for i in range(len(lengths)) if i not in drop])

    def _check_tags(self, split: Split) -> None:
        known = set(self.tags)
        types = sorted({schemes.parse_tag(t)[1] for t in self.tags} - {None})
        for row, line in zip(split.dataset["tags"], split.dataset["line"], strict=True):
            for position, tag in enumerate(row):
                if tag in known:
                    continue
                if self.scheme is not None:
                    # Tags here are already in the training scheme (a file's B-ORG may be S-ORG now), and
                    # the vocabulary holds every prefix of the known types: the type is what is unknown.
                    raise DataError(f"entity type {schemes.parse_tag(tag)[1]!r} (word {position + 1}) never "
                                    f"occurs in the training data; known types: {', '.join(types)}",
                                    split.source, line)
                raise DataError(f"tag {tag!r} (word {position + 1}) never occurs in the training data; "
                                f"known tags: {', '.join(self.tags)}", split.source, line)

    def _encode_words(self, words: list[str]) -> dict[str, list]:
        """Model inputs for one sentence: ``input_ids`` (one per word), ``chars``, ``case_ids`` and
        each language model's ids (``lm_forward_ids``, ``lm_backward_ids``)."""
        # A word is its first subword (or its single word id); words that encode to nothing are <unk>.
        # Sentencepiece often splits a word as "▁" + pieces; that bare "▁" is the same for every such
        # word, so the piece after it stands for the word.
        boundary = self.tokenizer.word_boundary_id
        ids = [(pieces[1] if len(pieces) > 1 and pieces[0] == boundary else pieces[0]) if pieces else UNK_ID
               for pieces in self.tokenizer.encode_words(words)]
        chars = [row[:MAX_WORD_CHARS] or [UNK_ID] for row in self.chars.encode_words(words)] if self.chars \
            else []
        encoded = {"input_ids": ids, "chars": chars, "case_ids": [casing(w) for w in words],
                   "length": len(ids)}
        # Each language model sees the words through its own tokenizer, not this task's (which may drop
        # rare words or normalise digits the language model knows).
        return encoded | {lm.batch_key: lm.encode(words) for lm in self.lm_inputs.values()}

    def tokenize(self, dataset: datasets.Dataset) -> datasets.Dataset:
        tag_ids = {tag: i for i, tag in enumerate(self.tags)}

        def encode(batch: dict[str, list]) -> dict[str, list]:
            out: dict[str, list] = {"tag_ids": []}
            for words, tags in zip(batch["tokens"], batch["tags"], strict=True):
                for name, value in self._encode_words(words).items():
                    out.setdefault(name, []).append(value)
                out["tag_ids"].append([tag_ids.get(t, -1) for t in tags])
            return out

        key = "|".join([tokenizer_key(self.run_dir, "tokenizer"), tokenizer_key(self.run_dir, "chars"),
                        str(self.tags), str(MAX_WORD_CHARS), "first-piece-after-boundary", "casing",
                        *(tokenizer_key(self.run_dir, f"lm_{d}_tokenizer") for d in self.lm_inputs)])
        return cached_map(dataset, encode, key, self.config.data.cache_dir)

    def collate(self, rows: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch = id_batch(rows)
        batch["case_ids"] = pad([row["case_ids"] for row in rows], 0)
        for lm in self.lm_inputs.values():
            batch[lm.batch_key] = pad([row[lm.batch_key] for row in rows], PAD_ID)
        mask = batch["mask"]
        if self.chars is not None:
            width = max(len(word) for row in rows for word in row["chars"])
            chars = torch.zeros(len(rows), mask.size(1), width, dtype=torch.long)
            for r, row in enumerate(rows):
                for w, word in enumerate(row["chars"]):
                    chars[r, w, : len(word)] = torch.as_tensor(word)
            batch["chars"] = chars
        if all("tag_ids" in row and min(row["tag_ids"], default=0) >= 0 for row in rows):
            batch["tags"] = pad([row["tag_ids"] for row in rows], 0)
        return batch

    # ---------------------------------------------------------------------------------- model
    def build_model(self, training: bool) -> nn.Module:
        cfg: TaggerConfig = self.config.model
        allowed = schemes.allowed_transitions(self.tags, self.scheme) if self.scheme else None
        vocab_size = self.tokenizer.vocab_size
        frequent = min(cfg.aux_lm_vocab, vocab_size)  # the auxiliary loss's own classes (then one shared)
        model = SequenceTagger(
            vocab_size, len(self.tags), self.chars.vocab_size if self.chars else 0,
            embedding=training_embedding(cfg.embedding, training), char_features=cfg.char_features,
            encoder=cfg.encoder, head=cfg.head, constrain=cfg.constrain, dropout=cfg.dropout,
            case_embedding_dim=cfg.case_embedding_dim, num_cases=NUM_CASES, allowed=allowed,
            vocabulary=getattr(self.tokenizer, "itos", None) if cfg.embedding.pretrained else None,
            lm_features=build_lm_features(cfg.lm_features, self.lm_inputs) if cfg.lm_features else None,
            aux_lm_weight=cfg.aux_lm_weight, aux_lm_classes=frequent + 1,
        )
        if model.aux_lm is not None and training:  # restored: the classes come with the checkpoint
            model.aux_lm.set_classes(frequent_word_classes(self.splits["train"].dataset["input_ids"],
                                                           vocab_size, frequent))
        return model

    # ---------------------------------------------------------------------------------- scoring
    def _decode(self, model: nn.Module, dataset: datasets.Dataset) -> list[list[str]]:
        device = model_device(model)
        local: list[tuple[int, list[str]]] = []
        for batch in self.batches(dataset):
            batch = move(batch, device)
            for index, path in zip(batch["index"].tolist(), model.decode(batch), strict=True):
                local.append((index, [self.tags[i] for i in path]))
        return gather_by_index(local)

    def _as_iob2(self, rows: list[list[str]]) -> list[list[str]]:
        if self.scheme in (None, "IOB2"):
            return rows
        return [schemes.convert(row, self.scheme, "IOB2") for row in rows]

    @torch.no_grad()
    def evaluate(self, model: nn.Module, dataset: datasets.Dataset, details: bool = False) -> dict[str, Any]:
        """Token accuracy always; entity precision/recall/F1 (seqeval, on IOB2) when tags have a scheme."""
        predicted = self._decode(model, dataset)
        gold = dataset["tags"]
        metrics: dict[str, Any] = {"accuracy": token_accuracy(gold, predicted)}
        if self.scheme is not None:
            scores = entity_scores(self._as_iob2(gold), self._as_iob2(predicted), scheme="IOB2",
                                   mode=self.config.data.seqeval_mode)
            metrics.update(precision=scores["precision"], recall=scores["recall"], f1=scores["f1"])
            if details:
                metrics["per_type"] = scores["per_type"]
        if details:
            metrics["sentences"] = len(gold)
            metrics["tokens"] = sum(len(row) for row in gold)
        return metrics

    # ---------------------------------------------------------------------------------- predicting
    def set_options(self, **options: Any) -> None:
        """``max_length`` (the chunk size for long sentences) and ``input_format`` (``text`` or
        ``conll``), checked against :data:`TAGGING_OPTIONS`."""
        unknown = sorted(set(options) - {option.name for option in TAGGING_OPTIONS})
        if unknown:
            super().set_options(**{name: options[name] for name in unknown})
        if options.get("max_length") is not None:
            self.max_length = options["max_length"]
        if options.get("input_format") is not None:
            self.input_format = options["input_format"]

    @property
    def input_blocks(self) -> bool:
        """Whether ``predict`` reads blank-line separated blocks (CoNLL sentences), which a batch of
        input lines must not cut (:func:`nlpseq.inputs.input_batches` with ``blocks``)."""
        return self.input_format == "conll"

    @torch.no_grad()
    def predict(self, model: nn.Module, texts: list[str] | list[str | list[str]]) -> list[dict[str, Any]]:
        """Tag each input: a raw line (split into words) or a list of words (tagged as they are, offsets
        into the words joined with single spaces). NER results also list entity spans with character
        offsets into the text. With ``input_format`` ``conll``, ``texts`` are CoNLL lines instead, each
        with its result (:func:`~nlpseq.tasks.tagging_input.conll_results`). A sentence longer than
        ``max_length`` words is tagged in chunks (see :meth:`_tag`); every line is answered."""
        if self.input_format == "conll":
            sentences = conll_sentences(texts)
            words = [[conll_word(texts[i]) for i in sentence] for sentence in sentences]
            numbers = [line_number(texts[sentence[0]], sentence[0] + 1) for sentence in sentences]
            tagged = [self._in_data_scheme(tags) for tags in self._tag(model, words, numbers)]
            return conll_results(texts, sentences, tagged)
        split = [words_of(item, self.config.tokenizer.language) for item in texts]
        numbers = [line_number(item, position) if isinstance(item, str) else position
                   for position, item in enumerate(texts, 1)]
        tagged = self._tag(model, [[w for w, _, _ in words] for _, words in split], numbers)
        results = []
        for (text, words), tags in zip(split, tagged, strict=True):
            result: dict[str, Any] = {"words": [w for w, _, _ in words], "tags": self._in_data_scheme(tags)}
            if self.scheme is not None:
                result["entities"] = entities(text, words, schemes.to_spans(tags, self.scheme))
            results.append(result)
        return results

    def _tag(self, model: nn.Module, sentences: list[list[str]], numbers: list[int]) -> list[list[str]]:
        """Tags (in the model's scheme) of each list of words; ``numbers`` name their input lines.

        A sentence longer than ``max_length`` words (default data.max_length) is cut into chunks of
        that many, each tagged as a sentence of its own, and their tags joined. What a cut costs: the
        encoder sees no context across it, and the CRF scores no transition across it (each chunk
        starts and ends as a sentence does), so an entity that spans a cut comes back as two entities.
        Spans and offsets stay right across the joins: they are computed on the joined tags and the
        whole sentence's words. The alternative, refusing the line, stopped a whole stream at one
        pasted table or run-on paragraph."""
        size = self.max_length or self.config.data.max_length
        rows, pieces = [], []
        for words, number in zip(sentences, numbers, strict=True):
            parts = chunks(words, size) if words else []
            if len(parts) > 1:
                log.warning("input line %d: %d words, more than max_length=%d: tagged in %d chunks", number,
                            len(words), size, len(parts))
            rows.extend(self._encode_words(list(part)) for part in parts)
            pieces.append(len(parts))
        tagged = iter(self._decode(model, datasets.Dataset.from_list(rows)) if rows else [])
        return [[tag for _ in range(count) for tag in next(tagged)] for count in pieces]

    def _in_data_scheme(self, tags: list[str]) -> list[str]:
        # Tags come out in the scheme of the user's data (IOB2 for CoNLL files), not the one the model
        # happened to train in.
        data_scheme = self.config.data.tag_scheme
        if data_scheme is not None and data_scheme != self.scheme:
            return schemes.from_spans(schemes.to_spans(tags, self.scheme), len(tags), data_scheme)
        return tags

    def format_prediction(self, result: dict[str, Any]) -> str:
        """``word/TAG`` pairs separated by spaces; for CoNLL input, the CoNLL line with its tag column."""
        if "conll" in result:
            return result["conll"]
        return " ".join(f"{w}/{t}" for w, t in zip(result["words"], result["tags"], strict=True))

    def load_file(self, path: str) -> datasets.Dataset:
        """A tagged file in the recipe's format and field names, checked and tokenised."""
        split = load_file(self.config.data, self._read, self._normalize, path)
        self._limit_lengths(split, skip=False)
        self._check_tags(split)
        return self.tokenize(split.dataset)

    def restore(self) -> None:
        """Reload tokenizers and tags from the run folder (no data needed, nothing written)."""
        self.tokenizer = load_tokenizer(self.run_dir, "tokenizer")
        if self.config.model.char_features is not None:
            self.chars = load_tokenizer(self.run_dir, "chars")
        self.tags = restore_labels(self.run_dir, "tags")
        self.lm_inputs = restore_lm_inputs(self.run_dir, self.config.model.lm_features)

    def load_split(self, name: str) -> datasets.Dataset:
        """Split ``name`` of the recipe's data alone, checked and tokenised (after :meth:`restore`)."""
        split = load_split(self.config.data, self._read, self._normalize, name, self.config.trainer.seed)
        self._limit_lengths(split, skip=False)
        self._check_tags(split)
        return self.tokenize(split.dataset)
