"""Concat pooling ([last; max; mean], ULMFiT) and the classifier's layer groups."""

from __future__ import annotations

import pytest
import torch

from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.models.pooling import Pooling


def test_concat_is_last_then_max_then_mean_over_real_tokens_only() -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(3, 4, rnn_type="lstm", bidirectional=True).eval()
    lengths = torch.tensor([5, 2])
    inputs = torch.randn(2, 5, 3)
    inputs[1, 2:] = 100.0  # garbage in the padding must not matter
    mask = torch.arange(5)[None] < lengths[:, None]
    encoded = encoder(inputs, lengths)
    pooled = Pooling("concat", encoder.output_size)(encoded, mask)
    assert pooled.shape == (2, 3 * 8)
    for i, n in enumerate(lengths.tolist()):
        real = encoded.outputs[i, :n]  # [n, 8]
        # "last" as the last pooling means it: forward at the last real token, backward at the first.
        last = torch.cat([real[-1, :4], real[0, 4:]])
        torch.testing.assert_close(pooled[i, :8], last)
        torch.testing.assert_close(pooled[i, 8:16], real.max(0).values)
        torch.testing.assert_close(pooled[i, 16:], real.mean(0))


def test_concat_feeds_a_head_three_times_the_encoder_size() -> None:
    model = SequenceClassifier(20, 3, EmbeddingConfig(embedding_dim=6),
                               EncoderConfig(hidden_size=5, bidirectional=True), pooling="concat")
    assert model.head.in_features == 3 * 10
    batch = {"input_ids": torch.tensor([[4, 5, 6], [7, 8, 0]]), "lengths": torch.tensor([3, 2]),
             "mask": torch.tensor([[True, True, True], [True, True, False]]), "labels": torch.tensor([0, 2])}
    output = model(batch)
    assert output.logits.shape == (2, 3)
    assert output.loss is not None and torch.isfinite(output.loss)


@pytest.mark.parametrize(("num_layers", "bidirectional", "pooling"),
                         [(1, False, "max"), (3, True, "attention"), (2, True, "concat")])
def test_layer_groups_run_embedding_then_each_encoder_layer_then_pooling_and_head(
        num_layers: int, bidirectional: bool, pooling: str) -> None:
    encoder = EncoderConfig(hidden_size=5, num_layers=num_layers, bidirectional=bidirectional)
    model = SequenceClassifier(20, 2, EmbeddingConfig(embedding_dim=6), encoder, pooling=pooling)
    names = {id(param): name for name, param in model.named_parameters()}
    groups = [[names[id(param)] for param in group] for group in model.layer_groups()]
    assert len(groups) == num_layers + 2
    assert groups[0] == ["embedding.embedding.weight"]
    suffixes = ("", "_reverse") if bidirectional else ("",)
    parts = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    for layer in range(num_layers):
        expected = {f"encoder.rnn.{part}_l{layer}{suffix}" for suffix in suffixes for part in parts}
        assert sorted(groups[1 + layer]) == sorted(expected)
    attention = {"pooling.project.weight", "pooling.project.bias", "pooling.query.weight"}
    top = attention if pooling == "attention" else set()
    assert set(groups[-1]) == top | {"head.weight", "head.bias"}
    # Every parameter exactly once.
    flat = [name for group in groups for name in group]
    assert sorted(flat) == sorted(names.values())
