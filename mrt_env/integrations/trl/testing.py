"""TRL's ``GRPOConfig`` for a few steps of a tiny model on a CPU: what the tests, the
TRL + vLLM checks and ``benchmarks/trl_vllm_bench.py`` run, stated once (imports trl)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mrt_env.extras import require

__all__ = ["cpu_grpo_config"]


def cpu_grpo_config(
    output_dir: str | Path,
    *,
    batch: int,
    steps: int,
    num_generations: int = 4,
    max_completion_length: int = 40,
    learning_rate: float = 1e-4,
    **extra: Any,
) -> Any:
    """A ``GRPOConfig`` on the CPU, sampled at temperature 1, seeded, logging every step
    and saving nothing; ``extra``: any other ``GRPOConfig`` field (vLLM's, say)."""
    require("trl", extra="trl", feature="GRPOConfig")
    from trl import GRPOConfig

    return GRPOConfig(
        output_dir=str(output_dir),
        per_device_train_batch_size=batch,
        num_generations=num_generations,
        max_completion_length=max_completion_length,
        max_steps=steps,
        use_cpu=True,
        report_to="none",
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="no",
        temperature=1.0,
        learning_rate=learning_rate,
        seed=0,
        **extra,
    )
