"""Train with TRL on mrt_env's credit: MRT per block (``--trainer mrt``) or progress rewards.

The defaults are the authors' RL settings for a 1.5B model (``mrt-train --preset
deepscaler-mrt``): DeepScaleR-1.5B-Preview on the AIME 1983-2023 pool, lr 1e-6
cosine with 10% warmup, weight decay 0.01, 4 generations per prompt, 256 traces per step,
temperature 0.9, 24K completion tokens, bf16, vLLM rollouts (TRL's server mode). μ, the
meta-prover, samples its forced answers from the same vLLM server, which TRL keeps in sync
with the policy.

8 GPUs: vLLM on one, training on the other seven::

    CUDA_VISIBLE_DEVICES=7 trl vllm-serve --model agentica-org/DeepScaleR-1.5B-Preview &
    CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6 accelerate launch \\
        --config_file examples/accelerate/multi_gpu.yaml --num_processes 7 \\
        examples/trl_grpo_mrt.py --data-path path/to/data

(For DeepSpeed ZeRO-2 instead of plain data parallelism, use the ``zero2.yaml`` that ships
in TRL's ``trl/accelerate_configs/``.) On a CPU, a 2-step smoke run with the shipped tiny model
on MRT-Search problems (μ = the tiny model's likelihood prover, as ``gym.make("MRT-Search-v0")``)::

    python examples/trl_grpo_mrt.py --cpu-smoke

What this trains:

* ``--trainer mrt``: ``MRTGRPOTrainer``, MRT proper. Every episode's tokens get their own
  advantage (``--scheme block``: the outcome advantage plus α times the episode's progress
  against its group, or ``--baseline termination``), computed by the same function as
  ``mrt-train``; ``--scheme outcome`` is GRPO through the same trainer.
* ``--trainer grpo`` (default): TRL's own ``GRPOTrainer`` on reward functions. The progress
  summed over a completion telescopes to J_end − J_0, so under GRPO's group normalisation the
  reward is the outcome reshaped by μ's confidence at the end of the stream, credited to
  every token alike (see ``make_progress_reward``). ``--reward outcome`` is the GRPO baseline.

With vLLM's rollouts on a CPU (vLLM's CPU build; the server mode's command: docs, Training)::

    python examples/trl_grpo_mrt.py --cpu-smoke --trainer mrt --use-vllm --vllm-mode colocate

Two processes on a CPU (gloo), the MRT trainer on the smoke settings::

    accelerate launch --cpu --num_processes 2 examples/trl_grpo_mrt.py --cpu-smoke --trainer mrt
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from mrt_env.cli import CommandConfig, parse_command
from mrt_env.episodes import EpisodeConfig
from mrt_env.errors import ConfigError
from mrt_env.integrations.trl import (
    DEEPSCALER_TEMPLATE,
    TRLServerLM,
    make_progress_reward,
    outcome_reward,
    problems_dataset,
)
from mrt_env.lm.loading import DEFAULT_MODEL, load_lm, shipped_model_folder
from mrt_env.prover import ProverConfig, make_prover
from mrt_env.registration import ENV_IDS, block_settings, with_prover
from mrt_env.threads import set_threads
from mrt_env.training.config import PRESETS, TrainConfig
from mrt_env.training.credit import CreditConfig
from mrt_env.training.loop import training_problems

PRESET = PRESETS["deepscaler-mrt"].settings


@dataclass(frozen=True)
class Args(CommandConfig):
    """Settings of a TRL GRPO run on mrt_env's rewards (defaults: the authors' 1.5B run)."""

    cpu_smoke: bool = False
    """Start from the CPU smoke settings (tiny model, MRT-Search, 2 steps); flags still apply."""
    model: str = PRESET.model.name
    """The policy: hub id or folder (mrt-env/tiny: the shipped tiny model)."""
    env: str = PRESET.env
    """The env id whose problems (and, for synthetic tasks, text format and μ) are used."""
    train_set: str | None = PRESET.train_set
    """Problems to train on (default for synthetic envs: fresh generated ones)."""
    data_path: str | None = None
    """Where the training set's file lives (a folder holding aime_1983_2023.json, or that file)."""
    conversational: bool = True
    """Chat prompts rendered with the model's chat template (R1-style models need it)."""
    prompt_template: str | None = DEEPSCALER_TEMPLATE
    """The user message, with {question}; None: the env's (synthetic) or a plain one."""
    trainer: Literal["grpo", "mrt"] = "grpo"
    """mrt: MRTGRPOTrainer, per-token MRT credit (--credit.*); grpo: TRL's GRPOTrainer on
    reward functions (--reward)."""
    credit: CreditConfig = field(default_factory=CreditConfig)
    """--trainer mrt: the credit, as mrt-train's (scheme block or outcome; the prefix
    scheme samples continuations, which GRPOTrainer does not). --trainer grpo: only
    --credit.alpha, the weight of the progress reward."""
    reward: Literal["progress", "outcome"] = "progress"
    """--trainer grpo: outcome + α·progress (two reward functions), or outcome (GRPO)."""
    prover: ProverConfig = field(
        default_factory=lambda: ProverConfig(kind="forced", max_answer_tokens=256)
    )
    """μ, over the env's own settings: forced-answer sampling (the paper's) or the gold
    answer's likelihood."""
    every_prefix: bool = False
    """Score J at every episode boundary (logs episodes); the reward is the same (it
    telescopes), so the default scores only the empty prefix and the whole stream."""
    episodes: EpisodeConfig = field(
        default_factory=lambda: EpisodeConfig(max_steps=49, group_size=5)
    )
    """How a completion is cut into episodes (--trainer mrt, and --every-prefix); the
    authors' R1 analysis: at most 49 boundaries, every 5 episodes merged. The smoke run:
    lines, the synthetic tasks' blocks."""
    lr: float = PRESET.lr
    """Peak learning rate."""
    lr_schedule: Literal["constant", "cosine"] = PRESET.lr_schedule
    """After warmup: constant, or cosine to 0."""
    warmup: float = PRESET.warmup
    """Linear warmup, as a fraction of the steps."""
    weight_decay: float = PRESET.weight_decay
    """AdamW weight decay."""
    num_generations: int = PRESET.group_size
    """Completions per prompt (GRPO's group)."""
    traces_per_step: int = PRESET.problems_per_step * PRESET.group_size
    """Completions per optimizer step, over all processes (rounded to what the processes
    and per-device batch allow)."""
    per_device_batch_size: int = 4
    """Completions per process per forward/backward pass."""
    max_completion_length: int = PRESET.max_tokens or 16384
    """Tokens a completion may use."""
    temperature: float = PRESET.agent.temperature or 0.9
    """Rollout sampling temperature."""
    top_p: float = 1.0
    """Rollout nucleus sampling."""
    beta: float = PRESET.kl_coef
    """KL coefficient to the initial policy (0: no reference model is kept)."""
    steps: int = PRESET.steps
    """Optimizer steps."""
    device: Literal["cuda", "cpu"] = "cuda"
    """Where to train."""
    bf16: bool = PRESET.model.dtype == "bfloat16"
    """bf16 mixed precision (master weights stay float32, which a 1e-6 step needs)."""
    use_vllm: bool = PRESET.model.backend == "vllm"
    """Roll out (and run μ) on a `trl vllm-serve` server; else in the training process."""
    vllm_mode: Literal["server", "colocate"] = "server"
    """--use-vllm: TRL's `trl vllm-serve` server, or an engine in each training process
    (with --trainer mrt, μ runs on the same engine either way)."""
    vllm_server_url: str = "http://localhost:8000"
    """The `trl vllm-serve` server."""
    save_steps: int = PRESET.checkpoint_every
    """Checkpoint every N steps."""
    report_to: str = "none"
    """Where TRL reports metrics: none, tensorboard, wandb, ..."""
    seed: int = PRESET.seed
    """Seed of the run and of the synthetic training problems."""
    out: Path = Path("runs/trl-grpo-mrt")
    """Output folder (checkpoints, the final model)."""
    resume: bool = False
    """Continue from the last checkpoint in --out (a killed run loses at most save_steps)."""

    def validate(self) -> None:
        credit = self.credit
        if self.trainer == "grpo" and (credit.scheme, credit.baseline) != ("block", "group"):
            raise ConfigError(
                "--credit.scheme and --credit.baseline choose MRTGRPOTrainer's credit: add "
                "--trainer mrt"
            )
        if credit.scheme == "prefix":
            raise ConfigError(
                "--credit.scheme prefix samples continuations of a prefix, which GRPOTrainer "
                "does not: use mrt-train for the paper's MRT-RL"
            )
        if self.trainer == "mrt" and self.reward != "progress":
            raise ConfigError(
                "--reward chooses --trainer grpo's reward functions; with --trainer mrt, GRPO "
                "is --credit.scheme outcome"
            )


