"""mrt-train: MRT (progress-credited policy gradient), GRPO, or MRT-STaR, in one loop.

    mrt-train --algorithm mrt --alpha 1.0              # the shipped tiny model on MRT-Search-v0
    mrt-train --algorithm grpo --out runs/grpo-s0
    mrt-train --algorithm mrt-star --steps 20
    mrt-train --resume --out runs/mrt                  # continue a killed run
    mrt-train --preset deepscaler-mrt                  # the authors' 1.5B settings (GPU, vLLM)

Every step: sample ``problems_per_step`` training problems, let the policy write
``group_size`` traces of each in the env (one block per step; J after every block from the
env's meta-prover, the policy itself), turn them into advantages, update. Read it top to
bottom in :func:`train`:

* ``grpo``: each trace's tokens get its group-normalised outcome advantage;
* ``mrt`` (``--scheme block``, ours): each *block's* tokens get the outcome advantage plus
  α times that block's progress minus the group's mean progress at that block (or
  A = R − J_j with ``--baseline termination``)
  (:func:`mrt_env.training.credit.mrt_block_advantages`);
* ``mrt --scheme prefix`` (the paper's MRT-RL): one trace per problem is cut at a random
  episode boundary j; ``group_size`` continuations of the prefix c_j are sampled, and each
  is credited with R − J_j, the gain over terminating at c_j (or normalised together
  with the terminate action, ``--baseline group``); the prefix is not trained
  (:func:`mrt_env.training.credit.prefix_advantages`);
* ``grpo --length-penalty λ``: GRPO on the outcome minus λ per token (the paper's
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

import json
import math
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import gymnasium as gym
import numpy as np

from mrt_env.agents import BlockSamplingConfig, LMAgent, play
from mrt_env.cli import CommandConfig, exit_status, parse_command, take_preset
from mrt_env.errors import ConfigError, DataFormatError, RunStateError
from mrt_env.extras import require
from mrt_env.lm.loading import DEFAULT_MODEL, ModelConfig, check_device
from mrt_env.metrics import anytime_regret, episode_regret
from mrt_env.registration import ENV_IDS, block_settings, check_model_for
from mrt_env.runfiles import (
    append_row,
    changed_settings,
    checkpoint_number,
    load_checkpoint,
    locked,
    read_rows,
    restore_optimizer,
    restore_weights,
    save_checkpoint,
    write_text_atomic,
)
from mrt_env.schedule import lr_factor
from mrt_env.training.credit import CreditConfig, credit_by_episodes
from mrt_env.training.losses import clipped_policy_loss, sequence_nll
from mrt_env.training.rollouts import RolloutBatch, TokenBatch, collect, collect_from_prefixes
from mrt_env.training.vllm_sync import WORKER_EXTENSION, sync_weights
from mrt_env.types import EpisodeRecord

if TYPE_CHECKING:
    from torch import Tensor
    from transformers import PreTrainedModel

__all__ = ["TrainConfig", "main", "train"]

CHECKPOINT = "checkpoint.safetensors"
OLD_CHECKPOINT = "checkpoint.pt"
"""Where mrt-env wrote its checkpoints before (torch.save): read only if it holds nothing
but tensors and plain values (``torch.load(weights_only=True)``)."""
METRICS = "metrics.jsonl"
ROLLOUTS = "rollouts.jsonl"
"""With ``save_rollouts``: one row per trace sampled for training."""
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
    alpha: float = 1.0
    """mrt: weight α of a block's progress in its advantage."""
    scheme: Literal["block", "prefix"] = "block"
    """mrt: how credit is given. block (ours): every block's tokens get the outcome
    advantage plus α times that block's own progress. prefix (the paper's MRT-RL): cut a
    trace of each problem at a random episode boundary j, sample --group-size
    continuations of the prefix c_j, and credit each with R − J_j (the reward of
    terminating at c_j); the prefix's tokens are not trained."""
    baseline: Literal["group", "termination"] = "group"
    """mrt: what a block (or continuation) is compared with. block scheme: the group's mean
    progress at the block index (group), or A = R − J_j (termination). prefix scheme:
    group normalises the m continuations and the terminate action together (the paper's
    Fig. 6); termination is A = R − J_j (the authors' RL recipe)."""
    cut: Literal["uniform", "nonzero"] = "uniform"
    """mrt --scheme prefix: where a trace is cut, uniformly over its episode boundaries
    0 … k−1, or over 1 … k−1 (never the bare prompt)."""
    length_penalty: float = 0.0
    """grpo: the outcome reward minus this much per token of the trace (the paper's
    length-penalty baseline); 0: none."""
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

    @property
    def credit(self) -> CreditConfig:
        """The credit scheme these flags select (mrt-star, which has none, reads as grpo's)."""
        scheme = "outcome" if self.algorithm != "mrt" else self.scheme
        return CreditConfig(
            scheme=scheme,
            alpha=self.alpha,
            baseline=self.baseline,
            length_penalty=self.length_penalty,
        )

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
        if self.scheme == "prefix" and self.algorithm != "mrt":
            raise ConfigError(
                f"--scheme prefix is MRT's credit (the paper's MRT-RL); --algorithm "
                f"{self.algorithm} does not use it: pass --algorithm mrt"
            )
        if self.cut != "uniform" and self.scheme != "prefix":
            raise ConfigError(
                "--cut chooses where --scheme prefix cuts traces; add --scheme prefix"
            )
        if not (math.isfinite(self.length_penalty) and self.length_penalty >= 0):
            raise ConfigError(f"--length-penalty must be a number >= 0, got {self.length_penalty}")
        if self.length_penalty and self.algorithm != "grpo":
            raise ConfigError(
                "--length-penalty is the GRPO baseline's reward (outcome minus a per-token "
                f"penalty); --algorithm {self.algorithm} does not use it"
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


# --------------------------------------------------------------------------------------------
# The pieces the loop uses


def load_policy(config: TrainConfig) -> PreTrainedModel:
    """The trainable policy as a TransformersLM (its ``.model`` is what is optimised)."""
    from mrt_env.lm import load_lm

    return load_lm(replace(config.model, backend="transformers"), max_batch_size=64)


def load_rollout_lm(config: TrainConfig, policy: Any) -> Any:
    """What samples traces and plays μ: the policy itself, or a vLLM engine of it."""
    if config.model.backend == "transformers":
        return policy
    from mrt_env.lm import load_lm

    # vLLM runs its model in another process: new weights reach it through a file that the
    # worker extension reloads (vllm_sync.sync_weights).
    return load_lm(
        config.model,
        seed=config.seed,
        gpu_memory_utilization=config.vllm_memory,
        worker_extension_cls=WORKER_EXTENSION,
    )


def learning_rate(config: TrainConfig, step: int) -> float:
    """The learning rate of 0-based ``step``: warmup, then constant or cosine."""
    warm = int(config.warmup * config.steps)
    if config.lr_schedule == "cosine":
        return config.lr * lr_factor(step, config.steps, warm, floor=0.0)
    return config.lr * ((step + 1) / warm if step < warm else 1.0)


def _has_oracle(env_id: str) -> bool:
    """Whether ``env_id``'s task knows its exact μ (an ``oracle_success``)."""
    from mrt_env.data.synthetic import TASKS

    task = TASKS.get(ENV_IDS[env_id].get("problems"))
    return task is not None and hasattr(task, "oracle_success")


def training_problems(config: TrainConfig, count: int = 2000) -> list[Any]:
    """The problems trained on: never the env's held-out evaluation set."""
    task = ENV_IDS[config.env]["problems"]
    from mrt_env.data.synthetic import TASKS
    from mrt_env.data.synthetic import training_problems as synthetic_training_problems

    if config.train_set is None and task in TASKS:
        return synthetic_training_problems(task, seed=config.seed, count=count)
    from mrt_env.data import load_problems

    return load_problems(config.train_set or "aime_1983_2023", path=config.data_path)


def make_env(config: TrainConfig, lm: Any, problems: list[Any] | None, num_envs: int) -> Any:
    """A vector env of ``config.env`` whose meta-prover is the policy (or the oracle)."""
    kwargs: dict[str, Any] = {"prover": lm}
    if config.oracle_prover and problems is not None:  # evaluation keeps the model's μ
        from mrt_env.data.synthetic import get_task
        from mrt_env.prover import OracleProver

        task = get_task(ENV_IDS[config.env]["problems"])
        kwargs["prover"] = OracleProver(task.oracle_success, lm=lm)
    if problems is not None:
        kwargs["problems"] = problems
    for name in ("max_blocks", "max_tokens"):
        if getattr(config, name) is not None:
            kwargs[name] = getattr(config, name)
    return gym.make_vec(config.env, num_envs=num_envs, **kwargs)


def make_agent(config: TrainConfig, lm: Any, seed: int) -> LMAgent:
    return LMAgent(lm, seed=seed, **config.agent.over(block_settings(ENV_IDS[config.env])))


def token_logprobs(model: PreTrainedModel, batch: TokenBatch) -> Tensor:
    """log π(token t | tokens < t) for t = 1 … T−1: [B, T−1]."""
    from mrt_env.lm.transformers_lm import next_token_logprobs

    logits = model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits
    return next_token_logprobs(logits, batch.input_ids)  # [B, T-1]


def advantages(config: TrainConfig, batch: TokenBatch) -> Tensor:
    """Per-token advantages [B, T−1] aligned with :func:`token_logprobs` (column t: token
    t + 1's), by :func:`~mrt_env.training.credit.credit_by_episodes` on the whole rows."""
    credit = credit_by_episodes(
        config.credit,
        rewards=batch.outcome,
        success_probs=batch.success_probs,
        first_tokens=batch.first_tokens,
        lengths=batch.lengths,
        groups=batch.groups,
        width=batch.input_ids.shape[1],
        tokens=batch.tokens,
    )  # [B, T]
    return credit[:, 1:].to(batch.input_ids.device)  # the first token is never predicted


def star_selection(batch: RolloutBatch, keep: int) -> RolloutBatch:
    """MRT-STaR's filter: per group, the correct traces with the most progress per block
    ((J_k − J_0) / k: the same gain in fewer blocks ranks first)."""
    kept: list[tuple[EpisodeRecord, int]] = []
    pairs = list(zip(batch.traces, batch.groups, strict=True))
    for group in sorted(set(batch.groups)):
        good = [t for t, g in pairs if g == group and t.correct]
        good.sort(key=lambda t: -(t.success_probs[-1] - t.success_probs[0]) / len(t.blocks))
        kept += [(t, group) for t in good[:keep]]
    traces, groups = [t for t, _ in kept], [g for _, g in kept]
    return RolloutBatch(traces, groups, batch.sampled_tokens, batch.stats)


def evaluate(config: TrainConfig, lm: Any, *, seed: int) -> dict[str, Any]:
    """Held-out problems of the env (its own set), one sample each at the run's temperature."""
    n = config.eval_problems
    env = make_env(config, lm, None, num_envs=min(n, 50))
    env.prover.clear_cache()
    played = play(env, make_agent(config, lm, seed), range(n), seed=seed)
    env.close()
    # An episode the grader reached no verdict on is left out (and counted), not scored 0.
    records = [r for r in played if r.correct is not None]
    if not records:
        return {"eval_problems": n, "undecided": len(played)}
    max_blocks = env.envs[0].config.max_blocks
    used = np.array([len(r.blocks) for r in records])
    committed = np.array([r.correct for r in records])
    return {
        "eval_problems": n,
        "accuracy": float(committed.mean()),
        "accuracy_at_blocks": {
            str(b): float(np.mean(committed & (used <= b)))
            for b in sorted({max(1, max_blocks // 4), max(1, max_blocks // 2), max_blocks})
        },
        "blocks": float(used.mean()),
        "regret": float(np.mean([episode_regret(r.success_probs).total for r in records])),
        "anytime_regret": float(
            np.mean([anytime_regret(r.success_probs, r.correct, max_blocks) for r in records])
        ),
        "tokens": float(np.mean([r.compute_tokens[-1] for r in records])),
        "undecided": len(played) - len(records),
    }


# --------------------------------------------------------------------------------------------
# The loop


def train(config: TrainConfig) -> Path:
    """Run (or resume) ``config``; returns the output folder (the final model in ``model/``).

    The folder is locked for the run. A folder that already holds a run is refused unless
    the command says what to do with it (``--resume`` or ``--overwrite``)."""
    check_device(config.model.device, flag="--model.device")  # before anything is written
    with locked(Path(config.out), "mrt-train"):
        return _train_locked(config)


def _train_locked(config: TrainConfig) -> Path:
    torch = require("torch", extra="hf", feature="the trainers")
    from tqdm import tqdm

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    files = (out / CHECKPOINT, out / OLD_CHECKPOINT, out / METRICS, out / ROLLOUTS)
    held = [p for p in files if p.exists() and p.stat().st_size]
    if held and not config.resume:
        if not config.overwrite:
            raise RunStateError(
                f"{out} holds a run ({', '.join(p.name for p in held)}); pass --resume to "
                "continue it, --overwrite to start afresh, or choose another --out"
            )
        for path in held:
            path.unlink()
    step, sampled, owed, state = 0, 0, False, None
    checkpoint = out / CHECKPOINT
    found = [p for p in (checkpoint, out / OLD_CHECKPOINT) if p.exists()]
    if config.resume and found:  # the file is read and checked before the model loads
        state = _read_checkpoint(found[0], config)
        step, sampled = state["step"], state["sampled_tokens"]
    elif config.resume and not held:
        raise RunStateError(
            f"--resume: {out} holds no run to continue (no {CHECKPOINT}, no {METRICS}); "
            "run without --resume"
        )
    elif config.resume:  # stopped before its first checkpoint: nothing to load, folder kept
        print(
            f"note: {out} holds no checkpoint (the run stopped before its first); "
            "starting from step 0 in the same folder",
            file=sys.stderr,
        )
    torch.manual_seed(config.seed)
    lm = load_policy(config)
    model = lm.model
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay
    )
    reference = None
    if config.kl_coef > 0:
        import copy

        # The initial policy, taken before a checkpoint's weights are loaded.
        reference = copy.deepcopy(model).eval().requires_grad_(False)
    if state is not None:
        restore_weights(model, state.get("model"), found[0], fix=_BAD_CHECKPOINT)
        restore_optimizer(optimizer, state.get("optimizer"), found[0], fix=_BAD_CHECKPOINT)
    if config.resume:
        for path in (out / METRICS, out / ROLLOUTS):
            if path.exists():
                _drop_rows_after(path, step)  # steps logged after the checkpoint rerun
        # A kill between the checkpoint and its step's evaluation: that evaluation is owed.
        owed = _eval_due(config, step, sampled) and not _has_eval(out / METRICS, step)
    (out / "config.json").write_text(json.dumps(_comparable(config), indent=2) + "\n")

    problems = training_problems(config)
    width = config.problems_per_step * config.group_size
    rollout_lm = load_rollout_lm(config, lm)
    if rollout_lm is not lm and step:
        sync_weights(rollout_lm.engine, model.named_parameters())  # resumed weights
    env = make_env(config, rollout_lm, problems, num_envs=width)
    writer = _tensorboard(out)
    log = (out / METRICS).open("a", encoding="utf-8")
    traces_log = (out / ROLLOUTS).open("a", encoding="utf-8") if config.save_rollouts else None
    by_tokens = config.token_budget is not None  # the bar counts what ends the run
    bar = tqdm(
        total=config.token_budget if by_tokens else config.steps,
        initial=sampled if by_tokens else step,
        unit="tok" if by_tokens else "step",
        unit_scale=by_tokens,
        desc=f"mrt-train {config.algorithm}",
    )
    budget = math.inf if config.token_budget is None else config.token_budget

    def log_eval() -> None:
        result = {
            "step": step,
            "sampled_tokens": sampled,
            "eval": True,
            **evaluate(config, rollout_lm, seed=config.seed + 7),
        }
        append_row(log, result)
        _scalars(writer, {f"eval/{k}": v for k, v in result.items()}, step)
        tqdm.write(
            f"step {step}: "
            + json.dumps({k: result.get(k) for k in ("accuracy", "blocks", "anytime_regret")})
        )

    try:
        if owed:
            log_eval()
        while step < config.steps and sampled < budget:
            start = time.perf_counter()
            # Everything random in a step is a function of (seed, step): resumable exactly.
            rng = np.random.default_rng([config.seed, step])
            chosen = rng.choice(len(problems), size=config.problems_per_step, replace=False)
            agent = make_agent(config, rollout_lm, seed=int(rng.integers(2**31)))
            model.eval()
            rollouts = (
                partial(collect_from_prefixes, rng=rng, cut=config.cut)
                if config.scheme == "prefix"
                else collect
            )
            batch = rollouts(
                env,
                agent,
                chosen.tolist(),
                group_size=config.group_size,
                seed=int(rng.integers(2**31)),
            )
            sampled += batch.sampled_tokens
            if config.algorithm == "mrt-star":
                batch = star_selection(batch, config.star_keep)
            row: dict[str, Any] = {"step": step + 1, "sampled_tokens": sampled, **batch.stats}
            if traces_log is not None:
                lines = (json.dumps({"step": step + 1, **t.to_row()}) for t in batch.traces)
                traces_log.write("".join(f"{line}\n" for line in lines))
                traces_log.flush()
            for group in optimizer.param_groups:
                group["lr"] = row["lr"] = learning_rate(config, step)
            if batch.traces:
                row.update(_update(config, model, optimizer, reference, batch, lm.tokenizer))
                if rollout_lm is not lm:
                    sync_weights(rollout_lm.engine, model.named_parameters())
            step += 1
            row["seconds"] = time.perf_counter() - start
            row["tokens_per_s"] = batch.sampled_tokens / row["seconds"]
            if torch.cuda.is_available() and config.model.device.startswith("cuda"):
                row["gpu_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
            append_row(log, row)
            _scalars(writer, row, step)
            bar.update(batch.sampled_tokens if by_tokens else 1)
            bar.set_postfix(acc=f"{row['accuracy']:.2f}", blocks=f"{row['blocks']:.1f}")
            if step % config.checkpoint_every == 0 or _last(config, step, sampled):
                save_checkpoint(
                    {
                        "config": _comparable(config),
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "step": step,
                        "sampled_tokens": sampled,
                    },
                    checkpoint,
                )
                (out / OLD_CHECKPOINT).unlink(missing_ok=True)  # resumed from, now superseded
            if _eval_due(config, step, sampled):
                log_eval()
    finally:
        bar.close()
        log.close()
        if traces_log is not None:
            traces_log.close()
        env.close()
        if writer is not None:
            writer.close()
    model.save_pretrained(out / "model")
    lm.tokenizer.save_pretrained(out / "model")
    return out


def _update(config, model, optimizer, reference, batch, tokenizer) -> dict[str, float]:
    """One batch's gradient steps; returns the loss and statistics."""
    torch = require("torch", extra="hf", feature="the trainers")
    device = next(model.parameters()).device
    t = batch.tensors(tokenizer, device)
    mask = t.written[:, 1:]  # [B, T-1]: tokens the policy wrote
    model.train()
    stats: dict[str, float] = {}
    if config.algorithm == "mrt-star":
        for _ in range(config.epochs):
            loss = sequence_nll(token_logprobs(model, t), mask)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
        model.eval()
        return {"loss": float(loss.detach()), "kept": len(batch.traces)}
    adv = advantages(config, t)  # [B, T-1]
    with torch.no_grad():
        old = token_logprobs(model, t)  # [B, T-1]: the sampling policy (on-policy)
        ref = token_logprobs(reference, t) if reference is not None else None
    for _ in range(config.epochs):
        logp = token_logprobs(model, t)
        loss, stats = clipped_policy_loss(
            logp, old, adv, mask, clip=config.clip, ref_logprobs=ref, kl_coef=config.kl_coef
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
        optimizer.step()
    model.eval()
    written = mask.sum().clamp(min=1)
    return {
        "loss": float(loss.detach()),
        "grad_norm": float(norm),
        **stats,
        "mean_abs_advantage": float((adv.abs() * mask).sum() / written),
        # Near 0 under a group baseline; far from 0 when a baseline sits below the rewards.
        "mean_advantage": float((adv * mask).sum() / written),
    }


_BAD_CHECKPOINT = "pass --overwrite to start afresh, or choose another --out"


def _read_checkpoint(path: Path, config: TrainConfig) -> dict[str, Any]:
    """The checkpoint at ``path``, its settings checked against ``config`` and its step and
    tokens sampled against their types (the weights and optimizer state are checked as
    they load). Every way a checkpoint can be bad is one :class:`DataFormatError` (or a
    :class:`RunStateError` for other settings) naming the file."""
    fix = _BAD_CHECKPOINT
    state = load_checkpoint(path, fix=fix)
    saved = state.get("config")
    try:
        what = changed_settings(saved, _comparable(config)) if isinstance(saved, dict) else None
    except (TypeError, ValueError):  # settings that are not plain JSON values
        what = None
    if what is None:
        raise DataFormatError(f"{path}: its settings (config) are missing or unreadable; {fix}")
    if what:
        raise RunStateError(f"--resume: {path} was written by a run with other settings ({what})")
    checkpoint_number(state, "step", path, fix=fix)
    checkpoint_number(state, "sampled_tokens", path, fix=fix)
    return state


def _last(config: TrainConfig, step: int, sampled: int) -> bool:
    """Whether ``step`` ends the run (its step count or its token budget)."""
    budget = math.inf if config.token_budget is None else config.token_budget
    return step >= config.steps or sampled >= budget


def _eval_due(config: TrainConfig, step: int, sampled: int) -> bool:
    """Whether an evaluation follows ``step``: every ``eval_every`` steps, and at the end."""
    if not config.eval_problems or step == 0:
        return False
    return _last(config, step, sampled) or bool(config.eval_every and step % config.eval_every == 0)


def _has_eval(path: Path, step: int) -> bool:
    """Whether the log holds the evaluation row of ``step``."""
    return any(
        r.get("eval") and r["step"] == step for r in read_rows(path, key="step", tool="mrt-train")
    )


def _drop_rows_after(path: Path, step: int) -> None:
    """Keep the log rows of steps up to ``step`` (the checkpoint's): the steps after it are
    run again on resume, and must not be logged twice."""
    rows = [r for r in read_rows(path, key="step", tool="mrt-train") if r["step"] <= step]
    write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def _comparable(config: TrainConfig) -> dict[str, Any]:
    """The settings a checkpoint belongs to (what may change on resume is left out)."""
    # A resumed run may change these.
    free = (
        "resume",
        "overwrite",
        "out",
        "steps",
        "token_budget",
        "eval_every",
        "eval_problems",
        "checkpoint_every",
        "save_rollouts",
        "threads",
    )
    settings = {k: v for k, v in asdict(config).items() if k not in free}
    # Settings added later are left out at their defaults, so older runs still resume.
    for name, default in _LATER_DEFAULTS.items():
        if settings.get(name) == default:
            del settings[name]
    return json.loads(json.dumps(settings, default=str))


_LATER_DEFAULTS = {"scheme": "block", "cut": "uniform", "length_penalty": 0.0, "weight_decay": 0.0}


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: metrics.jsonl has everything
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _scalars(writer: Any, row: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for key, value in row.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(key, value, step)


PRESETS: dict[str, TrainConfig] = {
    # The authors' RL settings for a 1.5B model: the paper's MRT-RL (prefix scheme, the
    # termination baseline), lr 1e-6 cosine, warmup 0.1, weight decay 0.01, 256 traces per
    # step (64 problems x 4), temperature 0.9, 24K-token completions, bf16, vLLM rollouts.
    "deepscaler-mrt": TrainConfig(
        algorithm="mrt",
        scheme="prefix",
        baseline="termination",
        weight_decay=0.01,
        env="MRT-AIME-v0",
        model=ModelConfig(
            "agentica-org/DeepScaleR-1.5B-Preview", backend="vllm", device="cuda", dtype="bfloat16"
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
}
"""Named settings: ``mrt-train --preset deepscaler-mrt [overrides]``."""


def main(argv: list[str] | None = None) -> int:
    """The ``mrt-train`` command; ``--preset NAME`` first sets the defaults."""
    try:
        name, args = take_preset(sys.argv[1:] if argv is None else argv, list(PRESETS))
    except ConfigError as exc:
        print(f"mrt-train: error: {exc}", file=sys.stderr)
        return 2
    default = PRESETS[name] if name else None
    config = parse_command(TrainConfig, "mrt-train", args, description=__doc__, default=default)
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
