"""Rollouts: a policy writes traces in a (vector) env; the traces become a training batch.

The policy is an :class:`~mrt_env.agents.LMAgent` on a trainable
:class:`~mrt_env.lm.TransformersLM`. A group is ``group_size`` traces of one problem,
run side by side in one vector env (the agent gives equal observations distinct samples).
The env's meta-prover is the policy's own model, so J (and progress) follows the policy
as it trains; its cache is cleared after every update (:func:`collect` does it first).
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mrt_env.agents import LMAgent, play
from mrt_env.errors import ConfigError
from mrt_env.extras import require
from mrt_env.training.credit import token_blocks
from mrt_env.types import EpisodeRecord

if TYPE_CHECKING:
    from torch import Tensor

__all__ = ["RolloutBatch", "TokenBatch", "collect", "collect_from_prefixes", "cut_prefixes"]


@dataclass(frozen=True)
class TokenBatch:
    """A :class:`RolloutBatch` as the trainer reads it (:meth:`RolloutBatch.tensors`): B
    traces as right-padded rows of T tokens, the prompt first, then the blocks.

    What the model reads is tensors; what the credit is computed from stays one value per
    trace, as :func:`~mrt_env.training.credit.credit_by_episodes` takes it (traces have
    different numbers of blocks; it pads them).
    """

    input_ids: Tensor
    """[B, T] the token ids, right-padded."""
    attention_mask: Tensor
    """[B, T] 1 on a row's tokens, 0 on its padding."""
    written: Tensor
    """[B, T] True on the blocks' tokens, the ones the policy wrote and is trained on
    (False on the prompt and padding)."""
    first_tokens: tuple[tuple[int, ...], ...]
    """Per trace, the first token of each block in its row."""
    lengths: tuple[int, ...]
    """Per trace, its row's tokens up to the end of its last block."""
    outcome: tuple[float, ...]
    """Per trace, its outcome R (1.0 correct, 0.0 not)."""
    success_probs: tuple[tuple[float, ...], ...]
    """Per trace, J_0 … J_k."""
    groups: tuple[int, ...]
    """Per trace, its group (:attr:`RolloutBatch.groups`)."""
    tokens: tuple[float, ...]
    """Per trace, the tokens of its transcript (what a length penalty charges for)."""


@dataclass
class RolloutBatch:
    """The traces of one training step, their groups, and the tokens it cost to sample them."""

    traces: list[EpisodeRecord]
    groups: list[int]
    """``groups[i]``: trace i's problem within the batch (traces of one group share a
    problem, and are compared with each other)."""
    sampled_tokens: int
    """Tokens the policy generated for these traces (the compute of the step)."""
    stats: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.groups) != len(self.traces):
            raise ConfigError(
                f"a batch needs one group per trace: {len(self.traces)} traces, "
                f"{len(self.groups)} groups"
            )

    def tensors(self, tokenizer: Any, device: Any = "cpu") -> TokenBatch:
        """The batch as the trainer reads it (:class:`TokenBatch`): each trace's text,
        prompt + blocks as the policy saw it when writing the last block, tokenized whole
        into a right-padded row. A token belongs to the block its first character is in
        (:func:`~mrt_env.training.credit.token_blocks`)."""
        torch = require("torch", extra="hf", feature="the trainers")
        rows, firsts, lengths = [], [], []
        for t in self.traces:
            enc = tokenizer(t.prompt + "".join(t.blocks), return_offsets_mapping=True)
            starts, j = [], len(t.prompt)
            for block in t.blocks:
                starts.append(j)
                j += len(block)
            # Special tokens the tokenizer adds sit at offset 0, before the first block (with
            # the prompt); one it appends after the text (an end-of-text token) is no block's
            # either, so a row's credited tokens end at its last block token. Offsets grow
            # along the text: a block's tokens run from its first token to the next block's.
            owner = token_blocks([start for start, _ in enc["offset_mapping"]], starts)
            length = max((i + 1 for i, o in enumerate(owner) if o >= 0), default=0)
            firsts.append(tuple(bisect_left(owner[:length], b) for b in range(len(t.blocks))))
            lengths.append(length)
            rows.append(enc["input_ids"])
        width = max(len(r) for r in rows)
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        input_ids = torch.full((len(rows), width), pad, dtype=torch.long)  # [B, T]
        attention = torch.zeros((len(rows), width), dtype=torch.long)  # [B, T]
        written = torch.zeros((len(rows), width), dtype=torch.bool)  # [B, T]
        for b, (ids, first, length) in enumerate(zip(rows, firsts, lengths, strict=True)):
            input_ids[b, : len(ids)] = torch.tensor(ids)
            attention[b, : len(ids)] = 1
            if first:
                written[b, first[0] : length] = True
        return TokenBatch(
            input_ids=input_ids.to(device),
            attention_mask=attention.to(device),
            written=written.to(device),
            first_tokens=tuple(firsts),
            lengths=tuple(lengths),
            outcome=tuple(float(t.correct) for t in self.traces),
            success_probs=tuple(tuple(t.success_probs) for t in self.traces),
            groups=tuple(self.groups),
            tokens=tuple(float(t.prefix_tokens[-1]) for t in self.traces),
        )


