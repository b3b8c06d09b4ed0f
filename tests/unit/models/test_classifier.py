"""Shared encoder, pooling and classifier: padding never changes a result; the classifier can learn."""

from __future__ import annotations

import pytest
import torch

from nlpseq.data.batching import lengths_and_mask, pad
from nlpseq.models.classifier import SequenceClassifier
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig, RNNEncoder
from nlpseq.models.pooling import Pooling


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_packed_equals_unpacked_on_unpadded_input(rnn_type: str, bidirectional: bool) -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(5, 7, num_layers=2, rnn_type=rnn_type, bidirectional=bidirectional).eval()
    inputs = torch.randn(3, 6, 5)
    packed = encoder(inputs, torch.tensor([6, 6, 6]))
    unpacked = encoder(inputs, None)
    torch.testing.assert_close(packed.outputs, unpacked.outputs)
    torch.testing.assert_close(packed.final, unpacked.final)


@pytest.mark.parametrize("rnn_type", ["gru", "lstm"])
def test_batch_equals_one_by_one(rnn_type: str) -> None:
    """Each row of a padded batch gets exactly what it gets alone: padding never leaks in."""
    torch.manual_seed(0)
    encoder = RNNEncoder(4, 6, num_layers=2, rnn_type=rnn_type, bidirectional=True).eval()
    lengths = [5, 2, 3]
    rows = [torch.randn(n, 4) for n in lengths]
    batch = torch.zeros(3, 5, 4)
    for i, row in enumerate(rows):
        batch[i, : len(row)] = row
        batch[i, len(row):] = 100.0  # garbage in the padding must not matter
    out = encoder(batch, torch.tensor(lengths))
    for i, row in enumerate(rows):
        alone = encoder(row[None], torch.tensor([len(row)]))
        torch.testing.assert_close(out.outputs[i, : len(row)], alone.outputs[0])
        torch.testing.assert_close(out.final[i], alone.final[0])
        assert out.outputs[i, len(row):].abs().sum() == 0


def test_final_state_is_last_forward_and_first_backward_output() -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(3, 4, rnn_type="gru", bidirectional=True).eval()
    out = encoder(torch.randn(2, 5, 3), torch.tensor([5, 3]))
    for i, n in enumerate([5, 3]):
        torch.testing.assert_close(out.final[i, :4], out.outputs[i, n - 1, :4])
        torch.testing.assert_close(out.final[i, 4:], out.outputs[i, 0, 4:])


@pytest.mark.parametrize("kind", ["mean", "max", "attention", "last"])
def test_pooling_ignores_padding(kind: str) -> None:
    torch.manual_seed(0)
    encoder = RNNEncoder(3, 4, rnn_type="lstm").eval()
    pooling = Pooling(kind, encoder.output_size)
    short = torch.randn(1, 2, 3)
    padded = torch.cat([short, torch.full((1, 3, 3), 50.0)], dim=1)
    alone = pooling(encoder(short, torch.tensor([2])), torch.ones(1, 2, dtype=torch.bool))
    mask = torch.tensor([[True, True, False, False, False]])
    in_batch = pooling(encoder(padded, torch.tensor([2])), mask)
    torch.testing.assert_close(alone, in_batch)


def test_mean_and_max_pooling_exact() -> None:
    outputs = torch.tensor([[[1.0, -2.0], [3.0, 4.0], [9.0, 9.0]]])
    from nlpseq.models.encoder import EncoderOutput

    encoded = EncoderOutput(outputs, outputs[:, 0], outputs[:, 0])
    mask = torch.tensor([[True, True, False]])
    torch.testing.assert_close(Pooling("mean", 2)(encoded, mask), torch.tensor([[2.0, 1.0]]))
    torch.testing.assert_close(Pooling("max", 2)(encoded, mask), torch.tensor([[3.0, 4.0]]))


def _batch(rows: list[list[int]], labels: list[int]) -> dict[str, torch.Tensor]:
    lengths, mask = lengths_and_mask(rows)
    return {"input_ids": pad(rows), "lengths": lengths, "mask": mask, "labels": torch.tensor(labels)}


@pytest.mark.parametrize("pooling", ["max", "attention"])
def test_classifier_overfits_a_batch(pooling: str) -> None:
    torch.manual_seed(0)
    rows = [[4, 5, 6], [7, 8], [9, 10, 11, 12], [5, 9], [6, 6, 7], [12, 4]]
    labels = [0, 1, 2, 0, 1, 2]
    batch = _batch(rows, labels)
    model = SequenceClassifier(13, 3, EmbeddingConfig(embedding_dim=16), EncoderConfig(hidden_size=16),
                               pooling=pooling, dropout=0.0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    first = model(batch).loss.item()
    for _ in range(150):
        optimizer.zero_grad()
        loss = model(batch).loss
        loss.backward()
        optimizer.step()
    assert loss.item() < 0.01 < first
    assert model.predict_proba(batch).argmax(-1).tolist() == labels


def test_class_weights_change_the_loss() -> None:
    torch.manual_seed(0)
    batch = _batch([[4, 5], [6, 7]], [0, 1])
    plain = SequenceClassifier(8, 2, EmbeddingConfig(embedding_dim=4), EncoderConfig(hidden_size=4))
    weighted = SequenceClassifier(8, 2, EmbeddingConfig(embedding_dim=4), EncoderConfig(hidden_size=4),
                                  class_weights=[1.0, 0.0])
    weighted.load_state_dict(plain.state_dict())
    plain.eval()
    weighted.eval()
    logits = plain(batch).logits
    expected = torch.nn.functional.cross_entropy(logits[:1], batch["labels"][:1])
    torch.testing.assert_close(weighted(batch).loss, expected)


def test_pretrained_vectors_are_loaded(tmp_path) -> None:
    vectors = tmp_path / "vectors.txt"
    vectors.write_text("2 3\ngood 1 2 3\nBad 4 5 6\n", encoding="utf-8")
    vocabulary = ["<pad>", "<unk>", "<s>", "</s>", "good", "bad", "film"]
    model = SequenceClassifier(7, 2, EmbeddingConfig(embedding_dim=3, pretrained=str(vectors), freeze=True),
                               EncoderConfig(hidden_size=4), vocabulary=vocabulary)
    weight = model.embedding.embedding.weight
    torch.testing.assert_close(weight[4], torch.tensor([1.0, 2.0, 3.0]))
    torch.testing.assert_close(weight[5], torch.tensor([4.0, 5.0, 6.0]))  # found lower-cased
    assert not weight.requires_grad


def test_pretrained_vectors_wrong_dimension_names_file_and_line(tmp_path) -> None:
    from nlpseq.errors import DataError

    vectors = tmp_path / "vectors.txt"
    vectors.write_text("good 1 2 3\nbad 4 5\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"vectors.txt:2: expected a word and 3 numbers"):
        SequenceClassifier(7, 2, EmbeddingConfig(embedding_dim=3, pretrained=str(vectors)),
                           EncoderConfig(hidden_size=4), vocabulary=["<pad>", "<unk>", "<s>", "</s>", "a"])
