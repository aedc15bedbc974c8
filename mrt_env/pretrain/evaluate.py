"""Measure the shipped tiny model on the offline envs and write its model card figures.

    python -m mrt_env.pretrain.evaluate                        # the shipped model, 200 problems
    python -m mrt_env.pretrain.evaluate --model runs/tiny-v1 --card runs/tiny-v1/README.md

For each synthetic env id the model writes every held-out problem's reasoning, one block
(one line) per step, sampled at ``--temperature``; the env's meta-prover (the same model,
likelihood estimate) gives J after every block. Reported per task: accuracy (the answer the
model committed to, or the one forced at the block budget), accuracy within smaller block
budgets (committed and correct by then: the anytime curve), blocks used, wasted blocks
(repeated attempts, re-stated steps), the mean J curve and the episode regret.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mrt_env.cli import CommandConfig, parse_command
from mrt_env.data.synthetic import get_task
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import DEFAULT_MODEL
from mrt_env.metrics import episode_regret
from mrt_env.registration import ENV_IDS, block_settings
from mrt_env.report import figure, held, markdown_table

__all__ = ["TASK_ENV_IDS", "EvalConfig", "rollout", "summarise"]

TASK_ENV_IDS = {
    "arithmetic": "MRT-Arithmetic-v0",
    "search": "MRT-Search-v0",
    "recheck": "MRT-Recheck-v0",
    "checks": "MRT-Checks-v0",
}


@dataclass(frozen=True)
class EvalConfig(CommandConfig):
    """Evaluate a tiny model on the offline envs."""

    model: str = DEFAULT_MODEL
    """The shipped model (default) or a folder written by mrt-pretrain."""
    tasks: tuple[str, ...] = ("arithmetic", "search")
    """Synthetic families to evaluate, each on its own env id."""
    envs: tuple[str, ...] = ()
    """Extra env ids of those families to evaluate too (e.g. MRT-Recheck-Tight-v0, the
    same task at another block budget)."""
    problems: int = 200
    """Held-out problems per task (the first of seed 0)."""
    temperature: float = 1.0
    """Sampling temperature of the blocks."""
    seed: int = 0
    """Seed of the sampled blocks."""
    batch: int = 50
    """Problems run together (sub-envs of one vector env)."""
    block_tokens: int = 48
    """Most tokens per block (a block also ends at its newline)."""
    card: Path | None = None
    """Write the figures as markdown here (and j_curve.png beside it)."""

    def validate(self) -> None:
        if unknown := sorted(set(self.tasks) - set(TASK_ENV_IDS)):
            raise ConfigError(f"--tasks must be some of {sorted(TASK_ENV_IDS)}, got {unknown}")
        synthetic = [i for i, kw in ENV_IDS.items() if kw["problems"] in TASK_ENV_IDS]
        if unknown := sorted(set(self.envs) - set(synthetic)):
            raise ConfigError(f"--envs must be some of {synthetic}, got {unknown}")
        if self.problems < 1 or self.batch < 1 or self.block_tokens < 1:
            raise ConfigError("--problems, --batch and --block-tokens must be >= 1")


def rollout(
    env_id: str,
    lm: Any,
    problem_indices: Sequence[int],
    *,
    temperature: float = 1.0,
    seed: int = 0,
    batch: int = 50,
    block_tokens: int = 48,
) -> list[dict[str, Any]]:
    """Let ``lm`` solve the given problems of ``env_id``, one line per block; one row each."""
    from mrt_env.agents import LMAgent, play

    indices = list(problem_indices)
    vec = gym.make_vec(env_id, num_envs=min(batch, len(indices)), prover=lm)
    settings = {
        **block_settings(ENV_IDS[env_id]),
        "max_block_tokens": block_tokens,
        "temperature": temperature,
    }
    agent = LMAgent(lm, seed=seed, **settings)
    records = play(vec, agent, indices, seed=seed)
    vec.close()
    return [r.to_row() for r in records]


def summarise(task_name: str, rows: Sequence[dict[str, Any]], max_blocks: int) -> dict[str, Any]:
    """Accuracy (final and per block budget), blocks, waste, mean J curve, and the episode
    regret two ways: over the budget with J held (``held_regret``) and over the blocks
    written (``regret``, Δ_k); the names are those of :data:`mrt_env.report.COLUMNS`."""
    task = get_task(task_name)
    # The tasks' answers are integers, graded exactly; a row without a verdict is left out.
    rows = [r for r in rows if r["correct"] is not None]
    used = np.array([len(r["blocks"]) for r in rows])
    committed = np.array([r["correct"] and r["outcome"] == "committed" for r in rows])
    # [problems, max_blocks + 1]: J held flat after the end
    curves = held([r["success_probs"] for r in rows], max_blocks + 1)
    budgets = sorted(
        {max(1, max_blocks // 4), max(1, max_blocks // 2), (3 * max_blocks) // 4, max_blocks}
    )
    return {
        "task": task_name,
        "problems": len(rows),
        "accuracy": float(np.mean([r["correct"] for r in rows])),
        "accuracy_at_blocks": {b: float(np.mean(committed & (used <= b))) for b in budgets},
        "blocks": float(used.mean()),
        "wasted_blocks": float(np.mean([task.waste(r["blocks"]) for r in rows])),
        "waste_share": float(sum(task.waste(r["blocks"]) for r in rows) / max(1, used.sum())),
        "no_waste_share": float(np.mean([task.waste(r["blocks"]) == 0 for r in rows])),
        "j_curve": curves.mean(axis=0).tolist(),
        "held_regret": float((1.0 - curves[:, 1:]).sum(axis=1).mean()),
        "regret": float(np.mean([episode_regret(r["success_probs"]).total for r in rows])),
    }


CARD_HEADER = (
    "task",
    "problems",
    "accuracy",
    "blocks used",
    "wasted blocks",
    "waste share",
    "episodes without waste",
    "episode regret",
    *[f"J_{j}" for j in range(4)],
)
"""The columns of the card's table: ``accuracy``, ``blocks``, ``wasted_blocks``,
``waste_share`` (wasted blocks over all blocks), ``no_waste_share``, ``held_regret`` and
the mean J curve's first values, in words."""


