"""The trainers' losses as pure functions of tensors (no model, no env).

B traces, T token positions. The advantages the policy loss weighs each token with are
MRT's credit (:mod:`mrt_env.training.credit`: the formulas and the one entry every engine
calls).

* :func:`clipped_policy_loss`: PPO's clipped surrogate on token log-probabilities, with an
  optional KL penalty to a reference model (the k3 estimator), averaged over tokens.
* :func:`sequence_nll`: the supervised loss MRT-STaR fine-tunes with.
"""

from __future__ import annotations

from types import ModuleType
from typing import TYPE_CHECKING

from mrt_env.extras import require

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["clipped_policy_loss", "sequence_nll"]


def _torch() -> ModuleType:
    return require("torch", extra="hf", feature="the trainers")


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
