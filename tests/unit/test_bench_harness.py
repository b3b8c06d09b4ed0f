"""bench/run.py's harness without its clocks: the kernel baseline's sizes and shape replay, the ratio,
padding and scaling arithmetic, the markdown table, the machine slug, the corpus replication. No test
here asserts a speed (speeds are benchmarks, not expectations)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from bench import run as bench_run
from bench.harness import kernel as kernel_module
from bench.harness.inference import make_run_folder, measure_generation, measure_inference
from bench.harness.kernel import (
    BatchRecord,
    KernelLayer,
    RawKernel,
    RecordingBatches,
    kernel_layers,
    merge_stacked,
    record_batch,
)
from bench.harness.machine import machine_slug, slug
from bench.harness.report import efficiency, markdown_table, padding_share, scaling_summary, tokens_per_s
from bench.harness.scaling import measure_data, measure_startup, replicate
from bench.harness.training import measure_training
from nlpseq.config import TrainerConfig
from nlpseq.errors import ConfigError
from nlpseq.models.char_features import CharFeaturesConfig
from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.decoder import DecoderConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.models.seq2seq import Seq2Seq
from nlpseq.models.tagger import SequenceTagger
from nlpseq.recipes import find_recipe
from nlpseq.tasks import get_task, load_config
from tests.helpers import ROOT, sentiment_files


# ------------------------------------------------------------------------------ kernel sizes
def test_kernel_of_a_classifier_has_its_encoder_sizes():
    model = SequenceClassifier(50, 2, EmbeddingConfig(embedding_dim=12),
                               EncoderConfig(rnn_type="gru", hidden_size=7, num_layers=2, bidirectional=True))
    assert kernel_layers(model) == [KernelLayer("gru", 12, 7, 2, True, "input_ids", ("encoder.rnn",))]
    rnn = kernel_layers(model)[0].build()
    assert isinstance(rnn, nn.GRU) and rnn.batch_first
    assert (rnn.input_size, rnn.hidden_size, rnn.num_layers, rnn.bidirectional) == (12, 7, 2, True)
    # The same parameter count as the model's own RNN: the same sizes, nothing more.
    assert sum(p.numel() for p in rnn.parameters()) == sum(p.numel() for p in model.encoder.rnn.parameters())


def test_a_language_models_stacked_layers_read_as_one_multi_layer_kernel():
    model = LanguageModel(40, EmbeddingConfig(embedding_dim=9), lm_encoder(hidden_size=9, num_layers=3))
    assert kernel_layers(model) == [KernelLayer("lstm", 9, 9, 3, False, "input_ids",
                                                ("layers.0.rnn", "layers.1.rnn", "layers.2.rnn"))]


def test_layers_that_a_fused_rnn_cannot_stack_stay_apart():
    # AWD-LSTM-like sizes: the middle layer is wider, so no two layers share a hidden size and input.
    sizes = [("lstm", 8, 20), ("lstm", 20, 20), ("lstm", 20, 8), ("gru", 8, 8)]
    layers = [KernelLayer(kind, inputs, hidden, 1, False, "input_ids") for kind, inputs, hidden in sizes]
    merged = merge_stacked(layers)
    assert [(layer.input_size, layer.hidden_size, layer.num_layers) for layer in merged] == [
        (8, 20, 2), (20, 8, 1), (8, 8, 1)]


def test_a_translation_models_decoder_cells_replay_the_target_shape():
    model = Seq2Seq(30, 40, EmbeddingConfig(embedding_dim=6), EncoderConfig(rnn_type="gru", hidden_size=5),
                    DecoderConfig(rnn_type="lstm", hidden_size=11, num_layers=2, attention="bahdanau",
                                  attention_size=4))
    encoder, decoder = kernel_layers(model)
    assert encoder == KernelLayer("gru", 6, 5, 1, True, "input_ids", ("encoder.rnn",))
    # Bahdanau: the first cell reads the embedding and the 2 x 5 context; two cells, one fused LSTM.
    assert (decoder.rnn_type, decoder.input_size, decoder.hidden_size, decoder.num_layers,
            decoder.bidirectional, decoder.shape_key) == ("lstm", 6 + 10, 11, 2, False, "target_in")
    assert decoder.modules == ("decoder.cells.0", "decoder.cells.1")


def test_a_taggers_character_lstm_replays_words_as_rows():
    model = SequenceTagger(vocab_size=20, num_tags=5, num_chars=15,
                           embedding=EmbeddingConfig(embedding_dim=8),
                           char_features=CharFeaturesConfig(kind="lstm", embedding_dim=4, hidden_size=3),
                           encoder=EncoderConfig(rnn_type="lstm", hidden_size=6), head="softmax")
    chars, words = kernel_layers(model)
    assert (chars.shape_key, chars.input_size, chars.hidden_size, chars.bidirectional) == \
        ("chars", 4, 3, True)
    assert (words.shape_key, words.input_size, words.hidden_size) == ("input_ids", 8 + 6, 6)
    record = record_batch({"input_ids": torch.ones(2, 5, dtype=torch.long), "lengths": torch.tensor([5, 3]),
                           "chars": torch.ones(2, 5, 7, dtype=torch.long), "num_tokens": torch.tensor(8)})
    assert record.shapes["chars"] == (10, 7)


def test_a_model_without_an_rnn_is_refused():
    with pytest.raises(ValueError, match=r"no nn\.LSTM/nn\.GRU"):
        kernel_layers(nn.Linear(3, 3))


# ------------------------------------------------------------------------------ records and replay
def test_a_batch_record_counts_real_and_padded_slots_on_both_sides():
    batch = {"input_ids": torch.zeros(2, 4, dtype=torch.long), "lengths": torch.tensor([4, 2]),
             "target_in": torch.zeros(2, 3, dtype=torch.long),
             "target_out": torch.tensor([[5, 6, 2], [7, 2, 0]]), "num_tokens": torch.tensor(5)}
    record = record_batch(batch)
    assert record.shapes == {"input_ids": (2, 4), "target_in": (2, 3)}
    assert record.sides == {"input_ids": (6, 8), "target_in": (5, 6)}
    assert (record.tokens, record.real, record.slots) == (5, 6 + 5, 8 + 6)
    # A stream window (no lengths) has no padding.
    stream = record_batch({"input_ids": torch.zeros(3, 5, dtype=torch.long), "num_tokens": torch.tensor(15)})
    assert (stream.real, stream.slots) == (15, 15)


class ListBatches:
    """A stand-in TrainingBatches over fixed batches."""

    def __init__(self, batches: list[dict[str, torch.Tensor]]):
        self.batches = batches
        self.epochs: list[tuple[int, int]] = []

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.epochs.append((epoch, skip))

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self):
        return iter(self.batches)

    def statistics(self) -> dict[str, float]:
        return {"padding_share": 0.5}


def test_recording_batches_pass_batches_through_and_hand_over_their_records_once():
    batches = [{"input_ids": torch.zeros(2, t, dtype=torch.long), "lengths": torch.tensor([t, 1]),
                "num_tokens": torch.tensor(t + 1)} for t in (3, 5)]
    inner = ListBatches(batches)
    recording = RecordingBatches(inner)
    recording.set_epoch(2, skip=1)
    assert inner.epochs == [(2, 1)] and len(recording) == 2
    assert recording.statistics() == {"padding_share": 0.5}
    assert list(recording) == batches
    assert [record.shapes["input_ids"] for record in recording.take()] == [(2, 3), (2, 5)]
    assert recording.take() == []


def test_the_kernel_replays_the_recorded_shapes_and_steps_its_optimizer():
    layers = [KernelLayer("gru", 6, 4, 1, True, "input_ids"),
              KernelLayer("lstm", 5, 3, 2, False, "target_in")]
    records = [BatchRecord({"input_ids": (2, 7), "target_in": (2, 4)}, 8),
               BatchRecord({"input_ids": (3, 2), "target_in": (3, 9)}, 9)]
    kernel = RawKernel(layers, TrainerConfig(optimizer="sgd", lr=0.1), torch.device("cpu"), records[:1])
    seen: list[tuple[int, ...]] = []
    for rnn in kernel.rnns:
        rnn.register_forward_hook(lambda module, inputs, output: seen.append(tuple(inputs[0].shape)))
    before = [param.detach().clone() for param in kernel.rnns.parameters()]
    assert [buffer.numel() for buffer in kernel.buffers] == [2 * 7 * 6, 2 * 4 * 5]
    kernel.grow(records)  # the second record is larger than the first: the buffers grow
    assert [buffer.numel() for buffer in kernel.buffers] == [2 * 7 * 6, 3 * 9 * 5]
    kernel.run(records)
    assert seen == [(2, 7, 6), (2, 4, 5), (3, 2, 6), (3, 9, 5)]
    assert all(not torch.equal(old, new) for old, new in zip(before, kernel.rnns.parameters(), strict=True))
    assert all(param.grad is None for param in kernel.rnns.parameters())  # zeroed after the step


def test_measure_training_replays_the_pipelines_own_batches(tmp_path, monkeypatch):
    overrides = sentiment_files(tmp_path / "data", train=48)
    config = load_config(find_recipe("sentiment/tiny"), [*overrides, f"run_dir={tmp_path / 'run'}",
                                                         "trainer.batch_size=8"])
    task = get_task(config.task)(config, tmp_path / "run")
    task.prepare()
    replayed: list[BatchRecord] = []
    monkeypatch.setattr(kernel_module.RawKernel, "step", lambda self, record: replayed.append(record))
    result = measure_training(task, tmp_path / "run", torch.device("cpu"), rounds=2, steps=2, warmup=1)
    assert result["kernel"] == [{"rnn": "gru", "input_size": 16, "hidden_size": 16, "num_layers": 1,
                                 "bidirectional": True, "shape": "input_ids", "modules": ["encoder.rnn"]}]
    # Warm-up 1 + 2 rounds x 2 steps: the kernel replayed each of the 5 batches once, 4 of them counted.
    assert len(replayed) == 5 and result["batches"] == 4 and result["steps_timed"] == 4
    assert result["tokens"] == sum(record.tokens for record in replayed[1:])
    assert result["padding_share"] == round(padding_share(replayed[1:]), 4)
    assert (tmp_path / "run" / "checkpoints" / "best.pt").is_file()


def test_inference_loads_the_harness_run_folder_and_counts_what_it_asked_for(tmp_path):
    overrides = sentiment_files(tmp_path / "data", train=32, test=12)
    run_dir = tmp_path / "run"
    config = load_config(find_recipe("sentiment/tiny"), [*overrides, f"run_dir={run_dir}"])
    task = get_task(config.task)(config, run_dir)
    task.prepare()
    make_run_folder(task, run_dir)  # no training round ran: the initial weights
    result = measure_inference(run_dir, torch.device("cpu"), sentences=10, single=3, trained=False)
    assert result["model"] == "untrained weights (speed only)"
    assert (result["sentences"], result["one_by_one_sentences"]) == (10, 3)
    assert "beam_size" not in result and result["peak_memory_mib"] > 0


def test_generation_samples_a_language_models_run_folder(tmp_path):
    lines = "".join(f"the {word} sat on the mat\n" for word in ("cat", "dog", "hen", "fox") * 5)
    for split in ("train", "valid", "test"):
        (tmp_path / f"{split}.txt").write_text(lines, encoding="utf-8")
    run_dir = tmp_path / "run"
    files = [f"data.{split}={tmp_path / split}.txt" for split in ("train", "valid", "test")]
    config = load_config(find_recipe("lm/tiny"), [*files, f"run_dir={run_dir}"])
    task = get_task(config.task)(config, run_dir)
    task.prepare()
    make_run_folder(task, run_dir)
    result = measure_generation(run_dir, torch.device("cpu"), samples=3, max_new_tokens=4, trained=False)
    assert (result["samples"], result["max_new_tokens"]) == (3, 4)
    assert result["batched_tokens_per_s"] > 0 and result["one_by_one_tokens_per_s"] > 0


# ------------------------------------------------------------------------------ arithmetic
def test_throughput_efficiency_and_padding_arithmetic():
    assert tokens_per_s(1000, 4.0) == 250.0 and tokens_per_s(10, 0.0) == 0.0
    assert efficiency(450.0, 900.0) == 0.5 and efficiency(1.0, 0.0) == 0.0
    records = [BatchRecord({}, 0, {"input_ids": (30, 40)}), BatchRecord({}, 0, {"input_ids": (50, 60)})]
    assert padding_share(records) == pytest.approx(0.2)  # pooled: 20 of 100 slots, not the mean of shares
    assert padding_share([]) == 0.0
    sides = [BatchRecord({}, 0, {"input_ids": (9, 10), "target_in": (6, 10)})]
    assert padding_share(sides, "input_ids") == pytest.approx(0.1)
    assert padding_share(sides, "target_in") == pytest.approx(0.4)
    assert padding_share(sides) == pytest.approx(0.25)


def test_scaling_summary_slope_linearity_and_flat_memory():
    linear = [{"factor": f, "seconds": 1.0 + 2.0 * f, "peak_mib": 400.0, "base_mib": 300.0}
              for f in (1, 4, 16)]
    summary = scaling_summary(linear)
    assert summary["seconds_per_1x"] == 2.0 and summary["fixed_seconds"] == 1.0
    assert summary["time_linear"] is True and summary["memory_growth_mib"] == 0.0 and summary["memory_flat"]
    quadratic = [{"factor": f, "seconds": f * f, "peak_mib": 300.0 + 10 * f, "base_mib": 300.0}
                 for f in (1, 4, 16)]
    summary = scaling_summary(quadratic)
    assert summary["time_linear"] is False and summary["memory_growth_mib"] == 150.0
    assert summary["memory_flat"] is False
    # Two sizes give a slope but no verdict on linearity: any two points lie on a line.
    two = scaling_summary(linear[:2])
    assert two["seconds_per_1x"] == 2.0 and two["time_linear"] is None
    assert scaling_summary(linear[:1])["seconds_per_1x"] is None


# ------------------------------------------------------------------------------ table and names
def test_markdown_table_has_a_row_per_task_and_dashes_for_what_was_not_measured():
    results = {"slug": "amd-epyc-2c", "date": "2026-12-06", "quick": True,
               "machine": {"cpu": "AMD EPYC", "cores_available": 2, "threads": 1, "device": "cpu",
                           "torch": "2.x", "argv": ["bench/run.py", "--quick"]},
               "tasks": {"classification": {"recipe": "sentiment/mr_bigru",
                                            "training": {"pipeline_tokens_per_s": 8075.4,
                                                         "kernel_tokens_per_s": 18835.0, "efficiency": 0.4287,
                                                         "padding_share": 0.0349},
                                            "data": {"seconds_per_1x": 2.051, "memory_flat": False},
                                            "errors": ["startup: RuntimeError: boom"]}}}
    table = markdown_table(results)
    lines = table.splitlines()
    assert lines[0] == "# nlpseq speed harness: amd-epyc-2c (2026-12-06)"
    header = next(line for line in lines if line.startswith("| task"))
    row = next(line for line in lines if line.startswith("| classification"))
    assert header.count("|") == row.count("|")
    assert row == "| classification | 8,075 | 18,835 | 0.43 | 0.035 | – | – | – | – | – | 2.05 | no | – |"
    assert "- not measured: startup: RuntimeError: boom" in lines


def test_machine_slug_from_the_cpu_or_the_gpu():
    cpu = torch.device("cpu")
    assert machine_slug(cpu, cpu="Intel(R) Xeon(R) Platinum 8375C CPU @ 2.90GHz", cores=2) == \
        "intel-xeon-platinum-8375c-2c"
    assert machine_slug(cpu, cpu="AMD EPYC", cores=16) == "amd-epyc-16c"
    assert machine_slug(torch.device("cuda"), gpu="NVIDIA H100 80GB HBM3") == "nvidia-h100-80gb-hbm3"
    assert slug("???") == "machine"


def test_replicate_copies_the_text_and_keeps_conll_sentences_apart(tmp_path):
    source = tmp_path / "in" / "train.txt"
    source.parent.mkdir()
    source.write_text("EU B-ORG\nrejects O", encoding="utf-8")  # no final newline
    out = tmp_path / "out"
    out.mkdir()
    copy = replicate(source, 3, out, blank_line=True)
    assert copy == out / "train.txt"
    assert copy.read_text(encoding="utf-8") == "EU B-ORG\nrejects O\n\n" * 3
    plain = replicate(source, 2, out, blank_line=False)
    assert plain.read_text(encoding="utf-8") == "EU B-ORG\nrejects O\n" * 2


@pytest.mark.slow  # two preparations and a training start, each in its own process
def test_data_scaling_prepares_replicated_copies_and_startup_reaches_the_first_step(tmp_path):
    overrides = sentiment_files(tmp_path / "data", train=40)
    config = load_config(find_recipe("sentiment/tiny"), overrides)
    data = measure_data(str(ROOT / "recipes" / "sentiment" / "tiny.yaml"), config, (1, 2), threads=1)
    assert [point["factor"] for point in data["points"]] == [1, 2]
    assert [point["train_examples"] for point in data["points"]] == [40, 80]
    assert data["train_lines"] == 40 and data["seconds_per_1x"] is not None
    startup = measure_startup(str(ROOT / "recipes" / "sentiment" / "tiny.yaml"), threads=1, device="cpu",
                              extra=overrides)
    assert startup["seconds_to_first_step"] > 0


# ------------------------------------------------------------------------------ the command line
def test_run_dir_and_recipe_options_parse_and_refuse_bad_values():
    args = bench_run.parse_args(["--task", "lm,generation", "--quick", "--run-dir", "lm=runs/x",
                                 "--recipe", "lm=lm/tiny"])
    assert args.tasks == ["lm", "generation"] and args.run_dirs == {"lm": "runs/x"}
    assert args.recipes["lm"] == "lm/tiny" and args.recipes["classification"] == "sentiment/mr_bigru"
    with pytest.raises(ConfigError, match="--run-dir 'nope': expected TASK=VALUE"):
        bench_run.parse_args(["--run-dir", "nope"])
    with pytest.raises(SystemExit):
        bench_run.parse_args(["--task", "parsing"])


def test_results_of_a_later_run_the_same_day_join_the_file(tmp_path):
    first = {"slug": "m", "date": "2026-12-06", "quick": True, "machine": {},
             "tasks": {"lm": {"recipe": "a"}}}
    bench_run.write_results(first, tmp_path)
    second = {"slug": "m", "date": "2026-12-06", "quick": True, "machine": {}, "tasks": {"tagging": {}}}
    path, table = bench_run.write_results(second, tmp_path)
    assert sorted(json.loads(path.read_text())["tasks"]) == ["lm", "tagging"]
    assert table == path.with_suffix(".md") and "| lm |" in table.read_text()
    # A full run does not mix with a quick one: it replaces the file.
    full = {"slug": "m", "date": "2026-12-06", "quick": False, "machine": {}, "tasks": {"tagging": {}}}
    path, _ = bench_run.write_results(full, tmp_path)
    assert sorted(json.loads(path.read_text())["tasks"]) == ["tagging"]
