"""The translation task end to end: the tiny recipe through the real command line (train, evaluate,
predict, average, attention plots), predict's input splitting, and sacreBLEU on known pairs."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from nlpseq.errors import ConfigError
from nlpseq.metrics.translation import translation_metrics
from tests.helpers import ROOT, run_cli

FR_EN = {"le": "the", "chat": "cat", "chien": "dog", "mange": "eats", "voit": "sees", "petit": "small",
         "grand": "big", "oiseau": "bird", "poisson": "fish", "rouge": "red"}


def toy_pairs(count: int, seed: int) -> list[tuple[str, str]]:
    """Word-for-word 'French' -> 'English': learnable in seconds."""
    rng = random.Random(seed)
    pairs = []
    for _ in range(count):
        words = [rng.choice(list(FR_EN)) for _ in range(rng.randint(1, 5))]
        pairs.append((" ".join(words), " ".join(FR_EN[w] for w in words)))
    return pairs


def write_prefix(prefix: Path, pairs: list[tuple[str, str]]) -> str:
    prefix.with_suffix(".fr").write_text("".join(f + "\n" for f, _ in pairs), encoding="utf-8")
    prefix.with_suffix(".en").write_text("".join(e + "\n" for _, e in pairs), encoding="utf-8")
    return str(prefix)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("translation")
    splits = {name: write_prefix(folder / name, toy_pairs(n, seed))
              for name, n, seed in (("train", 400, 1), ("valid", 40, 2), ("test", 40, 3))}
    run = folder / "run"
    done = run_cli("train", "translation/tiny", *(f"data.{k}={v}" for k, v in splits.items()),
                   f"run_dir={run}", f"data.cache_dir={folder / 'cache'}")
    assert done.returncode == 0, done.stderr
    return run


def test_training_scores_greedy_and_beam_with_signatures(run_dir: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    test = results["test"]
    assert test["greedy"]["bleu"] > 60  # a word-for-word toy: learnt in seconds
    # The headline is the recipe's decoding (beam 3 in the tiny recipe), as predict would translate.
    assert test["decoding"] == "beam" and test["bleu"] == test["beam"]["bleu"]
    assert test["beam"]["beam_size"] == 3 and test["beam"]["length_penalty"] == 0.6
    assert test["beam"]["bleu"] > 60
    assert test["greedy"]["bleu_signature"].startswith("nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|")
    assert test["beam"]["chrf_signature"].startswith("nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|")
    assert (run_dir / "source.model").is_file() and (run_dir / "target.model").is_file()
    assert len(list((run_dir / "checkpoints").glob("step-*.pt"))) == 2  # trainer.keep_checkpoints: 2


def test_evaluate_a_split_or_any_prefix(run_dir: Path, tmp_path: Path) -> None:
    done = run_cli("evaluate", str(run_dir), "--beam-size", "1")
    assert done.returncode == 0, done.stderr
    metrics = json.loads(done.stdout)
    assert "beam" not in metrics and metrics["decoding"] == "greedy" and metrics["bleu"] > 60
    # A length penalty of 0 is a value, not "not given" (the recipe's is 0.6).
    done = run_cli("evaluate", str(run_dir), "--length-penalty", "0")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["beam"]["length_penalty"] == 0.0
    prefix = write_prefix(tmp_path / "other", toy_pairs(10, 9))
    done = run_cli("evaluate", str(run_dir), "--data", prefix)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["greedy"]["examples"] == 10


def test_predict_translates_streams_and_keeps_one_line_per_input_line(run_dir: Path) -> None:
    # Only "\n" ends a line: U+2028, form feed and NEL stay inside it; a leading BOM is dropped.
    done = run_cli("predict", str(run_dir), stdin="\ufeffle chat\u2028noir\nle\x0cchien\n\nok\x85x\n")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split("\n")
    assert len(lines) == 5 and lines[-1] == "" and lines[2] == ""
    done = run_cli("predict", str(run_dir), "--batch-lines", "1", stdin="le grand chien mange\nle chat\n")
    assert done.stdout.split("\n")[:2] == ["the big dog eats", "the cat"]


def test_predict_n_best_jsonl_with_attention_and_plots(run_dir: Path, tmp_path: Path) -> None:
    done = run_cli("predict", str(run_dir), "--beam-size", "3", "--n-best", "2", "--format", "jsonl",
                   "--attention", "--plot-attention", str(tmp_path / "plots"),
                   stdin="le chat\n\nle petit oiseau\n")
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in done.stdout.splitlines()]
    assert [row["text"] for row in rows] == ["le chat", "", "le petit oiseau"]
    first = rows[0]
    assert first["translation"] == "the cat" == first["n_best"][0]["translation"]
    assert len(first["n_best"]) == 2 and first["n_best"][0]["score"] >= first["n_best"][1]["score"]
    assert len(first["attention"]) == len(first["target_pieces"])
    assert all(len(row) == len(first["source_pieces"]) for row in first["attention"])
    assert rows[1] == {"text": "", "translation": "", "score": None}
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["00001.png", "00003.png"]


def test_average_the_kept_checkpoints_and_evaluate_them(run_dir: Path) -> None:
    done = run_cli("average", str(run_dir), "--last", "2")
    assert done.returncode == 0, done.stderr
    assert (run_dir / "checkpoints" / "averaged.pt").is_file()
    done = run_cli("evaluate", str(run_dir), "--checkpoint", "averaged", "--beam-size", "1")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["bleu"] > 50
    done = run_cli("average", str(run_dir), "--last", "5")
    assert done.returncode == 2 and "2 step checkpoint(s) here, fewer than --last 5" in done.stderr


def test_help_after_a_translation_run_lists_its_options_per_command(run_dir: Path) -> None:
    predict = run_cli("predict", str(run_dir), "--help").stdout
    assert all(f in predict for f in ("--beam-size", "--length-penalty", "--n-best", "--attention",
                                      "--plot-attention DIR", "options of a translation run"))
    evaluate = run_cli("evaluate", str(run_dir), "--help").stdout
    assert "--beam-size" in evaluate and "--n-best" not in evaluate and "--dynamic-lr" not in evaluate


@pytest.mark.parametrize(("args", "message"), [
    (["--n-best", "4", "--beam-size", "2"], "--n-best 4 must be between 1 and the beam size 2"),
    (["--beam-size", "0"], "--beam-size: 0 is out of range; allowed: >= 1"),
    (["--length-penalty", "-1"], "--length-penalty: -1.0 is out of range; allowed: >= 0"),
    (["--checkpoint", "averaged"], "checkpoint"),
])
def test_option_mistakes_are_one_line(run_dir: Path, tmp_path: Path, args: list[str], message: str) -> None:
    if args[:2] == ["--checkpoint", "averaged"]:
        (run_dir / "checkpoints" / "averaged.pt").unlink(missing_ok=True)
    done = run_cli("predict", str(run_dir), *args, stdin="le chat\n")
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_task_without_options_rejects_them() -> None:
    from nlpseq.tasks.classification import ClassificationTask
    from nlpseq.tasks.options import OptionError, flag

    task = ClassificationTask.__new__(ClassificationTask)  # set_options needs no state
    refused = r"^beam_size, n_best: not an option of a classification run$"
    with pytest.raises(OptionError, match=refused) as raised:
        task.set_options(n_best=2, beam_size=5)
    # The command line spells the same error with its flags.
    assert raised.value.render(flag) == "--beam-size, --n-best: not an option of a classification run"
    task.set_options()  # nothing given: nothing to reject


def test_sacrebleu_on_a_known_pair() -> None:
    # 1- to 4-gram precisions 5/6, 3/5, 2/4, 1/3, no brevity penalty: BLEU = (5/6*3/5*1/2*1/3) ** (1/4).
    metrics = translation_metrics(["the cat sat on the mat"], ["the cat sat on a mat"])
    assert metrics["bleu"] == pytest.approx(100 * (5 / 6 * 3 / 5 * 1 / 2 * 1 / 3) ** 0.25)
    assert metrics["brevity_penalty"] == 1.0
    short = translation_metrics(["the cat"], ["the cat sat on a mat"])
    assert short["brevity_penalty"] == pytest.approx(2.718281828 ** (1 - 6 / 2))
    assert translation_metrics(["Exactly this."], ["Exactly this."])["chrf"] == 100.0


def test_joint_vocabulary_shares_embeddings_and_lstm_luong_trains(tmp_path: Path) -> None:
    import nlpseq

    splits = [f"data.{name}={write_prefix(tmp_path / name, toy_pairs(n, seed))}"
              for name, n, seed in (("train", 200, 1), ("valid", 20, 2))]
    run = tmp_path / "run"
    results = nlpseq.train(ROOT / "recipes" / "translation" / "tiny.yaml", [
        *splits, f"run_dir={run}", f"data.cache_dir={tmp_path / 'cache'}", "tokenizer.joint=true",
        "model.encoder.rnn_type=lstm", "model.decoder.rnn_type=lstm", "model.decoder.attention=general",
        "model.decoder.tie_embeddings=true", "model.embedding.embedding_dim=32", "trainer.max_epochs=2"])
    assert "bleu" in results["valid"] and "test" not in results
    assert (run / "joint.model").is_file() and not (run / "source.model").exists()
    predictor = nlpseq.load(run, device="cpu")
    model = predictor.model
    assert model.source_embedding is model.target_embedding
    assert model.decoder.output.weight is model.target_embedding.embedding.weight
    assert isinstance(predictor.predict("le chat")["translation"], str)


def test_predict_at_a_terminal_answers_each_line_before_the_next_is_typed(run_dir: Path) -> None:
    import os
    import pty
    import select
    import subprocess
    import sys

    from tests.helpers import ROOT

    leader, follower = pty.openpty()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen([sys.executable, "-m", "nlpseq", "predict", str(run_dir)], stdin=follower,
                               stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env)
    try:
        os.write(leader, b"le chat\n")
        ready, _, _ = select.select([process.stdout], [], [], 120)
        assert ready, "no answer to the first line while stdin stays open"
        assert process.stdout.readline().decode() == "the cat\n"
        os.write(leader, b"le chien\n")
        assert process.stdout.readline().decode() == "the dog\n"
    finally:
        os.close(leader)
        os.close(follower)
        process.kill()
        process.wait()


def test_each_side_takes_its_own_tokenizer_keys(tmp_path: Path) -> None:
    from nlpseq.tasks import load_config
    from nlpseq.tasks.translation import TranslationTask

    splits = [f"data.{name}={write_prefix(tmp_path / name, toy_pairs(n, seed))}"
              for name, n, seed in (("train", 200, 1), ("valid", 20, 2), ("test", 20, 3))]
    recipe = ROOT / "recipes" / "translation" / "tiny.yaml"
    config = load_config(recipe, [*splits, f"run_dir={tmp_path / 'run'}", "tokenizer.vocab_size=24",
                                  "tokenizer.target={kind: word, lowercase: true}"])
    source, target = config.tokenizer.side("source"), config.tokenizer.side("target")
    assert (source.kind, source.vocab_size, source.lowercase) == ("sentencepiece", 24, False)
    assert (target.kind, target.lowercase) == ("word", True)  # its own keys over the shared ones
    task = TranslationTask(config, tmp_path / "run")
    (tmp_path / "run").mkdir()
    task.prepare()
    assert task.source_tokenizer.kind == "sentencepiece" and task.source_tokenizer.vocab_size == 24
    assert task.target_tokenizer.kind == "word"
    assert task.target_tokenizer.tokenize("The Cat") == ["the", "cat"]
    # The keys are checked when the recipe loads, named by their side; the old key names its successor.
    moved = r"data\.joint_vocabulary is now tokenizer\.joint"
    for override, message in (("tokenizer.source={vocab_size: 3}", r"tokenizer\.source\.vocab_size: 3"),
                              ("tokenizer.target={size: 9}", r"unknown key 'tokenizer\.target\.size'"),
                              ("tokenizer.joint=true", None), ("data.joint_vocabulary=true", moved)):
        if message is None:  # joint and a side section together
            with pytest.raises(ConfigError, match=r"tokenizer\.target: one joint model serves both sides"):
                load_config(recipe, ["tokenizer.target={kind: word}", override])
            continue
        with pytest.raises(ConfigError, match=message):
            load_config(recipe, [override])


def test_a_partial_encoder_section_keeps_the_translation_defaults() -> None:
    from nlpseq.tasks import load_config

    encoder = load_config(None, ["task=translation", "model.encoder={hidden_size: 64}"]).model.encoder
    assert (encoder.rnn_type, encoder.hidden_size, encoder.dropout) == ("gru", 64, 0.2)
    embedding = load_config(None, ["task=translation", "model.embedding={dropout: 0.0}"]).model.embedding
    assert (embedding.embedding_dim, embedding.dropout) == (256, 0.0)
