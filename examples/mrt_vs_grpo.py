"""MRT vs GRPO in miniature: the paper's claim on MRT-Search-v0 with the shipped tiny model.

    python examples/mrt_vs_grpo.py                       # 3 seeds each, about 30 min on 2 cores
    python examples/mrt_vs_grpo.py --seeds 0 --token-budget 20000 --eval-problems 100  # a taste

Both algorithms start from the shipped model and sample the same number of tokens
(``--token-budget``: equal compute). Each trained model, and the base model, is then
evaluated by ``mrt-bench`` on the held-out problems (think-to-budget, one sample each):
accuracy within block budgets and within token budgets, the paper's episode regret, the
anytime regret and the normalized token regret. The table is mean ± spread (sample std)
over seeds; ``mrt_vs_grpo.png`` plots accuracy within a token budget per method.

Everything lands in ``--out``; a rerun skips the runs and evaluations already finished,
so a killed experiment resumes (``mrt-train --resume`` continues a half-trained run).
"""

from __future__ import annotations

import csv
import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import tyro

from mrt_env.bench import BenchConfig
from mrt_env.bench import run as bench_run
from mrt_env.cli import CommandConfig
from mrt_env.data.synthetic import get_task
from mrt_env.lm.loading import DEFAULT_MODEL, ModelSettings
from mrt_env.report import describe, figure, markdown_table
from mrt_env.threads import set_threads
from mrt_env.training.train import TrainConfig, train
from mrt_env.types import EpisodeRecord


@dataclass(frozen=True)
class Experiment(CommandConfig):
    """MRT vs GRPO at equal sampled tokens, several seeds, evaluated by mrt-bench."""

    seeds: tuple[int, ...] = (0, 1, 2)
    """Training seeds per algorithm."""
    algorithms: tuple[str, ...] = ("grpo", "mrt")
    """What to compare (grpo, mrt, mrt-star)."""
    token_budget: int = 90_000
    """Tokens each run may sample (equal compute)."""
    alpha: float = 1.0
    """mrt: weight of a block's progress."""
    baseline: str = "group"
    """mrt: the progress baseline, group or termination (the authors' A = R − J)."""
    oracle_prover: bool = False
    """μ while training is the exact chance (the oracle), not the model itself."""
    max_blocks: int | None = None
    """Block budget in training and evaluation (default: the env's, 10)."""
    lr: float = 1e-4
    """Learning rate of both algorithms."""
    problems_per_step: int = 4
    """Problems per step."""
    group_size: int = 8
    """Traces per problem."""
    eval_problems: int = 500
    """Held-out problems each model is evaluated on (one sample each)."""
    out: Path = Path("runs/mrt-vs-grpo")
    """Where the runs, evaluations and the summary go."""


REPEAT_AT = (1, 2, 3, 4, 5, 6)
"""Distinct pairs tried, m, at which the repeat rate is reported."""

METRICS = (
    "accuracy",
    "accuracy@120",
    "accuracy@240",
    "blocks",
    "repeats",
    "no_repeat_share",
    "regret",
    "anytime_regret",
    "token_regret@480",
)


def evaluate(model: str, out: Path, problems: int, max_blocks: int | None) -> dict[str, float]:
    """mrt-bench's numbers for ``model`` on the held-out search problems (cached in out)."""
    config = BenchConfig(
        envs=("MRT-Search-v0",),
        strategies=("think-to-budget",),
        model=ModelSettings(model),
        problems=f"0:{problems}",
        samples=1,
        out=out,
        plots=False,
        batch=100,
        max_blocks=max_blocks,
    )
    bench_run(config)
    with (out / "summary.csv").open() as f:
        scores = {r["metric"]: float(r["mean"]) for r in csv.DictReader(f) if r["mean"]}
    return {**scores, **waste_and_progress(out / "results.jsonl")}


