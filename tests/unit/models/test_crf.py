"""CRF checks against brute force over every tag path, on small random cases."""

from __future__ import annotations

import itertools
import math

import pytest
import torch

from nlpseq.models.crf import CRF
from nlpseq.schemes import allowed_transitions, parse_tag

BATCH = 3


def _random_crf(num_tags: int, seed: int, constrained: bool = False) -> CRF:
    """A CRF with random scores and, optionally, random masks under which tag 0 is always legal."""
    generator = torch.Generator().manual_seed(seed)
    masks: dict[str, torch.Tensor] = {}
    if constrained:
        masks = {
            "allowed_transitions": torch.rand(num_tags, num_tags, generator=generator) < 0.6,
            "allowed_start": torch.rand(num_tags, generator=generator) < 0.6,
            "allowed_end": torch.rand(num_tags, generator=generator) < 0.6,
        }
        # Keep the all-zeros path legal so every length has at least one legal path.
        masks["allowed_transitions"][0, 0] = True
        masks["allowed_start"][0] = True
        masks["allowed_end"][0] = True
    crf = CRF(num_tags, **masks)
    with torch.no_grad():
        for parameter in crf.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator))
    return crf


def _inputs(num_tags: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random emissions ``[B, T, K]`` and a right-padded mask with lengths T, about T/2 and 1."""
    generator = torch.Generator().manual_seed(seed + 1000)
    emissions = torch.randn(BATCH, length, num_tags, generator=generator)
    lengths = torch.tensor([length, max(1, length // 2), 1])
    mask = torch.arange(length)[None, :] < lengths[:, None]
    return emissions, mask


def _path_score(crf: CRF, emissions: torch.Tensor, path: tuple[int, ...]) -> float:
    """Score of ``path`` from the raw parameters, ignoring constraints, in float64."""
    score = crf.start_transitions[path[0]].double() + crf.end_transitions[path[-1]].double()
    for t, tag in enumerate(path):
        score = score + emissions[t, tag].double()
        if t > 0:
            score = score + crf.transitions[path[t - 1], tag].double()
    return score.item()


def _is_legal(crf: CRF, path: tuple[int, ...] | list[int]) -> bool:
    return (
        bool(crf.allowed_start[path[0]])
        and bool(crf.allowed_end[path[-1]])
        and all(bool(crf.allowed_transitions[a, b]) for a, b in itertools.pairwise(path))
    )


def _all_paths(crf: CRF, length: int, legal_only: bool) -> list[tuple[int, ...]]:
    paths = itertools.product(range(crf.num_tags), repeat=length)
    return [path for path in paths if not legal_only or _is_legal(crf, path)]


CASES = [(num_tags, length, seed) for num_tags in (3, 4) for length in (1, 2, 3, 4) for seed in (0, 1)]


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize(("num_tags", "length", "seed"), CASES)
def test_log_partition_and_viterbi_match_brute_force(
    num_tags: int, length: int, seed: int, constrained: bool
):
    crf = _random_crf(num_tags, seed, constrained)
    emissions, mask = _inputs(num_tags, length, seed)
    log_z = crf.log_partition(emissions, mask)
    decoded = crf.decode(emissions, mask)
    assert log_z.shape == (BATCH,) and log_z.dtype == torch.float32
    assert decoded.shape == (BATCH, length) and decoded.dtype == torch.long
    for row in range(BATCH):
        n = int(mask[row].sum())
        paths = _all_paths(crf, n, legal_only=constrained)
        scores = [_path_score(crf, emissions[row], path) for path in paths]
        expected_log_z = math.log(sum(math.exp(s - max(scores)) for s in scores)) + max(scores)
        assert log_z[row].item() == pytest.approx(expected_log_z, abs=1e-4)
        best_path = paths[max(range(len(paths)), key=scores.__getitem__)]
        assert decoded[row, :n].tolist() == list(best_path)
        assert decoded[row, n:].tolist() == [0] * (length - n)


@pytest.mark.parametrize("constrained", [False, True])
@pytest.mark.parametrize(("num_tags", "length", "seed"), CASES)
def test_probabilities_sum_to_one(num_tags: int, length: int, seed: int, constrained: bool):
    crf = _random_crf(num_tags, seed, constrained)
    emissions, mask = _inputs(num_tags, length, seed)
    for row in range(BATCH):
        # Every path over the row's real positions, padded with the ignore index: [P, T].
        n = int(mask[row].sum())
        paths = torch.tensor(list(itertools.product(range(num_tags), repeat=n)))
        tags = torch.cat([paths, torch.full((len(paths), length - n), -100)], dim=1)
        log_likelihood = crf.log_likelihood(
            emissions[row].expand(len(paths), -1, -1), tags, mask[row].expand(len(paths), -1)
        )
        assert (log_likelihood <= 1e-6).all()
        assert log_likelihood.double().exp().sum().item() == pytest.approx(1.0, abs=1e-5)


@pytest.mark.parametrize(("num_tags", "length", "seed"), CASES)
def test_score_matches_brute_force(num_tags: int, length: int, seed: int):
    crf = _random_crf(num_tags, seed)
    emissions, mask = _inputs(num_tags, length, seed)
    tags = torch.randint(num_tags, (BATCH, length), generator=torch.Generator().manual_seed(seed))
    scores = crf.score(emissions, tags, mask)
    for row in range(BATCH):
        n = int(mask[row].sum())
        expected = _path_score(crf, emissions[row], tuple(tags[row, :n].tolist()))
        assert scores[row].item() == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize("constrained", [False, True])
def test_padding_garbage_changes_nothing_and_rows_are_independent(constrained: bool):
    num_tags, length = 4, 5
    crf = _random_crf(num_tags, 3, constrained)
    emissions, mask = _inputs(num_tags, length, 3)
    tags = torch.randint(num_tags, (BATCH, length), generator=torch.Generator().manual_seed(3))
    noisy_emissions = torch.where(mask.unsqueeze(2), emissions, 1e3 * torch.randn(emissions.shape))
    noisy_emissions[2, 3, 1] = float("nan")  # padding; must not leak even into gradients
    noisy_tags = tags.masked_fill(~mask, -100)  # the usual ignore index
    noisy_emissions.requires_grad_(True)

    log_likelihood = crf.log_likelihood(noisy_emissions, noisy_tags, mask)
    assert torch.equal(log_likelihood, crf.log_likelihood(emissions, tags, mask))
    assert torch.equal(crf.decode(noisy_emissions, mask), crf.decode(emissions, mask))
    log_likelihood.sum().backward()
    assert torch.isfinite(noisy_emissions.grad).all()
    assert (noisy_emissions.grad[~mask] == 0).all()

    # Each row alone, unpadded, gives the same numbers as in the batch.
    for row in range(BATCH):
        n = int(mask[row].sum())
        alone = (emissions[row : row + 1, :n], tags[row : row + 1, :n], torch.ones(1, n, dtype=torch.bool))
        torch.testing.assert_close(crf.log_likelihood(*alone), log_likelihood[row : row + 1].detach())
        assert crf.decode_lists(alone[0], alone[2]) == [crf.decode_lists(emissions, mask)[row]]


def test_decode_lists_trims_to_length():
    crf = _random_crf(3, 0)
    emissions, mask = _inputs(3, 4, 0)
    paths = crf.decode(emissions, mask)
    assert crf.decode_lists(emissions, mask) == [
        paths[0].tolist(),
        paths[1, :2].tolist(),
        paths[2, :1].tolist(),
    ]


def test_scheme_constraints_beat_strong_emissions():
    labels = ["O", "B-PER", "I-PER", "E-PER", "S-PER", "B-LOC", "I-LOC", "E-LOC", "S-LOC", "<pad>"]
    crf = CRF(len(labels), *allowed_transitions(labels, "IOBES"))
    generator = torch.Generator().manual_seed(0)
    emissions = 50.0 * torch.randn(64, 6, len(labels), generator=generator)
    emissions[:, :, labels.index("<pad>")] += 200.0  # the model "prefers" the pad tag everywhere
    lengths = torch.randint(1, 7, (64,), generator=generator)
    mask = torch.arange(6)[None, :] < lengths[:, None]
    for path in crf.decode_lists(emissions, mask):
        assert _is_legal(crf, path)
        assert labels.index("<pad>") not in path
        # Legal IOBES never leaves an entity open at the end or continues one not begun.
        prefixes = [parse_tag(labels[tag])[0] for tag in path]
        assert prefixes[0] not in ("I", "E") and prefixes[-1] not in ("B", "I")

    # One row where emissions all but name an illegal path: start inside an entity.
    emissions = torch.zeros(1, 2, len(labels))
    emissions[0, 0, labels.index("I-PER")] = 100.0
    emissions[0, 1, labels.index("E-PER")] = 100.0
    assert crf.decode_lists(emissions, torch.ones(1, 2, dtype=torch.bool)) == [
        [labels.index("B-PER"), labels.index("E-PER")]
    ]


def test_illegal_gold_path_scores_the_illegal_constant():
    crf = CRF(2, allowed_transitions=torch.tensor([[True, False], [True, True]]))
    emissions = torch.zeros(1, 2, 2)
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert crf.score(emissions, torch.tensor([[0, 1]]), mask).item() == pytest.approx(-1e4)
    # Three legal paths, all scoring 0.
    assert crf.log_partition(emissions, mask).item() == pytest.approx(math.log(3))


@pytest.mark.parametrize("constrained", [False, True])
def test_gradients_flow_and_are_finite(constrained: bool):
    crf = _random_crf(4, 0, constrained)
    emissions, mask = _inputs(4, 5, 0)
    emissions.requires_grad_(True)
    tags = crf.decode(emissions, mask)  # a legal path, so the loss is finite
    loss = -crf.log_likelihood(emissions, tags, mask).sum() / BATCH
    loss.backward()
    assert torch.isfinite(loss)
    for grad in (emissions.grad, crf.transitions.grad, crf.start_transitions.grad, crf.end_transitions.grad):
        assert grad is not None and torch.isfinite(grad).all() and grad.abs().sum() > 0
    if constrained:
        # Illegal scores are constants, so their parameters learn nothing.
        assert (crf.transitions.grad[~crf.allowed_transitions] == 0).all()


def test_autocast_bf16_keeps_fp32_arithmetic():
    crf = _random_crf(4, 0, constrained=True)
    projection = torch.nn.Linear(8, 4)
    features = torch.randn(BATCH, 5, 8, generator=torch.Generator().manual_seed(0))
    _, mask = _inputs(4, 5, 0)
    tags = torch.zeros(BATCH, 5, dtype=torch.long)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        emissions = projection(features)
        assert emissions.dtype == torch.bfloat16
        log_z = crf.log_partition(emissions, mask)
        log_likelihood = crf.log_likelihood(emissions, tags, mask)
        decoded = crf.decode(emissions, mask)
    assert log_z.dtype == log_likelihood.dtype == torch.float32
    reference = emissions.detach().float()
    assert torch.equal(log_z, crf.log_partition(reference, mask))
    assert torch.equal(log_likelihood, crf.log_likelihood(reference, tags, mask))
    assert torch.equal(decoded, crf.decode(reference, mask))
    # Also with fp32 emissions fed in under autocast.
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert torch.equal(crf.log_partition(reference, mask), log_z)


def test_masks_are_checked_and_kept_out_of_the_state_dict():
    with pytest.raises(ValueError, match="allowed_transitions"):
        CRF(3, allowed_transitions=torch.ones(3, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="allowed_start"):
        CRF(3, allowed_start=torch.ones(3))  # float, not bool
    crf = CRF(3, allowed_end=torch.tensor([True, False, True]))
    assert set(crf.state_dict()) == {"transitions", "start_transitions", "end_transitions"}
    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.zeros(1, 2, 4), torch.ones(1, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match="mask"):
        crf.log_partition(torch.zeros(1, 2, 3), torch.ones(1, 3, dtype=torch.bool))
