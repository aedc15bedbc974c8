"""Agents: what writes the next reasoning block. See :class:`Agent` for the protocol.

=========================  ==========================================================
agent                      what it does
=========================  ==========================================================
:class:`LMAgent`           a model continues the text to the next episode boundary
:class:`ThinkToBudget`     the baseline: the model decides when to stop
:class:`EarlyExit`         answers once μ's answers agree m times in a row
:class:`SelfVerify`        spends one block checking before committing
:class:`BudgetForcingExtend`  "Wait" at the model's own end, up to n times (s1)
:class:`ParallelVote`      n independent streams, same total tokens, majority vote
:class:`ReplayAgent`       replays a recorded response, split into episodes
:class:`ScriptedAgent`     fixed blocks (tests)
:class:`RandomAgent`       random text (a floor; fuzzing)
=========================  ==========================================================

A plain function ``(observation, info) -> str`` works wherever an agent does
(:func:`as_agent`). Agents see only observations and info, never the env.
"""

from mrt_env.agents.base import Agent, FunctionAgent, as_agent
from mrt_env.agents.lm_agent import BlockSamplingConfig, LMAgent
from mrt_env.agents.runner import play
from mrt_env.agents.scripted import RandomAgent, ReplayAgent, ScriptedAgent
from mrt_env.agents.strategies import (
    BudgetForcingExtend,
    EarlyExit,
    ParallelVote,
    SelfVerify,
    ThinkToBudget,
)
from mrt_env.types import EpisodeRecord  # what play returns, re-exported

STRATEGIES = {
    cls.name: cls
    for cls in (ThinkToBudget, EarlyExit, SelfVerify, BudgetForcingExtend, ParallelVote)
}
"""The exploration strategies by name (each takes an ``lm`` first)."""

__all__ = [
    "STRATEGIES",
    "Agent",
    "BlockSamplingConfig",
    "BudgetForcingExtend",
    "EarlyExit",
    "EpisodeRecord",
    "FunctionAgent",
    "LMAgent",
    "ParallelVote",
    "RandomAgent",
    "ReplayAgent",
    "ScriptedAgent",
    "SelfVerify",
    "ThinkToBudget",
    "as_agent",
    "play",
]
