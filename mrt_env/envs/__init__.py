"""Environments: :class:`ReasoningEnv` (one reasoning block per step, progress rewards) and
its batched vector form :class:`ReasoningVectorEnv`. Info keys: :mod:`mrt_env.info`."""

from mrt_env.envs.reasoning import ReasoningEnv, ReasoningEnvConfig
from mrt_env.envs.vector import ReasoningVectorEnv

__all__ = ["ReasoningEnv", "ReasoningEnvConfig", "ReasoningVectorEnv"]
