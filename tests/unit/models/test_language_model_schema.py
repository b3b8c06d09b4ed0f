"""The language model on the shared embedding/encoder sections: old keys refused, old checkpoints load,
and the outputs are those of the model before the change (values pinned from that code)."""

from __future__ import annotations

import pytest
import torch

from nlpseq.errors import ConfigError
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.tasks import load_config

VOCAB = 23


def inputs() -> torch.Tensor:
    return torch.randint(3, VOCAB, (3, 7), generator=torch.Generator().manual_seed(1))


def tied_model() -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(VOCAB, EmbeddingConfig(embedding_dim=8, type_dropout=0.1),
                         lm_encoder(rnn_type="lstm", hidden_size=12, num_layers=2, dropout=0.2),
                         input_dropout=0.1, output_dropout=0.2)


def weight_drop_model() -> LanguageModel:
    torch.manual_seed(0)
    return LanguageModel(VOCAB, EmbeddingConfig(embedding_dim=6, type_dropout=0.2),
                         lm_encoder(rnn_type="gru", hidden_size=6, num_layers=1, weight_drop=0.3))


@pytest.mark.parametrize(("build", "total", "first", "train_loss"), [
    # Computed by the LanguageModel of before the shared sections (embedding_dim, embedding_dropout,
    # LMEncoderConfig) from the same seeds.
    (tied_model, 0.9118521213531494, [-0.00018985262, -0.00148639979, 0.00750981923], 63.92283630371094),
    (weight_drop_model, 1.5268408060073853, [-0.00044775524, -0.01147657447, 0.00342836580],
     63.801429748535156),
])
def test_outputs_equal_those_of_the_model_before_the_shared_sections(build, total, first, train_loss) -> None:
    model = build().eval()
    ids = inputs()
    with torch.no_grad():
        logits, _ = model.score(ids)
    torch.testing.assert_close(logits[..., 3:].sum().item(), total, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(logits[0, 0, 3:6].tolist(), first, rtol=1e-5, atol=1e-7)
    # Training draws its masks in the old order: type dropout, then the locked dropouts.
    generator = torch.Generator().manual_seed(1)
    torch.randint(3, VOCAB, (3, 7), generator=generator)
    targets = torch.randint(3, VOCAB, (3, 7), generator=generator)
    model.train()
    torch.manual_seed(123)
    loss = model({"input_ids": ids, "targets": targets, "reset": torch.tensor(True)}).loss
    torch.testing.assert_close(loss.item(), train_loss, rtol=1e-5, atol=0)


def test_a_checkpoint_with_the_old_embedding_key_loads_and_gives_the_same_outputs() -> None:
    model = tied_model().eval()
    old = {("embedding.weight" if name == "embedding.embedding.weight" else name): value
           for name, value in model.state_dict().items()}
    assert "embedding.weight" in old and "embedding.embedding.weight" not in old
    torch.manual_seed(5)
    other = LanguageModel(VOCAB, EmbeddingConfig(embedding_dim=8), lm_encoder(hidden_size=12)).eval()
    assert not torch.equal(other.embedding.embedding.weight, model.embedding.embedding.weight)
    other.load_state_dict(old)  # strict: no missing or unexpected key
    assert other.output.weight is other.embedding.embedding.weight  # still tied
    with torch.no_grad():
        torch.testing.assert_close(other.score(inputs())[0], model.score(inputs())[0], rtol=0, atol=0)


@pytest.mark.parametrize(("override", "expected"), [
    ("model.embedding_dim=8", "model.embedding_dim is now model.embedding.embedding_dim"),
    ("model.embedding_dropout=0.1", "model.embedding_dropout is now model.embedding.type_dropout"),
    ("model.encoder.bidirectional=true", "model.encoder.bidirectional: a language model reads left to right"),
])
def test_old_and_impossible_keys_are_one_line(override: str, expected: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(None, ["task=lm", override])
    assert str(error.value) == expected


def test_a_partial_encoder_section_keeps_the_language_model_defaults() -> None:
    model = load_config(None, ["task=lm", "model.encoder.hidden_size=8",
                               "model.embedding.type_dropout=0.1"]).model
    encoder = model.encoder
    assert (encoder.bidirectional, encoder.locked_dropout, encoder.num_layers) == (False, True, 2)
    assert (model.embedding.embedding_dim, model.embedding.type_dropout) == (256, 0.1)


def test_other_tasks_refuse_the_language_model_only_encoder_keys() -> None:
    from nlpseq.models.encoder import RNNEncoder

    with pytest.raises(ConfigError, match=r"model\.encoder\.weight_drop: only a language model"):
        RNNEncoder(4, 4, weight_drop=0.5)
