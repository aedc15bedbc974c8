"""Rollouts as training tensors, and MRT-STaR's selection of traces."""

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.training.loop import star_selection  # noqa: E402
from mrt_env.training.rollouts import RolloutBatch  # noqa: E402
from mrt_env.types import EpisodeRecord  # noqa: E402


def trace(group, blocks, probs, correct):
    return EpisodeRecord(
        problem_id=f"p{group}",
        prompt="Q 1\n",
        blocks=tuple(blocks),
        success_probs=tuple(probs),
        prefix_tokens=tuple(range(len(probs))),
        correct=correct,
        outcome="committed",
    )


def test_tensors_mark_each_token_with_its_block(tiny_backend):
    tok = tiny_backend.tokenizer
    batch = RolloutBatch(
        [trace(0, ["ab\n", "c\n"], [0.1, 0.4, 0.9], True), trace(1, ["xyz\n"], [0.2, 0.3], False)],
        groups=[0, 1],
        sampled_tokens=9,
    )
    t = batch.tensors(tok)
    assert t.input_ids.shape[0] == 2 and [len(f) for f in t.first_tokens] == [2, 1]
    # J, groups and outcomes as the traces hold them
    assert t.success_probs == ((0.1, 0.4, 0.9), (0.2, 0.3))
    assert t.groups == (0, 1) and t.outcome == (1.0, 0.0)
    # Each block's tokens decode back to the block; the prompt's tokens are not written.
    for b, tr in enumerate(batch.traces):
        ids, firsts = t.input_ids[b].tolist(), [*t.first_tokens[b], t.lengths[b]]
        for j, block in enumerate(tr.blocks):
            assert tok.decode(ids[firsts[j] : firsts[j + 1]]) == block
        assert t.written[b].tolist() == [firsts[0] <= i < t.lengths[b] for i in range(len(ids))]
        prompt = ids[: firsts[0]]
        assert tok.decode(prompt, skip_special_tokens=True) == tr.prompt


def test_star_keeps_correct_traces_with_the_most_progress_per_block():
    fast = trace(0, ["a", "b"], [0.1, 0.5, 0.9], True)  # 0.4 per block
    slow = trace(0, ["a", "b", "c", "d"], [0.1, 0.1, 0.1, 0.5, 0.9], True)  # 0.2 per block
    wrong = trace(0, ["a"], [0.1, 0.9], False)  # most progress, but wrong
    other = trace(1, ["a"], [0.0, 0.0], False)
    batch = RolloutBatch([slow, wrong, fast, other], [0, 0, 0, 1], 10)
    kept = star_selection(batch, keep=1)
    assert kept.traces == [fast] and kept.groups == [0]
    both = star_selection(batch, keep=5)
    assert both.traces == [fast, slow] and both.groups == [0, 0]
    with pytest.raises(ValueError, match="one group per trace"):
        RolloutBatch([slow, wrong], [0], 10)
