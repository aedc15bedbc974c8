"""Agents without a model: scripted blocks, replayed traces, random text (tests, baselines)."""

from __future__ import annotations

import string
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from mrt_env import info as keys
from mrt_env.agents.base import Agent, Info
from mrt_env.episodes import EpisodeConfig, split_episodes
from mrt_env.errors import ArgumentTypeError, UnknownKey

__all__ = ["RandomAgent", "ReplayAgent", "ScriptedAgent"]


class ScriptedAgent(Agent):
    """Writes fixed blocks: block j of the script at episode j, then ``after``.

    Args:
        script: the blocks, or a mapping from problem id to that problem's blocks.
        after: what to write once the script is used up (default: nothing).
    """

    name = "scripted"

    def __init__(self, script: Sequence[str] | Mapping[str, Sequence[str]], *, after: str = ""):
        if isinstance(script, str):
            raise ArgumentTypeError(
                "script must be a sequence of blocks (or a mapping of them), not a str"
            )
        self.script = script
        self.after = after

    def act(self, observation: str, info: Info) -> str:
        blocks = self.script
        if isinstance(blocks, Mapping):
            problem = info.get(keys.PROBLEM_ID)
            if problem not in blocks:
                raise UnknownKey(
                    f"no script for problem {problem!r}; scripts for {sorted(blocks)[:5]}"
                )
            blocks = blocks[problem]
        j = int(info.get(keys.EPISODE, 0))
        return blocks[j] if j < len(blocks) else self.after


class ReplayAgent(ScriptedAgent):
    """Replays a recorded response split into episodes, to put any model's existing outputs
    through the env (progress and regret without generating).

    Args:
        trace: the response text, or a mapping from problem id to response.
        rule, tokenizer: how to split it (:func:`mrt_env.episodes.split_episodes`: an
            :class:`~mrt_env.episodes.EpisodeConfig`, or ``markers`` by default, ``backtrack``).
    """

    name = "replay"

    def __init__(
        self,
        trace: str | Mapping[str, str],
        *,
        rule: EpisodeConfig | str = "markers",
        tokenizer: Any = None,
    ):
        if isinstance(trace, str):
            script: Sequence[str] | dict[str, Sequence[str]] = split_episodes(
                trace, rule=rule, tokenizer=tokenizer
            )
        else:
            script = {
                k: split_episodes(v, rule=rule, tokenizer=tokenizer) for k, v in trace.items()
            }
        super().__init__(script)


class RandomAgent(Agent):
    """Random printable blocks of up to ``max_chars`` characters (seeded): a floor to
    compare with, and a fuzzer for env code."""

    name = "random"

    def __init__(self, *, max_chars: int = 32, seed: int = 0):
        self.max_chars = max_chars
        self.seed = seed
        self.rng = np.random.default_rng(seed)
        self._chars = np.array(
            list(string.ascii_letters + string.digits + string.punctuation + " \n")
        )

    def reset(self) -> None:
        self.rng = np.random.default_rng(self.seed)

    def act(self, observation: str, info: Info) -> str:
        length = int(self.rng.integers(0, self.max_chars + 1))
        return "".join(self.rng.choice(self._chars, size=length).tolist())