SMOKE = replace(
    Args(),
    cpu_smoke=True,
    model=DEFAULT_MODEL,
    env="MRT-Search-v0",
    train_set=None,
    conversational=False,
    prompt_template=None,
    prover=ProverConfig(kind="likelihood"),
    every_prefix=True,
    episodes=EpisodeConfig("lines"),
    lr=TrainConfig.lr,
    lr_schedule="constant",
    warmup=0.0,
    num_generations=4,
    traces_per_step=4,
    per_device_batch_size=4,
    max_completion_length=48,
    temperature=block_settings(ENV_IDS["MRT-Search-v0"])["temperature"],
    beta=0.0,
    steps=2,
    device="cpu",
    bf16=False,
    use_vllm=False,
    save_steps=2,
    out=Path("runs/trl-smoke"),
)
"""``--cpu-smoke``: the shipped tiny model on MRT-Search problems for 2 steps."""


def prover_config(args: Args) -> ProverConfig:
    """μ's settings: the env's, with the --prover.* flags over them (as in mrt-train)."""
    return ProverConfig.from_dict(with_prover(ENV_IDS[args.env], args.prover)["prover_config"])


def build_prover(args: Args, tokenizer: object):
    """μ on the vLLM server (the live policy), or on a frozen copy of the model in process."""
    if args.use_vllm and args.vllm_mode == "server":
        try:
            from trl.generation.vllm_client import VLLMClient
        except ImportError:  # TRL < 1.0 kept it in trl.extras
            from trl.extras.vllm_client import VLLMClient
        # Generation only: no weight-update communicator, so every process may open one.
        lm = TRLServerLM(
            VLLMClient(base_url=args.vllm_server_url, connection_timeout=240), tokenizer
        )
    else:
        lm = load_lm(args.model, device=args.device, dtype="bfloat16" if args.bf16 else "float32")
    return make_prover(lm, config=prover_config(args))


