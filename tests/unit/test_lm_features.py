"""model.lm_features (TagLM) and model.aux_lm_weight (Rei 2017): the language-model states a tagger gets,
padding, freezing, the auxiliary loss, the run folders refused, and the task wiring."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import pytest
import torch

from nlpseq.config import save_config
from nlpseq.config_paths import get_value, set_value
from nlpseq.errors import ConfigError, DataError
from nlpseq.models.aux_lm import frequent_word_classes
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.language_model import LanguageModel
from nlpseq.models.lm_features import LMFeaturesConfig, reverse_padded
from nlpseq.models.tagger import SequenceTagger, TaggerConfig
from nlpseq.tasks import load_config
from nlpseq.tasks.tagging import TaggingTask
from nlpseq.tasks.tagging_lm import build_lm_features, open_lm_run, restore_lm_inputs
from nlpseq.tokenizers import EOS_ID, PAD_ID, SPECIALS, UNK_ID, VocabTokenizer
from nlpseq.training.checkpoint import save_checkpoint
from nlpseq.training.optim import build_optimizer
from tests.helpers import ROOT, write_jsonl

LM_WORDS = ["the", "cat", "sat", "on", "mat", "a", "dog", "0000", "1999"]
SIZE = 6  # embedding and hidden size alike: the tied LM then has no projection after its last layer


def write_lm_run(folder: Path, reverse: bool = False, weight_drop: float = 0.0, seed: int = 3,
                 task: str = "lm") -> LanguageModel:
    """A run folder as an lm run leaves it (config.yaml, tokenizer, best.pt), from a seeded model; its
    tokenizer lower-cases and keeps digits, as a pretraining recipe's may."""
    overrides = [f"task={task}"] if task != "lm" else [
        "task=lm", f"data.reverse={str(reverse).lower()}", f"model.embedding.embedding_dim={SIZE}",
        f"model.encoder.hidden_size={SIZE}", f"model.encoder.weight_drop={weight_drop}",
        "model.encoder.dropout=0.3", "model.input_dropout=0.2"]
    config = load_config(None, overrides)
    folder.mkdir(parents=True)
    save_config(config, folder / "config.yaml")
    VocabTokenizer("word", [*SPECIALS, *LM_WORDS], lowercase=True).save(folder, "tokenizer")
    torch.manual_seed(seed)
    arguments = {item.name: getattr(config.model, item.name) for item in fields(config.model)} \
        if task == "lm" else {}
    model = LanguageModel(len(SPECIALS) + len(LM_WORDS), **arguments)
    save_checkpoint(folder / "checkpoints" / "best.pt", {"model": model.state_dict()})
    return model.eval()


def lm_states(lm: LanguageModel, ids: list[int], reverse: bool) -> torch.Tensor:
    """``[1, n, H]``: the LM's own top-layer states over ``</s> + ids`` (reversed for a backward LM), at
    each word, in word order."""
    with torch.no_grad():
        order = ids[::-1] if reverse else ids
        x, _ = lm._features(torch.tensor([[EOS_ID, *order]]), None, None, None)
    states = x[:, 1:]
    return states.flip(1) if reverse else states


def features_of(tmp_path: Path, freeze: bool = True, weight_drop: float = 0.0):
    runs = {"forward": tmp_path / "fwd", "backward": tmp_path / "bwd"}
    lms = {d: write_lm_run(path, reverse=d == "backward", weight_drop=weight_drop, seed=3 + (d == "backward"))
           for d, path in runs.items()}
    config = LMFeaturesConfig(forward=str(runs["forward"]), backward=str(runs["backward"]), freeze=freeze)
    inputs = {d: open_lm_run(path, d) for d, path in runs.items()}
    return lms, inputs, build_lm_features(config, inputs)


def batch_of(inputs, sentences: list[list[str]]) -> dict[str, torch.Tensor]:
    width = max(map(len, sentences))
    batch = {"lengths": torch.tensor([len(s) for s in sentences])}
    for direction, lm in inputs.items():
        batch[f"lm_{direction}_ids"] = torch.tensor([lm.encode(s) + [PAD_ID] * (width - len(s))
                                                     for s in sentences])
    return batch


