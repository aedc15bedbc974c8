"""MRT's credit: from outcomes and J values to per-token advantages, for every engine.

One function, :func:`credit_by_episodes`, turns a batch of traces (their outcome R, μ's
success $J_0 … J_k$ at every block boundary, and the first token of each block) into
per-token advantages. ``mrt-train``, :class:`~mrt_env.integrations.trl.trainer.MRTGRPOTrainer`
(TRL) and the ``mrt`` advantage estimator for verl (:mod:`mrt_env.integrations.verl`) all call
it, so for the same traces and J values they give the same advantages (tested).

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

The formulas are pure functions of tensors. Notation: B traces, T token positions, K the
most blocks of a trace; ``groups[b]`` is the problem trace b answers (traces of one group
are the samples of one problem, GRPO's group). Blocks are MRT's episodes $z_1 … z_k$;
$J_j$ is the meta-prover's success at the prefix after block j ($J_0$ the bare prompt), so
block j's progress is $J_j − J_{j-1}$ (definitions and numbering: the docs' Concepts page;
in the tensors block j is column j − 1).

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
* :func:`block_credit` picks among them by scheme; :func:`token_advantages` spreads each
  block's advantage over its tokens.

A token belongs to the block its first character is in (:func:`token_blocks`); tokens
before the first block (a prompt, in ``mrt-train``'s rows) and after a row's length
(padding) get no credit.

>>> credit = CreditConfig("block", alpha=1.0, baseline="termination")
>>> credit_by_episodes(
...     credit,
...     rewards=[1.0],
...     success_probs=[[0.2, 0.5, 1.0]],
...     first_tokens=[[1, 3]],
...     lengths=[4],
...     groups=[0],
...     width=5,
... ).tolist()
[[0.0, 1.100000023841858, 1.100000023841858, 1.0, 0.0]]
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

from mrt_env.config import Config
from mrt_env.errors import ConfigError
from mrt_env.extras import require
from mrt_env.lm.base import tokens_to_reach

if TYPE_CHECKING:
    from torch import Tensor

__all__ = [
    "SCHEMES",
    "CreditConfig",
    "block_credit",
    "block_starts_in_tokens",
    "credit_by_episodes",
    "grpo_advantages",
    "length_penalized",
    "mrt_block_advantages",
    "prefix_advantages",
    "token_advantages",
    "token_blocks",
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
    """outcome: reward per token subtracted from the outcome (0: none; the paper's
    length-penalty baseline)."""
    cut: Literal["uniform", "nonzero"] = "uniform"
    """prefix, in mrt-train (TRL and verl credit the completions they are given): where a
    trace is cut, uniformly over its episode boundaries 0 … k−1, or over 1 … k−1 (never
    the bare prompt)."""

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
        if self.cut not in ("uniform", "nonzero"):
            raise ConfigError(f"cut must be uniform or nonzero, got {self.cut!r}")
        if self.cut != "uniform" and self.scheme != "prefix":
            raise ConfigError(
                f"cut chooses where scheme prefix cuts traces; scheme is {self.scheme!r}"
            )
        if self.length_penalty and self.scheme != "outcome":
            raise ConfigError(
                "length_penalty is GRPO's length-penalty reward (the outcome minus a "
                f"per-token penalty); scheme {self.scheme!r} does not use it, outcome does"
            )

    @property
    def uses_j(self) -> bool:
        """Whether the scheme reads J (outcome credit needs no meta-prover)."""
        return self.scheme != "outcome"


def credit_by_episodes(
    credit: CreditConfig,
    *,
    rewards: Sequence[float],
    success_probs: Sequence[Sequence[float] | None],
    first_tokens: Sequence[Sequence[int] | None],
    lengths: Sequence[int],
    groups: Sequence[Any],
    width: int,
    tokens: Sequence[float] | None = None,
) -> Any:
    """Per-token advantages [N, width] of N right-padded rows of tokens, as each engine
    holds them: TRL's and verl's rows are completions; ``mrt-train``'s are whole traces,
    prompt first (its tokens, before the first episode, get 0).

    Args:
        rewards: R per row (NaN: not scored).
        success_probs: J_0 … J_k per row, None where not scored.
        first_tokens: the first token of each of its k episodes, None where not scored.
        lengths: tokens per row (the tokens after them get 0).
        groups: the group of each row (any hashable: a prompt index, verl's uid).
        tokens: the tokens each row's trace wrote, which ``length_penalty`` charges for
            (default: ``lengths``, a completion's tokens).

    Rows with a NaN reward, no J (when the scheme reads J) or no episode get 0 and leave
    their group's baselines; the rest are credited by :func:`block_credit`, each episode's
    credit on its tokens (:func:`token_advantages`). J is held at its last value after a
    row's last episode, where the per-episode tensors need a value.
    """
    torch = _torch()
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
    counts = lengths if tokens is None else tokens
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
        tokens=torch.tensor([float(counts[i]) for i in kept]),
    )
    out[kept] = token_advantages(per_block, index).float()
    return out


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
    j_per_group = torch.zeros(int(groups.max()) + 1, dtype=r.dtype, device=r.device).index_copy_(
        0, groups, term_of
    )[present]  # [G]
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


def _torch() -> ModuleType:
    return require("torch", extra="hf", feature="MRT's credit")


def _group_mean(values: Tensor, groups: Tensor, weights: Tensor) -> Tensor:
    """Weighted mean of ``values`` [B, ...] within each group, broadcast back to [B, ...]."""
    torch = _torch()
    n_groups = int(groups.max()) + 1
    shape = (n_groups, *values.shape[1:])
    total = torch.zeros(shape, dtype=values.dtype, device=values.device).index_add_(
        0, groups, values * weights
    )
    count = torch.zeros(shape, dtype=values.dtype, device=values.device).index_add_(
        0, groups, weights
    )
    return (total / count.clamp(min=1.0))[groups]