def main(args: Args) -> None:
    set_threads(args.threads)  # every command's --threads, before any model loads
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    model = shipped_model_folder() if args.model == DEFAULT_MODEL else args.model
    tokenizer = AutoTokenizer.from_pretrained(model)
    problems = training_problems(
        TrainConfig(
            env=args.env, train_set=args.train_set, data_path=args.data_path, seed=args.seed
        )
    )
    dataset = problems_dataset(
        problems, prompt_template=args.prompt_template, conversational=args.conversational
    )
    rewards: list = [outcome_reward]
    if args.trainer == "grpo" and args.reward == "progress":
        rewards.append(
            make_progress_reward(
                build_prover(args, tokenizer),
                alpha=args.credit.alpha,
                include_outcome=False,
                every_prefix=args.every_prefix,
                rule=args.episodes,
                problems=problems,
            )
        )
    world = int(os.environ.get("WORLD_SIZE", "1"))
    accumulation = max(1, round(args.traces_per_step / (args.per_device_batch_size * world)))
    print(
        f"{world} process(es) x {args.per_device_batch_size} x {accumulation} accumulation = "
        f"{world * args.per_device_batch_size * accumulation} completions per step",
        file=sys.stderr,
    )
    schedule = (
        args.lr_schedule
        if args.warmup == 0 or args.lr_schedule == "cosine"
        else ("constant_with_warmup")
    )
    config = GRPOConfig(
        output_dir=str(args.out),
        max_steps=args.steps,
        learning_rate=args.lr,
        lr_scheduler_type=schedule,
        warmup_steps=args.warmup,  # a float below 1 is a fraction of max_steps
        weight_decay=args.weight_decay,
        per_device_train_batch_size=args.per_device_batch_size,
        gradient_accumulation_steps=accumulation,
        num_generations=args.num_generations,
        max_completion_length=args.max_completion_length,
        temperature=args.temperature,
        top_p=args.top_p,
        beta=args.beta,
        bf16=args.bf16,
        use_cpu=args.device == "cpu",
        gradient_checkpointing=args.device != "cpu",
        use_vllm=args.use_vllm,
        vllm_mode=args.vllm_mode,
        vllm_server_base_url=args.vllm_server_url,
        logging_steps=1,
        save_steps=args.save_steps,
        report_to=args.report_to,
        seed=args.seed,
    )
    common = {
        "model": model,
        "reward_funcs": rewards,
        "args": config,
        "train_dataset": dataset,
        "processing_class": tokenizer,
    }
    if args.trainer == "mrt":
        from mrt_env.integrations.trl.trainer import MRTGRPOTrainer, policy_lm

        credit = args.credit
        prover = None
        if credit.uses_j and args.use_vllm:  # μ on the run's engine, once TRL has built it
            prover = lambda t: make_prover(policy_lm(t), config=prover_config(args))  # noqa: E731
        elif credit.uses_j:
            prover = build_prover(args, tokenizer)
        trainer = MRTGRPOTrainer(
            **common, prover=prover, credit=credit, episodes=args.episodes, problems=problems
        )
    else:
        trainer = GRPOTrainer(**common)
    trainer.train(resume_from_checkpoint=True if args.resume else None)
    trainer.save_model(str(args.out))
    for row in trainer.state.log_history:
        shown = {
            k: v
            for k, v in row.items()
            if k.startswith(("rewards/", "progress_", "mrt/")) or k == "step"
        }
        if len(shown) > 1:
            print(shown)


if __name__ == "__main__":
    argv = sys.argv[1:]
    default = SMOKE if "--cpu-smoke" in argv else None
    args = parse_command(Args, "trl_grpo_mrt.py", argv, default=default, description=__doc__)
    sys.exit(2 if args is None else main(args))
