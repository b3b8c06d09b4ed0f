"""Token-budget batches: coverage, budget, determinism, resume skips, distributed shares, padding."""

import random
from collections import Counter

import pytest
import torch

from nlpseq.data.batching import TokenBudgetBatchSampler, lengths_and_mask, pad

# 300 examples of 1..40 tokens, plus two longer than the whole budget.
_rng = random.Random(3)
LENGTHS = [_rng.randint(1, 40) for _ in range(300)] + [150, 120]
BUDGET, ROWS = 100, 8


def sampler(shuffle: bool = True, **kwargs) -> TokenBudgetBatchSampler:
    options = {"batch_tokens": BUDGET, "max_batch_size": ROWS, "shuffle": shuffle, "seed": 7,
               "pool_batches": 3, **kwargs}
    return TokenBudgetBatchSampler(LENGTHS, **options)


def flat(batches: list[list[int]]) -> list[int]:
    return [i for batch in batches for i in batch]


@pytest.mark.parametrize("shuffle", [True, False])
def test_every_index_once_per_epoch(shuffle):
    s = sampler(shuffle)
    for epoch in range(3):
        s.set_epoch(epoch)
        batches = list(s)
        assert sorted(flat(batches)) == list(range(len(LENGTHS)))
        assert len(s) == len(batches)


@pytest.mark.parametrize("shuffle", [True, False])
def test_batches_stay_within_budget_and_row_cap(shuffle):
    batches = list(sampler(shuffle))
    alone = []
    for batch in batches:
        assert 1 <= len(batch) <= ROWS
        padded = len(batch) * max(LENGTHS[i] for i in batch)
        if padded > BUDGET:
            assert len(batch) == 1
            alone.append(batch[0])
    assert sorted(alone) == [300, 301]  # only the two over-long examples break the budget, each alone
    # The cut is greedy: most batches are full to the row cap or the budget, not one row each.
    assert len(batches) < len(LENGTHS) / 3


def test_evaluation_order_is_sorted_by_length_then_index():
    order = flat(list(sampler(shuffle=False)))
    assert order == sorted(range(len(LENGTHS)), key=lambda i: (LENGTHS[i], i))


def test_greedy_cut_on_a_hand_computed_case():
    # sorted by length: 1(1) 4(2) 2(3) 3(3) 0(5); budget 6 -> [1 4]: 2x2, [2 3]: 2x3, [0]: 1x5
    s = TokenBudgetBatchSampler([5, 1, 3, 3, 2], batch_tokens=6, max_batch_size=3, shuffle=False)
    assert list(s) == [[1, 4], [2, 3], [0]]
    capped = TokenBudgetBatchSampler([1] * 7, batch_tokens=100, max_batch_size=3, shuffle=False)
    assert list(capped) == [[0, 1, 2], [3, 4, 5], [6]]
    # A zero length counts as one token.
    assert list(TokenBudgetBatchSampler([0, 0, 0], batch_tokens=2, shuffle=False)) == [[0, 1], [2]]


def test_same_seed_and_epoch_same_batches_other_epoch_other_order():
    a, b = sampler(), sampler()
    a.set_epoch(2)
    b.set_epoch(2)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(3)
    assert list(a) != first
    assert list(sampler(seed=8)) != list(sampler(seed=7))
    # Unshuffled (evaluation) batches do not depend on the epoch.
    e = sampler(shuffle=False)
    before = list(e)
    e.set_epoch(5)
    assert list(e) == before


def test_set_epoch_skip_resumes_after_the_first_batches():
    s = sampler()
    s.set_epoch(4)
    full = list(s)
    s.set_epoch(4, skip=5)
    assert list(s) == full[5:]
    assert len(s) == len(full) - 5
    s.set_epoch(4, skip=len(full) + 3)
    assert list(s) == [] and len(s) == 0
    s.set_epoch(5)  # a new epoch starts from its first batch again
    assert len(list(s)) == len(s) and s.skip == 0


def test_two_ranks_on_a_hand_computed_case():
    # Batches [0 1] [2 3] [4]; the list is padded with its first batch to 4 for two ranks.
    def share(rank: int, even: bool) -> list[list[int]]:
        return list(TokenBudgetBatchSampler([1] * 5, batch_tokens=2, max_batch_size=2, shuffle=False,
                                            num_replicas=2, rank=rank, even_shares=even))

    assert share(0, True) == [[0, 1], [4]]
    assert share(1, True) == [[2, 3], [0, 1]]
    assert share(0, False) == [[0, 1], [4]]
    assert share(1, False) == [[2, 3]]


