"""The model's side of a strategy env: the agent that writes its streams, and the answer
the model gives when forced at a prefix (shared by the live env and by recording a table)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from mrt_env.agents.lm_agent import LMAgent
from mrt_env.agents.strategies import ThinkToBudget, greedy_answers
from mrt_env.errors import ConfigError
from mrt_env.registration import ENV_IDS, block_settings

__all__ = ["default_agent", "forced_answers"]


def default_agent(env_id: str, env_kwargs: Mapping[str, Any], env: Any) -> ThinkToBudget:
    """Think-to-budget on the wrapped env's prover model, with the env's block settings
    (``env``: the unwrapped :class:`~mrt_env.envs.ReasoningEnv` made from ``env_id`` and
    ``env_kwargs``)."""
    if env.lm is None:
        raise ConfigError(f"{env_id} has no prover model to write blocks with: pass agent=...")
    return ThinkToBudget(env.lm, **block_settings({**ENV_IDS.get(env_id, {}), **env_kwargs}))


def forced_answers(
    agent: LMAgent,
    env: Any,
    prompts: Sequence[str],
    prefixes: Sequence[str],
    answer_tokens: int,
) -> list[str | None]:
    """The model's greedy answer when forced with ``env``'s forcing text after each prompt
    and prefix (None where it gave none): what *answering there* commits to."""
    answers, _ = greedy_answers(
        agent, prompts, prefixes, env.forcing_text, answer_tokens, env.config.think_close
    )
    return answers