@pytest.mark.parametrize("weight_drop", [0.0, 0.3])
def test_the_states_a_tagger_gets_are_the_language_models_own(tmp_path: Path, weight_drop: float) -> None:
    lms, inputs, features = features_of(tmp_path, weight_drop=weight_drop)
    words = ["The", "cat", "SAT", "on", "zebra", "1999"]  # case as written, one word the LMs lack
    ids = [len(SPECIALS) + LM_WORDS.index(w.lower()) if w.lower() in LM_WORDS else UNK_ID for w in words]
    assert inputs["forward"].encode(words) == ids  # the LM's tokenizer: lower-cased, <unk> for "zebra"
    features.train()  # frozen: its dropouts stay off even in training mode
    got = features(batch_of(inputs, [words]))
    expected = torch.cat([lm_states(lms["forward"], ids, False), lm_states(lms["backward"], ids, True)], -1)
    assert got.shape == (1, len(words), 2 * SIZE)
    assert torch.allclose(got, expected, atol=1e-6)
    # The backward half is not the forward reading: a wrong direction would not pass by accident.
    assert not torch.allclose(lm_states(lms["backward"], ids, False), expected[..., SIZE:], atol=1e-3)


def test_padding_changes_no_state_and_the_backward_model_reads_each_row_right_to_left(tmp_path: Path) -> None:
    _, inputs, features = features_of(tmp_path)
    short, long = ["a", "dog", "sat"], ["the", "cat", "sat", "on", "a", "mat"]
    with torch.no_grad():
        together = features(batch_of(inputs, [short, long]))
        alone = features(batch_of(inputs, [short]))
    assert torch.allclose(together[0, :3], alone[0], atol=1e-6)
    assert not together[0, 3:].any()  # padding positions give zeros
    # "sat" ends the short sentence: its backward state has read "sat" only, unlike in the long one.
    assert not torch.allclose(together[0, 2, SIZE:], together[1, 2, SIZE:], atol=1e-4)


def test_reverse_padded_flips_each_row_within_its_length_only() -> None:
    x = torch.tensor([[1, 2, 3, 0], [4, 5, 6, 7]])
    flipped = reverse_padded(x, torch.tensor([3, 4]))
    assert flipped.tolist() == [[3, 2, 1, 0], [7, 6, 5, 4]]
    assert torch.equal(reverse_padded(flipped, torch.tensor([3, 4])), x)
    features = reverse_padded(x[..., None].expand(2, 4, 2), torch.tensor([3, 4]))  # [B, T, D]: by position
    assert features[..., 1].tolist() == flipped.tolist()


def tagger(features=None, aux_lm_weight: float = 0.0, seed: int = 5) -> SequenceTagger:
    torch.manual_seed(seed)
    return SequenceTagger(20, 3, embedding=EmbeddingConfig(embedding_dim=4), char_features=None,
                          encoder=EncoderConfig(hidden_size=5), head="softmax", dropout=0.0,
                          lm_features=features, aux_lm_weight=aux_lm_weight, aux_lm_classes=6)


def tagger_batch(inputs=None) -> dict[str, torch.Tensor]:
    sentences = [["the", "cat", "sat"], ["a", "dog", "sat", "on", "the", "mat"]]
    batch = batch_of(inputs, sentences) if inputs else {"lengths": torch.tensor([3, 6])}
    mask = torch.arange(6)[None, :] < batch["lengths"][:, None]
    ids = torch.tensor([[4, 5, 6, 0, 0, 0], [7, 8, 6, 9, 4, 10]])
    return {**batch, "input_ids": ids, "mask": mask, "tags": torch.tensor([[0, 1, 2, 0, 0, 0], [1] * 6])}


