"""Environments: :class:`ReasoningEnv` (one reasoning block per step, progress rewards),
its batched vector form :class:`ReasoningVectorEnv`, and the stream core both step with
(:mod:`mrt_env.envs.stream`). Info keys: :mod:`mrt_env.info`."""

from mrt_env.envs.reasoning import ReasoningEnv, ReasoningEnvConfig
from mrt_env.envs.stream import StepOutcome, Stepper, Stream, StreamConfig
from mrt_env.envs.vector import ReasoningVectorEnv
from mrt_env.errors import ResetNeeded

__all__ = [
    "ReasoningEnv",
    "ReasoningEnvConfig",
    "ReasoningVectorEnv",
    "ResetNeeded",
    "StepOutcome",
    "Stepper",
    "Stream",
    "StreamConfig",
]
