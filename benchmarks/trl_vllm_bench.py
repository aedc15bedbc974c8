"""Tokens per second of an MRTGRPOTrainer step with TRL's vLLM rollouts (colocate mode)
next to the same step with TRL's transformers generation, in one run.

    python benchmarks/trl_vllm_bench.py                 # ~1 minute on 2 cores
    python benchmarks/trl_vllm_bench.py --steps 12 --max-completion-length 128

The shipped tiny model on MRT-Search problems, the MRT credit (block, group baseline), μ
the env's likelihood prover: on the run's own engine with vLLM (``policy_lm``), a
transformers prover on the policy's initial weights without. Each trainer runs
``--steps`` steps; the first is left out (engine start-up, first weight sync, caches).
Tokens are the completion tokens generated; a step is TRL's whole step: weight sync,
generation, rewards, μ's J, credit, loss and update. Needs vLLM (the CPU build here) and
TRL. vLLM runs in this process, so the transformers run goes first.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import tyro

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")


@dataclass(frozen=True)
class Config:
    """One MRTGRPOTrainer run without vLLM, then one with it."""

    steps: int = 8
    """Training steps per run (the first is not timed)."""
    batch: int = 8
    """Completions per step (num_generations 4: batch / 4 prompts)."""
    max_completion_length: int = 64
    """Tokens per completion at most."""


def _trainer(config: Config, use_vllm: bool, out: str) -> Any:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mrt_env.data.synthetic import SearchTask
    from mrt_env.integrations.trl import outcome_reward, problems_dataset
    from mrt_env.integrations.trl.testing import cpu_grpo_config
    from mrt_env.integrations.trl.trainer import MRTGRPOTrainer, policy_lm
    from mrt_env.lm import TransformersLM
    from mrt_env.lm.loading import shipped_model_folder
    from mrt_env.prover import ProverConfig, make_prover
    from mrt_env.registration import ENV_IDS
    from mrt_env.training.credit import CreditConfig

    search = ENV_IDS["MRT-Search-v0"]

    def prover(lm: Any) -> Any:
        return make_prover(lm, config=ProverConfig(**search["prover_config"]))

    folder = str(shipped_model_folder())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    problems = SearchTask(seed=2000).problems(4 * config.batch * config.steps)
    if use_vllm:
        mu: Any = lambda trainer: prover(policy_lm(trainer))  # noqa: E731
    else:
        initial = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        mu = prover(TransformersLM(initial, tokenizer))
    extra = {"use_vllm": True, "vllm_mode": "colocate"} if use_vllm else {}
    return MRTGRPOTrainer(
        model=folder,
        reward_funcs=[outcome_reward],
        args=cpu_grpo_config(
            out,
            batch=config.batch,
            steps=config.steps,
            max_completion_length=config.max_completion_length,
            disable_tqdm=True,
            **extra,
        ),
        train_dataset=problems_dataset(problems),
        processing_class=tokenizer,
        prover=mu,
        credit=CreditConfig("block", alpha=1.0, baseline="group"),
        episodes="lines",
        problems=problems,
    )


def _timed_run(trainer: Any) -> tuple[int, float]:
    """Completion tokens and seconds of every step after the first."""
    from transformers import PrinterCallback, TrainerCallback

    marks: list[float] = []

    class Clock(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

        def on_step_end(self, args, state, control, **kwargs):
            marks.append(time.perf_counter())

    trainer.add_callback(Clock())
    trainer.remove_callback(PrinterCallback)  # the table is the output
    trainer.train()
    # TRL logs each step's mean completion length; its batch is per_device * processes.
    lengths = [row["completions/mean_length"] for row in trainer.state.log_history if
               "completions/mean_length" in row]  # fmt: skip
    per_step = trainer.args.per_device_train_batch_size
    tokens = sum(length * per_step for length in lengths[1:])
    seconds = sum(marks[i + 1] - marks[i] for i in range(2, len(marks) - 1, 2))
    return round(tokens), seconds


def main(config: Config) -> None:
    import tempfile

    import torch

    if config.steps < 2:
        sys.exit("--steps must be at least 2 (the first step is not timed)")
    torch.set_num_threads(1)  # vLLM's engine takes the other core; the same for both runs
    rows = []
    with tempfile.TemporaryDirectory() as out:
        for name, use_vllm in (("transformers", False), ("vLLM colocate", True)):
            tokens, seconds = _timed_run(_trainer(config, use_vllm, f"{out}/{name}"))
            rows.append((name, tokens, seconds, tokens / seconds))
    print(f"MRTGRPOTrainer, tiny model, {config.batch} completions x <= "
          f"{config.max_completion_length} tokens per step, steps 2..{config.steps}")  # fmt: skip
    print(f"{'generation':<16}{'tokens':>8}{'seconds':>10}{'tokens/s':>10}")
    for name, tokens, seconds, rate in rows:
        print(f"{name:<16}{tokens:>8}{seconds:>10.2f}{rate:>10.1f}")
    print(f"vLLM / transformers: {rows[1][3] / rows[0][3]:.2f}x")


if __name__ == "__main__":
    main(tyro.cli(Config))
