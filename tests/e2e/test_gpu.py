"""CUDA-only checks: bf16 autocast training end to end. Skipped cleanly where no GPU is present.
(The LM loss's CUDA case is a device parameter of its test in tests/tasks/test_language_model.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import nlpseq
from nlpseq.tasks import load_config
from tests.helpers import sentiment_files

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_tiny_recipe_trains_under_autocast_on_cuda(tmp_path: Path, precision: str) -> None:
    results = nlpseq.train(load_config("recipes/sentiment/tiny.yaml", [
        *sentiment_files(tmp_path / "data"), f"run_dir={tmp_path / precision}", "trainer.max_epochs=6",
        f"trainer.precision={precision}", "trainer.device=cuda"]))
    assert results["device"].startswith("cuda")
    assert results["test"]["accuracy"] >= 0.8


def test_crf_is_fp32_under_bf16_autocast_on_cuda() -> None:
    from nlpseq.models.crf import CRF

    crf = CRF(5).cuda()
    emissions = torch.randn(3, 7, 5, device="cuda")
    mask = torch.ones(3, 7, dtype=torch.bool, device="cuda")
    with torch.autocast("cuda", dtype=torch.bfloat16):
        log_z = crf.log_partition(emissions.bfloat16(), mask)
    assert log_z.dtype == torch.float32
    torch.testing.assert_close(log_z, crf.log_partition(emissions.bfloat16().float(), mask))


def test_weight_drop_keeps_cudnns_fused_lstm_on_cuda() -> None:
    """AWD-LSTM's DropConnect: one cuDNN call over all steps, with the dropped matrix in it."""
    import copy

    import torch.nn.functional as F

    from nlpseq.models.regularization import WeightDrop

    torch.manual_seed(0)
    rnn = torch.nn.LSTM(8, 16, batch_first=True).cuda()
    reference = copy.deepcopy(rnn)
    drop = WeightDrop(rnn, 0.5).train()
    x = torch.randn(4, 7, 8, device="cuda")
    torch.manual_seed(7)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profile:
        out, _ = drop(x)
        out.sum().backward()
    assert "aten::_cudnn_rnn" in {event.key for event in profile.key_averages()}
    assert drop.weight_hh_raw.grad.abs().sum() > 0
    torch.manual_seed(7)
    dropped = F.dropout(drop.weight_hh_raw, 0.5, True)
    del reference.weight_hh_l0
    reference.weight_hh_l0 = dropped.detach()
    torch.testing.assert_close(out, reference(x)[0])


def test_tiny_language_model_trains_and_generates_on_cuda(tmp_path: Path) -> None:
    from tests.tasks.test_language_model import WORDS, text_files

    run = tmp_path / "lm"
    results = nlpseq.train(load_config("recipes/lm/tiny.yaml", [
        *text_files(tmp_path / "data"), f"run_dir={run}", "trainer.max_epochs=4", "trainer.device=cuda"]))
    assert results["device"].startswith("cuda")
    assert results["test"]["perplexity"] < 4.0
    predictor = nlpseq.load(run, device="cuda")
    first = predictor.generate(["the cat", ""], num_samples=3, seed=4, max_new_tokens=12, top_k=5)
    assert first == predictor.generate(["the cat", ""], num_samples=3, seed=4, max_new_tokens=12, top_k=5)
    assert all(set(row["text"].split()) <= set(WORDS) for row in first)
