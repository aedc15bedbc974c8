"""mrt-train: MRT (progress-credited policy gradient), GRPO, or MRT-STaR, in one loop.

    mrt-train --algorithm mrt --credit.alpha 1.0       # the shipped tiny model on MRT-Search-v0
    mrt-train --algorithm grpo --out runs/grpo-s0
    mrt-train --algorithm mrt-star --steps 20
    mrt-train --resume --out runs/mrt                  # continue a killed run
    mrt-train --preset deepscaler-mrt                  # the authors' 1.5B settings (GPU, vLLM)

Every step: sample ``problems_per_step`` training problems, let the policy write
``group_size`` traces of each in the env (one block per step; J after every block from the
env's meta-prover, the policy itself), turn them into advantages, update. Read it top to
bottom in :func:`~mrt_env.training.loop.train`:

* ``grpo``: each trace's tokens get its group-normalised outcome advantage;
* ``mrt`` (``--credit.scheme block``, ours): each *block's* tokens get the outcome advantage plus
  α times that block's progress minus the group's mean progress at that block (or
  A = R − J_j with ``--credit.baseline termination``)
  (:func:`mrt_env.training.credit.mrt_block_advantages`);
* ``mrt --credit.scheme prefix`` (the paper's MRT-RL): one trace per problem is cut at a random
  episode boundary j; ``group_size`` continuations of the prefix c_j are sampled, and each
  is credited with R − J_j, the gain over terminating at c_j (or normalised together
  with the terminate action, ``--credit.baseline group``); the prefix is not trained
  (:func:`mrt_env.training.credit.prefix_advantages`);
* ``grpo --credit.length-penalty λ``: GRPO on the outcome minus λ per token (the paper's
  length-penalty baseline);
* ``mrt-star``: keep the correct traces with the most progress per block in each group
  and fine-tune on them (supervised), then sample again.

The run is resumable: ``checkpoint.safetensors`` is written atomically every
``checkpoint_every`` steps (weights, optimizer, step, tokens sampled; safetensors, which
cannot run code when it is read), and ``--resume`` continues from it with the same next step
as an uninterrupted run (or from step 0 in the same folder, for a run stopped before its
first checkpoint). ``metrics.jsonl`` gets one line per step and
one per evaluation (held-out problems: accuracy, accuracy within block budgets, blocks,
episode regret), and TensorBoard too if it is installed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from mrt_env.cli import exit_status, parse_command
from mrt_env.training.bookkeeping import CHECKPOINT
from mrt_env.training.config import PRESETS, RENAMED_FLAGS, TrainConfig
from mrt_env.training.loop import train

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """The ``mrt-train`` command; ``--preset NAME`` first sets the defaults, and the flags
    an earlier version took still work (:data:`RENAMED_FLAGS`), saying their new name."""
    config = parse_command(
        TrainConfig,
        "mrt-train",
        argv,
        description=__doc__,
        presets=PRESETS,
        renamed=RENAMED_FLAGS,
    )
    if config is None:
        return 2

    return exit_status(
        "mrt-train",
        lambda: train(config),
        Path(config.out) / CHECKPOINT,
        resume="Run the same command with --resume to continue from the last checkpoint.",
    )


if __name__ == "__main__":
    sys.exit(main())
