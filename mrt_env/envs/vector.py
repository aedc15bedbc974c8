"""ReasoningVectorEnv: n ReasoningEnvs whose meta-prover calls go to the model together.

Stepping n :class:`~mrt_env.envs.ReasoningEnv` one by one (``SyncVectorEnv``) asks the
meta-prover n times per step, each a separate batch on the model. Here every step makes one
:meth:`~mrt_env.prover.MetaProver.estimate_batch` call for all sub-envs (and one batched
generation for the answers forced at truncation), which is where the time goes.

``gym.make_vec("MRT-AIME-v0", num_envs=8, prover=lm)`` builds this env (the ids register it
as their ``vector_entry_point``); ``vectorization_mode="sync"`` gives Gymnasium's loop.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from mrt_env import info as keys
from mrt_env.envs.reasoning import ReasoningEnv, ReasoningEnvConfig, reset_options
from mrt_env.errors import ArgumentTypeError, ConfigError

__all__ = ["ReasoningVectorEnv"]


class ReasoningVectorEnv(VectorEnv):
    """``num_envs`` copies of :class:`ReasoningEnv` sharing one prover, batched per step.

    Observations are tuples of strings, actions a sequence of ``num_envs`` strings; rewards,
    terminations and truncations are arrays; infos follow Gymnasium's vector convention
    (``infos[key][i]`` with a mask ``infos["_" + key]``). Autoreset is ``NEXT_STEP``: the
    step after a sub-env ends resets it (its action is ignored, its reward is 0).

    Args:
        num_envs: number of sub-envs.
        config: a :class:`ReasoningEnvConfig`; keyword ``fields`` override it.
        render_mode: passed to every sub-env.
    """

    metadata: ClassVar[dict[str, Any]] = {
        "autoreset_mode": AutoresetMode.NEXT_STEP,
        "render_modes": ["ansi"],
    }

    def __init__(
        self,
        num_envs: int = 1,
        config: ReasoningEnvConfig | None = None,
        *,
        render_mode: str | None = None,
        **fields: Any,
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs must be an int >= 1, got {num_envs!r}")
        first = ReasoningEnv(config, render_mode=render_mode, **fields)
        # One prover (one model, one cache) for all sub-envs.
        shared = {**fields, "prover": first.prover}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the first sub-env has said what there is to say
            self.envs = [first] + [
                ReasoningEnv(first.config, render_mode=render_mode, **shared)
                for _ in range(num_envs - 1)
            ]
        self.num_envs = num_envs
        self.render_mode = render_mode
        self.prover = first.prover
        self.stepper = first.stepper  # one stepper (one prover call per step) for all
        self.single_observation_space = first.observation_space
        self.single_action_space = first.action_space
        self.observation_space = batch_space(first.observation_space, num_envs)
        self.action_space = batch_space(first.action_space, num_envs)
        self._needs_reset = np.zeros(num_envs, dtype=bool)

    def reset(
        self,
        *,
        seed: int | Sequence[int | None] | None = None,
        options: dict[str, Any] | None = None,
    ) -> tuple[tuple[str, ...], dict[str, Any]]:
        """Reset all sub-envs (seeds ``seed, seed + 1, ...`` or one per env).

        ``options={"problem": i}`` gives every sub-env problem ``i`` (an index or id); a
        list gives each its own; ``options={"reset_mask": mask}`` (one bool per sub-env)
        resets only those it marks;
        ``options={"blocks": [prefix, ...]}`` starts each sub-env after its own prefix
        (a list of blocks, as :meth:`ReasoningEnv.reset`).
        """
        options = reset_options(options)
        if seed is None or (isinstance(seed, int) and not isinstance(seed, bool)):
            seeds = [None if seed is None else seed + i for i in range(self.num_envs)]
        elif isinstance(seed, Sequence | np.ndarray) and not isinstance(seed, str | bytes):
            seeds = list(seed)  # each one is checked by the sub-env's own reset
            if len(seeds) != self.num_envs:
                raise ConfigError(f"need {self.num_envs} seeds, got {len(seeds)}")
        else:
            raise ArgumentTypeError(
                f"seed must be an int, None or one per sub-env ({self.num_envs}), "
                f"got {type(seed).__name__}: {seed!r:.80}"
            )
        mask = options.get("reset_mask")
        which = range(self.num_envs) if mask is None else self._mask(mask).tolist()
        obs, per_env = self._reset_some(list(which), [seeds[i] for i in which], options)
        out = [env.stream.observation if env.stream else "" for env in self.envs]
        infos: dict[str, Any] = {}
        for i, o, info in zip(which, obs, per_env, strict=True):
            out[i] = o
            infos = self._add_info(infos, info, i)
        self._needs_reset[list(which)] = False
        return tuple(out), infos

    def _mask(self, mask: Any) -> np.ndarray:
        """The sub-envs a ``reset_mask`` names: it must hold one bool per sub-env (np.flatnonzero
        would take any length, and read 0/1 or 2 as flags)."""
        array = np.asarray(mask)
        if array.dtype != np.bool_:
            raise ArgumentTypeError(
                f"options['reset_mask'] must be bools, one per sub-env, got {mask!r:.80}"
            )
        if array.shape != (self.num_envs,):
            raise ConfigError(
                f"options['reset_mask'] needs one bool per sub-env ({self.num_envs}), "
                f"got shape {array.shape}"
            )
        return np.flatnonzero(array)

    def _reset_some(
        self, which: list[int], seeds: list[int | None], options: dict[str, Any] | None
    ) -> tuple[list[str], list[dict[str, Any]]]:
        """Reset the sub-envs ``which`` (one prover call); their observations and infos."""
        sub_options = {k: v for k, v in (options or {}).items() if k != "reset_mask"}
        choice = sub_options.get("problem")
        per_env = isinstance(choice, list | tuple)
        if per_env and len(choice) != self.num_envs:
            raise ConfigError(
                f"options['problem'] as a list needs one entry per sub-env ({self.num_envs}), "
                f"got {len(choice)}"
            )
        problems = []
        for i, seed in zip(which, seeds, strict=True):
            env = self.envs[i]
            gym.Env.reset(env, seed=seed)
            mine = {**sub_options, "problem": choice[i]} if per_env else sub_options
            problems.append(env.pick(seed, mine or None))
        prompts = [self.envs[i].prompt(p) for i, p in zip(which, problems, strict=True)]
        blocks = sub_options.get("blocks")
        if blocks is not None and len(blocks) != self.num_envs:
            raise ConfigError(
                f"options['blocks'] needs one prefix (a list of blocks) per sub-env "
                f"({self.num_envs}), got {len(blocks)}"
            )
        prefixes = None if blocks is None else [blocks[i] for i in which]
        streams = self.stepper.start(problems, prompts, prefixes)
        for i, stream in zip(which, streams, strict=True):
            self.envs[i].stream = stream
        return [s.observation for s in streams], [dict(s.info) for s in streams]

    def step(
        self, actions: Sequence[str]
    ) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        # A str is a sequence too: "ab" would step two sub-envs with "a" and "b".
        if isinstance(actions, str | bytes) or not isinstance(actions, Sequence | np.ndarray):
            raise ArgumentTypeError(
                f"actions must be a sequence of {self.num_envs} str (one per sub-env), got "
                f"{type(actions).__name__}: {actions!r:.80}"
            )
        actions = list(actions)
        if len(actions) != self.num_envs:
            raise ConfigError(f"need one action per sub-env ({self.num_envs}), got {len(actions)}")
        resetting = np.flatnonzero(self._needs_reset).tolist()
        stepping = [i for i in range(self.num_envs) if not self._needs_reset[i]]
        # The stepper checks every block before any stream changes, so a bad action leaves
        # all sub-envs as they were.
        outcomes = self.stepper.step(
            [self.envs[i].current() for i in stepping], [actions[i] for i in stepping]
        )
        obs: list[str] = [""] * self.num_envs
        rewards = np.zeros(self.num_envs, dtype=np.float64)
        terminated = np.zeros(self.num_envs, dtype=bool)
        truncated = np.zeros(self.num_envs, dtype=bool)
        infos: dict[str, Any] = {}
        if any(keys.CORRECT in out.info for out in outcomes):
            # True, False or None (no verdict): an object array, since Gymnasium would
            # make a bool array from the first value and turn a later None into False.
            infos[keys.CORRECT] = np.full(self.num_envs, None, dtype=object)
        for i, out in zip(stepping, outcomes, strict=True):
            obs[i], rewards[i] = out.observation, out.reward
            terminated[i], truncated[i] = out.terminated, out.truncated
            infos = self._add_info(infos, out.info, i)
        if resetting:
            reset_obs, reset_infos = self._reset_some(resetting, [None] * len(resetting), None)
            for i, o, info in zip(resetting, reset_obs, reset_infos, strict=True):
                obs[i] = o
                infos = self._add_info(infos, info, i)
        self._needs_reset[:] = terminated | truncated
        return tuple(obs), rewards, terminated, truncated, infos

    def render(self) -> tuple[str | None, ...]:
        return tuple(env.render() for env in self.envs)

    def close(self, **kwargs: Any) -> None:
        for env in self.envs:
            env.close()
