"""The strategy env: MRT's meta-level decision (keep thinking or answer now) for
stable-baselines3, over an LM's reasoning streams, live or replayed from a recorded table.

===================================  ===================================================
name                                 what it is
===================================  ===================================================
:class:`StrategyEnv`                 the interface: spaces, rewards, observation, info
:class:`LiveStrategyEnv`             the LM writes each block in a ReasoningEnv
:class:`TabulatedStrategyEnv`        replays a :class:`StrategyTable` (no LM)
:func:`make_strategy_env`            what ``gym.make("MRT-Strategy-...-v0")`` calls
:class:`StrategyTable`               recorded streams, saved as :data:`TABLE_FORMAT`
:func:`tabulate`                     records a table with the LM
:func:`anytime_return_bound`         the best mean return a table allows
===================================  ===================================================

It sits above :mod:`mrt_env.envs` and :mod:`mrt_env.agents` because it plays an agent on
an env: neither of those imports it.
"""

from mrt_env.strategy.env import (
    ANSWER,
    CONTINUE,
    FEATURES,
    LiveStrategyEnv,
    StrategyEnv,
    TabulatedStrategyEnv,
    make_strategy_env,
)
from mrt_env.strategy.record import tabulate
from mrt_env.strategy.table import TABLE_FORMAT, StrategyTable, anytime_return_bound

__all__ = [
    "ANSWER",
    "CONTINUE",
    "FEATURES",
    "TABLE_FORMAT",
    "LiveStrategyEnv",
    "StrategyEnv",
    "StrategyTable",
    "TabulatedStrategyEnv",
    "anytime_return_bound",
    "make_strategy_env",
    "tabulate",
]
