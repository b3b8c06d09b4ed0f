"""Beam search (nlpseq/models/search.py) for translation against its definitions, on small random models.

The same search serves generation; tests/unit/models/test_generation.py checks it there."""

from __future__ import annotations

import pytest
import torch

from nlpseq.data.batching import lengths_and_mask, pad
from nlpseq.models.decoder import DecoderConfig
from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.encoder import EncoderConfig
from nlpseq.models.search import Hypothesis, length_penalty, max_lengths, translate
from nlpseq.models.seq2seq import Seq2Seq
from nlpseq.tokenizers import BOS_ID, EOS_ID

VOCAB = 12
SOURCES = [[5, 6, 7, 8, 9], [4, 5], [9, 8, 7], [6], [4, 4, 5, 6, 7, 8, 9, 10]]

DECODERS = {
    "gru-bahdanau": DecoderConfig("gru", 16, 1, "bahdanau", 8, True, 0.0),
    "lstm-general-feeding": DecoderConfig("lstm", 16, 2, "general", 8, True, 0.0),
    "gru-dot-tied": DecoderConfig("gru", 16, 1, "dot", 8, False, 0.0, True, True),
}


def model_for(name: str, seed: int = 0) -> Seq2Seq:
    torch.manual_seed(seed)
    model = Seq2Seq(VOCAB, VOCAB, EmbeddingConfig(8), EncoderConfig("gru", 8, 1, True), DECODERS[name])
    # Sharpen the output layer so that hypotheses end at different lengths (EOS is reachable).
    with torch.no_grad():
        model.decoder.output.bias[EOS_ID] += 1.5
    return model.eval()


@torch.no_grad()
def greedy_search(model: Seq2Seq, memory, state, limits, return_attention: bool = False) -> list[Hypothesis]:
    """The definition of greedy decoding, one sentence at a time: the likeliest token at every step,
    EOS forced at the limit. Beam search of size 1 must give the same."""
    results = []
    for row in range(memory.values.size(0)):
        one, hidden = memory.select(torch.tensor([row])), state.select(torch.tensor([row]))
        previous, tokens, weights, log_prob = torch.tensor([BOS_ID]), [], [], 0.0
        for position in range(int(limits[row])):
            log_probs, hidden, attention = model.decode_step(previous, hidden, one)
            token = EOS_ID if position + 1 >= int(limits[row]) else int(log_probs[0].argmax())
            log_prob += float(log_probs[0, token])
            weights.append(attention[0])
            if token == EOS_ID:
                break
            tokens.append(token)
            previous = torch.tensor([token])
        attention = torch.stack(weights)[:, : int(one.lengths[0])] if return_attention else None
        results.append(Hypothesis(tokens, log_prob, log_prob, attention))
    return results


def beam_search(model: Seq2Seq, memory, state, limits, **options) -> list[list[Hypothesis]]:
    return translate(model, memory, state, limits, **options)


def encode(model: Seq2Seq, sources: list[list[int]]):
    lengths, mask = lengths_and_mask(sources)
    memory, state = model.encode(pad(sources), lengths, mask)
    return memory, state, max_lengths(lengths, 1.5, 3)


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_greedy_equals_beam_of_size_one(name: str) -> None:
    model = model_for(name)
    greedy = greedy_search(model, *encode(model, SOURCES))
    beam = beam_search(model, *encode(model, SOURCES), beam_size=1, alpha=0.0)
    assert [h.tokens for h in greedy] == [b[0].tokens for b in beam]
    for g, b in zip(greedy, beam, strict=True):
        assert g.log_prob == pytest.approx(b[0].log_prob, abs=1e-5)


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.5])
def test_beam_hypotheses_come_out_sorted_by_penalised_score(alpha: float) -> None:
    model = model_for("gru-bahdanau")
    for hypotheses in beam_search(model, *encode(model, SOURCES), beam_size=4, alpha=alpha, n_best=4):
        scores = [h.score for h in hypotheses]
        assert scores == sorted(scores, reverse=True)
        for h in hypotheses:  # score = log p / ((5 + |y|) / 6) ** alpha, |y| counting EOS
            penalty = float(length_penalty(torch.tensor(len(h.tokens) + 1), alpha))
            assert h.score == pytest.approx(h.log_prob / penalty, rel=1e-5)
        assert len({tuple(h.tokens) for h in hypotheses}) == len(hypotheses)  # no duplicates


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_batched_decoding_equals_one_sentence_at_a_time(name: str) -> None:
    model = model_for(name)
    batched = beam_search(model, *encode(model, SOURCES), beam_size=3, alpha=0.6, n_best=2,
                          return_attention=True)
    greedy = greedy_search(model, *encode(model, SOURCES), return_attention=True)
    for index, source in enumerate(SOURCES):
        alone = beam_search(model, *encode(model, [source]), beam_size=3, alpha=0.6, n_best=2,
                            return_attention=True)[0]
        assert [h.tokens for h in alone] == [h.tokens for h in batched[index]]
        assert [h.score for h in alone] == pytest.approx([h.score for h in batched[index]], abs=1e-5)
        torch.testing.assert_close(alone[0].attention, batched[index][0].attention)
        one_greedy = greedy_search(model, *encode(model, [source]), return_attention=True)[0]
        assert one_greedy.tokens == greedy[index].tokens
        torch.testing.assert_close(one_greedy.attention, greedy[index].attention)


