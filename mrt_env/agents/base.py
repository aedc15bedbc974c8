"""What an agent is: it reads an observation and an info dict and writes the next block.

Agents see only what the env returns (the text so far and the info keys of
:mod:`mrt_env.info`), never the env itself, so the same agent runs against a single
env, a vector env, or recorded data.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from mrt_env.errors import ArgumentTypeError

__all__ = ["Agent", "FunctionAgent", "as_agent"]

Info = Mapping[str, Any]


class Agent:
    """Base class: override :meth:`act`, or :meth:`act_batch` for agents that batch.

    ``reset()`` forgets any per-episode state; it is called at the start of a run. In batch
    use, slot ``i`` of ``act_batch`` is one env (one sub-env of a vector env); an agent with
    per-episode state starts that slot afresh when its info says ``episode == 0``.
    """

    name: str = "agent"

    def reset(self) -> None:
        """Forget per-episode state (default: none)."""

    def take_hidden_tokens(self, slot: int) -> int:
        """Tokens generated for batch slot ``slot`` since the last call that are not in the
        env's transcript (independent streams, self-forced answers, text cut from a block),
        then forgotten. The env counts the transcript; this is the rest of the compute spent.
        Default: 0 (an agent without a model, or one whose every token is in the blocks)."""
        return 0

    def act(self, observation: str, info: Info) -> str:
        """The next block for one env."""
        return self.act_batch([observation], [info])[0]

    def act_batch(self, observations: Sequence[str], infos: Sequence[Info]) -> list[str]:
        """The next block for each env (default: :meth:`act` in a loop)."""
        if type(self).act is Agent.act:
            raise NotImplementedError(f"{type(self).__name__} must override act or act_batch")
        return [self.act(o, i) for o, i in zip(observations, infos, strict=True)]


class FunctionAgent(Agent):
    """Wraps a plain function ``(observation, info) -> str`` as an agent."""

    def __init__(self, fn: Callable[[str, Info], str], name: str | None = None):
        if not callable(fn):
            raise ArgumentTypeError(f"expected a callable (observation, info) -> str, got {fn!r}")
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "function")

    def act(self, observation: str, info: Info) -> str:
        block = self.fn(observation, info)
        if not isinstance(block, str):
            raise ArgumentTypeError(
                f"agent function {self.name} returned {type(block).__name__}, not str"
            )
        return block


def as_agent(agent: Agent | Callable[[str, Info], str]) -> Agent:
    """An :class:`Agent` as is; a plain function wrapped in :class:`FunctionAgent`."""
    if isinstance(agent, Agent):
        return agent
    if callable(agent) and not isinstance(agent, type):
        return FunctionAgent(agent)
    raise ArgumentTypeError(
        f"expected an Agent or a function (observation, info) -> str, got {type(agent).__name__}"
    )
