"""StrategyEnv: MRT's meta-level decision, keep thinking or answer now, for stable-baselines3.

stable-baselines3 cannot act on text. What it can learn is the decision the paper is about:
after each reasoning block, is the next block worth its compute, or should the stream
commit to an answer? :class:`StrategyEnv` wraps a :class:`~mrt_env.envs.ReasoningEnv` and a
fixed LM agent that writes the blocks; the policy only picks the meta-action.

LM calls are slow, so there are two modes with the same dynamics:

* **live**: every ``continue`` has the LM write a block in the wrapped env;
* **tabulated** (``table=``): :func:`tabulate` records the LM's think-to-budget streams once
  (its blocks' J, their tokens, and the answer the model gives when forced at every prefix),
  and the env replays them: PPO trains for tens of thousands of steps on CPU in minutes.
"""

from __future__ import annotations

import gzip
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from mrt_env import info as keys
from mrt_env.errors import (
    ArgumentTypeError,
    ConfigError,
    DataFormatError,
    DataNotFound,
    GradingError,
    ResetNeeded,
    RunStateError,
)
from mrt_env.metrics import anytime_regret
from mrt_env.types import EpisodeRecord, Problem

__all__ = [
    "ANSWER",
    "CONTINUE",
    "FEATURES",
    "TABLE_FORMAT",
    "StrategyEnv",
    "StrategyTable",
    "anytime_return_bound",
    "tabulate",
]

CONTINUE = 0
"""Meta-action: the agent writes one more block."""
ANSWER = 1
"""Meta-action: commit now to the model's greedy answer when forced at the current prefix."""

FEATURES = ("block_fraction", "token_fraction", "success_prob", "success_trend", "agreement")
"""The observation's entries (``features="deployable"`` keeps those not marked ``J``):

* ``block_fraction``: blocks written / block budget H;
* ``token_fraction``: transcript tokens / the env's token budget;
* ``success_prob`` (J): μ's J at the current prefix;
* ``success_trend`` (J): $J_t − J_{t-1}$, the last block's progress (0 at the start);
* ``agreement``: how many prefixes in a row, ending now, the forced answer has been this
  one, / H (0 with no answer; the rule of the early-exit strategy is agreement·H ≥ m)."""
_USES_J = ("success_prob", "success_trend")
TABLE_FORMAT = "mrt-strategy-table/2"
"""The ``format`` of a saved :class:`StrategyTable` (/2: each trace an EpisodeRecord row)."""
_NO_ANSWER = "none"  # committed when the forced model gives no answer: graded wrong


@dataclass(frozen=True)
class StrategyTable:
    """Recorded streams of one env, with the budgets they ran under.

    Each stream is an :class:`~mrt_env.types.EpisodeRecord` of k blocks that ended at c_k
    by the model's own commitment or by the block/token budget (the env then forced the
    answer), with the model's greedy answer when forced at $c_0 … c_{k-1}$ and whether each
    is right (``forced_answers``, ``forced_correct``): the outcome of answering there.
    """

    env_id: str
    horizon: int
    """The block budget H: regret is counted over H blocks."""
    max_tokens: int
    """The token budget (the scale of ``token_fraction``)."""
    traces: tuple[EpisodeRecord, ...]

    def __post_init__(self) -> None:
        if not self.traces:
            raise ConfigError("a StrategyTable needs at least one trace")
        if self.horizon < 1 or self.max_tokens < 1:
            raise ConfigError(
                f"horizon and max_tokens must be >= 1, got {self.horizon}, {self.max_tokens}"
            )
        unforced = [
            t.problem_id
            for t in self.traces
            if t.forced_answers is None or t.forced_correct is None
        ]
        if unforced:
            raise ConfigError(
                "a StrategyTable replays answering at every prefix: traces without "
                f"forced_answers and forced_correct: {unforced[:3]}"
            )
        long = [t.problem_id for t in self.traces if len(t.blocks) > self.horizon]
        if long:
            raise ConfigError(f"traces longer than the horizon {self.horizon}: {long[:3]}")

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (gzipped if ``path`` ends in ``.gz``); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(
            {
                "format": TABLE_FORMAT,
                "env_id": self.env_id,
                "horizon": self.horizon,
                "max_tokens": self.max_tokens,
                "traces": [t.to_row() for t in self.traces],
            }
        )
        tmp = path.with_name(path.name + ".tmp")
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(tmp, "wt", encoding="utf-8") as f:
            f.write(text)
        tmp.replace(path)  # atomic: a killed run leaves the old table or none
        return path

    @classmethod
    def load(cls, path: str | Path) -> StrategyTable:
        path = Path(path)
        if not path.is_file():
            raise DataNotFound(
                f"no strategy table at {path}; record one with "
                "mrt_env.envs.strategy_env.tabulate(...).save(path)"
            )
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        found = data.get("format") if isinstance(data, dict) else None
        if found != TABLE_FORMAT:
            again = (
                "; it was written by an older mrt_env: record it again with tabulate(...)"
                if isinstance(found, str) and found.startswith("mrt-strategy-table/")
                else ""
            )
            raise DataFormatError(f"{path} is not a strategy table (format {TABLE_FORMAT}){again}")
        traces = tuple(EpisodeRecord.from_row(t) for t in data["traces"])
        return cls(data["env_id"], data["horizon"], data["max_tokens"], traces)