def collect(
    vec_env: Any,
    agent: LMAgent,
    problems: Sequence[int],
    *,
    group_size: int,
    seed: int,
) -> RolloutBatch:
    """``group_size`` traces of each of ``problems`` (indices of the env's problem set).

    ``vec_env`` must have ``len(problems) * group_size`` sub-envs or a divisor of it; its
    prover's cache is cleared first, since the policy (and with it μ) may have changed.
    """
    _clear_cache(vec_env)
    order = [p for p in problems for _ in range(group_size)]  # a group's traces side by side
    before = agent.tokens_generated
    records = play(vec_env, agent, order, seed=seed)
    return _batch(records, order, problems, agent.tokens_generated - before)


def cut_prefixes(
    records: Sequence[EpisodeRecord], rng: Any, *, cut: str = "uniform"
) -> list[list[str]]:
    """Where the paper's MRT-RL cuts each trace: its first j blocks, j drawn from
    0 … k−1 (``uniform``) or 1 … k−1 (``nonzero``: never the bare prompt, unless the trace
    has one block). j < k, so a prefix never holds the block that ended the trace."""
    if cut not in ("uniform", "nonzero"):
        raise ConfigError(f"cut must be 'uniform' or 'nonzero', got {cut!r}")
    out = []
    for record in records:
        k = len(record.blocks)
        low = 1 if cut == "nonzero" and k > 1 else 0
        out.append(list(record.blocks[: int(rng.integers(low, k))]))
    return out


def collect_from_prefixes(
    vec_env: Any,
    agent: LMAgent,
    problems: Sequence[int],
    *,
    group_size: int,
    seed: int,
    rng: Any,
    cut: str = "uniform",
) -> RolloutBatch:
    """The paper's MRT-RL rollouts: one trace of each problem, cut at a random episode
    boundary j (:func:`cut_prefixes`), then ``group_size`` on-policy continuations of each
    prefix c_j. The batch holds the continuations (the prefix is part of their prompt, so
    its tokens are not trained); each one's ``success_probs[0]`` is J_j, the reward of
    terminating at c_j. ``sampled_tokens`` counts both rounds."""
    _clear_cache(vec_env)
    before = agent.tokens_generated
    firsts = play(vec_env, agent, problems, seed=seed)
    prefixes = cut_prefixes(firsts, rng, cut=cut)
    order = [p for p in problems for _ in range(group_size)]
    per_trace = [prefix for prefix in prefixes for _ in range(group_size)]
    records = play(vec_env, agent, order, seed=seed + 1, prefixes=per_trace)
    batch = _batch(records, order, problems, agent.tokens_generated - before)
    batch.stats["cut"] = sum(len(p) for p in prefixes) / max(1, len(prefixes))
    return batch


def _clear_cache(vec_env: Any) -> None:
    prover = getattr(vec_env, "prover", None)
    if prover is not None and hasattr(prover, "clear_cache"):
        prover.clear_cache()


def _batch(
    records: Sequence[EpisodeRecord], order: Sequence[int], problems: Sequence[int], sampled: int
) -> RolloutBatch:
    index = {p: i for i, p in enumerate(problems)}
    # A trace whose answer the grader reached no verdict on has no outcome to learn from:
    # it leaves the batch (counted in the stats) rather than be scored as wrong.
    kept = [(t, index[p]) for t, p in zip(records, order, strict=True) if t.correct is not None]
    traces, groups = [t for t, _ in kept], [g for _, g in kept]
    n = max(1, len(traces))
    stats = {
        "accuracy": sum(t.correct for t in traces) / n,
        "blocks": sum(len(t.blocks) for t in traces) / n,
        "final_j": sum(t.success_probs[-1] for t in traces) / n,
        "undecided": len(records) - len(traces),
    }
    return RolloutBatch(traces, groups, sampled, stats)