@pytest.mark.parametrize("freeze", [True, False])
def test_freeze_keeps_the_language_models_bit_identical_and_false_fine_tunes_them(tmp_path: Path,
                                                                                 freeze: bool) -> None:
    _, inputs, features = features_of(tmp_path, freeze=freeze, weight_drop=0.3)
    model = tagger(features).train()
    assert all(reader.training is not freeze for reader in model.lm_features.readers.values())
    before = {name: p.detach().clone() for name, p in model.named_parameters() if name.startswith("lm_")}
    assert before and all(p.requires_grad is not freeze for n, p in model.named_parameters() if n in before)
    optimizer = build_optimizer(model, load_config(None, ["task=tagging"]).trainer)
    out = model(tagger_batch(inputs))
    out.loss.backward()
    optimizer.step()
    after = dict(model.named_parameters())
    unchanged = [torch.equal(before[name], after[name]) for name in before]
    assert all(unchanged) if freeze else not any(unchanged)
    # The LM weights are part of the tagger's state dict: a restored tagger needs no LM run.
    assert all(f"{name}" in model.state_dict() for name in before)


def test_the_auxiliary_loss_is_positive_moves_the_encoder_and_is_off_by_default() -> None:
    assert TaggerConfig().aux_lm_weight == 0.0 and tagger().aux_lm is None
    plain, aux = tagger().train(), tagger(aux_lm_weight=0.5).train()
    aux.aux_lm.set_classes(frequent_word_classes([[4, 5, 6], [7, 8, 6, 9, 4, 10]], 20, 5))
    batch = tagger_batch()
    base, extra = plain(batch), aux(batch)
    assert base.aux_loss is None and extra.aux_loss is not None and extra.aux_loss > 0
    assert torch.allclose(extra.loss, base.loss + 0.5 * extra.aux_loss)
    base.loss.backward()
    extra.loss.backward()
    assert not torch.allclose(plain.encoder.rnn.weight_ih_l0.grad, aux.encoder.rnn.weight_ih_l0.grad)
    # Evaluation: the tag loss alone, the same scores.
    plain.eval(), aux.eval()
    assert aux(batch).aux_loss is None and torch.allclose(aux(batch).loss, plain(batch).loss)


def test_frequent_word_classes_rank_by_count_and_share_one_class_for_the_rest() -> None:
    rows = [[5, 6, 5, UNK_ID], [7, 6, 5, UNK_ID, UNK_ID]]  # 5: 3 times, 6: twice, 7: once, <unk> 3 times
    classes = frequent_word_classes(rows, 9, 2)
    assert classes.tolist() == [2, 2, 2, 2, 2, 0, 1, 2, 2]  # <unk> and 7 share the rare class


def test_the_auxiliary_loss_needs_a_one_layer_bidirectional_encoder_without_lm_features() -> None:
    tiny = ROOT / "recipes" / "tagging" / "tiny.yaml"
    cases = {"model.encoder.bidirectional=false": "needs model.encoder.bidirectional=true",
             "model.encoder.num_layers=2": "needs model.encoder.num_layers=1",
             "model.lm_features.forward=runs/x": "cannot be combined with model.lm_features"}
    for override, message in cases.items():
        with pytest.raises(ConfigError, match=rf"model\.aux_lm_weight: {message}") as caught:
            load_config(tiny, ["model.aux_lm_weight=0.1", override])
        assert "\n" not in str(caught.value)


def test_runs_that_cannot_be_used_are_one_line_each_naming_the_key(tmp_path: Path) -> None:
    write_lm_run(tmp_path / "forward_lm")
    write_lm_run(tmp_path / "backward_lm", reverse=True)
    write_lm_run(tmp_path / "tagger_run", task="tagging")
    cases = [
        ("forward", tmp_path / "nowhere", "does not exist"),
        ("forward", tmp_path / "tagger_run", "is a tagging run; it must be a language model run"),
        ("forward", tmp_path / "backward_lm", r"reads right to left \(data\.reverse: true\): name it as "
                                              r"model\.lm_features\.backward"),
        ("backward", tmp_path / "forward_lm", r"reads left to right \(no data\.reverse\): name it as "
                                             r"model\.lm_features\.forward"),
    ]
    for direction, run, message in cases:
        pattern = rf"^model\.lm_features\.{direction}: {re.escape(str(run))} {message}"
        with pytest.raises(ConfigError, match=pattern) as caught:
            open_lm_run(run, direction)
        assert "\n" not in str(caught.value)
    with pytest.raises(ConfigError, match=r"name a forward and/or a backward language model run"):
        LMFeaturesConfig()


