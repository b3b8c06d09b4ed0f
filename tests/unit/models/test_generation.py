"""Decoding: greedy, beam search, sampling filters, seeds, stopping, conditions, and `nlpseq generate`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from nlpseq.models.embedding import EmbeddingConfig
from nlpseq.models.generation import beam_search, filter_logits, sample
from nlpseq.models.language_model import LanguageModel, lm_encoder
from nlpseq.tokenizers import EOS_ID
from tests.helpers import run_cli, run_cli_subprocess
from tests.tasks.test_language_model import text_files

PROMPTS = [[3, 5, 6], [3], [3, 9, 4, 7, 8]]


def model(**kwargs) -> LanguageModel:
    torch.manual_seed(0)
    lm = LanguageModel(30, EmbeddingConfig(embedding_dim=16), lm_encoder(hidden_size=16, num_layers=2),
                       **kwargs)
    with torch.no_grad():
        lm.embedding.embedding.weight.mul_(20)  # a peaked distribution, so greedy paths are clear of ties
        lm.output.bias[EOS_ID] = -5.0  # rarely stop, so the paths are long
    return lm.eval()


def test_greedy_equals_beam_of_one_equals_top_k_of_one() -> None:
    lm = model()
    greedy = sample(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=15, temperature=0)
    beam = beam_search(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=15, beam_size=1)
    top1 = sample(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=15, top_k=1,
                  generator=torch.Generator().manual_seed(3))
    assert [g.tokens for g in greedy] == [b.tokens for b in beam] == [t.tokens for t in top1]
    assert [g.logprobs for g in greedy] == [b.logprobs for b in beam]
    assert all(len(g.tokens) > 3 for g in greedy)


def test_a_wider_beam_never_scores_worse_than_greedy() -> None:
    lm = model()
    greedy = beam_search(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=6, beam_size=1)
    wide = beam_search(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=6, beam_size=4)
    for g, w in zip(greedy, wide, strict=True):
        if len(g.tokens) == len(w.tokens):
            assert sum(w.logprobs) >= sum(g.logprobs) - 1e-4


def test_a_seed_gives_the_same_sample_twice_and_another_seed_another() -> None:
    lm = model()

    def draw(seed: int) -> list[list[int]]:
        return [s.tokens for s in sample(lm, PROMPTS * 4, stop_id=EOS_ID, max_new_tokens=12, temperature=1.5,
                                         generator=torch.Generator().manual_seed(seed))]

    torch.manual_seed(123)
    first = draw(9)
    torch.manual_seed(456)  # the global RNG plays no part
    assert draw(9) == first
    assert draw(10) != first


def test_filter_logits_keeps_exactly_the_top_k_and_the_nucleus() -> None:
    logits = torch.log(torch.tensor([[0.5, 0.2, 0.15, 0.1, 0.05]]))
    assert torch.isfinite(filter_logits(logits, top_k=2)).tolist() == [[True, True, False, False, False]]
    # 0.5 + 0.2 = 0.7 < 0.8, so the third token is needed to reach 0.8; the fourth is not.
    assert torch.isfinite(filter_logits(logits, top_p=0.8)).tolist() == [[True, True, True, False, False]]
    assert torch.isfinite(filter_logits(logits, top_p=0.1)).tolist() == [[True, False, False, False, False]]


@pytest.mark.parametrize("options", [{"top_k": 3}, {"top_p": 0.5}, {"top_k": 5, "top_p": 0.3}])
def test_top_k_and_top_p_never_emit_a_token_outside_the_allowed_set(options: dict) -> None:
    lm = model()
    with torch.no_grad():
        # A flat distribution: many tokens would be drawn without the filter.
        lm.embedding.embedding.weight.div_(20)
        logits, _ = lm.score(torch.tensor([[3, 5, 6]]))
    allowed = torch.isfinite(filter_logits(logits[:, -1], **options))[0].nonzero().flatten().tolist()
    rows = [[3, 5, 6]] * 400
    drawn = sample(lm, rows, stop_id=EOS_ID, max_new_tokens=1, temperature=2.0,
                   generator=torch.Generator().manual_seed(0), **options)
    seen = {d.tokens[0] for d in drawn}
    assert seen <= set(allowed)
    assert len(seen) == len(allowed)  # and the allowed ones all occur in 400 draws
    unfiltered = {d.tokens[0] for d in sample(lm, rows, stop_id=EOS_ID, max_new_tokens=1, temperature=2.0,
                                              generator=torch.Generator().manual_seed(0))}
    assert len(unfiltered) > len(allowed)


def test_beam_search_of_a_batch_equals_each_prompt_alone_and_done_prompts_leave_it() -> None:
    # The search translation uses: a prompt whose beams have all stopped leaves the batch, so the model
    # runs on fewer rows, and nothing couples two prompts.
    lm = model()
    with torch.no_grad():
        lm.output.bias[EOS_ID] = 2.5  # prompts stop after a few tokens, at different steps
    rows = []
    score = lm.score

    def counting(input_ids, *args, **kwargs):
        rows.append(input_ids.size(0))
        return score(input_ids, *args, **kwargs)

    lm.score = counting
    batched = beam_search(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=12, beam_size=3)
    assert all(out.stopped for out in batched)
    assert rows[0] == len(PROMPTS)  # the prompts, run once
    assert rows[1] == 3 * len(PROMPTS)  # then K beams a prompt
    assert rows[-1] < rows[1] and rows[1:] == sorted(rows[1:], reverse=True)  # fewer once some are done
    for prompt, out in zip(PROMPTS, batched, strict=True):
        alone = beam_search(lm, [prompt], stop_id=EOS_ID, max_new_tokens=12, beam_size=3)[0]
        assert (alone.tokens, alone.logprobs) == (out.tokens, out.logprobs)


def test_generation_stops_each_row_at_end_of_sequence() -> None:
    lm = model()
    with torch.no_grad():
        lm.output.bias[EOS_ID] = 100.0
    out = sample(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=20, temperature=1.0,
                 generator=torch.Generator().manual_seed(0))
    assert [(o.tokens, o.stopped) for o in out] == [([EOS_ID], True)] * 3
    assert [o.tokens for o in beam_search(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=20, beam_size=3)] == \
        [[EOS_ID]] * 3
    # Without the bias rows run to the limit, and a row that stopped is cut at its own stop.
    lm = model()
    free = sample(lm, PROMPTS, stop_id=EOS_ID, max_new_tokens=7, temperature=0)
    assert all(len(o.tokens) == 7 or o.tokens[-1] == EOS_ID for o in free)
    assert all(EOS_ID not in o.tokens[:-1] for o in free)


@pytest.mark.parametrize("every_step", [False, True])
def test_the_condition_changes_the_output_distribution(every_step: bool) -> None:
    lm = model(num_conditions=3, condition_dim=4, condition_every_step=every_step)
    with torch.no_grad():
        lm.condition.weight.mul_(5)
    ids = torch.tensor([[3, 5, 6, 7]] * 3)
    condition = torch.tensor([0, 1, 2])
    logits, _ = lm.score(ids, lm.initial_state(3, condition), condition)
    probs = logits.softmax(-1)
    assert not torch.allclose(probs[0], probs[1], atol=1e-4)
    assert not torch.allclose(probs[1], probs[2], atol=1e-4)
    same = torch.tensor([1, 1, 1])
    again, _ = lm.score(ids, lm.initial_state(3, same), same)
    torch.testing.assert_close(again[0], again[2])
    draws = sample(lm, [[3]] * 3, stop_id=EOS_ID, max_new_tokens=10, temperature=0, condition=condition)
    assert len({tuple(d.tokens) for d in draws}) > 1


def test_generate_in_a_fresh_process_is_seeded_and_prints_log_probs(tmp_path: Path) -> None:
    run = tmp_path / "run"
    assert run_cli("train", "lm/tiny", f"run_dir={run}", *text_files(tmp_path / "d")).returncode == 0
    args = ("generate", str(run), "--prompt", "a dog", "--num-samples", "4", "--seed", "11",
            "--max-new-tokens", "10", "--top-p", "0.9")
    first = run_cli_subprocess(*args)
    assert first.returncode == 0, first.stderr
    lines = first.stdout.splitlines()
    assert len(lines) == 4 and all(line.startswith("a dog") for line in lines)
    assert run_cli_subprocess(*args).stdout == first.stdout
    jsonl = run_cli("generate", str(run), "--prompt", "", "--format", "jsonl", "--beam-size", "2")
    row = json.loads(jsonl.stdout)
    assert row["prompt"] == "" and len(row["token_logprobs"]) == len(row["tokens"])
    assert all(lp <= 0 for lp in row["token_logprobs"])


def test_a_task_that_writes_no_text_says_so(tmp_path: Path) -> None:
    from nlpseq.errors import NlpseqError
    from nlpseq.tasks import get_task, load_config
    from nlpseq.tasks.options import GenerationOptions

    task = get_task("classification")(load_config(None), tmp_path)
    with pytest.raises(NlpseqError, match="task classification does not generate text"):
        task.generate(torch.nn.Linear(1, 1), ["a prompt"], GenerationOptions())


def test_beam_search_outputs_are_those_of_the_search_before_it_was_shared() -> None:
    # Pinned from the language model's own beam search, before translation and generation shared one.
    found = beam_search(model(), PROMPTS, stop_id=EOS_ID, max_new_tokens=15, beam_size=4)
    assert [out.tokens for out in found] == [
        [29, 29, 4, 4, 4, 4, 4, 18, 18, 18, 18, 14, 7, 7, 14],
        [29, 4, 4, 4, 4, 18, 18, 18, 18, 14, 7, 7, 7, 7, 14],
        [18, 14, 14, 7, 14, 4, 4, 4, 18, 18, 18, 18, 14, 7, 7]]
    assert found[0].logprobs[:4] == [-2.6482, -2.7362, -2.3731, -2.3151] and not any(o.stopped for o in found)
