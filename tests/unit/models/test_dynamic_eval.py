"""Dynamic evaluation of a stream language model, on tiny random models and streams."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from nlpseq.errors import ConfigError
from nlpseq.models.dynamic_eval import dynamic_total_loss, dynamic_windows
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.tasks import load_config
from nlpseq.tasks.language_model import LanguageModelTask
from nlpseq.tasks.options import OptionError, check_options, flag


def model(weight_drop: float = 0.0) -> LanguageModel:
    torch.manual_seed(0)
    encoder = lm_encoder(hidden_size=16, num_layers=2, dropout=0.3, weight_drop=weight_drop)
    return LanguageModel(20, EmbeddingConfig(embedding_dim=8), encoder, input_dropout=0.2)


def stream(length: int, seed: int) -> torch.Tensor:
    return torch.randint(3, 20, (length,), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("weight_drop", [0.0, 0.4])
def test_without_steps_it_is_static_scoring_of_the_whole_stream(weight_drop: float) -> None:
    lm, ids = model(weight_drop), stream(53, 1)
    loss, count = dynamic_total_loss(lm, ids, bptt=6, lr=0.0)
    lm.eval()  # dropout off in both
    logits, _ = lm.score(ids[:-1][None])
    expected = F.cross_entropy(logits[0], ids[1:], reduction="sum")
    assert count == 52
    assert loss == pytest.approx(expected.item(), rel=1e-5)


def test_no_token_is_scored_by_weights_that_learnt_from_it_or_from_later_text() -> None:
    lm = model()
    shared = stream(19, 2)  # 3 windows of 6 targets
    a = torch.cat([shared, stream(12, 3)])
    b = torch.cat([shared, stream(12, 4)])
    windows_a = list(dynamic_windows(lm, a, bptt=6, lr=1.0))
    windows_b = list(dynamic_windows(lm, b, bptt=6, lr=1.0))
    assert windows_a[:3] == windows_b[:3]  # the text after them changed nothing
    assert windows_a[3] != windows_b[3]
    static = list(dynamic_windows(lm, a, bptt=6, lr=0.0))
    assert windows_a[0] == static[0]  # the first window is scored before any step
    assert windows_a[1] != static[1]  # ... and the second after one


def test_adapting_lowers_the_loss_on_a_repeated_text_and_leaves_the_model_as_it_was() -> None:
    lm = model()
    before = {name: value.detach().clone() for name, value in lm.named_parameters()}
    ids = stream(12, 5).repeat(25)  # an unseen phrase, over and over: what dynamic evaluation is for
    static, _ = dynamic_total_loss(lm, ids, bptt=8, lr=0.0)
    adapted, _ = dynamic_total_loss(lm, ids, bptt=8, lr=2.0)
    pulled_back, _ = dynamic_total_loss(lm, ids, bptt=8, lr=2.0, decay=0.2)
    assert adapted < 0.85 * static  # 675 against 865 nats
    assert adapted < pulled_back < static  # the decay keeps the weights near the trained ones
    for name, value in lm.named_parameters():
        assert torch.equal(value, before[name]), name
    assert lm.training  # the caller's mode too
    with pytest.raises(ValueError, match="decay"):
        next(dynamic_windows(lm, ids, bptt=8, lr=0.1, decay=1.0))


def test_the_task_option_checks_its_values_and_the_line_mode(tmp_path) -> None:
    task = LanguageModelTask(load_config(None, ["task=lm"]), tmp_path)
    task.set_options(dynamic_lr=0.01, dynamic_decay=0.02)
    assert task.dynamic == (0.01, 0.02)
    with pytest.raises(OptionError, match=r"^dynamic_decay needs dynamic_lr$") as raised:
        task.set_options(dynamic_decay=0.1)
    assert raised.value.render(flag) == "--dynamic-decay needs --dynamic-lr"
    # Ranges are the declared ones, checked by the one option check (Predictor.set_options calls it).
    with pytest.raises(OptionError, match=r"^dynamic_lr: -1.0 is out of range; allowed: > 0$"):
        check_options(task.options, {"dynamic_lr": -1.0}, task.name)
    with pytest.raises(OptionError, match=r"^dynamic_decay: 1.0 is out of range; allowed: >= 0 and < 1$"):
        check_options(task.options, {"dynamic_decay": 1.0}, task.name)
    with pytest.raises(OptionError, match=r"^beam_size: not an option of a lm run"):
        task.set_options(beam_size=3)
    documents = LanguageModelTask(load_config(None, ["task=lm", "data.line_mode=document"]), tmp_path)
    with pytest.raises(ConfigError, match="stream-mode"):
        documents.set_options(dynamic_lr=0.01)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_the_steps_run_and_match_the_cpu_result() -> None:
    """cuDNN's fused RNN refuses a backward pass in eval mode; the steps run off cuDNN instead."""
    ids = stream(60, 6)
    on_cpu, _ = dynamic_total_loss(model(0.4), ids, bptt=8, lr=1.0, decay=0.1)
    on_cuda, _ = dynamic_total_loss(model(0.4).cuda(), ids, bptt=8, lr=1.0, decay=0.1)
    assert on_cuda == pytest.approx(on_cpu, rel=1e-4)