def waste_and_progress(results: Path) -> dict[str, float]:
    """Repeated attempts per episode, and how far μ's J moves on a fresh missed attempt
    versus a repeat: the per-block signal MRT's credit is made of."""
    task = get_task("search")
    repeats, fresh, again = [], [], []
    by_tried: dict[int, list[bool]] = {}  # m distinct pairs tried before -> was it a repeat
    for line in results.read_text().splitlines():
        episode = EpisodeRecord.from_row(json.loads(line))
        blocks, j = episode.blocks, episode.success_probs
        count = 0
        for i, block in enumerate(blocks):
            if "boxed" in block or not task.tried([block]):
                continue  # the hit (or a non-attempt): not a miss
            m = len(task.tried(blocks[:i]))
            new = len(task.tried(blocks[: i + 1])) > m
            (fresh if new else again).append(j[i + 1] - j[i])
            by_tried.setdefault(m, []).append(not new)
            count += not new
        repeats.append(count)
    return {
        "repeats": float(np.mean(repeats)),
        "no_repeat_share": float(np.mean(np.array(repeats) == 0)),
        "progress_fresh_miss": float(np.mean(fresh)),
        "progress_repeat": float(np.mean(again)) if again else math.nan,
        "progress_miss_sd": float(np.std(fresh + again)),
        # A sampler blind to its history repeats with chance m/10 after m distinct pairs.
        **{f"repeat_rate@{m}": float(np.mean(by_tried.get(m, [math.nan]))) for m in REPEAT_AT},
    }


def main(exp: Experiment) -> None:
    set_threads(exp.threads)  # every command's --threads, before any model loads
    exp.out.mkdir(parents=True, exist_ok=True)
    tag = f"-b{exp.max_blocks}" if exp.max_blocks else ""
    results: dict[str, list[dict[str, float]]] = {
        f"base{tag}": [
            evaluate(DEFAULT_MODEL, exp.out / f"eval-base{tag}", exp.eval_problems, exp.max_blocks)
        ]
    }
    for algorithm in exp.algorithms:
        label = method_label(algorithm, exp.alpha, exp.baseline, exp.oracle_prover, exp.lr) + tag
        for seed in exp.seeds:
            run = exp.out / f"{label}-s{seed}"
            if not (run / "model" / "config.json").exists():
                config = TrainConfig(
                    algorithm=algorithm,
                    seed=seed,
                    alpha=exp.alpha,
                    lr=exp.lr,
                    baseline=exp.baseline,
                    oracle_prover=exp.oracle_prover,
                    max_blocks=exp.max_blocks,
                    problems_per_step=exp.problems_per_step,
                    group_size=exp.group_size,
                    steps=10_000,
                    token_budget=exp.token_budget,
                    eval_problems=0,
                    out=run,
                    resume=(run / "checkpoint.pt").exists(),
                )
                train(config)
            scores = evaluate(
                str(run / "model"),
                exp.out / f"eval-{label}-s{seed}",
                exp.eval_problems,
                exp.max_blocks,
            )
            steps = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            scores["train_steps"] = float(len([s for s in steps if "eval" not in s]))
            scores["sampled_tokens"] = float(steps[-1]["sampled_tokens"])
            results.setdefault(label, []).append(scores)
    # Earlier runs in the same folder (other alphas or baselines) join the table.
    path = exp.out / "results.json"
    before = json.loads(path.read_text()) if path.exists() else {}
    for method, runs in before.items():  # refresh their diagnostics from the kept episodes
        folders = (
            [exp.out / f"eval-{method}"]
            if method.startswith("base")
            else sorted(
                (
                    f
                    for f in exp.out.glob(f"eval-{method}-s*")
                    if f.name.removeprefix(f"eval-{method}-s").isdigit()
                ),
                key=lambda f: int(f.name.removeprefix(f"eval-{method}-s")),
            )
        )
        if len(folders) == len(runs) and method not in results:
            for scores, folder in zip(runs, folders, strict=True):
                scores.update(waste_and_progress(folder / "results.jsonl"))
    results = {**before, **results}
    path.write_text(json.dumps(results, indent=2) + "\n")
    table = summary_table(results)
    base = results[f"base{tag}"][0]
    table += (
        f"\n\nμ's signal on misses (base model): a fresh missed pair moves J by "
        f"{base['progress_fresh_miss']:+.4f} on average, a repeat by {base['progress_repeat']:+.4f}"
        f" (per-block sd {base['progress_miss_sd']:.3f})."
    )
    table += "\n\n" + repeat_table(results)
    (exp.out / "summary.md").write_text(table + "\n")
    print(table)
    plot(results, exp.out / "mrt_vs_grpo.png")