def test_attention_of_the_chosen_hypothesis_has_one_row_per_output_token() -> None:
    model = model_for("gru-bahdanau")
    for hypotheses, source in zip(beam_search(model, *encode(model, SOURCES), beam_size=3, alpha=0.6,
                                              return_attention=True), SOURCES, strict=True):
        best = hypotheses[0]
        assert best.attention.shape == (len(best.tokens) + 1, len(source))  # + the EOS row
        torch.testing.assert_close(best.attention.sum(-1), torch.ones(len(best.tokens) + 1))


def test_outputs_stop_at_the_maximum_length() -> None:
    model = model_for("gru-bahdanau")
    with torch.no_grad():
        model.decoder.output.bias[EOS_ID] -= 100.0  # never chooses EOS by itself
    memory, state, _ = encode(model, SOURCES)
    limits = torch.tensor([3, 1, 4, 2, 5])
    for hypothesis, limit in zip(greedy_search(model, memory, state, limits), limits.tolist(), strict=True):
        assert len(hypothesis.tokens) == limit - 1  # EOS forced at the last position
    for hypotheses, limit in zip(beam_search(model, memory, state, limits, beam_size=3), limits.tolist(),
                                 strict=True):
        assert len(hypotheses[0].tokens) == limit - 1


@pytest.mark.parametrize("name", sorted(DECODERS))
def test_decoder_step_by_step_equals_the_teacher_forced_pass(name: str) -> None:
    model = model_for(name)
    target = torch.tensor([[BOS_ID, 5, 6, 7, 8], [BOS_ID, 9, 4, 4, 10]])
    sources = [SOURCES[0], SOURCES[2]]
    lengths, mask = lengths_and_mask(sources)
    batch = {"input_ids": pad(sources), "lengths": lengths, "mask": mask, "target_in": target}
    forced = torch.log_softmax(model(batch).logits, dim=-1)
    memory, state, _ = encode(model, sources)
    for position in range(target.size(1)):
        log_probs, state, _ = model.decode_step(target[:, position], state, memory)
        torch.testing.assert_close(log_probs, forced[:, position], atol=1e-5, rtol=1e-5)


def test_finished_sentences_leave_the_batch() -> None:
    # EOS is never chosen freely, so each sentence ends exactly at its limit, and from then on the
    # decoder runs on the other sentences' K rows only.
    model = model_for("gru-bahdanau")
    with torch.no_grad():
        model.decoder.output.bias[EOS_ID] -= 100.0
    memory, state, _ = encode(model, SOURCES)
    rows = []
    step = model.decode_step

    def counting_step(previous, state, memory):
        rows.append(previous.numel())
        return step(previous, state, memory)

    model.decode_step = counting_step
    found = beam_search(model, memory, state, torch.tensor([3, 1, 4, 2, 5]), beam_size=3)
    assert rows == [15, 12, 9, 6, 3]
    assert [len(h[0].tokens) for h in found] == [2, 0, 3, 1, 4]


def test_translation_outputs_are_those_of_the_search_before_it_was_shared() -> None:
    # Pinned from translation's own beam search, before translation and generation shared one.
    found = beam_search(model_for("gru-bahdanau"), *encode(model_for("gru-bahdanau"), SOURCES), beam_size=5,
                        alpha=0.0, n_best=5)
    assert [[h.tokens for h in hypotheses] for hypotheses in found] == [[[], [4], [6], [2], [1]]] * 5
    assert [round(h.log_prob, 4) for h in found[0]] == [-1.2967, -3.6856, -3.7503, -3.8253, -4.0024]
    three = beam_search(model_for("gru-bahdanau"), *encode(model_for("gru-bahdanau"), SOURCES), beam_size=3,
                        alpha=0.6, n_best=2)
    assert [round(h.score, 4) for h in three[4]] == [-1.3072, -3.3928]
