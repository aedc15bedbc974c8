"""The env ids ``import mrt_env`` registers with Gymnasium (string entry points: cheap).

``gym.make("MRT-AIME-v0", prover=..., data_path=...)`` (after ``import mrt_env``) or
``gym.make("mrt_env:MRT-AIME-v0", ...)`` (no import needed) builds a
:class:`~mrt_env.envs.ReasoningEnv`; ``gym.make_vec(id, num_envs=n, ...)`` builds the batched
:class:`~mrt_env.envs.ReasoningVectorEnv`. Keyword arguments become config fields.
"""

from __future__ import annotations

import gymnasium as gym

__all__ = ["ENV_IDS", "register_envs"]

ENV_IDS: dict[str, str] = {
    "MRT-AIME-v0": "aime",  # AIME 2024 + 2025
    "MRT-AIME24-v0": "aime24",
    "MRT-AIME25-v0": "aime25",
    "MRT-AMC23-v0": "amc23",
    "MRT-MATH500-v0": "math500",
}
"""Registered id -> the problem set it serves (a :func:`mrt_env.data.load_problems` name)."""


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` (ids already registered are left alone)."""
    for env_id, problems in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="mrt_env.envs.reasoning:ReasoningEnv",
            vector_entry_point="mrt_env.envs.vector:ReasoningVectorEnv",
            kwargs={"problems": problems},
        )
