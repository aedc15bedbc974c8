"""Known-answer tests of the trainers' losses: hand-built batches, values worked out by hand."""

import math

import pytest

torch = pytest.importorskip("torch")

from mrt_env.training.losses import (  # noqa: E402
    clipped_policy_loss,
    grpo_advantages,
    length_penalized,
    mrt_block_advantages,
    prefix_advantages,
    sequence_nll,
    token_advantages,
)


def test_grpo_advantages_are_normalised_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    adv = grpo_advantages(rewards, groups, eps=0.0)
    # group 0: mean 1/3, sample std sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3)
    s = math.sqrt(1 / 3)
    assert adv.tolist() == pytest.approx(
        [(2 / 3) / s, (-1 / 3) / s, (-1 / 3) / s, (-2 / 3) / s, (1 / 3) / s, (1 / 3) / s]
    )
    same = grpo_advantages(torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.tensor([0, 0, 1, 1]))
    assert same.tolist() == [0.0, 0.0, 0.0, 0.0]  # nothing to learn from a uniform group
    centred = grpo_advantages(rewards, groups, scale=False)
    assert centred.tolist() == pytest.approx([2 / 3, -1 / 3, -1 / 3, -2 / 3, 1 / 3, 1 / 3])


def test_mrt_gives_each_block_its_own_progress_credit():
    # Two traces of one problem, both correct (so the outcome advantage is 0):
    # trace 0: J = 0.1 -> 0.5 -> 0.9 (two productive blocks)
    # trace 1: J = 0.1 -> 0.1 -> 0.1 -> 0.9 (a wasted block, then the same gain)
    outcome = torch.tensor([1.0, 1.0])
    probs = torch.tensor([[0.1, 0.5, 0.9, 0.9], [0.1, 0.1, 0.1, 0.9]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    groups = torch.tensor([0, 0])
    adv = mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0)
    # progress: trace 0 [0.4, 0.4, -], trace 1 [0.0, 0.0, 0.8]
    # baselines per block index: j=0 mean(0.4, 0) = 0.2; j=1 mean(0.4, 0) = 0.2; j=2 0.8
    assert adv.tolist()[0] == pytest.approx([0.2, 0.2, 0.0])
    assert adv.tolist()[1] == pytest.approx([-0.2, -0.2, 0.0])
    # The sum of progress is the same for both (0.8): a trajectory-level bonus could not
    # tell them apart. Per-block credit does: the wasted blocks get negative advantage.
    half = mrt_block_advantages(outcome, probs, mask, groups, alpha=0.5)
    assert half.tolist()[1] == pytest.approx([-0.1, -0.1, 0.0])


def test_mrt_adds_the_outcome_advantage_and_the_termination_baseline():
    outcome = torch.tensor([1.0, 0.0])
    probs = torch.tensor([[0.2, 0.6], [0.2, 0.2]])
    mask = torch.tensor([[True], [True]])
    groups = torch.tensor([0, 0])
    adv = mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0, eps=0.0)
    # outcome advantages ±(1/2)/sqrt(1/2) = ±0.7071; progress 0.4 and 0.0, baseline 0.2
    a = 0.5 / math.sqrt(0.5)
    assert adv[:, 0].tolist() == pytest.approx([a + 0.2, -a - 0.2])
    term = mrt_block_advantages(outcome, probs, mask, groups, alpha=0.0, baseline="termination")
    # A = R − J_j at the prefix before the block: 1 − 0.2 and 0 − 0.2
    assert term[:, 0].tolist() == pytest.approx([0.8, -0.2])
    with pytest.raises(ValueError, match="baseline"):
        mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0, baseline="mean")


def test_token_advantages_follow_the_block_of_each_token():
    block_adv = torch.tensor([[0.5, -1.0]])
    block_index = torch.tensor([[-1, -1, 0, 0, 1, -1]])  # prompt, block 0, block 1, pad
    assert token_advantages(block_adv, block_index).tolist() == [[0, 0, 0.5, 0.5, -1.0, 0]]


def test_clipped_policy_loss_by_hand():
    old = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))
    new = torch.log(torch.tensor([[0.75, 0.25, 0.5]])).requires_grad_()
    adv = torch.tensor([[1.0, 1.0, -2.0]])
    mask = torch.tensor([[True, True, False]])
    loss, stats = clipped_policy_loss(new, old, adv, mask, clip=0.2)
    # ratios 1.5 and 0.5; with A = 1: min(1.5, 1.2) = 1.2 and min(0.5, 0.8) = 0.5
    assert loss.item() == pytest.approx(-(1.2 + 0.5) / 2)
    assert stats["clip_fraction"] == pytest.approx(1.0)
    loss.backward()
    # The clipped token has no gradient; the other gets -A·ratio/2 = -0.25 (mean over 2).
    assert new.grad.tolist()[0] == pytest.approx([0.0, -0.25, 0.0])

    ref = torch.log(torch.tensor([[0.5, 0.5, 0.5]]))
    same = old.clone().requires_grad_()
    loss, stats = clipped_policy_loss(same, old, adv, mask, ref_logprobs=ref, kl_coef=0.1)
    assert loss.item() == pytest.approx(-1.0) and stats["kl"] == pytest.approx(0.0)
    _, stats = clipped_policy_loss(new.detach(), old, adv, mask, ref_logprobs=ref, kl_coef=1.0)
    # k3 at r/l = 0.5/0.75 and 0.5/0.25: (2/3 − ln 2/3 − 1 + 2 − ln 2 − 1) / 2
    k3 = (2 / 3 - math.log(2 / 3) - 1 + 2 - math.log(2) - 1) / 2
    assert stats["kl"] == pytest.approx(k3)


def test_sequence_nll():
    logp = torch.log(torch.tensor([[0.5, 0.25, 0.1]]))
    mask = torch.tensor([[True, True, False]])
    assert sequence_nll(logp, mask).item() == pytest.approx((math.log(2) + math.log(4)) / 2)


def test_prefix_advantages_compare_each_continuation_with_terminating():
    # Prefix 0 (J_j = 0.25): continuations right, wrong, right. Prefix 1 (J_j = 0.5): wrong, wrong.
    outcome = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0])
    termination = torch.tensor([0.25, 0.25, 0.25, 0.5, 0.5])
    groups = torch.tensor([0, 0, 0, 1, 1])
    adv = prefix_advantages(outcome, termination, groups)  # the authors': A = R − J_j
    assert adv.tolist() == pytest.approx([0.75, -0.25, 0.75, -0.5, -0.5])
    # The set {1, 0, 1, 0.25}: mean 0.5625; squares 0.19140625·2 + 0.31640625 + 0.09765625
    # = 0.796875, sample std sqrt(0.796875 / 3). Set {0, 0, 0.5}: mean 1/6, std sqrt(1/12).
    s0, s1 = math.sqrt(0.796875 / 3), math.sqrt((2 * (1 / 6) ** 2 + (1 / 3) ** 2) / 2)
    grouped = prefix_advantages(outcome, termination, groups, baseline="group", eps=0.0)
    expected = [0.4375 / s0, -0.5625 / s0, 0.4375 / s0, (-1 / 6) / s1, (-1 / 6) / s1]
    assert grouped.tolist() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="baseline"):
        prefix_advantages(outcome, termination, groups, baseline="mean")


def test_length_penalized_reward():
    reward = length_penalized(torch.tensor([1.0, 0.0, 1.0]), torch.tensor([100, 20, 300]), 1e-3)
    assert reward.tolist() == pytest.approx([0.9, -0.02, 0.7])
