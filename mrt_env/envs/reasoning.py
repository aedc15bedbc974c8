"""ReasoningEnv: a reasoning problem as a multi-episode environment with progress rewards.

Each ``step`` is one *episode* z_j of a reasoning stream in the sense of MRT (Qu et al.,
ICML 2025), written by the agent; the reward is the block's *progress*, the gain in the
meta-prover's chance J(μ(·|c)) of answering correctly if forced to stop, plus the 0/1
outcome when the stream ends.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mrt_env import info as keys
from mrt_env.commitment import THINK_CLOSE, answer_opening, commits
from mrt_env.grading import grade
from mrt_env.lm.base import LanguageModel
from mrt_env.progress import (
    PAPER_FORCING_TEXT,
    PROVER_KINDS,
    MetaProver,
    ProverEstimate,
    ProverRequest,
    make_prover,
)
from mrt_env.spaces import UnicodeText
from mrt_env.types import Problem

__all__ = ["ReasoningEnv", "ReasoningEnvConfig"]

PLAIN_TEMPLATE = "Problem: {question}\n\nSolution:\n"
"""The prompt of a problem when the model has no chat template and none is given."""
_CHARS_PER_TOKEN = 4  # token-count fallback without a tokenizer (a common rule of thumb)


@dataclass(frozen=True)
class ReasoningEnvConfig:
    """Everything a :class:`ReasoningEnv` is made of. Fields can be given to ``gym.make``."""

    problems: str | Sequence[Problem] = "aime"
    """A problem set name for :func:`mrt_env.data.load_problems` (``aime``, ``aime24``,
    ``math500`` ...) or the problems themselves."""
    data_path: str | None = None
    """Where the set's file lives (a file or folder); default: ``MRT_ENV_DATA_DIR``, the Hub."""
    split: str | None = None
    """The Hub split, when not the set's usual one."""
    limit: int | None = None
    """Use only the first ``limit`` problems."""
    prover: Any = None
    """The meta-prover μ: a :class:`~mrt_env.progress.MetaProver`, a
    :class:`~mrt_env.lm.LanguageModel` (wrapped in a prover of ``prover_kind``), a model
    name or path (loaded with ``backend``), or None for an outcome-only env (progress 0)."""
    prover_kind: str = "forced"
    """How a prover is built from a model: ``forced`` (the paper's) or ``likelihood``."""
    prover_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Settings of the built prover (``k``, ``temperature``, ``forcing_text`` ...)."""
    backend: str = "transformers"
    """How a model name is loaded: ``transformers``, ``vllm`` or ``openai``."""
    backend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Arguments of :func:`mrt_env.lm.load_lm` (``device``, ``dtype``, ``base_url`` ...)."""
    alpha: float = 1.0
    """Weight α of the progress term in the reward."""
    outcome_weight: float = 1.0
    """Weight of the 0/1 outcome added at the end."""
    max_tokens: int = 16384
    """Token budget of the stream; the episode is truncated once the blocks use it up."""
    max_blocks: int = 64
    """Most blocks (MRT episodes) per problem; truncated after that many."""
    max_block_chars: int = 200_000
    """Longest block accepted as an action, in characters (the action space's bound)."""
    force_answer: bool = True
    """At truncation, append the forcing text and let the prover's model answer (greedy),
    so that the outcome is defined. Off (or with no model): the stream is graded as is."""
    forcing_text: str | None = None
    """Text that ends the thinking and asks for the answer (default: the prover's own, else
    the paper's)."""
    forced_answer_tokens: int = 256
    """Tokens the forced answer at truncation may use."""
    think_close: str = THINK_CLOSE
    """The tag that ends the thinking; a block that writes it commits to an answer."""
    prompt_template: str | None = None
    """The prompt, with ``{question}``; default: the prover model's chat template, else a
    plain ``Problem: ... Solution:`` template."""

    def __post_init__(self) -> None:
        for name in ("max_tokens", "max_blocks", "max_block_chars", "forced_answer_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an int >= 1, got {value!r}")
        for name in ("alpha", "outcome_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not math.isfinite(value):
                raise ValueError(f"{name} must be a finite number, got {value!r}")
        if self.prover_kind not in PROVER_KINDS:
            raise ValueError(f"prover_kind must be one of {PROVER_KINDS}, got {self.prover_kind!r}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"limit must be >= 1 or None, got {self.limit}")
        if self.prompt_template is not None and "{question}" not in self.prompt_template:
            raise ValueError(
                f"prompt_template must contain {{question}}, got {self.prompt_template!r}"
            )
        if not isinstance(self.problems, str):
            bad = [p for p in self.problems if not isinstance(p, Problem)]
            if bad or not self.problems:
                raise TypeError(
                    "problems must be a set name or a non-empty sequence of Problem, got "
                    f"{type(bad[0]).__name__ if bad else 'an empty sequence'}"
                )
        if not self.think_close:
            raise ValueError("think_close must be a non-empty string")


def _build_prover(config: ReasoningEnvConfig) -> MetaProver | None:
    spec = config.prover
    if spec is None:
        return None
    if hasattr(spec, "estimate_batch"):
        return spec
    if isinstance(spec, str):
        from mrt_env.lm import load_lm

        spec = load_lm(spec, backend=config.backend, **dict(config.backend_kwargs))
    if hasattr(spec, "generate") and hasattr(spec, "count_tokens"):
        return make_prover(spec, config.prover_kind, **dict(config.prover_kwargs))
    raise TypeError(
        "prover must be a MetaProver, a LanguageModel, a model name or path, or None; "
        f"got {type(spec).__name__}"
    )


@dataclass
class _Stream:
    """One attempt at one problem: the blocks so far and μ's estimates after each."""

    problem: Problem
    prompt: str
    blocks: list[str] = field(default_factory=list)
    tokens: list[int] = field(default_factory=list)  # per block
    estimates: list[ProverEstimate] = field(default_factory=list)  # J_0 ... J_j
    done: bool = False

    @property
    def text(self) -> str:
        return "".join(self.blocks)

    @property
    def success_probs(self) -> list[float]:
        return [e.success_prob for e in self.estimates]


@dataclass
class _Pending:
    """A step between its two halves: the block is accepted, μ's answer is awaited."""

    block: str
    block_tokens: int
    committed: bool
    truncated: bool


class ReasoningEnv(gym.Env[str, str]):
    """A reasoning problem, one reasoning block per step, rewarded by progress.

    MRT (Qu et al., "Optimizing Test-Time Compute via Meta Reinforcement Fine-Tuning",
    ICML 2025) views a long chain of thought as a sequence of episodes z_0, z_1, ...; the
    meta-prover μ cuts the stream after episode j (context c_j), forces an answer and
    estimates the success probability J_j = J(μ(·|c_j)). This env exposes exactly that: the
    agent writes the next episode, the env rewards how much it raised J.

    ## Action space
    ``UnicodeText(max_block_chars)``: the next block of the stream, any ``str`` (Unicode,
    newlines, LaTeX) up to ``max_block_chars`` characters. A non-string or an over-long one
    raises ``TypeError``/``ValueError`` and leaves the env as it was.

    ## Observation space
    ``UnicodeText``: the whole text the agent continues, i.e. the prompt (the problem in
    the prover model's chat template, else ``prompt_template``) followed by all blocks so
    far. The gold answer never appears in it.

    ## Rewards
    Every step: ``alpha · (J_j - J_{j-1})``, the block's progress r_prg (the paper's
    information gain). At the end, in addition: ``outcome_weight · correct`` (0/1, graded
    against the gold answer). Over an episode the rewards sum to
    ``alpha · (J_end - J_0) + outcome_weight · correct``. Without a prover J is 0 throughout
    and the env is outcome-only (cheap; a warning says so once).

    J is estimated on the thinking part of the stream (before ``think_close``), so the block
    that closes the thinking is credited for what it added before the close.

    ## Episode end
    * **terminated**: the block commits to an answer: it writes ``think_close``
      (``</think>``), or, when no thinking is open, a ``\\boxed{}`` answer. The answer after
      the close (or in the block) is graded.
    * **truncated**: ``max_tokens`` or ``max_blocks`` is used up without a commitment. By
      default (``force_answer``) the forcing text is appended and the prover's model answers
      greedily; that answer is graded, so the outcome is always defined.

    ## Info
    Keys are constants in :mod:`mrt_env.info`: ``episode`` (j), ``tokens``,
    ``block_tokens``, ``success_prob`` (J_j), ``progress``, ``regret`` (Δ_j),
    ``termination_reward`` (outcome_weight · J_j: what answering now would earn),
    ``forced_answers`` and ``answer`` (μ's answers at c_j, and their mode), ``problem_id``;
    at the end also ``correct``, ``outcome`` and ``gold_answer``.

    ## Arguments
    ``ReasoningEnv(config=None, *, render_mode=None, **fields)``: a
    :class:`ReasoningEnvConfig`, with any of its fields overridden by keyword (this is how
    ``gym.make`` kwargs arrive). ``reset(seed=..., options={"problem": i or id})`` picks a
    problem; without one it walks a seeded shuffle of the set. ``render_mode="ansi"``:
    :meth:`render` returns the transcript with J and progress per block.

    The prover's model can drive an agent too: ``env.unwrapped.prover.lm``.

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        config: ReasoningEnvConfig | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        known = {f.name for f in fields(ReasoningEnvConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise TypeError(
                f"unknown ReasoningEnv settings {unknown}; the settings are {sorted(known)}"
            )
        config = replace(config or ReasoningEnvConfig(), **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.config = config
        self.render_mode = render_mode
        self.problems = self.problems_of(config)
        self.prover = _build_prover(config)
        if self.prover is None:
            warnings.warn(
                "ReasoningEnv without a prover: outcome-only rewards (progress and J are 0). "
                "Pass prover=<model or MetaProver> for progress rewards.",
                stacklevel=2,
            )
        self.lm: LanguageModel | None = getattr(self.prover, "lm", None)
        self.forcing_text = config.forcing_text or getattr(
            getattr(self.prover, "config", None), "forcing_text", PAPER_FORCING_TEXT
        )
        longest_prompt = max(len(self._prompt(p)) for p in self.problems)
        self.action_space = UnicodeText(config.max_block_chars)
        self.observation_space = UnicodeText(
            longest_prompt + config.max_blocks * config.max_block_chars
        )
        self._order: list[int] = []
        self._cursor = 0
        self._stream: _Stream | None = None

    # -- setup -------------------------------------------------------------------------

    @staticmethod
    def problems_of(config: ReasoningEnvConfig) -> list[Problem]:
        """The problems an env of ``config`` poses (loaded without building a prover)."""
        if not isinstance(config.problems, str):
            return list(config.problems)[: config.limit]
        from mrt_env.data import load_problems

        return load_problems(
            config.problems, path=config.data_path, split=config.split, limit=config.limit
        )

    def _prompt(self, problem: Problem) -> str:
        template = self.config.prompt_template
        if template is None:
            chat = self.lm.chat_prompt(problem.question) if self.lm is not None else None
            if chat is not None:
                return chat
            template = PLAIN_TEMPLATE
        return template.replace("{question}", problem.question)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the prover model's tokenizer (else ~4 characters a token)."""
        if self.lm is not None:
            return self.lm.count_tokens(text)
        return -(-len(text) // _CHARS_PER_TOKEN)

    # -- Gymnasium API -----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        stream = self._start(self._pick(seed, options))
        (estimate,) = self._estimate([stream])
        return self._started(stream, estimate)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        pending = self._prepare(action)
        stream = self._current()
        (estimate,) = self._estimate([self._after(stream, pending)])
        forced = self._force([(stream, pending)])[0]
        return self._finish(pending, estimate, forced)

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        stream = self._current()
        probs = stream.success_probs
        lines = [f"Problem {stream.problem.id}", f"[J_0 = {probs[0]:.3f}]"]
        for j, (block, tokens) in enumerate(zip(stream.blocks, stream.tokens, strict=True)):
            jj = probs[j + 1] if j + 1 < len(probs) else float("nan")
            lines.append(
                f"--- block {j + 1} ({tokens} tokens) J = {jj:.3f}  progress {jj - probs[j]:+.3f}"
            )
            lines.append(block)
        if stream.done and self._last_info.get(keys.CORRECT) is not None:
            lines.append(
                f"=== answer {self._last_info[keys.ANSWER]!r}: "
                f"{'correct' if self._last_info[keys.CORRECT] else 'wrong'} "
                f"({self._last_info[keys.OUTCOME]})"
            )
        return "\n".join(lines)

    # -- the two halves of reset and step (a vector env batches the middle) --------------

    def _pick(self, seed: int | None, options: dict[str, Any] | None) -> Problem:
        choice = (options or {}).get("problem")
        if choice is not None:
            return self._problem_by(choice)
        if seed is not None or not self._order or self._cursor >= len(self._order):
            self._order = self.np_random.permutation(len(self.problems)).tolist()
            self._cursor = 0
        problem = self.problems[self._order[self._cursor]]
        self._cursor += 1
        return problem

    def _problem_by(self, choice: Any) -> Problem:
        if isinstance(choice, int | np.integer) and not isinstance(choice, bool):
            if not 0 <= choice < len(self.problems):
                raise ValueError(
                    f"options['problem'] index must lie in [0, {len(self.problems)}), got {choice}"
                )
            return self.problems[int(choice)]
        if isinstance(choice, str):
            for problem in self.problems:
                if problem.id == choice:
                    return problem
            raise ValueError(
                f"no problem with id {choice!r}; ids look like {self.problems[0].id!r}"
            )
        raise TypeError(f"options['problem'] must be an index or a problem id, got {choice!r}")

    def _start(self, problem: Problem) -> _Stream:
        self._stream = _Stream(problem, self._prompt(problem))
        self._last_info: dict[str, Any] = {}
        return self._stream

    def _started(self, stream: _Stream, estimate: ProverEstimate) -> tuple[str, dict[str, Any]]:
        stream.estimates.append(estimate)
        self._last_info = self._info(stream, block_tokens=0)
        return stream.prompt, dict(self._last_info)

    def _current(self) -> _Stream:
        if self._stream is None:
            raise gym.error.ResetNeeded("call reset() before step() or render()")
        return self._stream

    def _prepare(self, action: Any) -> _Pending:
        """Check the action and decide how the stream goes on; changes nothing yet."""
        stream = self._current()
        if stream.done:
            raise gym.error.ResetNeeded(
                "the episode is over (terminated or truncated); call reset()"
            )
        if not isinstance(action, str):
            raise TypeError(
                f"the action must be a str (the next reasoning block), got {type(action).__name__}"
            )
        if len(action) > self.config.max_block_chars:
            raise ValueError(
                f"the block has {len(action)} characters; at most max_block_chars="
                f"{self.config.max_block_chars} are accepted"
            )
        block_tokens = self.count_tokens(action) if action else 0
        committed = commits(stream.prompt + stream.text, action, self.config.think_close)
        used = sum(stream.tokens) + block_tokens
        truncated = not committed and (
            used >= self.config.max_tokens or len(stream.blocks) + 1 >= self.config.max_blocks
        )
        return _Pending(action, block_tokens, committed, truncated)

    def _thinking(self, text: str) -> str:
        """The part of a stream μ is asked about: up to the end of the thinking."""
        return text.split(self.config.think_close, 1)[0]

    def _after(self, stream: _Stream, pending: _Pending) -> _Stream:
        return replace(stream, blocks=[*stream.blocks, pending.block])

    def _estimate(self, streams: Sequence[_Stream]) -> list[ProverEstimate]:
        if self.prover is None:
            return [ProverEstimate(0.0) for _ in streams]
        requests = [ProverRequest(s.problem, s.prompt, self._thinking(s.text)) for s in streams]
        return self.prover.estimate_batch(requests)

    def _force(self, items: Sequence[tuple[_Stream, _Pending]]) -> list[str | None]:
        """The forced answers of the truncated streams among ``items`` (one batched call)."""
        needed = [i for i, (_, p) in enumerate(items) if p.truncated and self.config.force_answer]
        answers: list[str | None] = [None] * len(items)
        if not needed or self.lm is None:
            return answers
        contexts = [
            items[i][0].prompt
            + self._thinking(items[i][0].text + items[i][1].block)
            + self.forcing_text
            for i in needed
        ]
        outs = self.lm.generate(
            contexts, max_tokens=self.config.forced_answer_tokens, temperature=0.0
        )
        # Grade the answer with the forcing text's own tail, which may open the answer.
        tail = answer_opening(self.forcing_text, self.config.think_close)
        for i, per in zip(needed, outs, strict=True):
            answers[i] = tail + per[0].text
        return answers

    def _finish(
        self, pending: _Pending, estimate: ProverEstimate, forced: str | None
    ) -> tuple[str, float, bool, bool, dict[str, Any]]:
        stream = self._current()
        before = stream.estimates[-1].success_prob
        stream.blocks.append(pending.block)
        stream.tokens.append(pending.block_tokens)
        stream.estimates.append(estimate)
        reward = self.config.alpha * (estimate.success_prob - before)
        info = self._info(stream, block_tokens=pending.block_tokens)
        if pending.committed or pending.truncated:
            stream.done = True
            text = stream.text
            if pending.committed:
                close = self.config.think_close
                response, how = (
                    (text.split(close, 1)[1] if close in text else pending.block),
                    "committed",
                )
            elif forced is not None:
                response, how = forced, "forced"
            else:
                response, how = text, "unforced"
            result = grade(response, stream.problem.answer)
            info.update(
                {
                    keys.ANSWER: result.extracted,
                    keys.CORRECT: bool(result.correct),
                    keys.OUTCOME: how,
                    keys.GOLD_ANSWER: stream.problem.answer,
                }
            )
            reward += self.config.outcome_weight * float(result.correct)
        self._last_info = info
        return (
            stream.prompt + stream.text,
            float(reward),
            pending.committed,
            pending.truncated,
            dict(info),
        )

    def _info(self, stream: _Stream, *, block_tokens: int) -> dict[str, Any]:
        probs = stream.success_probs
        estimate = stream.estimates[-1]
        answers = tuple(estimate.answers)
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
            keys.TERMINATION_REWARD: self.config.outcome_weight * probs[-1],
            keys.FORCED_ANSWERS: answers,
            keys.ANSWER: counted.most_common(1)[0][0] if counted else None,
            keys.PROBLEM_ID: stream.problem.id,
        }