def test_a_subword_language_model_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "lm"
    write_lm_run(run)
    (run / "tokenizer.json").write_text('{"kind": "char", "itos": ["<pad>", "<unk>", "<s>", "</s>", "a"], '
                                        '"lowercase": false}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"is a char language model; model\.lm_features reads word-level"):
        open_lm_run(run, "forward")


def test_upstream_keys_name_the_runs_and_their_dotted_keys_can_be_set(tmp_path: Path) -> None:
    tiny = ROOT / "recipes" / "tagging" / "tiny.yaml"
    assert TaggingTask.upstream_keys(load_config(tiny)) == ()
    config = load_config(tiny, ["model.lm_features.forward=lm/tiny", "model.lm_features.backward=lm/tiny"])
    keys = TaggingTask.upstream_keys(config)
    assert keys == ("model.lm_features.forward", "model.lm_features.backward")
    set_value(config, keys[1], str(tmp_path))  # what nlpseq.api._train_upstream does with a recipe name
    assert get_value(config, keys[1]) == str(tmp_path) == config.model.lm_features.backward
    only = load_config(tiny, ["model.lm_features.forward=lm/tiny"])
    assert TaggingTask.upstream_keys(only) == ("model.lm_features.forward",)


def test_the_task_feeds_each_language_model_its_own_ids_and_restores_without_the_lm_runs(tmp_path: Path
                                                                                       ) -> None:
    write_lm_run(tmp_path / "fwd")
    write_lm_run(tmp_path / "bwd", reverse=True)
    rows = [{"tokens": ["The", "cat", "sat", "in", "1999"], "tags": ["O", "B-ANI", "O", "O", "O"]}] * 4
    data = [f"data.{split}={write_jsonl(tmp_path / f'{split}.jsonl', rows)}" for split in ("train", "valid")]
    run = tmp_path / "run"
    run.mkdir()
    config = load_config(ROOT / "recipes" / "tagging" / "tiny.yaml", [
        *data, f"run_dir={run}", f"data.cache_dir={tmp_path / 'cache'}", "tokenizer.lowercase=false",
        "tokenizer.normalize_digits=true", f"model.lm_features.forward={tmp_path / 'fwd'}",
        f"model.lm_features.backward={tmp_path / 'bwd'}"])
    task = TaggingTask(config, run)
    task.prepare()
    batch = task.collate([{**task.split("train")[0], "index": 0}])
    # The LM's own tokenizer: "The" lower-cased, "1999" kept; the tagger's: "The" as is, "1999" -> "0000".
    lm_ids = [len(SPECIALS) + LM_WORDS.index(w) for w in ("the", "cat", "sat")] + [UNK_ID] + \
        [len(SPECIALS) + LM_WORDS.index("1999")]
    assert batch["lm_forward_ids"].tolist() == [lm_ids] == batch["lm_backward_ids"].tolist()
    assert task.tokenizer.decode(batch["input_ids"][0].tolist()) == "The cat sat in 0000"
    model = task.build_model(training=True)
    state = model.state_dict()

    for name in ("fwd", "bwd"):
        for path in (tmp_path / name).rglob("*"):
            if path.is_file():
                path.unlink()
    restored = TaggingTask(config, run)
    restored.restore()
    assert restored._encode_words(["The", "1999"])["lm_forward_ids"] == [lm_ids[0], lm_ids[-1]]
    fresh = restored.build_model(training=False)
    fresh.load_state_dict(state)
    fresh.eval(), model.eval()
    assert torch.equal(fresh(batch).scores, model(batch).scores)
    (run / "lm_backward.json").unlink()
    with pytest.raises(DataError, match=r"lm_backward\.json: missing from the run folder"):
        restore_lm_inputs(run, config.model.lm_features)
