"""MRT's credit: from outcomes and J values to per-token advantages, for every engine.

One function, :func:`token_credit`, turns a batch of traces (their outcome R, μ's success
$J_0 … J_k$ at every block boundary, and which block each token belongs to) into per-token
advantages. ``mrt-train``, :class:`~mrt_env.training.trl_trainer.MRTGRPOTrainer` (TRL) and
the ``mrt`` advantage estimator for verl (:mod:`mrt_env.training.verl`) all call it, so for
the same traces and J values they give the same advantages (tested).

The schemes (:class:`CreditConfig`):

* ``outcome``: GRPO. Every token of a trace gets its group-normalised outcome advantage
  (with ``length_penalty`` λ: of R − λ·tokens, the paper's length-penalty baseline).
* ``block`` (ours): every *block's* tokens get the outcome advantage plus α times that
  block's own progress $J_j − J_{j-1}$ minus the group's mean progress at that block index
  (``baseline="group"``), or $A_j = R − J_{j-1} + α·(J_j − J_{j-1})$ (``"termination"``).
  Ours exists because crediting $Σ_j (J_j − J_{j-1})$ to the whole trace telescopes to
  $J_k − J_0$.
* ``prefix`` (the paper's MRT-RL): the traces of a group are continuations of one prefix
  c_j, and the terminate action's reward is J at the prompt's end, J_0 of the continuation:
  A = R − J_0 (``"termination"``, the authors' recipe) or the continuations and the
  terminate action normalised together (``"group"``, the paper's Fig. 6).

A token belongs to the block its first character is in (:func:`token_blocks`); tokens
before the first block (prompt, padding) get no credit.

>>> import torch
>>> credit = CreditConfig("block", alpha=1.0, baseline="termination")
>>> token_credit(
...     credit,
...     outcome=torch.tensor([1.0]),
...     success_probs=torch.tensor([[0.2, 0.5, 1.0]]),
...     block_mask=torch.tensor([[True, True]]),
...     groups=torch.tensor([0]),
...     block_index=torch.tensor([[-1, 0, 0, 1]]),
... ).tolist()
[[0.0, 1.100000023841858, 1.100000023841858, 1.0]]
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mrt_env.config import Config
from mrt_env.errors import ConfigError
from mrt_env.extras import require
from mrt_env.lm.transformers_lm import tokens_to_reach
from mrt_env.training.losses import (
    grpo_advantages,
    length_penalized,
    mrt_block_advantages,
    prefix_advantages,
    token_advantages,
)

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "SCHEMES",
    "CreditConfig",
    "block_credit",
    "block_starts_in_tokens",
    "credit_by_episodes",
    "token_blocks",
    "token_credit",
]

SCHEMES = ("outcome", "block", "prefix")
"""The credit schemes :class:`CreditConfig` accepts."""


@dataclass(frozen=True)
class CreditConfig(Config):
    """How traces are credited: one value, shared by every engine's MRT."""

    scheme: Literal["outcome", "block", "prefix"] = "block"
    """outcome (GRPO), block (ours: per-block progress credit) or prefix (the paper's
    MRT-RL: continuations of a prefix against terminating there)."""
    alpha: float = 1.0
    """block: weight α of a block's progress."""
    baseline: Literal["group", "termination"] = "group"
    """block and prefix: what a block (or continuation) is compared with; see the module."""
    length_penalty: float = 0.0
    """outcome: reward per token subtracted from the outcome (0: none)."""

    def validate(self) -> None:
        if self.scheme not in SCHEMES:
            raise ConfigError(f"scheme must be one of {', '.join(SCHEMES)}, got {self.scheme!r}")
        if self.baseline not in ("group", "termination"):
            raise ConfigError(f"baseline must be group or termination, got {self.baseline!r}")
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, int | float):
            raise ConfigError(f"alpha must be a number, got {self.alpha!r}")
        if not math.isfinite(self.alpha):
            raise ConfigError(f"alpha must be finite, got {self.alpha}")
        if not (math.isfinite(self.length_penalty) and self.length_penalty >= 0):
            raise ConfigError(f"length_penalty must be a number >= 0, got {self.length_penalty}")
        if self.length_penalty and self.scheme != "outcome":
            raise ConfigError(
                "length_penalty is the GRPO baseline's reward (outcome minus a per-token "
                f"penalty); scheme {self.scheme!r} does not use it: use scheme 'outcome'"
            )

    @property
    def uses_j(self) -> bool:
        """Whether the scheme reads J (outcome credit needs no meta-prover)."""
        return self.scheme != "outcome"


def block_credit(
    config: CreditConfig,
    *,
    outcome: Tensor,
    success_probs: Tensor,
    block_mask: Tensor,
    groups: Tensor,
    tokens: Tensor | None = None,
) -> Tensor:
    """Advantages per block: [B, K].

    Args:
        outcome: [B] the reward R of each trace (0/1 for the termination baselines).
        success_probs: [B, K + 1] J_0 … J_K (values after a trace's last block ignored).
        block_mask: [B, K] True where trace b has a block j.
        groups: [B] the group of each trace (the samples of one prompt).
        tokens: [B] the tokens each trace wrote; needed by ``length_penalty``.
    """
    k = block_mask.shape[1]
    if config.scheme == "outcome":
        reward = outcome
        if config.length_penalty:
            if tokens is None:
                raise ConfigError("length_penalty needs each trace's token count (tokens=)")
            reward = length_penalized(reward, tokens, config.length_penalty)
        per_trace = grpo_advantages(reward, groups)  # [B]
    elif config.scheme == "prefix":
        # A continuation of c_j starts at J_j: its J_0 is the terminate action's reward.
        per_trace = prefix_advantages(
            outcome, success_probs[:, 0], groups, baseline=config.baseline
        )  # [B]
    else:
        return mrt_block_advantages(
            outcome,
            success_probs,
            block_mask,
            groups,
            alpha=config.alpha,
            baseline=config.baseline,
        )  # [B, K]
    return (per_trace[:, None].expand(-1, k) * block_mask).contiguous()  # [B, K]


