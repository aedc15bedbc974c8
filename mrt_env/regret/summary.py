"""The summary (``summary.md``, ``summary.csv``) and plots of an ``mrt-regret`` run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.regret.analysis import budget_key
from mrt_env.regret.config import RegretConfig
from mrt_env.report import (
    can_plot,
    describe,
    figure,
    format_stat,
    held,
    markdown_table,
    plot_held_mean,
    summarise_rows,
    write_markdown,
    write_stats_csv,
)

__all__ = [
    "J_CURVE_PNG",
    "REGRET_PNG",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "summarise",
    "summary_table",
    "write_plots",
    "write_summary",
]

SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
J_CURVE_PNG = "j_curve.png"
REGRET_PNG = "regret.png"

# --------------------------------------------------------------------------------------------
# Summary


def summarise(rows: Sequence[Mapping[str, Any]], budgets: Sequence[float]) -> list[dict[str, Any]]:
    """Mean, 95% confidence half-width (1.96·std/√n, sample std) and n of each metric.

    Metrics: ``blocks``, ``tokens``, ``final_j``, ``accuracy``, ``regret`` and
    ``token_regret@C0`` for each budget; rows with an ``error`` are left out. ``ci95`` is
    NaN when n < 2.
    """

    def columns(ok: Sequence[Mapping[str, Any]]) -> dict[str, list[float]]:
        values: dict[str, list[float]] = {
            "blocks": [r["blocks"] for r in ok],
            "tokens": [r["prefix_tokens"][-1] for r in ok],
            "final_j": [r["final_j"] for r in ok],
            "accuracy": [float(r["correct"]) for r in ok if r["correct"] is not None],
            "regret": [r["regret"] for r in ok],
        }
        for b in budgets:
            values[f"token_regret@{budget_key(b)}"] = [r["token_regret"][budget_key(b)] for r in ok]
        return values

    return summarise_rows([r for r in rows if "error" not in r], columns)


def summary_table(stats: Sequence[Mapping[str, Any]]) -> list[str]:
    """The summary as a markdown table: a line per metric, with its meaning."""
    return markdown_table(
        ["metric", "mean ± 95% CI", "n", "meaning"],
        [(s["metric"], format_stat(s), s["n"], describe(s["metric"])) for s in stats],
    )


def write_summary(
    out: Path, stats: Sequence[Mapping[str, Any]], config: RegretConfig, failed: Sequence[dict]
) -> tuple[Path, Path]:
    settings = config.analysis_settings()
    shown = {k: v for k, v in settings.items() if k not in ("model", "forcing_text")}
    md = [
        f"# mrt-regret: {config.model.name}",
        "",
        f"Traces: `{config.traces}` ({stats[0]['n']} analysed"
        + (f", {len(failed)} failed" if failed else "")
        + f"). Backend: {config.model.backend}.",
        "",
        "Settings: " + ", ".join(f"{k}={v}" for k, v in shown.items()),
        "",
        *summary_table(stats),
        "",
        "CI = 1.96 · std / √n over traces. J_j is the meta-prover's success probability when"
        " forced to answer after episode j (J* = 1 is the oracle comparator).",
    ]
    if failed:
        md += ["", "Failed traces:", ""]
        md += [f"* `{r['id']}`: {r['error']}" for r in failed]
    return write_markdown(out / SUMMARY_MD, md), write_stats_csv(out / SUMMARY_CSV, stats)


# --------------------------------------------------------------------------------------------
# Plots


def write_plots(rows: Sequence[Mapping[str, Any]], out: str | Path, *, title: str) -> list[Path]:
    """``j_curve.png`` and ``regret.png`` in ``out``; ``[]`` (and one line) without matplotlib.

    A trace that ended holds its final J (and its final Δ) at later episode indices, as the
    normalized regret holds the curve flat after the stream ends.
    """
    if not can_plot():
        return []
    from matplotlib.ticker import MaxNLocator

    ok = [r for r in rows if "error" not in r]
    if not ok:
        return []
    out = Path(out)
    n = len(ok)
    held_note = "traces that ended hold their last value"

    def new_axes() -> tuple[Any, Any]:
        fig = figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        return fig, ax

    fig, ax = new_axes()
    plot_held_mean(
        ax,
        [r["success_probs"] for r in ok],
        label=f"mean over {n} traces ({held_note})",
        band_alpha=0.25,
        band_label="95% CI",
    )
    ax.set_xlabel(r"episode index $j$ (prefix $c_j$ = the first $j$ episodes)")
    ax.set_ylabel(r"$J(\mu(\cdot|c_j))$: forced answer correct")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Meta-prover success after each episode: {title}")
    ax.legend(loc="best")
    j_path = out / J_CURVE_PNG
    fig.savefig(j_path, dpi=120)

    cum = held([[0.0, *r["regret_cumulative"]] for r in ok])
    x = np.arange(cum.shape[1])
    fig, ax = new_axes()
    for curve in cum:
        ax.plot(x, curve, color="tab:gray", lw=0.6, alpha=0.5)
    ax.plot([], [], color="tab:gray", lw=0.6, label="one trace")
    ax.plot(x, cum.mean(axis=0), color="tab:red", lw=2.2, label=f"mean over {n} traces")
    ax.set_xlabel(f"blocks (episodes) $k$ ({held_note})")
    ax.set_ylabel(r"cumulative regret $\Delta_k = \sum_{j<k}\,(1 - J_{j+1})$")
    ax.set_title(f"Cumulative episode regret: {title}")
    ax.legend(loc="upper left")
    regret_path = out / REGRET_PNG
    fig.savefig(regret_path, dpi=120)
    return [j_path, regret_path]
