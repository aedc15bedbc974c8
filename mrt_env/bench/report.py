"""What the rows say: per-strategy statistics (mean ± 95% CI), tables and plots.

Every number is computed here from ``results.jsonl`` rows (see :mod:`mrt_env.bench.runner`),
with the definitions of :mod:`mrt_env.metrics`:

* ``accuracy``: the episode's answer (committed, or forced at the budget) is right;
* ``pass@k`` / ``maj@k``: over the k samples of a problem and seed (unbiased pass@k; majority
  vote over the extracted answers);
* ``tokens``: compute spent, the transcript plus what the strategy generated off it
  (parallel streams, self-forced answers): the x-axis for comparing at equal compute;
* ``blocks``; ``final_j`` (J after the last block); ``progress`` (mean per-block gain
  (J_k − J_0) / k);
* ``regret``: the paper's cumulative episode regret Δ_k = Σ_{j<k} (1 − J_{j+1}) over the
  blocks written, J from the env's meta-prover;
* ``anytime_regret``: Σ_{j=1..B} (1 − s_j) over the env's block budget B, on the *anytime
  success* s: J_j while the stream thinks (j < k), and from its last block on the graded
  outcome (1 or 0), held to B. Once a stream has answered, its success is its answer; this
  puts strategies that stop at different blocks, or whose committing block is written by
  the strategy (early exit, a vote) rather than the model, on one scale;
* ``token_regret@C0``: the authors' normalized regret at budget C0 (area above the
  success-vs-tokens curve), on s and compute tokens;
* ``accuracy@C0``: right and within C0 tokens of compute (the anytime curve).
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.errors import DependencyNotInstalled
from mrt_env.extras import require
from mrt_env.metrics import (
    accuracy_at_budget,
    anytime_regret,
    maj_at_k,
    pass_at_k,
    token_regret,
)
from mrt_env.metrics import anytime_success as metrics_anytime_success
from mrt_env.report import format_stat, held, mean_ci

__all__ = ["PLOT_FILES", "sample_ks", "summarise", "table_lines", "write_plots", "write_summary"]

SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
PLOT_FILES = ("accuracy_vs_tokens.png", "j_curve.png", "regret_vs_tokens.png")

_MEANING = {
    "accuracy": "answer correct (pass@1)",
    "tokens": "compute tokens per episode (transcript + off-transcript generation)",
    "blocks": "blocks written",
    "final_j": "J after the last block",
    "progress": "mean progress per block, (J_k − J_0) / k",
    "regret": "episode regret Δ_k = Σ_{j<k} (1 − J_{j+1}) over the blocks written",
    "anytime_regret": "Σ_{j≤B} (1 − s_j): J while thinking, the outcome once answered",
}


def sample_ks(samples: int) -> list[int]:
    """The k of pass@k / maj@k reported for ``samples`` samples: 2, 4, 8, ... and ``samples``."""
    ks = {k for k in (2**i for i in range(1, 16)) if k <= samples}
    return sorted(ks | ({samples} if samples > 1 else set()))


def anytime_success(row: Mapping[str, Any]) -> list[float]:
    """A row's s_0 … s_k (:func:`mrt_env.metrics.anytime_success`)."""
    return metrics_anytime_success(row["success_probs"], row["correct"])


def episode_values(
    row: Mapping[str, Any], *, max_blocks: int, budgets: Sequence[int]
) -> dict[str, float]:
    """One row's per-episode metrics (see the module docstring)."""
    j = row["success_probs"]
    k = len(j) - 1
    success = anytime_success(row)
    values = {
        "accuracy": float(row["correct"]),
        "tokens": float(row["compute_tokens"][-1]),
        "blocks": float(k),
        "final_j": float(j[-1]),
        "progress": (j[-1] - j[0]) / k if k else 0.0,
        "regret": float(row["regret"]),
        "anytime_regret": anytime_regret(j, row["correct"], max_blocks),
    }
    regrets = token_regret(row["compute_tokens"], success, list(budgets))
    for c0, value in zip(budgets, regrets, strict=True):
        values[f"token_regret@{c0}"] = float(value)
    for c0 in budgets:
        values[f"accuracy@{c0}"] = float(row["correct"] and row["compute_tokens"][-1] <= c0)
    return values