def token_credit(
    config: CreditConfig,
    *,
    outcome: Tensor,
    success_probs: Tensor,
    block_mask: Tensor,
    groups: Tensor,
    block_index: Tensor,
    tokens: Tensor | None = None,
) -> Tensor:
    """Per-token advantages [B, T]: :func:`block_credit` spread over the tokens, where
    ``block_index`` [B, T] is each token's block (−1: none, advantage 0)."""
    per_block = block_credit(
        config,
        outcome=outcome,
        success_probs=success_probs,
        block_mask=block_mask,
        groups=groups,
        tokens=tokens,
    )
    return token_advantages(per_block, block_index)


def token_blocks(token_starts: Sequence[int], block_starts: Sequence[int]) -> list[int]:
    """The block each token belongs to: the last block starting at or before the token's
    first character, −1 before the first block.

    >>> token_blocks([0, 3, 5, 9], [3, 9])
    [-1, 0, 0, 1]
    """
    return [bisect_right(block_starts, start) - 1 for start in token_starts]


def block_starts_in_tokens(
    tokenizer: Any, ids: Sequence[int], starts: Sequence[int], *, text: str | None = None
) -> list[int]:
    """The first token of each episode: for each character offset in ``starts`` (of the
    text ``tokenizer.decode(ids, skip_special_tokens=True)``, which a caller that has it
    passes as ``text``), the first token whose first character is at or after it.

    Token i's first character is ``len(decode(ids[:i]))``. Decoding the tokens one by one
    gives it when the pieces join up to the whole text (byte-level BPE, unless a character
    is split across tokens); otherwise each boundary is found by bisecting over prefix
    decodes, exact for any tokenizer.
    """
    ids = list(ids)
    if text is None:
        text = tokenizer.decode(ids, skip_special_tokens=True)
    pieces = tokenizer.batch_decode([[i] for i in ids], skip_special_tokens=True)
    if "".join(pieces) == text:
        offsets, at = [], 0
        for piece in pieces:
            offsets.append(at)
            at += len(piece)
        return [bisect_left(offsets, s) for s in starts]
    return [tokens_to_reach(tokenizer, ids, s) for s in starts]


def credit_by_episodes(
    credit: CreditConfig,
    *,
    rewards: Sequence[float],
    success_probs: Sequence[Sequence[float] | None],
    first_tokens: Sequence[Sequence[int] | None],
    lengths: Sequence[int],
    groups: Sequence[Any],
    width: int,
) -> Any:
    """Per-token advantages [N, width] of N completions, as an engine holds them (TRL's
    and verl's rows: completion tokens only, right-padded).

    Args:
        rewards: R per completion (NaN: not scored).
        success_probs: J_0 … J_k per completion, None where not scored.
        first_tokens: the first token of each of its k episodes, None where not scored.
        lengths: completion tokens per row (padding after them gets 0).
        groups: the group of each completion (any hashable: a prompt index, verl's uid).

    Rows with a NaN reward, no J (when the scheme reads J) or no episode get 0 and leave
    their group's baselines; the rest are credited by :func:`block_credit`.
    """
    torch = require("torch", extra="hf", feature="MRT's credit")
    n = len(rewards)
    out = torch.zeros((n, width), dtype=torch.float32)
    kept = [
        i
        for i in range(n)
        if rewards[i] == rewards[i]  # not NaN
        and first_tokens[i]
        and (success_probs[i] or not credit.uses_j)
    ]
    if not kept:
        return out
    ids: dict[Any, int] = {}
    for i in kept:
        ids.setdefault(groups[i], len(ids))
    k = max(len(first_tokens[i]) for i in kept)
    probs = torch.zeros((len(kept), k + 1), dtype=torch.float32)
    mask = torch.zeros((len(kept), k), dtype=torch.bool)
    index = torch.full((len(kept), width), -1, dtype=torch.long)
    for row, i in enumerate(kept):
        blocks = len(first_tokens[i])
        js = list(success_probs[i] or [0.0] * (blocks + 1))
        probs[row] = torch.tensor(js + [js[-1]] * (k + 1 - len(js)))
        mask[row, :blocks] = True
        index[row, : lengths[i]] = torch.tensor(token_blocks(range(lengths[i]), first_tokens[i]))
    per_block = block_credit(
        credit,
        outcome=torch.tensor([float(rewards[i]) for i in kept]),
        success_probs=probs,
        block_mask=mask,
        groups=torch.tensor([ids[groups[i]] for i in kept]),
        tokens=torch.tensor([float(lengths[i]) for i in kept]),
    )
    out[kept] = token_advantages(per_block, index).float()
    return out
