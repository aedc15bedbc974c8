"""The summary (``summary.md``, ``summary.csv``) and plots of an ``mrt-regret`` run."""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.errors import DependencyNotInstalled
from mrt_env.extras import require
from mrt_env.regret.analysis import budget_key
from mrt_env.regret.config import RegretConfig
from mrt_env.report import format_stat, held, mean_ci

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


_METRIC_DOCS = {
    "episodes": "episodes per trace (k)",
    "tokens": "tokens per response",
    "final_j": "J_k: meta-prover success after the whole response",
    "accuracy": "the response's own answer is correct",
    "regret_total": "cumulative episode regret Δ_k = Σ_j (1 − J_{j+1})",
}


def summarise(rows: Sequence[Mapping[str, Any]], budgets: Sequence[float]) -> list[dict[str, Any]]:
    """Mean, 95% confidence half-width (1.96·std/√n, sample std) and n of each metric.

    Metrics: ``episodes``, ``tokens``, ``final_j``, ``accuracy``, ``regret_total`` and
    ``token_regret@C0`` for each budget; rows with an ``error`` are left out. ``ci95`` is
    NaN when n < 2.
    """
    ok = [r for r in rows if "error" not in r]
    columns: dict[str, list[float]] = {
        "episodes": [r["episodes"] for r in ok],
        "tokens": [r["tokens"][-1] for r in ok],
        "final_j": [r["final_j"] for r in ok],
        "accuracy": [float(r["correct"]) for r in ok],
        "regret_total": [r["regret_total"] for r in ok],
    }
    for b in budgets:
        columns[f"token_regret@{budget_key(b)}"] = [r["token_regret"][budget_key(b)] for r in ok]
    return [{"metric": name, **mean_ci(values)} for name, values in columns.items()]


def describe(name: str) -> str:
    if name.startswith("token_regret@"):
        return f"normalized token regret at C0 = {name.partition('@')[2]} tokens"
    return _METRIC_DOCS.get(name, "")


def summary_table(stats: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["| metric | mean ± 95% CI | n | meaning |", "|---|---|---|---|"]
    for s in stats:
        lines.append(f"| {s['metric']} | {format_stat(s)} | {s['n']} | {describe(s['metric'])} |")
    return lines


def write_summary(
    out: Path, stats: Sequence[Mapping[str, Any]], config: RegretConfig, failed: Sequence[dict]
) -> tuple[Path, Path]:
    settings = config.analysis_settings()
    shown = {k: v for k, v in settings.items() if k not in ("model", "forcing_text")}
    md = [
        f"# mrt-regret: {config.model}",
        "",
        f"Traces: `{config.traces}` ({stats[0]['n']} analysed"
        + (f", {len(failed)} failed" if failed else "")
        + f"). Backend: {config.backend}.",
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
    md_path, csv_path = out / SUMMARY_MD, out / SUMMARY_CSV
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "mean", "ci95", "n"])
        for s in stats:
            ci = "" if math.isnan(s["ci95"]) else repr(s["ci95"])
            mean = "" if math.isnan(s["mean"]) else repr(s["mean"])
            writer.writerow([s["metric"], mean, ci, s["n"]])
    return md_path, csv_path


# --------------------------------------------------------------------------------------------
# Plots


def write_plots(rows: Sequence[Mapping[str, Any]], out: str | Path, *, title: str) -> list[Path]:
    """``j_curve.png`` and ``regret.png`` in ``out``; ``[]`` (and one line) without matplotlib.

    A trace that ended holds its final J (and its final Δ) at later episode indices, as the
    normalized regret holds the curve flat after the stream ends.
    """
    try:
        require("matplotlib", extra="plot", feature="the plots")
        from matplotlib.figure import Figure  # Agg canvas; no pyplot, no global backend
        from matplotlib.ticker import MaxNLocator
    except DependencyNotInstalled as exc:
        print(f"skipping plots: {exc}")
        return []
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return []
    out = Path(out)
    n = len(ok)
    held_note = "traces that ended hold their last value"

    def new_axes() -> tuple[Any, Any]:
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        return fig, ax

    j = held([r["success_probs"] for r in ok])
    x = np.arange(j.shape[1])
    mean = j.mean(axis=0)
    ci = 1.96 * j.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros_like(mean)
    fig, ax = new_axes()
    ax.plot(x, mean, marker="o", ms=3, label=f"mean over {n} traces ({held_note})")
    ax.fill_between(
        x, np.clip(mean - ci, 0, 1), np.clip(mean + ci, 0, 1), alpha=0.25, label="95% CI"
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
    ax.set_xlabel(f"episodes $k$ ({held_note})")
    ax.set_ylabel(r"cumulative regret $\Delta_k = \sum_{j<k}\,(1 - J_{j+1})$")
    ax.set_title(f"Cumulative episode regret: {title}")
    ax.legend(loc="upper left")
    regret_path = out / REGRET_PNG
    fig.savefig(regret_path, dpi=120)
    return [j_path, regret_path]
