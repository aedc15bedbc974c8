"""TrainConfig: the settings of one ``mrt-train`` run (its ``--help``), and named presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from mrt_env.agents import BlockSamplingConfig
from mrt_env.cli import CommandConfig, Preset
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import DEFAULT_MODEL, ModelConfig
from mrt_env.prover import ProverConfig
from mrt_env.registration import ENV_IDS, check_model_for
from mrt_env.training.credit import CreditConfig

__all__ = ["MAX_SEED", "PRESETS", "TrainConfig"]

MAX_SEED = 2**32 - 1
"""The largest --seed (numpy's legacy seeding, and so many a library's, stops there)."""


@dataclass(frozen=True)
class TrainConfig(CommandConfig):
    """Settings of one ``mrt-train`` run."""

    algorithm: Literal["mrt", "grpo", "mrt-star"] = "mrt"
    """mrt (per-block progress credit), grpo (outcome only) or mrt-star (progress-filtered
    fine-tuning)."""
    env: str = "MRT-Search-v0"
    """The env id to train in."""
    model: ModelConfig = field(
        default_factory=lambda: ModelConfig(DEFAULT_MODEL, device="cpu", dtype="float32")
    )
    """The policy (the shipped tiny model, a local folder or a hub id), trained with
    transformers on --model.device in --model.dtype (float32, or bfloat16 on GPU as the
    authors). --model.backend is what samples the traces and plays μ: the trained model
    itself (transformers), or a vLLM engine on the same GPU whose weights are synced after
    every update (vllm)."""
    vllm_memory: float = 0.3
    """vllm: fraction of GPU memory the rollout engine may take (the rest trains)."""
    credit: CreditConfig = field(default_factory=CreditConfig)
    """How traces are credited (the same settings as TRL's and verl's MRT). --algorithm
    grpo and mrt-star read --credit.scheme as outcome."""
    prover: ProverConfig = field(default_factory=ProverConfig)
    """The meta-prover μ the env asks (the policy itself), over the env's own settings
    (likelihood on the synthetic tasks, forced answers on the benchmark sets)."""
    group_size: int = 8
    """Traces sampled per problem (GRPO's group)."""
    problems_per_step: int = 8
    """Problems per step; a step samples problems_per_step × group_size traces."""
    steps: int = 30
    """Training steps (a run also stops at --token-budget)."""
    token_budget: int | None = None
    """Stop once this many tokens have been sampled (equal compute across algorithms)."""
    lr: float = 1e-4
    """Peak AdamW learning rate."""
    weight_decay: float = 0.0
    """AdamW weight decay (the authors: 0.01)."""
    lr_schedule: Literal["constant", "cosine"] = "constant"
    """Learning rate after warmup: constant, or a cosine down to 0 at the last step."""
    warmup: float = 0.0
    """Linear warmup, as a fraction of the steps (the authors: 0.1)."""
    epochs: int = 1
    """Gradient steps per batch of traces (more than 1 makes the ratio clip matter)."""
    clip: float = 0.2
    """PPO clip ε of the probability ratio."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the initial policy (0: none, no reference copy kept)."""
    max_grad_norm: float = 1.0
    """Gradient norm clip."""
    oracle_prover: bool = False
    """μ during training is the task's exact success chance (MRT-Search, MRT-Recheck), not
    the policy itself (the paper's): it tells the method from its estimator's noise."""
    star_keep: int = 1
    """mrt-star: traces kept per group (correct ones, most progress per block first)."""
    agent: BlockSamplingConfig = field(default_factory=BlockSamplingConfig)
    """How the policy samples its blocks (default: the env's)."""
    max_blocks: int | None = None
    """Block budget per trace (default: the env's)."""
    max_tokens: int | None = None
    """Token budget per trace (default: the env's; the authors: 16K-24K)."""
    train_set: str | None = None
    """Problems to train on (default: generated for synthetic envs, aime_1983_2023 else)."""
    data_path: str | None = None
    """Where a real training set's file lives."""
    eval_problems: int = 100
    """Held-out problems per evaluation (the env's own set; 0: no evaluation)."""
    eval_every: int = 0
    """Evaluate every N steps (0: only at the end)."""
    checkpoint_every: int = 10
    """Write checkpoint.safetensors every N steps (and at the end)."""
    save_rollouts: bool = False
    """Also write every trace sampled for training to rollouts.jsonl (the step, then the
    episode as mrt-bench writes it): what the policy wrote, step by step, to audit a run."""
    seed: int = 0
    """Seed of everything: problem choice, sampling, initialisation of optimizer state
    (0 to 2**32 - 1)."""
    out: Path = Path("runs/train")
    """Output folder: checkpoint.safetensors, metrics.jsonl, config.json, the final model."""
    resume: bool = False
    """Continue from out/checkpoint.safetensors (a run stopped before its first checkpoint
    starts again from step 0 in the same folder)."""
    overwrite: bool = False
    """Start afresh in an --out that holds a run (its log and checkpoint are deleted);
    without it (or --resume) such a folder is refused."""

    def __post_init__(self) -> None:
        # GRPO and MRT-STaR credit the outcome: the default scheme (block) reads as outcome.
        if self.algorithm != "mrt" and self.credit.scheme == "block":
            object.__setattr__(self, "credit", replace(self.credit, scheme="outcome"))
        super().__post_init__()

    def validate(self) -> None:
        """Raise a :class:`~mrt_env.errors.ConfigError` naming the first bad setting."""
        if self.resume and self.overwrite:
            raise ConfigError("--resume and --overwrite contradict each other; pass one")
        if self.env not in ENV_IDS:
            raise ConfigError(f"unknown env id {self.env!r}; choose from {', '.join(ENV_IDS)}")
        for name in (
            "group_size",
            "problems_per_step",
            "steps",
            "epochs",
            "star_keep",
            "checkpoint_every",
        ):
            if getattr(self, name) < 1:
                raise ConfigError(
                    f"--{name.replace('_', '-')} must be >= 1, got {getattr(self, name)}"
                )
        if self.group_size < 2 and self.algorithm != "mrt-star":
            raise ConfigError(
                f"--group-size must be >= 2 (advantages are relative to the group) unless "
                f"--algorithm mrt-star, got {self.group_size}"
            )
        if self.token_budget is not None and self.token_budget < 1:
            raise ConfigError(f"--token-budget must be >= 1, got {self.token_budget}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if self.oracle_prover and not _has_oracle(self.env):
            with_oracle = ", ".join(i for i in ENV_IDS if _has_oracle(i))
            raise ConfigError(
                f"--oracle-prover needs a task whose exact μ is known ({with_oracle}), "
                f"got --env {self.env}"
            )
        if self.credit.scheme == "prefix" and self.algorithm != "mrt":
            raise ConfigError(
                f"--credit.scheme prefix is MRT's credit (the paper's MRT-RL); --algorithm "
                f"{self.algorithm} does not use it: pass --algorithm mrt"
            )
        if self.credit.length_penalty and self.algorithm == "mrt-star":
            raise ConfigError(
                "--credit.length-penalty is the GRPO baseline's reward (outcome minus a "
                "per-token penalty); --algorithm mrt-star does not use it"
            )
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ConfigError(f"--weight-decay must be a number >= 0, got {self.weight_decay}")
        if not 0 <= self.warmup < 1:
            raise ConfigError(f"--warmup must be a fraction in [0, 1), got {self.warmup}")
        if not (math.isfinite(self.clip) and self.clip > 0):
            raise ConfigError(f"--clip must be a number > 0 (PPO's ε), got {self.clip}")
        if not (math.isfinite(self.kl_coef) and self.kl_coef >= 0):
            raise ConfigError(f"--kl-coef must be a number >= 0 (0: none), got {self.kl_coef}")
        if not (math.isfinite(self.max_grad_norm) and self.max_grad_norm > 0):
            raise ConfigError(f"--max-grad-norm must be a number > 0, got {self.max_grad_norm}")
        if not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be an integer from 0 to 2**32 - 1, got {self.seed}")
        model = self.model
        check_model_for(self.env, model.name)
        if model.backend not in ("transformers", "vllm"):
            raise ConfigError(
                f"--model.backend must be transformers or vllm (what samples the traces), "
                f"got {model.backend}"
            )
        if model.dtype not in ("float32", "bfloat16"):
            raise ConfigError(f"--model.dtype must be float32 or bfloat16, got {model.dtype}")
        if model.device == "auto":
            raise ConfigError(
                "--model.device must name where the policy trains (cpu, cuda, ...), got auto"
            )
        if model.backend == "vllm" and not model.device.startswith("cuda"):
            raise ConfigError(f"--model.backend vllm needs --model.device cuda, got {model.device}")
        if self.eval_problems < 0 or self.eval_every < 0:
            raise ConfigError(
                "--eval-problems and --eval-every must be >= 0, "
                f"got {self.eval_problems} and {self.eval_every}"
            )


def _has_oracle(env_id: str) -> bool:
    """Whether ``env_id``'s task knows its exact μ (an ``oracle_success``)."""
    from mrt_env.data.synthetic import TASKS

    task = TASKS.get(ENV_IDS[env_id].get("problems"))
    return task is not None and hasattr(task, "oracle_success")


PRESETS: dict[str, Preset] = {
    "deepscaler-mrt": Preset(
        "the authors' RL settings for a 1.5B model: the paper's MRT-RL (prefix scheme, the "
        "termination baseline), lr 1e-6 cosine, warmup 0.1, weight decay 0.01, 256 traces "
        "per step (64 problems x 4), temperature 0.9, 24K-token completions, bf16, vLLM "
        "rollouts (GPU)",
        TrainConfig(
            algorithm="mrt",
            credit=CreditConfig(scheme="prefix", baseline="termination"),
            weight_decay=0.01,
            env="MRT-AIME-v0",
            model=ModelConfig(
                "agentica-org/DeepScaleR-1.5B-Preview",
                backend="vllm",
                device="cuda",
                dtype="bfloat16",
            ),
            vllm_memory=0.35,
            lr=1e-6,
            lr_schedule="cosine",
            warmup=0.1,
            problems_per_step=64,
            group_size=4,
            agent=BlockSamplingConfig(temperature=0.9),
            max_tokens=24576,
            steps=500,
            train_set="aime_1983_2023",
            eval_problems=60,
            eval_every=50,
            checkpoint_every=10,
            out=Path("runs/deepscaler-mrt"),
        ),
    ),
}
"""Named settings: ``mrt-train --preset deepscaler-mrt [overrides]``."""

RENAMED_FLAGS: dict[str, str] = {
    "--alpha": "--credit.alpha",
    "--scheme": "--credit.scheme",
    "--baseline": "--credit.baseline",
    "--cut": "--credit.cut",
    "--length-penalty": "--credit.length-penalty",
}
"""Flags an earlier mrt-train took (the credit was flat) -> the flag now."""