@pytest.mark.parametrize("epoch", [0, 1])
def test_two_ranks_even_shares(epoch):
    ranks = [sampler(num_replicas=2, rank=r) for r in range(2)]
    for s in ranks:
        s.set_epoch(epoch)
    shares = [list(s) for s in ranks]
    assert len(shares[0]) == len(shares[1]) == len(ranks[0]) == len(ranks[1])
    everything = ranks[0].all_batches()
    assert everything == ranks[1].all_batches()  # every rank builds the same list
    counts = Counter(flat(shares[0]) + flat(shares[1]))
    assert set(counts) == set(range(len(LENGTHS)))
    # Only the batches repeated to even out the shares appear twice.
    extra = len(shares[0]) + len(shares[1]) - len(everything)
    assert extra == len(everything) % 2
    repeated = sorted(i for i, n in counts.items() if n > 1)
    assert repeated == sorted(flat(everything[:extra]))
    assert max(counts.values()) <= 2


def test_two_ranks_without_even_shares_are_a_partition():
    ranks = [sampler(num_replicas=2, rank=r, even_shares=False) for r in range(2)]
    shares = [flat(list(s)) for s in ranks]
    assert not set(shares[0]) & set(shares[1])
    assert sorted(shares[0] + shares[1]) == list(range(len(LENGTHS)))


@pytest.mark.parametrize(("num_batches", "world"), [(1, 3), (3, 8), (2, 2), (5, 4)])
def test_even_shares_with_fewer_batches_than_ranks(num_batches, world):
    # DDP hangs when one rank has fewer batches than the others, even when batches are scarce.
    lengths = [1] * num_batches
    shares = [list(TokenBudgetBatchSampler(lengths, batch_tokens=1, shuffle=False, num_replicas=world,
                                           rank=r)) for r in range(world)]
    per_rank = -(-num_batches // world)
    assert [len(share) for share in shares] == [per_rank] * world
    assert sorted(set(flat([b for share in shares for b in share]))) == list(range(num_batches))


def test_padding_share_on_hand_computed_cases():
    # Batches [0 1] [2] [3]: real 1+2+3+4 = 10 slots of 2x2 + 3 + 4 = 11 padded.
    s = TokenBudgetBatchSampler([1, 2, 3, 4], batch_tokens=4, shuffle=False)
    assert list(s) == [[0, 1], [2], [3]]
    assert s.padding_share() == pytest.approx(1 / 11)
    one_batch = TokenBudgetBatchSampler([1, 2, 3, 4], batch_tokens=100, shuffle=False)
    assert one_batch.padding_share() == pytest.approx(1 - 10 / 16)
    assert TokenBudgetBatchSampler([3, 3], batch_tokens=100).padding_share() == 0.0
    assert TokenBudgetBatchSampler([], batch_tokens=100).padding_share() == 0.0


def test_bucketing_pads_less_than_random_batches():
    bucketed = sampler().padding_share()
    random_order = sampler(pool_batches=0)  # pools of one batch: barely any sorting
    assert bucketed < random_order.padding_share()


def test_bad_arguments():
    with pytest.raises(ValueError, match="must be positive"):
        TokenBudgetBatchSampler([1], batch_tokens=0)
    with pytest.raises(ValueError, match="must be positive"):
        TokenBudgetBatchSampler([1], batch_tokens=10, max_batch_size=0)


def test_pad():
    padded = pad([[5, 6, 7], [8], []])
    assert padded.dtype == torch.long
    assert torch.equal(padded, torch.tensor([[5, 6, 7], [8, 0, 0], [0, 0, 0]]))
    assert torch.equal(pad([[1], [2, 3]], pad_id=9), torch.tensor([[1, 9], [2, 3]]))
    assert pad([]).shape == (0, 0)


def test_lengths_and_mask():
    lengths, mask = lengths_and_mask([[5, 6, 7], [8], [4, 4]])
    assert lengths.dtype == torch.long
    assert torch.equal(lengths, torch.tensor([3, 1, 2]))
    assert torch.equal(mask, torch.tensor([[True, True, True], [True, False, False], [True, True, False]]))
    empty_lengths, empty_mask = lengths_and_mask([])
    assert empty_lengths.shape == (0,) and empty_mask.shape == (0, 0)
