r"""The stream step: the package's main idea in one file.

MRT (Qu et al., ICML 2025) reads a long chain of thought as a sequence of *episodes*
(we call one a *block*) $z_1, z_2, …$. After block j the meta-prover μ is forced to
answer from the context $c_j$ = prompt + $z_1 … z_j$; its chance of being right,
$J_j = J(μ(·|c_j))$, tells how far the stream has got. Block j's reward is its *progress*,
$J_j − J_{j-1}$, and the stream's *episode regret* sums what it left on the table,
$Δ_k = Σ_{j=1}^{k} (1 − J_j)$.

This module is that step, written once for every user of it: :class:`~mrt_env.envs.ReasoningEnv`
(one stream), :class:`~mrt_env.envs.ReasoningVectorEnv` (n streams, one prover call per
step), and everything built on them (:class:`~mrt_env.strategy.StrategyEnv`, ``mrt-bench``,
the trainers' rollouts). A step of n streams is:

1. :meth:`Stepper.check`: accept each block (or refuse it, changing nothing) and decide
   whether it commits to an answer or uses up the budget;
2. :meth:`Stepper.estimate`: J after each block, **one** batched prover call for all streams;
3. :meth:`Stepper.force`: for streams cut off by the budget, the prover's model answers
   (one batched generation), so every outcome is defined;
4. :meth:`Stepper.advance`: append the block, compute the reward, grade the answer at the end.

:meth:`Stepper.step` does all four for a batch. Example, with a scripted prover::

    >>> from mrt_env.envs.stream import Stepper, StreamConfig
    >>> from mrt_env.prover import ProverEstimate
    >>> from mrt_env.types import Problem
    >>> class Halfway:  # J = 0.5 once the stream mentions 4, else 0
    ...     def estimate_batch(self, requests):
    ...         return [ProverEstimate(0.5 if "4" in r.prefix else 0.0) for r in requests]
    >>> stepper = Stepper(StreamConfig(max_blocks=4), prover=Halfway())
    >>> (stream,) = stepper.start([Problem("p0", "2 + 2?", "4")], ["Q: 2 + 2?\n"])
    >>> (outcome,) = stepper.step([stream], ["2 + 2 is 4.\n\n"])
    >>> outcome.reward, outcome.info["success_prob"], outcome.terminated
    (0.5, 0.5, False)
    >>> (outcome,) = stepper.step([stream], ["</think> \\boxed{4}"])
    >>> outcome.reward, outcome.terminated, outcome.info["correct"]
    (1.0, True, True)
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from mrt_env import info as keys
from mrt_env.commitment import THINK_CLOSE, answer_opening, commits, thinking
from mrt_env.config import Config
from mrt_env.errors import ArgumentTypeError, ConfigError, ResetNeeded
from mrt_env.grading import grade
from mrt_env.lm.base import LanguageModel
from mrt_env.lm.sampling import Sampling
from mrt_env.prover import (
    PAPER_FORCING_TEXT,
    MetaProver,
    ProverEstimate,
    carry,
    forced_context,
    forcing_text_of,
    prover_request,
)
from mrt_env.types import Problem

__all__ = ["BlockCheck", "StepOutcome", "Stepper", "Stream", "StreamConfig"]

CHARS_PER_TOKEN = 4
"""Token-count fallback without a tokenizer (a common rule of thumb)."""


@dataclass(frozen=True, kw_only=True)
class StreamConfig(Config):
    """How a stream is stepped: its budgets, its reward weights, how it ends."""

    max_tokens: int = 16384
    """Token budget of the stream; it is truncated once the blocks use it up."""
    max_blocks: int = 64
    """Most blocks per stream; truncated after that many."""
    max_block_chars: int = 200_000
    """Longest block accepted, in characters."""
    alpha: float = 1.0
    """Weight α of the progress term in the reward."""
    outcome_weight: float = 1.0
    """Weight of the 0/1 outcome added at the end."""
    force_answer: bool = True
    """At truncation, append the forcing text and let the prover's model answer (greedy)."""
    forcing_text: str = PAPER_FORCING_TEXT
    """Text that ends the thinking and asks for the answer."""
    forced_answer_tokens: int = 256
    """Tokens the forced answer at truncation may use."""
    think_close: str = THINK_CLOSE
    """The tag that ends the thinking; a block that writes it commits to an answer."""

    def validate(self) -> None:
        for name in ("max_tokens", "max_blocks", "max_block_chars", "forced_answer_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("alpha", "outcome_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a finite number, got {value!r}")
        if not self.think_close:
            raise ConfigError("think_close must be a non-empty string")
        if not self.forcing_text:
            raise ConfigError("forcing_text must be a non-empty string")


@dataclass
class Stream:
    """One attempt at one problem: the blocks so far and μ's estimates after each."""

    problem: Problem
    prompt: str
    blocks: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)
    """Tokens of each block."""
    estimates: list[ProverEstimate] = field(default_factory=list)
    """μ's estimate at c_0 … c_j (J_0 … J_j)."""
    done: bool = False
    info: dict[str, Any] = field(default_factory=dict)
    """The info of the last reset or step."""

    @property
    def text(self) -> str:
        """The blocks written so far, joined."""
        return "".join(self.blocks)

    @property
    def observation(self) -> str:
        """What the agent continues: the prompt and every block so far."""
        return self.prompt + self.text

    @property
    def success_probs(self) -> list[float]:
        """J_0 … J_j."""
        return [e.success_prob for e in self.estimates]


