"""mrt_env: reasoning problems as multi-episode Gymnasium environments with progress rewards.

Implements the measurements of "Optimizing Test-Time Compute via Meta Reinforcement
Fine-Tuning" (Qu et al., ICML 2025): episodes of a reasoning stream, the meta-prover's
success probability, progress (information gain) and cumulative regret.

Importing this package is cheap: it imports no torch, transformers or vllm.
"""

from mrt_env.errors import DependencyNotInstalled, MrtError
from mrt_env.registration import ENV_IDS, register_envs
from mrt_env.types import GradeResult, Problem

__version__ = "0.1.0"

register_envs()

__all__ = [
    "ENV_IDS",
    "DependencyNotInstalled",
    "GradeResult",
    "MrtError",
    "Problem",
    "__version__",
    "register_envs",
]
