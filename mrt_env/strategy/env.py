"""The strategy env: MRT's meta-level decision, keep thinking or answer now, as a Gymnasium
env stable-baselines3 can learn on, in its two modes behind one interface.

stable-baselines3 cannot act on text. What it can learn is the decision the paper is about:
after each reasoning block, is the next block worth its compute, or should the stream
commit to an answer? A fixed LM agent writes the blocks; the policy only picks the
meta-action. LM calls are slow, so the dynamics (:class:`StrategyEnv`) come in two modes:

* :class:`LiveStrategyEnv`: every ``continue`` has the LM write a block in a wrapped
  :class:`~mrt_env.envs.ReasoningEnv`;
* :class:`TabulatedStrategyEnv`: replays a :class:`~mrt_env.strategy.StrategyTable` that
  :func:`~mrt_env.strategy.tabulate` recorded once (its blocks' J, their tokens, and the
  answer the model gives when forced at every prefix): PPO trains for tens of thousands of
  steps on CPU in minutes.

:func:`make_strategy_env` is the registered ids' entry point: tabulated with ``table=``,
live otherwise.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Literal

import gymnasium as gym
import numpy as np

from mrt_env import info as keys
from mrt_env.errors import (
    ArgumentTypeError,
    ConfigError,
    ResetNeeded,
    RunStateError,
)
from mrt_env.strategy.agent import default_agent, forced_answers
from mrt_env.strategy.table import StrategyTable
from mrt_env.types import EpisodeRecord

__all__ = [
    "ANSWER",
    "CONTINUE",
    "FEATURES",
    "LiveStrategyEnv",
    "StrategyEnv",
    "TabulatedStrategyEnv",
    "make_strategy_env",
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
_NO_ANSWER = "none"  # committed when the forced model gives no answer: graded wrong


def _feature_names(features: str) -> tuple[str, ...]:
    """The observation's entries for ``features`` (checked before any model is loaded)."""
    if features not in ("all", "deployable"):
        raise ConfigError(f"features must be 'all' or 'deployable', got {features!r}")
    return tuple(f for f in FEATURES if features == "all" or f not in _USES_J)


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


class StrategyEnv(gym.Env[np.ndarray, int], ABC):
    """The meta-level decision of MRT: keep thinking or answer now.

    A fixed LM agent writes a reasoning stream one block at a time; after each block the
    policy decides whether the next block is worth its compute. The return is the negative
    *anytime regret* that ``mrt-bench`` reports: a policy that maximises it turns compute
    into success fast. This class holds what both modes share (spaces, rewards,
    observation, info); :class:`LiveStrategyEnv` and :class:`TabulatedStrategyEnv` say where
    the blocks and the answers come from.

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
    See :class:`LiveStrategyEnv`, :class:`TabulatedStrategyEnv`, and
    :func:`make_strategy_env` (what ``gym.make`` calls). Both modes take ``features``:
    ``all`` or ``deployable`` (see above).

    ``reset(options={"trace": i})`` (tabulated) or ``{"problem": i or id}`` (live) picks the
    stream; otherwise a seeded random one.

    ## Version history
    * v0: first version (registered as ``MRT-Strategy-Search-v0``,
      ``MRT-Strategy-Arithmetic-v0``).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": []}

    env_id: str
    """The id of the reasoning env the streams are written in."""
    horizon: int
    """The block budget H: regret is counted over H blocks."""
    max_tokens: int
    """The token budget (the scale of ``token_fraction``)."""

    def __init__(
        self, *, env_id: str, horizon: int, max_tokens: int, features: tuple[str, ...]
    ) -> None:
        self.env_id, self.horizon, self.max_tokens = env_id, horizon, max_tokens
        self.features = features
        low = np.array([-1.0 if f == "success_trend" else 0.0 for f in self.features], np.float32)
        self.observation_space = gym.spaces.Box(low, np.ones_like(low), dtype=np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self._stream: _Stream | None = None
        self._problem_id = ""
        self._regret = 0.0
        self._done = True

    # -- Gymnasium API -----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        self._stream, problem_id = self._begin(options or {})
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

    # -- where the blocks and the answers come from: each mode's own ------------------

    @abstractmethod
    def _begin(self, options: dict[str, Any]) -> tuple[_Stream, str]:
        """A new stream at c_0 (drawn from ``self.np_random`` unless ``options`` picks
        one) and its problem's id."""

    @abstractmethod
    def _think(self) -> tuple[bool, str] | None:
        """Let the agent write the next block: None while the stream goes on, else its
        (correct, outcome) at the end."""

    @abstractmethod
    def _answer(self) -> bool:
        """Commit to the forced answer at c_t: whether it is right."""

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


class TabulatedStrategyEnv(StrategyEnv):
    """The strategy env replaying a recorded :class:`~mrt_env.strategy.StrategyTable`: no
    LM is loaded, so a step costs microseconds.

    Args:
        table: the table, or the path of a saved one.
        features: ``all`` or ``deployable`` (see :class:`StrategyEnv`).

    ``reset(options={"trace": i})`` replays trace i; otherwise a seeded random one.
    """

    def __init__(
        self,
        table: StrategyTable | str | Path,
        *,
        features: Literal["all", "deployable"] = "all",
    ) -> None:
        names = _feature_names(features)
        self.table = table if isinstance(table, StrategyTable) else StrategyTable.load(table)
        super().__init__(
            env_id=self.table.env_id,
            horizon=self.table.horizon,
            max_tokens=self.table.max_tokens,
            features=names,
        )
        self._trace: EpisodeRecord | None = None

    def _begin(self, options: dict[str, Any]) -> tuple[_Stream, str]:
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
        trace = self._trace = traces[int(index)]
        return _Stream(trace.success_probs[0], trace.forced_answers[0]), trace.problem_id

    def _think(self) -> tuple[bool, str] | None:
        stream, trace = self._stream, self._trace
        t = stream.t + 1
        if t == len(trace.blocks):
            stream.add(trace.success_probs[t], trace.prefix_tokens[t], None)
            return trace.correct, trace.outcome
        stream.add(trace.success_probs[t], trace.prefix_tokens[t], trace.forced_answers[t])
        return None

    def _answer(self) -> bool:
        return self._trace.forced_correct[self._stream.t]


