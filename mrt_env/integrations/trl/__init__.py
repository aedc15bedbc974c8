"""MRT in TRL: our rewards, problems and meta-prover inside TRL's ``GRPOTrainer``, and
``MRTGRPOTrainer``, MRT's per-token credit inside it (extra ``trl``).

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.rewards`        reward functions, problems as a dataset, μ's J per episode
:mod:`.trainer`        ``MRTGRPOTrainer``: per-token credit inside ``GRPOTrainer``
=====================  ========================================================

::

    from mrt_env.integrations.trl import MRTGRPOTrainer, outcome_reward, problems_dataset

Importing this package imports neither trl nor datasets nor torch: ``MRTGRPOTrainer``
(which subclasses TRL's ``GRPOTrainer``) imports trl when it is asked for.
"""

from typing import Any

from mrt_env.errors import UnknownAttribute
from mrt_env.integrations.trl import rewards
from mrt_env.integrations.trl.rewards import *  # noqa: F403  (the reward side's public names)

__all__ = list(rewards.__all__)


def __getattr__(name: str) -> Any:
    # The trainer subclasses TRL's GRPOTrainer, so it imports trl: only when asked for.
    if name == "MRTGRPOTrainer":
        from mrt_env.integrations.trl.trainer import MRTGRPOTrainer

        return MRTGRPOTrainer
    raise UnknownAttribute(f"module {__name__!r} has no attribute {name!r}")