def summarise(
    rows: Sequence[Mapping[str, Any]],
    *,
    max_blocks: Mapping[str, int],
    budgets: Mapping[str, Sequence[int]],
    samples: int,
) -> list[dict[str, Any]]:
    """One entry per (env, strategy, metric): ``{"env", "strategy", "metric", "mean",
    "ci95", "n"}``, in the order envs and strategies first appear in ``rows``.

    Episode metrics are over episodes; ``pass@k``/``maj@k`` over (problem, seed) groups
    that have at least k samples.
    """
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for row in rows:
        groups[(row["env"], row["strategy"])].append(row)
    stats = []
    for (env, strategy), group in groups.items():
        per_episode = [
            episode_values(r, max_blocks=max_blocks[env], budgets=budgets[env]) for r in group
        ]
        columns: dict[str, list[float]] = {
            name: [v[name] for v in per_episode] for name in per_episode[0]
        }
        by_problem: dict[tuple[int, str], list[Mapping[str, Any]]] = defaultdict(list)
        for r in group:
            by_problem[(r["seed"], r["problem_id"])].append(r)
        for k in sample_ks(samples):
            passes, majs = [], []
            for runs in by_problem.values():
                runs = sorted(runs, key=lambda r: r["sample"])
                if len(runs) < k:
                    continue
                correct = [bool(r["correct"]) for r in runs]
                passes.append(pass_at_k(len(runs), sum(correct), k))
                majs.append(maj_at_k([r["answer"] for r in runs], correct, k))
            columns[f"pass@{k}"], columns[f"maj@{k}"] = passes, majs
        order = ["accuracy", *[c for c in columns if c[:4] in ("pass", "maj@")]]
        order += [c for c in columns if c not in order]
        for name in order:
            stats.append(
                {"env": env, "strategy": strategy, "metric": name, **mean_ci(columns[name])}
            )
    return stats


def _describe(metric: str) -> str:
    name, _, arg = metric.partition("@")
    if name == "token_regret":
        return f"normalized token regret at C0 = {arg} tokens"
    if name == "accuracy" and arg:
        return f"correct within {arg} tokens of compute"
    if name == "pass":
        return f"some of {arg} samples correct (unbiased)"
    if name == "maj":
        return f"majority answer of {arg} samples correct"
    return _MEANING.get(metric, "")


