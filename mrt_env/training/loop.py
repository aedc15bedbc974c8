"""The ``mrt-train`` loop: sample, credit, update, log, checkpoint, evaluate.

:func:`train` reads top to bottom: every step samples ``problems_per_step`` training
problems, lets the policy write ``group_size`` traces of each in the env (one block per
step; J after every block from the env's meta-prover), turns them into advantages
(:func:`advantages`, by :mod:`mrt_env.training.credit`) or, for MRT-STaR, keeps the best
traces (:func:`star_selection`), and updates the policy. The run folder (checkpoint, logs,
``--resume`` and ``--overwrite``) is :mod:`mrt_env.training.bookkeeping`'s; the settings are
:class:`~mrt_env.training.config.TrainConfig`; the command is :mod:`mrt_env.training.cli`.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from mrt_env.agents import LMAgent, play
from mrt_env.extras import require
from mrt_env.lm.loading import check_device
from mrt_env.metrics import anytime_regret, episode_regret
from mrt_env.registration import ENV_IDS, block_settings, with_prover
from mrt_env.runfiles import locked
from mrt_env.schedule import lr_factor
from mrt_env.training.bookkeeping import (
    RunLog,
    has_eval,
    prepare_out,
    rewind_logs,
    write_checkpoint,
    write_settings,
)
from mrt_env.training.config import TrainConfig
from mrt_env.training.credit import credit_by_episodes
from mrt_env.training.losses import clipped_policy_loss, sequence_nll
from mrt_env.training.rollouts import RolloutBatch, TokenBatch, collect, collect_from_prefixes
from mrt_env.training.vllm_sync import WORKER_EXTENSION, sync_weights
from mrt_env.types import EpisodeRecord

if TYPE_CHECKING:
    from torch import Tensor
    from transformers import PreTrainedModel

__all__ = [
    "advantages",
    "evaluate",
    "learning_rate",
    "load_policy",
    "load_rollout_lm",
    "make_agent",
    "make_env",
    "star_selection",
    "token_logprobs",
    "train",
    "training_problems",
]


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
    start = prepare_out(config)  # refuses a folder that holds a run, or reads its checkpoint
    step, sampled, owed = start.step, start.sampled_tokens, False
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
    start.restore(model, optimizer)
    if config.resume:
        rewind_logs(out, step)  # steps logged after the checkpoint rerun
        # A kill between the checkpoint and its step's evaluation: that evaluation is owed.
        owed = _eval_due(config, step, sampled) and not has_eval(out, step)
    write_settings(out, config)

    problems = training_problems(config)
    width = config.problems_per_step * config.group_size
    rollout_lm = load_rollout_lm(config, lm)
    if rollout_lm is not lm and step:
        sync_weights(rollout_lm.engine, model.named_parameters())  # resumed weights
    env = make_env(config, rollout_lm, problems, num_envs=width)
    log = RunLog(out, traces=config.save_rollouts)
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
        log.add_eval(result, step)
        tqdm.write(
            f"step {step}: "
            + json.dumps({k: result.get(k) for k in ("accuracy", "blocks", "anytime_regret")})
        )

    try:
        if owed:
            log_eval()
        while step < config.steps and sampled < budget:
            begun = time.perf_counter()
            # Everything random in a step is a function of (seed, step): resumable exactly.
            rng = np.random.default_rng([config.seed, step])
            chosen = rng.choice(len(problems), size=config.problems_per_step, replace=False)
            agent = make_agent(config, rollout_lm, seed=int(rng.integers(2**31)))
            model.eval()
            rollouts = (
                partial(collect_from_prefixes, rng=rng, cut=config.credit.cut)
                if config.credit.scheme == "prefix"
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
            log.add_traces(step + 1, batch.traces)
            for group in optimizer.param_groups:
                group["lr"] = row["lr"] = learning_rate(config, step)
            if batch.traces:
                row.update(_update(config, model, optimizer, reference, batch, lm.tokenizer))
                if rollout_lm is not lm:
                    sync_weights(rollout_lm.engine, model.named_parameters())
            step += 1
            row["seconds"] = time.perf_counter() - begun
            row["tokens_per_s"] = batch.sampled_tokens / row["seconds"]
            if torch.cuda.is_available() and config.model.device.startswith("cuda"):
                row["gpu_memory_gb"] = torch.cuda.max_memory_allocated() / 2**30
            log.add_step(row, step)
            bar.update(batch.sampled_tokens if by_tokens else 1)
            bar.set_postfix(acc=f"{row['accuracy']:.2f}", blocks=f"{row['blocks']:.1f}")
            if step % config.checkpoint_every == 0 or _last(config, step, sampled):
                write_checkpoint(out, config, model, optimizer, step=step, sampled_tokens=sampled)
            if _eval_due(config, step, sampled):
                log_eval()
    finally:
        bar.close()
        log.close()
        env.close()
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


def _last(config: TrainConfig, step: int, sampled: int) -> bool:
    """Whether ``step`` ends the run (its step count or its token budget)."""
    budget = math.inf if config.token_budget is None else config.token_budget
    return step >= config.steps or sampled >= budget


def _eval_due(config: TrainConfig, step: int, sampled: int) -> bool:
    """Whether an evaluation follows ``step``: every ``eval_every`` steps, and at the end."""
    if not config.eval_problems or step == 0:
        return False
    return _last(config, step, sampled) or bool(config.eval_every and step % config.eval_every == 0)


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
    kwargs: dict[str, Any] = {**with_prover(ENV_IDS[config.env], config.prover), "prover": lm}
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
