"""The trainers' objectives as pure functions of tensors (no model, no env).

Notation: B sampled traces (episodes of the env), T token positions, K the most blocks of
a trace. ``groups[b]`` is the problem trace b answers: traces of one group are the samples
of one problem (GRPO's group). Blocks are MRT's episodes $z_1 … z_k$; $J_j$ is the
meta-prover's success at the prefix after block j ($J_0$ the bare prompt), so block j's
progress is $J_j − J_{j-1}$ (definitions and numbering: the docs' Concepts page; in the
tensors block j is column j − 1).

* :func:`grpo_advantages`: the outcome advantage, normalised within each group.
* :func:`mrt_block_advantages`: MRT's per-block credit. Each block gets the outcome
  advantage plus α times *its own* progress minus a baseline (the mean progress at that
  block index in the group), or the authors' termination baseline (R minus J at the
  block's start). Adding α·Σ progress to the trajectory reward instead would telescope to
  $α·(J_k − J_0)$ and, under group normalisation, be GRPO with a reshaped outcome.
* :func:`prefix_advantages`: the paper's MRT-RL. Continuations of one prefix c_j are
  compared with terminating there (answering from c_j, whose reward is J_j): A = R − J_j,
  or normalised over the set of the m continuations and the terminate action.
* :func:`length_penalized`: the outcome minus a per-token penalty (the paper's
  length-penalty baseline for GRPO).
* :func:`clipped_policy_loss`: PPO's clipped surrogate on token log-probabilities, with an
  optional KL penalty to a reference model (the k3 estimator), averaged over tokens.
* :func:`sequence_nll`: the supervised loss MRT-STaR fine-tunes with.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING, Literal

from mrt_env.errors import ConfigError
from mrt_env.extras import require

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "clipped_policy_loss",
    "grpo_advantages",
    "length_penalized",
    "mrt_block_advantages",
    "prefix_advantages",
    "sequence_nll",
    "token_advantages",
]


def _torch() -> ModuleType:
    return require("torch", extra="hf", feature="the trainers")


def _group_mean(values: Tensor, groups: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean of ``values`` [B, ...] within each group, broadcast back to [B, ...]."""
    torch = _torch()
    n_groups = int(groups.max()) + 1
    shape = (n_groups, *values.shape[1:])
    total = torch.zeros(shape, dtype=values.dtype).index_add_(0, groups, values * weights)
    count = torch.zeros(shape, dtype=values.dtype).index_add_(0, groups, weights)
    return (total / count.clamp(min=1.0))[groups]


def grpo_advantages(
    rewards: Tensor, groups: Tensor, *, eps: float = 1e-6, scale: bool = True
) -> Tensor:
    """(R − mean_group R) / (std_group R + eps) per trace: [B] -> [B].

    A group whose rewards are all equal gets advantage 0 (nothing to learn from it).
    ``scale=False`` keeps the mean-centred reward (Dr. GRPO's choice).
    """
    torch = _torch()
    rewards = rewards.double()  # [B]
    ones = torch.ones_like(rewards)
    mean = _group_mean(rewards, groups, ones)  # [B]
    centred = rewards - mean
    if not scale:
        return centred.float()
    n = torch.bincount(groups).double()[groups]  # [B]: the size of each trace's group
    var = _group_mean(centred**2, groups, ones) * n / (n - 1).clamp(min=1.0)  # sample var
    return (centred / (var.sqrt() + eps)).float()


def mrt_block_advantages(
    outcome: Tensor,
    success_probs: Tensor,
    block_mask: Tensor,
    groups: Tensor,
    *,
    alpha: float,
    baseline: Literal["group", "termination"] = "group",
    eps: float = 1e-6,
) -> Tensor:
    """Per-block advantages of MRT: [B, K].

    Args:
        outcome: [B] the 0/1 outcome R of each trace.
        success_probs: [B, K + 1] J_0 … J_K (values after a trace's last block are ignored).
        block_mask: [B, K] True where trace b has a block j.
        groups: [B] the problem index of each trace.
        alpha: weight of the progress credit.
        baseline: ``group``: A_bj = A^GRPO_b + α·(p_bj − mean progress of the group's
            traces at block j); ``termination``: the authors' A_bj = R_b − J_bj, the gain
            over answering right away from the prefix before block j, plus α·p_bj.
    """
    mask = block_mask.double()  # [B, K]
    probs = success_probs.double()  # [B, K + 1]
    progress = (probs[:, 1:] - probs[:, :-1]) * mask  # [B, K]: J_{j+1} − J_j per block
    if baseline == "termination":
        adv = outcome.double()[:, None] - probs[:, :-1] + alpha * progress  # [B, K]
    elif baseline == "group":
        mean_progress = _group_mean(progress, groups, mask)  # [B, K]: at block j in the group
        outcome_adv = grpo_advantages(outcome, groups, eps=eps).double()  # [B]
        adv = outcome_adv[:, None] + alpha * (progress - mean_progress)  # [B, K]
    else:
        raise ConfigError(f"baseline must be 'group' or 'termination', got {baseline!r}")
    return (adv * mask).float()