def _by_env(stats: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """env -> strategy -> metric -> stat."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in stats:
        out.setdefault(s["env"], {}).setdefault(s["strategy"], {})[s["metric"]] = s
    return out


def table_lines(stats: Sequence[Mapping[str, Any]], env: str, metrics: Sequence[str]) -> list[str]:
    """A markdown table for one env: a row per strategy, a column per metric (mean ± CI)."""
    per = _by_env(stats)[env]
    n = {strategy: m["accuracy"]["n"] for strategy, m in per.items()}
    lines = [
        "| strategy | episodes | " + " | ".join(metrics) + " |",
        "|---|---|" + "---|" * len(metrics),
    ]
    for strategy, m in per.items():
        cells = [format_stat(m[name], 3) if name in m else "" for name in metrics]
        lines.append(f"| {strategy} | {n[strategy]} | " + " | ".join(cells) + " |")
    return lines


def headline_metrics(stats: Sequence[Mapping[str, Any]], env: str) -> list[str]:
    """The columns of the terminal table: accuracy, the largest maj@k, compute, blocks, the
    episode regrets and the token regret at the largest budget."""
    present = list(next(iter(_by_env(stats)[env].values())))
    majs = [m for m in present if m.startswith("maj@")]
    regrets = [m for m in present if m.startswith("token_regret@")]
    return [
        "accuracy",
        *majs[-1:],
        "tokens",
        "blocks",
        "regret",
        "anytime_regret",
        *regrets[-1:],
    ]


def write_summary(
    out: Path, stats: Sequence[Mapping[str, Any]], *, header: Sequence[str]
) -> tuple[Path, Path]:
    """``summary.md`` (per env: the headline table, then every metric) and ``summary.csv``
    (one line per env, strategy and metric)."""
    md = ["# mrt-bench", "", *header, ""]
    for env in _by_env(stats):
        metrics = list(next(iter(_by_env(stats)[env].values())))
        md += [f"## {env}", "", *table_lines(stats, env, headline_metrics(stats, env)), ""]
        md += ["All metrics:", "", *table_lines(stats, env, metrics), ""]
        md += ["| metric | meaning |", "|---|---|"]
        md += [f"| {m} | {_describe(m)} |" for m in metrics]
        md.append("")
    md.append(
        "Mean ± 95% CI (1.96 · std / √n) over episodes; pass@k and maj@k over (problem, seed)."
    )
    md_path, csv_path = out / SUMMARY_MD, out / SUMMARY_CSV
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["env", "strategy", "metric", "mean", "ci95", "n"])
        for s in stats:
            mean = "" if math.isnan(s["mean"]) else repr(s["mean"])
            ci = "" if math.isnan(s["ci95"]) else repr(s["ci95"])
            writer.writerow([s["env"], s["strategy"], s["metric"], mean, ci, s["n"]])
    return md_path, csv_path


# --------------------------------------------------------------------------------------------
# Plots


def _grid(
    rows: Sequence[Mapping[str, Any]], budgets: Sequence[int], points: int = 80
) -> np.ndarray:
    """Token budgets from 1 to past the largest of the budgets and the compute spent."""
    top = max(max(budgets), max(r["compute_tokens"][-1] for r in rows))
    return np.linspace(1.0, float(top), points)


def write_plots(
    rows: Sequence[Mapping[str, Any]],
    out: Path,
    *,
    max_blocks: Mapping[str, int],
    budgets: Mapping[str, Sequence[int]],
    title: str,
) -> list[Path]:
    """``accuracy_vs_tokens.png``, ``j_curve.png`` and ``regret_vs_tokens.png`` in ``out``:
    one panel per env, one line per strategy; ``[]`` (and one line) without matplotlib."""
    try:
        require("matplotlib", extra="plot", feature="the plots")
        from matplotlib.figure import Figure  # Agg canvas; no pyplot, no global backend
    except DependencyNotInstalled as exc:
        print(f"skipping plots: {exc}")
        return []
    by_env: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        by_env.setdefault(r["env"], {}).setdefault(r["strategy"], []).append(r)
    if not by_env:
        return []

    def panels(ylabel: str, xlabel: str) -> tuple[Any, list[Any]]:
        fig = Figure(figsize=(5.2 * len(by_env), 4.2), layout="constrained")
        axes = fig.subplots(1, len(by_env), squeeze=False)[0]
        for ax, env in zip(axes, by_env, strict=True):
            ax.set_title(env)
            ax.set_xlabel(xlabel)
            ax.grid(alpha=0.3)
        axes[0].set_ylabel(ylabel)
        return fig, list(axes)

    paths = []
    # Accuracy within a compute budget (the anytime curve).
    fig, axes = panels("accuracy within the budget", "token budget (compute)")
    for ax, (env, per) in zip(axes, by_env.items(), strict=True):
        grid = _grid([r for g in per.values() for r in g], budgets[env])
        for strategy, group in per.items():
            used = [r["compute_tokens"][-1] for r in group]
            correct = [bool(r["correct"]) for r in group]
            ax.plot(
                grid, [accuracy_at_budget(used, correct, float(c)) for c in grid], label=strategy
            )
        ax.set_ylim(-0.02, 1.02)
    axes[-1].legend(loc="best", fontsize="small")
    fig.suptitle(f"Accuracy vs tokens: {title}")
    paths.append(out / PLOT_FILES[0])
    fig.savefig(paths[-1], dpi=110)

    # Mean J after each block.
    fig, axes = panels(
        r"mean $s_j$: $J_j$ while thinking, outcome once answered", "block j (held after the end)"
    )
    for ax, (env, per) in zip(axes, by_env.items(), strict=True):
        for strategy, group in per.items():
            j = held([anytime_success(r) for r in group], max_blocks[env] + 1)
            mean = j.mean(axis=0)
            ci = 1.96 * j.std(axis=0, ddof=1) / math.sqrt(len(j)) if len(j) > 1 else 0 * mean
            x = np.arange(len(mean))
            (line,) = ax.plot(x, mean, marker="o", ms=3, label=strategy)
            ax.fill_between(
                x,
                np.clip(mean - ci, 0, 1),
                np.clip(mean + ci, 0, 1),
                color=line.get_color(),
                alpha=0.12,
            )
        ax.set_ylim(-0.02, 1.02)
    axes[-1].legend(loc="best", fontsize="small")
    fig.suptitle(f"Anytime success after each block (95% CI): {title}")
    paths.append(out / PLOT_FILES[1])
    fig.savefig(paths[-1], dpi=110)

    # Cumulative regret ∫_0^C (1 − s(t)) dt = C · token_regret(C), mean over episodes.
    fig, axes = panels(r"cumulative regret $\int_0^C (1 - s)\,dt$", "tokens C (compute)")
    for ax, (env, per) in zip(axes, by_env.items(), strict=True):
        grid = _grid([r for g in per.values() for r in g], budgets[env])
        for strategy, group in per.items():
            area = np.mean(
                [grid * token_regret(r["compute_tokens"], anytime_success(r), grid) for r in group],
                axis=0,
            )  # [len(grid)]
            ax.plot(grid, area, label=strategy)
    axes[-1].legend(loc="best", fontsize="small")
    fig.suptitle(f"Cumulative regret vs tokens (lower is better): {title}")
    paths.append(out / PLOT_FILES[2])
    fig.savefig(paths[-1], dpi=110)
    return paths
