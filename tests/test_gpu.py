"""CUDA-only checks: bf16 autocast training end to end. Skipped cleanly where no GPU is present."""

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