class LiveStrategyEnv(StrategyEnv):
    """The strategy env with the LM in the loop: every ``continue`` has the agent write a
    block in a wrapped :class:`~mrt_env.envs.ReasoningEnv`, and every prefix asks the model
    for its forced answer (laid out as μ's requests are).

    Args:
        env: the id of the wrapped :class:`ReasoningEnv`; ``env_kwargs`` go to its
            ``gym.make``.
        agent: the LM agent that writes the blocks (default: think-to-budget on the
            prover's model with the env's block settings, reseeded at each
            ``reset(seed=...)``).
        features: ``all`` or ``deployable`` (see :class:`StrategyEnv`).
        answer_tokens: tokens of a forced answer.

    ``reset(options={"problem": i or id})`` picks the problem; otherwise a seeded random one.
    """

    def __init__(
        self,
        env: str = "MRT-Search-v0",
        *,
        agent: Any = None,
        features: Literal["all", "deployable"] = "all",
        answer_tokens: int = 12,
        **env_kwargs: Any,
    ) -> None:
        names = _feature_names(features)  # checked before the model is loaded
        if answer_tokens < 1:
            raise ConfigError(f"answer_tokens must be >= 1, got {answer_tokens}")
        self.answer_tokens = answer_tokens
        self._env = gym.make(env, **env_kwargs)
        config = self._env.unwrapped.config
        super().__init__(
            env_id=env, horizon=config.max_blocks, max_tokens=config.max_tokens, features=names
        )
        if agent is None:
            agent = default_agent(env, env_kwargs, self._env.unwrapped)
        self.agent = agent
        self._prompt = ""
        self._obs_text = ""
        self._info: dict[str, Any] = {}

    def close(self) -> None:
        self._env.close()

    def _begin(self, options: dict[str, Any]) -> tuple[_Stream, str]:
        # One draw from the env's seeded generator seeds both the problem and the agent,
        # so reset(seed=s) replays the same stream.
        draw = int(self.np_random.integers(2**31))
        if hasattr(self.agent, "seed"):
            self.agent.seed = draw
        self.agent.reset()
        wrapped = {"problem": options["problem"]} if "problem" in options else None
        self._obs_text, self._info = self._env.reset(seed=draw, options=wrapped)
        self._prompt = self._obs_text
        stream = _Stream(float(self._info[keys.SUCCESS_PROB]), self._forced_answer())
        return stream, self._info[keys.PROBLEM_ID]

    def _think(self) -> tuple[bool, str] | None:
        stream = self._stream
        (block,) = self.agent.act_batch([self._obs_text], [{**self._info, keys.SLOT: 0}])
        self.agent.take_hidden_tokens(0)
        self._obs_text, _, terminated, truncated, self._info = self._env.step(block)
        success, tokens = float(self._info[keys.SUCCESS_PROB]), int(self._info[keys.TOKENS])
        if terminated or truncated:
            stream.add(success, tokens, None)
            return bool(self._info.get(keys.CORRECT, False)), str(self._info[keys.OUTCOME])
        stream.add(success, tokens, self._forced_answer())
        return None

    def _answer(self) -> bool:
        answer = self._stream.forced_answers[-1] or _NO_ANSWER
        block = self.agent.commit_block(
            self._obs_text, answer, self._env.unwrapped.config.think_close
        )
        self._obs_text, _, terminated, truncated, self._info = self._env.step(block)
        if not (terminated or truncated):
            raise RunStateError(f"the answer block {block!r} did not end the wrapped env's episode")
        return bool(self._info.get(keys.CORRECT, False))

    def _forced_answer(self) -> str | None:
        """The model's greedy answer when forced at the current prefix."""
        prefix = self._obs_text[len(self._prompt) :]
        (answer,) = forced_answers(
            self.agent, self._env.unwrapped, [self._prompt], [prefix], self.answer_tokens
        )
        return answer


def make_strategy_env(
    env: str = "MRT-Search-v0",
    *,
    table: StrategyTable | str | Path | None = None,
    agent: Any = None,
    features: Literal["all", "deployable"] = "all",
    answer_tokens: int = 12,
    **env_kwargs: Any,
) -> StrategyEnv:
    """The strategy env that ``gym.make("MRT-Strategy-...-v0", ...)`` builds: a
    :class:`TabulatedStrategyEnv` replaying ``table`` (a table or a saved one's path) when
    given, else a :class:`LiveStrategyEnv` on ``env`` (its arguments as there). The
    registered id's ``env`` is the table's own with a table, so it is ignored there."""
    if table is None:
        return LiveStrategyEnv(
            env, agent=agent, features=features, answer_tokens=answer_tokens, **env_kwargs
        )
    if agent is not None or env_kwargs:
        raise ArgumentTypeError(
            "a tabulated StrategyEnv replays its table: drop agent= and "
            f"the env settings {sorted(env_kwargs)}"
        )
    return TabulatedStrategyEnv(table, features=features)
