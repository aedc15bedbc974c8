"""What the rows say: per-strategy statistics (mean ± 95% CI), tables and plots.

Every number is computed here from ``results.jsonl`` rows (see :mod:`mrt_env.bench.runner`),
with the definitions of :mod:`mrt_env.metrics`:

* ``accuracy``: the attempt's answer (committed, or forced at the budget) is right;
* ``pass@k`` / ``maj@k``: over the k samples of a problem and seed (unbiased pass@k; majority
  vote over the extracted answers);
* ``tokens``: compute spent, the transcript plus what the strategy generated off it
  (parallel streams, self-forced answers): the x-axis for comparing at equal compute;
* ``blocks``; ``final_j`` (J after the last block); ``progress`` (mean per-block gain
  (J_k − J_0) / k);
* ``regret``: the paper's cumulative episode regret $Δ_k = Σ_{j=1}^{k} (1 − J_j)$ over the
  blocks written, J from the env's meta-prover;
* ``anytime_regret``: $Σ_{j=1}^{B} (1 − s_j)$ over the env's block budget B, on the *anytime
  success* s: J_j while the stream thinks (j < k), and from its last block on the graded
  outcome (1 or 0), held to B. Once a stream has answered, its success is its answer; this
  puts strategies that stop at different blocks, or whose committing block is written by
  the strategy (early exit, a vote) rather than the model, on one scale;
* ``token_regret@C0``: the normalized token regret at budget C0 (area above the
  success-vs-tokens curve), on s and compute tokens;
* ``accuracy@C0``: right and within C0 tokens of compute (the anytime curve);
* ``undecided`` (only when some attempt had one): the share of attempts whose answer the
  grader reached no verdict on. Those attempts are left out of every other metric, never
  counted as wrong.

The one-line meanings in ``summary.md`` are :data:`mrt_env.report.COLUMNS`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.metrics import (
    accuracy_at_budget,
    anytime_regret,
    maj_at_k,
    pass_at_k,
    token_regret,
)
from mrt_env.metrics import anytime_success as metrics_anytime_success
from mrt_env.report import (
    can_plot,
    describe,
    format_stat,
    markdown_table,
    metric_vs_tokens,
    panels,
    plot_held_mean,
    summarise_rows,
    write_markdown,
    write_stats_csv,
)

__all__ = ["PLOT_FILES", "sample_ks", "summarise", "table_lines", "write_plots", "write_summary"]

SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
PLOT_FILES = ("accuracy_vs_tokens.png", "j_curve.png", "regret_vs_tokens.png")
GROUPS = ("env", "strategy")
"""The keys a summary is grouped by: one set of statistics per env and strategy."""


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
    """One row's per-attempt metrics (see the module docstring)."""
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

    Per-attempt metrics are over attempts with a verdict; ``pass@k``/``maj@k`` over (problem,
    seed) groups that have at least k such samples; ``undecided`` over all attempts, and
    only when some attempt had no verdict.
    """
    count_undecided = any(r["correct"] is None for r in rows)

    def columns(group: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
        env = group[0]["env"]
        decided = [r for r in group if r["correct"] is not None]
        names = _episode_metrics(budgets[env])
        per_episode = [
            episode_values(r, max_blocks=max_blocks[env], budgets=budgets[env]) for r in decided
        ]
        values: dict[str, list[float]] = {name: [v[name] for v in per_episode] for name in names}
        by_problem: dict[tuple[int, str], list[Mapping[str, Any]]] = defaultdict(list)
        for r in decided:
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
            values[f"pass@{k}"], values[f"maj@{k}"] = passes, majs
        order = ["accuracy", *[c for c in values if c[:4] in ("pass", "maj@")]]
        order += [c for c in values if c not in order]
        if count_undecided:
            values["undecided"] = [float(r["correct"] is None) for r in group]
            order.append("undecided")
        return {name: values[name] for name in order}

    return summarise_rows(rows, columns, by=GROUPS)


def _episode_metrics(budgets: Sequence[int]) -> list[str]:
    """The names :func:`episode_values` returns, in its order (known without a row)."""
    return [
        "accuracy",
        "tokens",
        "blocks",
        "final_j",
        "progress",
        "regret",
        "anytime_regret",
        *[f"token_regret@{c0}" for c0 in budgets],
        *[f"accuracy@{c0}" for c0 in budgets],
    ]


def _by_env(stats: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, dict[str, Any]]]:
    """env -> strategy -> metric -> stat."""
    out: dict[str, dict[str, dict[str, Any]]] = {}
    for s in stats:
        out.setdefault(s["env"], {}).setdefault(s["strategy"], {})[s["metric"]] = s
    return out


def table_lines(stats: Sequence[Mapping[str, Any]], env: str, metrics: Sequence[str]) -> list[str]:
    """A markdown table for one env: a row per strategy, a column per metric (mean ± CI)."""
    per = _by_env(stats)[env]
    rows = [
        [strategy, m["accuracy"]["n"], *[format_stat(m[c], 3) if c in m else "" for c in metrics]]
        for strategy, m in per.items()
    ]
    return markdown_table(["strategy", "attempts", *metrics], rows)


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
        *[m for m in present if m == "undecided"],
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
        md += markdown_table(["metric", "meaning"], [(m, describe(m)) for m in metrics])
        md.append("")
    md.append(
        "Mean ± 95% CI (1.96 · std / √n) over attempts; pass@k and maj@k over (problem, seed)."
    )
    md_path = write_markdown(out / SUMMARY_MD, md)
    csv_path = write_stats_csv(out / SUMMARY_CSV, stats, by=GROUPS)
    return md_path, csv_path


# --------------------------------------------------------------------------------------------
# Plots


Rows = Sequence[Mapping[str, Any]]


def _grid(rows: Rows, budgets: Sequence[int], points: int = 80) -> np.ndarray:
    """Token budgets from 1 to past the largest of the budgets and the compute spent."""
    top = max(max(budgets), max(r["compute_tokens"][-1] for r in rows))
    return np.linspace(1.0, float(top), points)


def _accuracy_curve(group: Rows, grid: np.ndarray) -> list[float]:
    """Accuracy within each compute budget C of ``grid`` (the anytime curve)."""
    used = [r["compute_tokens"][-1] for r in group]
    correct = [bool(r["correct"]) for r in group]
    return [accuracy_at_budget(used, correct, float(c)) for c in grid]


def _regret_area(group: Rows, grid: np.ndarray) -> np.ndarray:
    """Cumulative regret ∫_0^C (1 − s(t)) dt = C · token_regret(C) at each C of ``grid``,
    mean over attempts."""
    areas = [grid * token_regret(r["compute_tokens"], anytime_success(r), grid) for r in group]
    return np.mean(areas, axis=0)  # [len(grid)]


def write_plots(
    rows: Rows,
    out: Path,
    *,
    max_blocks: Mapping[str, int],
    budgets: Mapping[str, Sequence[int]],
    title: str,
) -> list[Path]:
    """``accuracy_vs_tokens.png``, ``j_curve.png`` and ``regret_vs_tokens.png`` in ``out``:
    one panel per env, one line per strategy; ``[]`` (and one line) without matplotlib."""
    if not can_plot():
        return []
    by_env: dict[str, dict[str, list[Mapping[str, Any]]]] = {}
    for r in rows:
        if r["correct"] is None:  # no verdict: left out, as in the summary
            continue
        by_env.setdefault(r["env"], {}).setdefault(r["strategy"], []).append(r)
    if not by_env:
        return []
    grids = {
        env: _grid([r for g in per.values() for r in g], budgets[env])
        for env, per in by_env.items()
    }

    def vs_tokens(curve: Any) -> dict[str, dict[str, tuple[np.ndarray, Any]]]:
        return {
            env: {
                strategy: (grids[env], curve(group, grids[env])) for strategy, group in per.items()
            }
            for env, per in by_env.items()
        }

    paths = [out / name for name in PLOT_FILES]
    metric_vs_tokens(
        vs_tokens(_accuracy_curve),
        ylabel="accuracy within the budget",
        xlabel="token budget (compute)",
        title=f"Accuracy vs tokens: {title}",
        ylim=(-0.02, 1.02),
    ).savefig(paths[0], dpi=110)

    # Mean anytime success after each block.
    fig, axes = panels(
        list(by_env),
        xlabel="block j (held after the end)",
        ylabel=r"mean $s_j$: $J_j$ while thinking, outcome once answered",
    )
    for ax, (env, per) in zip(axes, by_env.items(), strict=True):
        for strategy, group in per.items():
            curves = [anytime_success(r) for r in group]
            plot_held_mean(ax, curves, width=max_blocks[env] + 1, label=strategy)
        ax.set_ylim(-0.02, 1.02)
    axes[-1].legend(loc="best", fontsize="small")
    fig.suptitle(f"Anytime success after each block (95% CI): {title}")
    fig.savefig(paths[1], dpi=110)

    metric_vs_tokens(
        vs_tokens(_regret_area),
        ylabel=r"cumulative regret $\int_0^C (1 - s)\,dt$",
        xlabel="tokens C (compute)",
        title=f"Cumulative regret vs tokens (lower is better): {title}",
    ).savefig(paths[2], dpi=110)
    return paths