class _Stream:
    """The part of a stream the policy has seen: J, tokens and forced answers up to c_t."""

    def __init__(self, success_prob: float, forced_answer: str | None):
        self.success_probs = [success_prob]
        self.tokens = [0]
        self.forced_answers = [forced_answer]

    def add(self, success_prob: float, tokens: int, forced_answer: str | None) -> None:
        self.success_probs.append(success_prob)
        self.tokens.append(tokens)
        self.forced_answers.append(forced_answer)

    @property
    def t(self) -> int:
        return len(self.success_probs) - 1

    def agreement(self) -> int:
        """Prefixes c_j (j ≥ 1) in a row, ending at c_t, whose forced answer is c_t's."""
        answers = self.forced_answers[1:]
        if not answers or answers[-1] is None:
            return 0
        run = 0
        for answer in reversed(answers):
            if answer != answers[-1]:
                break
            run += 1
        return run


class StrategyEnv(gym.Env[np.ndarray, int]):
    """The meta-level decision of MRT: keep thinking or answer now.

    A fixed LM agent writes a reasoning stream one block at a time in a
    :class:`~mrt_env.envs.ReasoningEnv`; after each block the policy decides whether the
    next block is worth its compute. The return is the negative *anytime regret* that
    ``mrt-bench`` reports: a policy that maximises it turns compute into success fast.

    ## Action space
    ``Discrete(2)``: :data:`CONTINUE` (0) the agent writes one more block; :data:`ANSWER`
    (1) commit now to the model's greedy answer when forced at the current prefix.

    ## Observation space
    ``Box(0, 1, (5,), float32)`` with the entries of :data:`FEATURES` (``success_trend`` is
    in [−1, 1]); ``features="deployable"`` keeps the 3 that need no gold answer (J is the
    chance of being *right*, so it uses the gold answer: a policy trained on it is an
    oracle-informed stopper, an upper bound for what the deployable features can do).

    ## Rewards
    With s_j = J_j while the stream thinks and s_j = the 0/1 outcome once it has answered
    (held there up to the block budget H), each block j costs its regret 1 − s_j:

    * a ``continue`` that leaves the stream thinking: J_t − 1 (= (J_0 − 1) plus the
      progress of all blocks so far: the env's progress reward, summed);
    * the step that ends the stream at block k (an ``answer``, the model's own commitment,
      or the budget): −(1 − outcome)·(H − k + 1).

    The return is $−Σ_{j=1}^{H} (1 − s_j)$, the negative of
    :func:`mrt_env.metrics.anytime_regret`; 0 is the best possible.

    ## Episode end
    * **terminated**: the stream committed to an answer (the ``answer`` action or the model
      itself), or used its budget and was forced to answer; ``info["correct"]`` is graded.
    * **truncated**: never (the block budget ends every stream).

    ## Info
    ``blocks`` (t; not ``episode``, where stable-baselines3 keeps its episode statistics),
    ``success_prob`` (J_t), ``tokens``, ``answer`` (the forced answer at c_t),
    ``agreement`` (as an int), ``problem_id``, ``regret`` (anytime regret so far); at the
    end ``correct`` and ``outcome`` (``answered``, or the wrapped env's).

    ## Arguments
    ``StrategyEnv(env="MRT-Search-v0", *, table=None, agent=None, features="all",
    answer_tokens=12, **env_kwargs)``:

    * ``env``: the id of the wrapped :class:`ReasoningEnv`; ``env_kwargs`` go to its
      ``gym.make`` (live mode).
    * ``table``: a :class:`StrategyTable` or the path of a saved one: replay it (no LM is
      loaded). Without it the env is live, on the env's prover model.
    * ``agent``: the LM agent that writes the blocks (live; default: think-to-budget on the
      prover's model with the env's block settings, reseeded at each ``reset(seed=...)``).
    * ``features``: ``all`` or ``deployable`` (see above).
    * ``answer_tokens``: tokens of a forced answer (live).

    ``reset(options={"trace": i})`` (tabulated) or ``{"problem": i or id}`` (live) picks the
    stream; otherwise a seeded random one.

    ## Version history
    * v0: first version (registered as ``MRT-Strategy-Search-v0``,
      ``MRT-Strategy-Arithmetic-v0``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    def __init__(
        self,
        env: str = "MRT-Search-v0",
        *,
        table: StrategyTable | str | Path | None = None,
        agent: Any = None,
        features: Literal["all", "deployable"] = "all",
        answer_tokens: int = 12,
        **env_kwargs: Any,
    ) -> None:
        if features not in ("all", "deployable"):
            raise ConfigError(f"features must be 'all' or 'deployable', got {features!r}")
        if answer_tokens < 1:
            raise ConfigError(f"answer_tokens must be >= 1, got {answer_tokens}")
        self.features = tuple(f for f in FEATURES if features == "all" or f not in _USES_J)
        self.answer_tokens = answer_tokens
        self.table: StrategyTable | None = None
        self._env: Any = None
        self.agent: Any = None
        if table is not None:
            if agent is not None or env_kwargs:
                raise ArgumentTypeError(
                    "a tabulated StrategyEnv replays its table: drop agent= and "
                    f"the env settings {sorted(env_kwargs)}"
                )
            self.table = table if isinstance(table, StrategyTable) else StrategyTable.load(table)
            self.env_id, self.horizon = self.table.env_id, self.table.horizon
            self.max_tokens = self.table.max_tokens
        else:
            self._env = gym.make(env, **env_kwargs)
            config = self._env.unwrapped.config
            self.env_id, self.horizon, self.max_tokens = env, config.max_blocks, config.max_tokens
            if agent is None:
                agent = _default_agent(env, env_kwargs, self._env.unwrapped)
            self.agent = agent
        low = np.array([-1.0 if f == "success_trend" else 0.0 for f in self.features], np.float32)
        self.observation_space = gym.spaces.Box(low, np.ones_like(low), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._stream: _Stream | None = None
        self._trace: EpisodeRecord | None = None
        self._obs_text = ""
        self._info: dict[str, Any] = {}
        self._regret = 0.0
        self._done = True

    # -- Gymnasium API -----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        options = options or {}
        if self.table is not None:
            traces = self.table.traces
            index = options.get("trace")
            if index is None:
                index = int(self.np_random.integers(len(traces)))
            elif (
                isinstance(index, bool)
                or not isinstance(index, int | np.integer)
                or not (0 <= index < len(traces))
            ):
                raise ConfigError(
                    f"options['trace'] must be an index in [0, {len(traces)}), got {index!r}"
                )
            self._trace = traces[int(index)]
            first = self._trace.success_probs[0], self._trace.forced_answers[0]
            self._stream = _Stream(*first)
            problem_id = self._trace.problem_id
        else:
            # One draw from the env's seeded generator seeds both the problem and the agent,
            # so reset(seed=s) replays the same stream.
            draw = int(self.np_random.integers(2**31))
            if hasattr(self.agent, "seed"):
                self.agent.seed = draw
            self.agent.reset()
            wrapped = {"problem": options["problem"]} if "problem" in options else None
            self._obs_text, self._info = self._env.reset(seed=draw, options=wrapped)
            answer = self._forced_answer(self._obs_text)
            self._stream = _Stream(float(self._info[keys.SUCCESS_PROB]), answer)
            problem_id = self._info[keys.PROBLEM_ID]
        self._problem_id = str(problem_id)
        self._regret = 0.0
        self._done = False
        return self._observe(), self._step_info()

    def step(self, action: int) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._done or self._stream is None:
            raise ResetNeeded("StrategyEnv.step called before reset or after the episode ended")
        if not self.action_space.contains(action):
            raise ConfigError(f"action must be 0 (continue) or 1 (answer), got {action!r}")
        stream = self._stream
        if int(action) == ANSWER:
            correct, outcome = self._answer(), "answered"
        else:
            ended = self._think()
            if ended is None:  # still thinking: block t costs 1 − J_t
                reward = stream.success_probs[-1] - 1.0
                self._regret -= reward
                return self._observe(), reward, False, False, self._step_info()
            correct, outcome = ended
        # The stream ends at block k = t + 1 (the answer block, or the last one written);
        # its outcome is held for the rest of the block budget.
        k = stream.t + 1 if int(action) == ANSWER else stream.t
        reward = -(1.0 - float(correct)) * (self.horizon - k + 1)
        self._regret -= reward
        self._done = True
        info = {**self._step_info(), keys.CORRECT: bool(correct), keys.OUTCOME: outcome}
        return self._observe(), reward, True, False, info

    def close(self) -> None:
        if self._env is not None:
            self._env.close()

    # -- one block, or the answer --------------------------------------------------------

    def _think(self) -> tuple[bool, str] | None:
        """Let the agent write the next block: None while the stream goes on, else its
        (correct, outcome) at the end."""
        stream = self._stream
        if self.table is not None:
            trace, t = self._trace, stream.t + 1
            if t == len(trace.blocks):
                stream.add(trace.success_probs[t], trace.prefix_tokens[t], None)
                return trace.correct, trace.outcome
            stream.add(trace.success_probs[t], trace.prefix_tokens[t], trace.forced_answers[t])
            return None
        (block,) = self.agent.act_batch([self._obs_text], [{**self._info, keys.SLOT: 0}])
        self.agent.take_hidden_tokens(0)
        self._obs_text, _, terminated, truncated, self._info = self._env.step(block)
        success, tokens = float(self._info[keys.SUCCESS_PROB]), int(self._info[keys.TOKENS])
        if terminated or truncated:
            stream.add(success, tokens, None)
            return bool(self._info.get(keys.CORRECT, False)), str(self._info[keys.OUTCOME])
        stream.add(success, tokens, self._forced_answer(self._obs_text))
        return None

    def _answer(self) -> bool:
        """Commit to the forced answer at c_t: whether it is right."""
        stream = self._stream
        if self.table is not None:
            return self._trace.forced_correct[stream.t]
        answer = stream.forced_answers[-1] or _NO_ANSWER
        block = self.agent.commit_block(
            self._obs_text, answer, self._env.unwrapped.config.think_close
        )
        self._obs_text, _, terminated, truncated, self._info = self._env.step(block)
        if not (terminated or truncated):
            raise RunStateError(f"the answer block {block!r} did not end the wrapped env's episode")
        return bool(self._info.get(keys.CORRECT, False))

    def _forced_answer(self, context: str) -> str | None:
        from mrt_env.agents.strategies import greedy_answers

        env = self._env.unwrapped
        answers, _ = greedy_answers(
            self.agent, [context], env.forcing_text, self.answer_tokens, env.config.think_close
        )
        return answers[0]

    # -- observation -----------------------------------------------------------------------

    def _observe(self) -> np.ndarray:
        s = self._stream
        values = {
            "block_fraction": s.t / self.horizon,
            "token_fraction": min(s.tokens[-1] / self.max_tokens, 1.0),
            "success_prob": s.success_probs[-1],
            "success_trend": s.success_probs[-1] - s.success_probs[-2] if s.t else 0.0,
            "agreement": s.agreement() / self.horizon,
        }
        return np.array([values[f] for f in self.features], dtype=np.float32)

    def _step_info(self) -> dict[str, Any]:
        s = self._stream
        return {
            "blocks": s.t,  # not "episode": stable-baselines3 keeps its episode stats there
            keys.SUCCESS_PROB: s.success_probs[-1],
            keys.TOKENS: s.tokens[-1],
            keys.ANSWER: s.forced_answers[-1],
            "agreement": s.agreement(),
            keys.PROBLEM_ID: self._problem_id,
            keys.REGRET: self._regret,
        }


def _default_agent(env_id: str, env_kwargs: Mapping[str, Any], env: Any) -> Any:
    """Think-to-budget on the wrapped env's prover model, with the env's block settings."""
    from mrt_env.agents.strategies import ThinkToBudget
    from mrt_env.registration import ENV_IDS, block_settings

    if env.lm is None:
        raise ConfigError(f"{env_id} has no prover model to write blocks with: pass agent=...")
    return ThinkToBudget(env.lm, **block_settings({**ENV_IDS.get(env_id, {}), **env_kwargs}))


def tabulate(
    env: str,
    problems: Sequence[Problem],
    *,
    samples: int = 4,
    seed: int = 0,
    batch: int = 64,
    agent: Any = None,
    answer_tokens: int = 12,
    progress: Callable[[int], Any] | bool = True,
    **env_kwargs: Any,
) -> StrategyTable:
    """Record the LM's think-to-budget streams on ``problems`` for a tabulated StrategyEnv.

    Each problem gets ``samples`` streams (distinct samples, equal compute); for every
    prefix the model's greedy forced answer is recorded and graded, so that *answering
    there* can be replayed. ``env_kwargs`` go to ``gym.make_vec(env, ...)``; ``agent``
    defaults to think-to-budget on the env's prover model. ``progress``: a tqdm bar (True),
    none (False) or a callable given the episodes finished.
    """
    from mrt_env.agents.runner import play
    from mrt_env.agents.strategies import greedy_answers
    from mrt_env.grading import grade_many

    problems = list(problems)
    if not problems or not all(isinstance(p, Problem) for p in problems):
        kinds = sorted({type(p).__name__ for p in problems})
        raise ArgumentTypeError(f"problems must be a non-empty sequence of Problem, got {kinds}")
    if samples < 1 or batch < 1:
        raise ConfigError(f"samples and batch must be >= 1, got {samples}, {batch}")
    # A problem's copies must share a batch: equal texts in one batch get distinct samples.
    width = min(samples * max(1, batch // samples), samples * len(problems))
    vec = gym.make_vec(env, num_envs=width, problems=problems, **env_kwargs)
    try:
        first = vec.envs[0]
        if agent is None:
            agent = _default_agent(env, env_kwargs, first)
            agent.seed = seed
        order = [i for i in range(len(problems)) for _ in range(samples)]
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(order), desc=f"tabulate {env}", unit="stream")
            progress = bar.update
        records = play(vec, agent, order, seed=seed, progress=progress or None)
        contexts = [(r, j) for r in records for j in range(len(r.blocks))]
        if bar is not None:
            bar.close()
            bar = tqdm(total=len(contexts), desc="forced answers", unit="prefix")
        answers: list[str | None] = []
        for start in range(0, len(contexts), 256):
            chunk = contexts[start : start + 256]
            texts = [r.prompt + "".join(r.blocks[:j]) for r, j in chunk]
            answers += greedy_answers(
                agent, texts, first.forcing_text, answer_tokens, first.config.think_close
            )[0]
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        gold = {p.id: p.answer for p in problems}
        graded = [
            (a, gold[r.problem_id])
            for (r, _), a in zip(contexts, answers, strict=True)
            if a is not None
        ]
        verdicts = iter(grade_many(graded))
        graded_at = [next(verdicts) if a is not None else None for a in answers]
        correct = [v is not None and v.correct for v in graded_at]
        traces, at, dropped = [], 0, 0
        for r in records:
            k = len(r.blocks)
            here = graded_at[at : at + k]
            # A table replays outcomes: a stream with any answer the grader reached no
            # verdict on cannot be replayed exactly, so it is left out (and counted).
            if r.correct is None or any(v is not None and v.undecided for v in here):
                dropped += 1
            else:
                traces.append(
                    replace(
                        r,
                        forced_answers=tuple(answers[at : at + k]),
                        forced_correct=tuple(correct[at : at + k]),
                    )
                )
            at += k
        if dropped:
            warnings.warn(
                f"tabulate: {dropped} of {len(records)} streams had an answer the grader "
                "reached no verdict on (a deadline passed); they are left out of the table",
                stacklevel=2,
            )
        if not traces:
            raise GradingError("tabulate: the grader reached no verdict on any stream")
        return StrategyTable(env, first.config.max_blocks, first.config.max_tokens, tuple(traces))
    finally:
        vec.close()


def anytime_return_bound(table: StrategyTable) -> float:
    """The best mean return on ``table`` (an oracle stopper): per trace, the least anytime
    regret over every choice of where to stop, answering at one of its prefixes or thinking
    to its end."""
    best = []
    for trace in table.traces:
        js, horizon = list(trace.success_probs), table.horizon
        # Answering at c_t writes block t + 1, whose J is never used (the outcome replaces
        # it in the anytime success): 0.0 stands in for it.
        regrets = [
            anytime_regret([*js[: t + 1], 0.0], trace.forced_correct[t], horizon)
            for t in range(len(trace.blocks))
        ]
        regrets.append(anytime_regret(js, trace.correct, horizon))
        best.append(-min(regrets))
    return float(np.mean(best))
