"""Trainers: MRT (progress-credited policy gradient), a GRPO baseline, MRT-STaR.

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.config`         :class:`TrainConfig`, the settings of ``mrt-train`` (its ``--help``)
:mod:`.loop`           :func:`train`: the loop, read top to bottom
:mod:`.bookkeeping`    the run folder: checkpoint, logs, ``--resume`` and ``--overwrite``
:mod:`.cli`            the ``mrt-train`` command
:mod:`.credit`         MRT's credit for every engine: outcomes and J to per-token advantages
:mod:`.losses`         the losses (PPO's clipped surrogate, the NLL), pure functions of tensors
:mod:`.rollouts`       traces from a policy in a vector env, as a batch of tokens
:mod:`.vllm_sync`      trained weights into the vLLM rollout engine
=====================  ========================================================

The same credit inside other engines' trainers (TRL, verl) is in
:mod:`mrt_env.integrations`.

Importing this package imports no torch; the functions do, when called.
"""

from mrt_env.training.cli import main
from mrt_env.training.config import TrainConfig
from mrt_env.training.loop import train

__all__ = ["TrainConfig", "main", "train"]