def method_label(algorithm: str, alpha: float, baseline: str, oracle: bool, lr: float) -> str:
    """``grpo``, ``mrt`` (α = 1, group baseline, the model's μ), or e.g.
    ``mrt-termination-a0.5`` / ``mrt-group-a1-oracle``; ``-lr3e-05`` when the learning
    rate is not the default 1e-4."""
    rate = "" if lr == Experiment.lr else f"-lr{lr:g}"
    if algorithm == "grpo" or (alpha == 1.0 and baseline == "group" and not oracle):
        return algorithm + rate
    return f"{algorithm}-{baseline}-a{alpha:g}" + ("-oracle" if oracle else "") + rate


def summary_table(results: dict[str, list[dict[str, float]]]) -> str:
    columns = [*METRICS, "sampled_tokens"]
    rows = []
    for method, runs in results.items():
        cells = []
        for name in columns:
            values = np.array([r.get(name, math.nan) for r in runs], dtype=float)
            if np.all(np.isnan(values)):
                cells.append("")
            elif len(values) > 1:
                cells.append(f"{values.mean():.3f} ± {values.std(ddof=1):.3f}")
            else:
                cells.append(f"{values.mean():.3f}")
        rows.append([method, len(runs), *cells])
    lines = markdown_table(["method", "seeds", *columns], rows)
    lines.append("")
    lines.append(
        "Mean ± sample std over training seeds; each model evaluated on the same "
        "held-out problems, one sample each (think-to-budget)."
    )
    lines += ["", *markdown_table(["metric", "meaning"], [(c, describe(c)) for c in columns])]
    return "\n".join(lines)


def repeat_table(results: dict[str, list[dict[str, float]]]) -> str:
    """How often an attempt repeats a pair, after m distinct pairs were tried, against a
    sampler blind to its own history (m/10 of the 10 pairs): does the policy condition on
    what it has tried at all?"""
    rows = [["history-blind sampler", *[f"{m / 10:.2f}" for m in REPEAT_AT]]]
    for method, runs in results.items():
        cells = []
        for m in REPEAT_AT:
            rates = [r[f"repeat_rate@{m}"] for r in runs if f"repeat_rate@{m}" in r]
            cells.append(f"{np.mean(rates):.2f}" if rates else "")
        rows.append([method, *cells])
    lines = markdown_table(["method", *[f"m={m}" for m in REPEAT_AT]], rows)
    lines += [
        "",
        "Share of attempts that repeat a pair already tried, after m distinct pairs "
        "(mean over seeds).",
    ]
    return "\n".join(lines)


def plot(results: dict[str, list[dict[str, float]]], path: Path) -> None:
    """Left: accuracy within a token budget per method. Right: how often each repeats a
    pair after m distinct ones, against a sampler blind to its history."""
    fig = figure(figsize=(12, 4.6), layout="constrained")  # checks that matplotlib is there
    from matplotlib import colormaps

    first = next(iter(results.values()))[0]
    budgets = sorted(int(k.split("@")[1]) for k in first if k.startswith("accuracy@"))
    acc, rep = fig.subplots(1, 2)
    colors = colormaps["tab20"].colors
    for i, (method, runs) in enumerate(results.items()):
        color = colors[(2 * i) % 20 + (2 * i) // 20]  # the saturated tab20 colours first
        y = np.array([[r[f"accuracy@{b}"] for b in budgets] for r in runs])  # [seeds, budgets]
        spread = y.std(axis=0, ddof=1) if len(y) > 1 else None
        acc.errorbar(
            budgets,
            y.mean(axis=0),
            yerr=spread,
            marker="o",
            capsize=3,
            color=color,
            label=f"{method} ({len(runs)})",
        )
        rates = [
            np.mean([r[f"repeat_rate@{m}"] for r in runs if f"repeat_rate@{m}" in r] or [math.nan])
            for m in REPEAT_AT
        ]
        rep.plot(REPEAT_AT, rates, marker="o", color=color)
    rep.plot(REPEAT_AT, [m / 10 for m in REPEAT_AT], "k--", label="history-blind sampler")
    acc.set_xlabel("token budget")
    acc.set_ylabel("accuracy within the budget")
    acc.set_title("accuracy at equal sampled tokens (mean ± std over seeds)")
    rep.set_xlabel("distinct pairs tried so far, m")
    rep.set_ylabel("share of attempts that repeat a pair")
    rep.set_title("does the policy avoid what it has tried?")
    for ax in (acc, rep):
        ax.grid(alpha=0.3)
    fig.legend(loc="outside right center", fontsize="small", title="method (seeds)")
    fig.suptitle("MRT-Search-v0, tiny model: MRT vs GRPO")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    main(tyro.cli(Experiment))
    sys.exit(0)