@dataclass(frozen=True)
class BlockCheck:
    """A block accepted for a stream, before μ has looked at it."""

    block: str
    block_tokens: int
    committed: bool
    """The block commits to an answer (it closes the thinking, or boxes an answer)."""
    truncated: bool
    """The block uses up the stream's token or block budget without committing."""


@dataclass(frozen=True)
class StepOutcome:
    """What one stream's step returns: Gymnasium's five values."""

    observation: str
    reward: float
    terminated: bool
    truncated: bool
    info: dict[str, Any]


class Stepper:
    """Steps streams by :class:`StreamConfig`, asking ``prover`` for J once per batch.

    Args:
        rules: budgets, reward weights and how a stream ends.
        prover: the meta-prover μ, or None for an outcome-only stream (J = 0 throughout).
        lm: the model that counts tokens and writes the answers forced at truncation
            (default: the prover's own, if it has one).
    """

    def __init__(
        self,
        rules: StreamConfig,
        *,
        prover: MetaProver | None = None,
        lm: LanguageModel | None = None,
    ) -> None:
        self.rules = rules
        self.prover = prover
        self.lm = lm if lm is not None else getattr(prover, "lm", None)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's tokenizer (else ~4 characters a token)."""
        if self.lm is not None:
            return self.lm.count_tokens(text)
        return -(-len(text) // CHARS_PER_TOKEN)

    def thinking(self, text: str) -> str:
        """The part of a stream μ is asked about: up to the end of the thinking."""
        return thinking(text, self.rules.think_close)

    # -- a whole step, batched ------------------------------------------------------------

    def start(
        self,
        problems: Sequence[Problem],
        prompts: Sequence[str],
        prefixes: Sequence[Sequence[str]] | None = None,
    ) -> list[Stream]:
        """New streams, with J at their start from one batched prover call; info is set.

        ``prefixes`` (one list of blocks per stream, or None): blocks already written, as
        in the paper's MRT-RL, which continues traces from a prefix c_j. A stream starts
        after them, with J_0 … J_j estimated (in the same call) and its budgets partly
        spent; none of them may commit to an answer or use up a budget.
        """
        streams = [Stream(p, prompt) for p, prompt in zip(problems, prompts, strict=True)]
        if prefixes is not None:
            if len(prefixes) != len(streams):
                raise ConfigError(
                    f"need one prefix per stream ({len(streams)}), got {len(prefixes)}"
                )
            for stream, blocks in zip(streams, prefixes, strict=True):
                self.write_prefix(stream, blocks)
        # J at every prefix boundary of every stream, in one call (c_0 alone without prefix).
        views = [replace(s, blocks=s.blocks[:i]) for s in streams for i in range(len(s.blocks) + 1)]
        estimates = iter(self.estimate(views))
        for stream in streams:
            for _ in range(len(stream.blocks) + 1):
                before = stream.estimates[-1] if stream.estimates else None
                stream.estimates.append(carry(before, next(estimates)))
            stream.info = self.info(stream, block_tokens=0)
        return streams

    def write_prefix(self, stream: Stream, blocks: Sequence[str]) -> None:
        """Put ``blocks`` in a new ``stream`` as written before it starts (checked as the
        env checks actions; a prefix that commits or spends a budget is refused)."""
        if isinstance(blocks, str) or not isinstance(blocks, Sequence):
            raise ArgumentTypeError(
                f"a prefix is a list of blocks (str), got {type(blocks).__name__}"
            )
        for j, block in enumerate(blocks):
            check = self.check(stream, block)
            if check.committed or check.truncated:
                what = "commits to an answer" if check.committed else "uses up a budget"
                raise ConfigError(
                    f"prefix block {j} {what}: a prefix must leave the stream running"
                )
            stream.blocks.append(check.block)
            stream.tokens.append(check.block_tokens)

    def step(self, streams: Sequence[Stream], blocks: Sequence[str]) -> list[StepOutcome]:
        """Append one block to each stream: check all, one prover call, one forced-answer
        call, then advance each. A refused block raises before any stream changes."""
        checks = [self.check(s, b) for s, b in zip(streams, blocks, strict=True)]
        estimates = self.estimate(
            [self.extended(s, c) for s, c in zip(streams, checks, strict=True)]
        )
        forced = self.force(streams, checks)
        return [
            self.advance(s, c, e, f)
            for s, c, e, f in zip(streams, checks, estimates, forced, strict=True)
        ]

    # -- the pieces ------------------------------------------------------------------------

    def check(self, stream: Stream, block: Any) -> BlockCheck:
        """Accept ``block`` for ``stream`` and decide how the stream goes on; changes nothing."""
        if stream.done:
            raise ResetNeeded("the episode is over (terminated or truncated); call reset()")
        if not isinstance(block, str):
            raise ArgumentTypeError(
                f"the action must be a str (the next reasoning block), got {type(block).__name__}"
            )
        if not block.isascii():
            try:
                block.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate: no tokenizer takes it
                raise ConfigError(
                    f"the block is not valid Unicode text: {block[exc.start]!r} at index "
                    f"{exc.start} is a lone surrogate"
                ) from None
        rules = self.rules
        if len(block) > rules.max_block_chars:
            raise ConfigError(
                f"the block has {len(block)} characters; at most max_block_chars="
                f"{rules.max_block_chars} are accepted"
            )
        block_tokens = self.count_tokens(block) if block else 0
        committed = commits(stream.observation, block, rules.think_close)
        used = sum(stream.tokens) + block_tokens
        truncated = not committed and (
            used >= rules.max_tokens or len(stream.blocks) + 1 >= rules.max_blocks
        )
        return BlockCheck(block, block_tokens, committed, truncated)

    def extended(self, stream: Stream, check: BlockCheck) -> Stream:
        """``stream`` as it would be with the checked block (``stream`` is unchanged)."""
        return replace(stream, blocks=[*stream.blocks, check.block])

    def estimate(self, streams: Sequence[Stream]) -> list[ProverEstimate]:
        r"""μ's estimate at the end of each stream's thinking: one batched prover call.

        Each request is :func:`~mrt_env.prover.prover_request`'s at the thinking so far,
        with μ's own forcing text. With the paper's (a blank line first), μ continues the
        prompt, the thinking without its trailing newlines, one blank line and the stop text
        ("Time is up. ..."); with no thinking yet (c_0), the prompt and the stop text. A block
        ``"x = 3.\n\n"`` and a block ``"x = 3."`` send the same bytes. With another forcing
        text (the synthetic tasks', after a line) or a prover that has none of its own, the
        thinking as it is, then μ's forcing text. The stream is never taken as finished (the
        authors' ``"\n</think>"`` closing): the env sees it block by block, and asks about
        the block that closes the thinking as about the others.
        """
        if not streams:
            return []
        if self.prover is None:
            return [ProverEstimate(0.0) for _ in streams]
        forcing = forcing_text_of(self.prover)
        requests = [
            prover_request(s.problem, s.prompt, self.thinking(s.text), forcing_text=forcing)
            for s in streams
        ]
        return self.prover.estimate_batch(requests)

    def force(self, streams: Sequence[Stream], checks: Sequence[BlockCheck]) -> list[str | None]:
        """The answers forced from the streams that ``checks`` truncate (one batched greedy
        generation); None for the others, or when forcing is off or there is no model.

        The model continues the thinking and the forcing text laid out as μ's requests are
        (:func:`~mrt_env.prover.forced_context`): the answer at truncation sees the bytes μ
        sees at the same prefix."""
        answers: list[str | None] = [None] * len(checks)
        needed = [i for i, c in enumerate(checks) if c.truncated and self.rules.force_answer]
        if not needed or self.lm is None:
            return answers
        rules = self.rules
        contexts = [
            forced_context(
                streams[i].prompt,
                self.thinking(streams[i].text + checks[i].block),
                rules.forcing_text,
            )
            for i in needed
        ]
        greedy = Sampling(max_tokens=rules.forced_answer_tokens, temperature=0.0)
        outs = self.lm.generate(contexts, greedy)
        # Grade the answer with the forcing text's own tail, which may open the answer.
        tail = answer_opening(rules.forcing_text, rules.think_close)
        for i, per in zip(needed, outs, strict=True):
            answers[i] = tail + per[0].text
        return answers

    def advance(
        self, stream: Stream, check: BlockCheck, estimate: ProverEstimate, forced: str | None
    ) -> StepOutcome:
        """Append the checked block to ``stream`` with μ's new estimate; reward and info."""
        rules = self.rules
        before = stream.estimates[-1].success_prob
        # No verdict: the J before is kept (mrt_env.prover.carry, the finished texts' rule).
        estimate = carry(stream.estimates[-1], estimate)
        stream.blocks.append(check.block)
        stream.tokens.append(check.block_tokens)
        stream.estimates.append(estimate)
        reward = rules.alpha * (estimate.success_prob - before)
        info = self.info(stream, block_tokens=check.block_tokens)
        if check.committed or check.truncated:
            stream.done = True
            if check.committed:
                text = stream.text
                close = rules.think_close
                response = text.split(close, 1)[1] if close in text else check.block
                how = "committed"
            elif forced is not None:
                response, how = forced, "forced"
            else:
                response, how = stream.text, "unforced"
            result = grade(response, stream.problem.answer)
            info.update(
                {
                    keys.ANSWER: result.extracted,
                    keys.CORRECT: None if result.undecided else bool(result.correct),
                    keys.OUTCOME: how,
                    keys.GOLD_ANSWER: stream.problem.answer,
                }
            )
            info[keys.UNDECIDED] += result.undecided
            if not result.undecided:  # no verdict, no outcome reward (not a 0 verdict)
                reward += rules.outcome_weight * float(result.correct)
        stream.info = info
        return StepOutcome(
            stream.observation, float(reward), check.committed, check.truncated, dict(info)
        )

    def info(self, stream: Stream, *, block_tokens: int) -> dict[str, Any]:
        """The info dict of ``stream`` as it stands (keys from :mod:`mrt_env.info`)."""
        probs = stream.success_probs
        answers = tuple(stream.estimates[-1].answers)
        counted = Counter(a for a in answers if a is not None)
        return {
            keys.EPISODE: len(stream.blocks),
            keys.TOKENS: sum(stream.tokens),
            keys.BLOCK_TOKENS: block_tokens,
            keys.SUCCESS_PROB: probs[-1],
            keys.PROGRESS: probs[-1] - probs[-2] if len(probs) > 1 else 0.0,
            # Δ_j of metrics.episode_regret, summed inline: that function validates its
            # input with numpy (~50 µs), too much for every step.
            keys.REGRET: float(sum(1.0 - p for p in probs[1:])),
            keys.TERMINATION_REWARD: self.rules.outcome_weight * probs[-1],
            keys.FORCED_ANSWERS: answers,
            keys.ANSWER: counted.most_common(1)[0][0] if counted else None,
            keys.PROBLEM_ID: stream.problem.id,
            keys.UNDECIDED: stream.estimates[-1].undecided,
        }
