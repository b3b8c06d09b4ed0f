"""model.decoder_lm_loss: the decoder as a source-free target language model, added to the loss in
training only (Ramachandran et al. 2017's regulariser)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nlpseq.errors import ConfigError
from nlpseq.models.decoder import DecoderConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.seq2seq import Seq2Seq
from nlpseq.tasks import load_config
from nlpseq.tasks.translation import TranslationTask
from nlpseq.tokenizers import SPECIALS, VocabTokenizer
from nlpseq.training.pretrained_seq2seq import load_pretrained_decoder
from tests.helpers import ROOT
from tests.unit.test_pretrained_seq2seq import EN_LM, EN_TASK, translator, write_lm_run


def batch() -> dict[str, torch.Tensor]:
    return {"input_ids": torch.tensor([[4, 5, 6], [7, 4, 0]]), "lengths": torch.tensor([3, 2]),
            "mask": torch.tensor([[True, True, True], [True, True, False]]),
            "target_in": torch.tensor([[2, 4, 5, 6], [2, 7, 0, 0]]),
            "target_out": torch.tensor([[4, 5, 6, 3], [7, 3, 0, 0]])}


def model(weight: float, attention: str = "general", rnn_type: str = "lstm") -> Seq2Seq:
    torch.manual_seed(0)
    return Seq2Seq(12, 11, EmbeddingConfig(embedding_dim=6, dropout=0.0),
                   EncoderConfig(rnn_type=rnn_type, hidden_size=5), DecoderConfig(
                       rnn_type=rnn_type, hidden_size=7, num_layers=2, attention=attention, attention_size=4,
                       dropout=0.0), label_smoothing=0.1, decoder_lm_loss=weight)


@pytest.mark.parametrize(("attention", "rnn_type"), [("general", "lstm"), ("bahdanau", "gru")])
def test_training_adds_the_weighted_language_model_loss_and_evaluation_does_not(attention: str,
                                                                                 rnn_type: str) -> None:
    plain, weighted = model(0.0, attention, rnn_type), model(0.5, attention, rnn_type)
    assert all(torch.equal(a, b) for a, b in zip(plain.state_dict().values(), weighted.state_dict().values(),
                                                  strict=True))
    base = plain(batch())
    assert base.lm_loss is None
    out = weighted(batch())
    logits = weighted.decoder.language_model(batch()["target_in"])
    expected_lm = torch.nn.functional.cross_entropy(logits.reshape(-1, 11), batch()["target_out"].reshape(-1),
                                                    ignore_index=0, reduction="sum", label_smoothing=0.1)
    assert torch.allclose(out.lm_loss, expected_lm)
    assert torch.allclose(out.loss, base.loss + 0.5 * expected_lm)
    assert out.num_targets == base.num_targets == 6
    weighted.eval()
    evaluated = weighted(batch())
    assert evaluated.lm_loss is None and torch.allclose(evaluated.loss, base.loss)


def test_the_language_model_loss_never_reads_the_source() -> None:
    seq2seq = model(1.0)
    seq2seq(batch()).lm_loss.backward()
    assert all(p.grad is None for p in seq2seq.encoder.parameters())
    assert all(p.grad is None for p in seq2seq.source_embedding.parameters())
    assert all(p.grad is None for p in seq2seq.decoder.attention.parameters())
    assert all(p.grad is not None and p.grad.any() for p in seq2seq.decoder.cells.parameters())


@pytest.mark.parametrize("attention", ["bahdanau", "general"])
def test_from_a_language_model_its_cells_compute_the_language_models_states(tmp_path: Path,
                                                                            attention: str) -> None:
    # Independent of the decoder's own loop: the LM's layer outputs through the readout (zeros for the
    # context) and the output layer give the same logits.
    lm = write_lm_run(tmp_path / "en", EN_LM)
    seq2seq, _, target = translator("lstm", attention)
    load_pretrained_decoder(tmp_path / "en", seq2seq.target_embedding, seq2seq.decoder, target)
    seq2seq.eval()
    words = ["the", "dog", "sees", "the", "cat"]
    lm_ids = torch.tensor([[[*SPECIALS, *EN_LM].index(w) for w in words]])
    task_ids = torch.tensor([[[*SPECIALS, *EN_TASK].index(w) for w in words]])
    decoder = seq2seq.decoder
    with torch.no_grad():
        x = lm.embedding(lm_ids)
        for layer in lm.layers:
            x = layer(x).outputs
        context = x.new_zeros(1, len(words), decoder.memory_size)
        embedded = seq2seq.target_embedding(task_ids)
        parts = [x, context, embedded] if attention == "bahdanau" else [x, context]
        expected = decoder.output(torch.tanh(decoder.readout(torch.cat(parts, dim=-1))))
        assert torch.allclose(decoder.language_model(task_ids), expected, atol=1e-6)


def test_the_key_is_a_range_checked_model_key_the_task_passes_on(tmp_path: Path) -> None:
    recipe = ROOT / "recipes" / "translation" / "tiny.yaml"
    task = TranslationTask(load_config(recipe, ["model.decoder_lm_loss=0.5"]), tmp_path)
    task.source_tokenizer = task.target_tokenizer = VocabTokenizer("word", [*SPECIALS, *EN_LM])
    assert task.build_model(training=True).decoder_lm_loss == 0.5
    with pytest.raises(ConfigError, match=r"model\.decoder_lm_loss: -1\.0 is out of range; allowed: >= 0"):
        load_config(recipe, ["model.decoder_lm_loss=-1"])