def _card_cells(s: dict[str, Any]) -> list[str]:
    """One task's line of the card's table (:data:`CARD_HEADER`)."""
    stats = [f"{s['accuracy']:.3f}", f"{s['blocks']:.2f}", f"{s['wasted_blocks']:.2f}"]
    stats.append(f"{s['waste_share']:.2f}")
    stats += [f"{s['no_waste_share']:.2f}", f"{s['held_regret']:.2f}"]
    return [s["task"], str(s["problems"]), *stats, *[f"{x:.3f}" for x in s["j_curve"][:4]]]


def card_markdown(summaries: Sequence[dict[str, Any]], cfg: EvalConfig) -> str:
    """The measured figures, as markdown."""
    lines = [
        f"Measured with `python -m mrt_env.pretrain.evaluate {_card_flags(cfg)}--problems "
        f"{cfg.problems} --temperature {cfg.temperature} --seed {cfg.seed}` (held-out "
        "problems, seed 0; "
        "blocks sampled at that temperature, J from the model's own likelihood prover).",
        "",
        *markdown_table(CARD_HEADER, [_card_cells(s) for s in summaries]),
        "",
        "Accuracy counts the committed answer, or the one forced at the block budget. Episode "
        "regret is Σ_j (1 − J_j) over the budget's blocks, with J held at its last value "
        "after the episode ends. Wasted blocks are the task's idle blocks (its `waste`: "
        "repeated attempts, re-stated steps, idle lines); the waste share is their share "
        "of all blocks.",
        "",
        "Accuracy within a block budget (committed and correct by then):",
        "",
    ]
    for s in summaries:
        cells = ", ".join(f"{b} blocks: {a:.3f}" for b, a in s["accuracy_at_blocks"].items())
        lines.append(f"- {s['task']}: {cells}")
    lines += ["", "Mean J after each block (`j_curve.png`):", ""]
    for s in summaries:
        lines.append(f"- {s['task']}: " + " ".join(f"{x:.2f}" for x in s["j_curve"]))
    return "\n".join(lines) + "\n"


def _card_flags(cfg: EvalConfig) -> str:
    """The flags that chose what the card measures, when not the defaults."""
    flags = ""
    if cfg.model != EvalConfig.model:
        flags += f"--model {cfg.model} "
    if cfg.tasks != EvalConfig.tasks:
        flags += "--tasks " + " ".join(cfg.tasks) + " "
    if cfg.envs:
        flags += "--envs " + " ".join(cfg.envs) + " "
    return flags


def _plot(summaries: Sequence[dict[str, Any]], path: Path) -> None:
    fig = figure(figsize=(5, 3.2))
    ax = fig.subplots()
    for s in summaries:
        ax.plot(range(len(s["j_curve"])), s["j_curve"], marker="o", label=s["task"])
    ax.set_xlabel("block j")
    ax.set_ylabel("mean J_j (forced pass@1)")
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_command(EvalConfig, "mrt_env.pretrain.evaluate", argv, description=__doc__)
    if cfg is None:
        return 2
    from mrt_env.lm import load_lm

    lm = load_lm(cfg.model, device="cpu", dtype="float32")
    summaries = []
    runs = [(name, TASK_ENV_IDS[name]) for name in cfg.tasks]
    runs += [(ENV_IDS[env_id]["problems"], env_id) for env_id in cfg.envs]
    for name, env_id in runs:
        rows = rollout(
            env_id,
            lm,
            range(cfg.problems),
            temperature=cfg.temperature,
            seed=cfg.seed,
            batch=cfg.batch,
            block_tokens=cfg.block_tokens,
        )
        summary = summarise(name, rows, ENV_IDS[env_id]["max_blocks"])
        if env_id != TASK_ENV_IDS[name]:
            summary["task"] = f"{name} ({env_id})"
        summaries.append(summary)
    text = card_markdown(summaries, cfg)
    print(text)
    if cfg.card is not None:
        cfg.card.parent.mkdir(parents=True, exist_ok=True)
        cfg.card.write_text(text)
        _plot(summaries, cfg.card.with_name("j_curve.png"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
