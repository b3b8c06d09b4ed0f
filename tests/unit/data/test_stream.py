"""Stream batching for language models: columns, BPTT windows, random lengths, ranks, resuming."""

from __future__ import annotations

import pytest
import torch

from nlpseq.data.stream import StreamBatches, batchify, window_lengths


def test_the_hand_worked_example_of_the_docstring() -> None:
    # ids 0..25 = a..z; 4 columns of 6 (y z dropped), windows of 2, 2, 1.
    batches = StreamBatches(torch.arange(26), batch_size=4, bptt=2, rank=0, world=1)
    windows = list(batches)
    assert len(batches) == 3
    assert [w["input_ids"].tolist() for w in windows] == [
        [[0, 1], [6, 7], [12, 13], [18, 19]],
        [[2, 3], [8, 9], [14, 15], [20, 21]],
        [[4], [10], [16], [22]],
    ]
    assert [w["targets"].tolist() for w in windows] == [
        [[1, 2], [7, 8], [13, 14], [19, 20]],
        [[3, 4], [9, 10], [15, 16], [21, 22]],
        [[5], [11], [17], [23]],
    ]
    assert [w["reset"].item() for w in windows] == [True, False, False]
    assert [w["num_tokens"].item() for w in windows] == [8, 8, 4]
    assert batches.num_targets == 20


def test_batchify_refuses_a_stream_too_short_for_its_columns() -> None:
    assert batchify(torch.arange(9), 4).tolist() == [[0, 1], [2, 3], [4, 5], [6, 7]]
    with pytest.raises(ValueError, match="too short"):
        batchify(torch.arange(7), 4)


def test_random_lengths_cover_the_stream_and_replay_per_epoch() -> None:
    lengths = window_lengths(10_000, 35, random_length=True, seed=3)
    assert sum(lengths) == 10_000
    assert min(lengths[:-1]) >= 5 and max(lengths) <= 55
    assert len(set(lengths)) > 5  # really random
    assert lengths == window_lengths(10_000, 35, random_length=True, seed=3)
    batches = StreamBatches(torch.arange(4001), batch_size=4, bptt=35, random_length=True, seed=7)
    batches.set_epoch(2)
    whole = [w["input_ids"] for w in batches]
    batches.set_epoch(1)
    other = [w["input_ids"].shape for w in batches]
    assert other != [w.shape for w in whole]  # each epoch draws its own lengths
    batches.set_epoch(2, skip=3)
    resumed = list(batches)
    assert len(batches) == len(whole) - 3
    assert all(torch.equal(a, b["input_ids"]) for a, b in zip(whole[3:], resumed, strict=True))
    assert not resumed[0]["reset"]  # the carried state comes from the checkpoint


def test_each_rank_takes_its_own_contiguous_block_of_columns() -> None:
    ids = torch.arange(48)
    ranks = [StreamBatches(ids, batch_size=2, bptt=3, rank=r, world=3) for r in range(3)]
    # 6 columns of 8: rank r holds columns 2r and 2r+1, i.e. ids 16r .. 16r+15, contiguous.
    assert [b.data.flatten().tolist() for b in ranks] == [list(range(16 * r, 16 * r + 16)) for r in range(3)]
    assert len({len(b) for b in ranks}) == 1  # the same number of steps on every rank
