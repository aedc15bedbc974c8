"""Known-answer tests of the trainers' losses: hand-built batches, values worked out by hand."""

import math

import pytest

torch = pytest.importorskip("torch")

from mrt_env.training.losses import clipped_policy_loss, sequence_nll  # noqa: E402


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