def prefix_advantages(
    outcome: Tensor,
    termination: Tensor,
    groups: Tensor,
    *,
    baseline: Literal["group", "termination"] = "termination",
    eps: float = 1e-6,
) -> Tensor:
    """The paper's MRT-RL advantage of each continuation of a prefix: [B] -> [B].

    Traces of one group continue the same prefix c_j; ``termination`` [B] is the reward of
    stopping there instead, μ's success J_j at c_j (the same for a group's traces).

    Args:
        outcome: [B] the 0/1 outcome R of each continuation.
        termination: [B] J_j, the terminate action's reward.
        groups: [B] which prefix each continuation continues.
        baseline: ``termination``: A = R − J_j (the authors' RL recipe: the terminate
            action replaces the group mean). ``group``: the m continuations and the
            terminate action form one set, normalised together, A = (R − mean) / (std +
            eps) with mean and (sample) std over the m + 1 rewards (the paper's Fig. 6:
            "normalizing rewards across this set implicitly computes the progress bonus").
    """
    torch = _torch()
    r = outcome.double()  # [B]
    term = termination.double()  # [B]
    if baseline == "termination":
        return (r - term).float()
    if baseline != "group":
        raise ConfigError(f"baseline must be 'group' or 'termination', got {baseline!r}")
    # The terminate action joins its prefix's group as one more member, with reward J_j;
    # the set is then normalised as GRPO normalises a group.
    present = torch.unique(groups)  # [G]
    term_of = _group_mean(term, groups, torch.ones_like(r))  # [B]: the prefix's J_j
    j_per_group = torch.zeros(int(groups.max()) + 1, dtype=r.dtype).index_copy_(0, groups, term_of)[
        present
    ]  # [G]
    rewards = torch.cat([r, j_per_group])  # [B + G]
    members = torch.cat([groups, present])  # [B + G]
    return grpo_advantages(rewards, members, eps=eps)[: r.shape[0]]


def length_penalized(outcome: Tensor, tokens: Tensor, penalty: float) -> Tensor:
    """The outcome reward with a per-token penalty, R − λ·tokens: [B] -> [B] (the
    length-penalty baseline of the paper's Table 1, GRPO on this reward)."""
    return outcome.double().sub(penalty * tokens.double()).float()


def token_advantages(block_advantages: Tensor, block_index: Tensor) -> Tensor:
    """Spread per-block advantages [B, K] onto tokens: [B, T], where ``block_index`` [B, T]
    is the block each token belongs to (−1 for prompt and padding: advantage 0)."""
    torch = _torch()
    index = block_index.clamp(min=0)  # [B, T]
    spread = torch.gather(block_advantages, 1, index)  # [B, T]
    return spread * (block_index >= 0)


def clipped_policy_loss(
    logprobs: Tensor,
    old_logprobs: Tensor,
    advantages: Tensor,
    mask: Tensor,
    *,
    clip: float = 0.2,
    ref_logprobs: Tensor = None,
    kl_coef: float = 0.0,
) -> tuple[Tensor, dict[str, float]]:
    """PPO's clipped surrogate, averaged over the trained tokens.

    Args:
        logprobs: [B, T] log π(token) under the policy being trained (with grad).
        old_logprobs: [B, T] the same under the policy that sampled (no grad).
        advantages: [B, T] per-token advantages (a trace's, or its block's).
        mask: [B, T] True for tokens the policy wrote.
        clip: ε of the ratio clip [1 − ε, 1 + ε].
        ref_logprobs, kl_coef: an optional KL penalty to a reference policy, with the
            k3 estimator exp(r − l) − (r − l) − 1 (≥ 0, unbiased).

    Returns:
        (loss, stats): the scalar loss, and floats for logging (``clip_fraction``, ``kl``).
    """
    torch = _torch()
    m = mask.to(logprobs.dtype)  # [B, T]
    tokens = m.sum().clamp(min=1.0)
    ratio = torch.exp(logprobs - old_logprobs)  # [B, T]
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    per_token = -torch.minimum(unclipped, clipped)  # [B, T]
    stats = {"clip_fraction": float((((ratio.detach() - 1).abs() > clip) * m).sum() / tokens)}
    if ref_logprobs is not None and kl_coef > 0:
        diff = ref_logprobs - logprobs  # [B, T]
        kl = torch.exp(diff) - diff - 1.0  # [B, T]
        per_token = per_token + kl_coef * kl
        stats["kl"] = float((kl.detach() * m).sum() / tokens)
    loss = (per_token * m).sum() / tokens
    return loss, stats


def sequence_nll(logprobs: Tensor, mask: Tensor) -> Tensor:
    """Mean negative log-likelihood of the masked tokens: [B, T] -> scalar."""
    m = mask.to(logprobs.dtype)
    return -(logprobs * m).sum() / m.sum().clamp(min=1.0)
