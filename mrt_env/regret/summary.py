"""The summary (``summary.md``, ``summary.csv``) and plots of an ``mrt-regret`` run."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.regret.config import RegretConfig, budget_key
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
    "EXTRAPOLATION_PNG",
    "J_CURVE_PNG",
    "MAJORITY_PNG",
    "REGRET_PNG",
    "SUMMARY_CSV",
    "SUMMARY_MD",
    "curve_sections",
    "extrapolation_table",
    "majority_table",
    "summarise",
    "summary_table",
    "write_plots",
    "write_summary",
]

SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
J_CURVE_PNG = "j_curve.png"
REGRET_PNG = "regret.png"
MAJORITY_PNG = "maj_at_p.png"
EXTRAPOLATION_PNG = "extrapolation.png"

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


def _mean(values: Sequence[float | None]) -> tuple[float, int]:
    known = [v for v in values if v is not None]
    return (float(np.mean(known)) if known else float("nan")), len(known)


def majority_means(rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The [maj@p]_j curves averaged over traces: ``p`` (the p values), and per prefix j
    ``maj`` (p → mean [maj@p]_j), ``tokens`` (p → mean tokens) and ``n`` (traces with a
    value at j: a trace that ended is not held, unlike the J curve); ``direct`` (p →
    mean pass@p, maj@p and tokens) when the rows have it. Empty without majority rows."""
    ok = [r for r in rows if "error" not in r and "maj_at_p" in r]
    if not ok:
        return {}
    ps = list(ok[0]["maj_at_p"])
    width = max(len(r["maj_at_p"][ps[0]]) for r in ok)
    at: list[dict[str, Any]] = []
    for j in range(width):
        here = [r for r in ok if j < len(r["maj_at_p"][ps[0]])]
        maj = {p: _mean([r["maj_at_p"][p][j] for r in here])[0] for p in ps}
        tokens = {p: float(np.mean([r["maj_tokens"][p][j] for r in here])) for p in ps}
        at.append(
            {"maj": maj, "tokens": tokens, "n": _mean([r["maj_at_p"][ps[0]][j] for r in here])[1]}
        )
    out: dict[str, Any] = {"p": ps, "at": at}
    direct = [r["direct"] for r in ok if "direct" in r]
    if direct:
        out["direct"] = {
            p: {
                "pass": _mean([d["pass_at_p"][p] for d in direct])[0],
                "maj": _mean([d["maj_at_p"][p] for d in direct])[0],
                "tokens": float(np.mean([d["tokens"][p] for d in direct])),
            }
            for p in direct[0]["pass_at_p"]
        }
    return out


def majority_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """[maj@p]_j per episode j (mean over the traces that reach j) and the direct curve, as
    markdown lines; ``[]`` without majority rows."""
    means = majority_means(rows)
    if not means:
        return []
    ps = means["p"]
    lines = markdown_table(
        ["j", "traces", *(f"[maj@{p}]_j" for p in ps), *(f"tokens@{p}" for p in ps)],
        [
            (j, a["n"], *(f"{a['maj'][p]:.3g}" for p in ps), *(f"{a['tokens'][p]:.0f}" for p in ps))
            for j, a in enumerate(means["at"])
        ],
    )
    if "direct" in means:
        direct = means["direct"]
        lines += ["", "Direct (answers sampled straight from the question):", ""]
        lines += markdown_table(
            ["p", "pass@p", "maj@p", "tokens"],
            [
                (p, f"{d['pass']:.3g}", f"{d['maj']:.3g}", f"{d['tokens']:.0f}")
                for p, d in direct.items()
            ],
        )
    return lines


def extrapolation_means(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per checkpoint of the extrapolation: ``extensions``, mean ``tokens``, mean ``j``
    and ``n``; ``[]`` without extrapolation rows."""
    ok = [r["extrapolation"] for r in rows if "error" not in r and "extrapolation" in r]
    if not ok:
        return []
    return [
        {
            "extensions": w,
            "tokens": float(np.mean([e["tokens"][i] for e in ok])),
            "j": float(np.mean([e["success_probs"][i] for e in ok])),
            "n": len(ok),
        }
        for i, w in enumerate(ok[0]["extensions"])
    ]


def extrapolation_table(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """J after 0, 2, 4, … budget-forcing extensions, as markdown lines (``[]`` if none)."""
    means = extrapolation_means(rows)
    return (
        markdown_table(
            ["extensions", "traces", "tokens", "J (mu continues freely)"],
            [(m["extensions"], m["n"], f"{m['tokens']:.0f}", f"{m['j']:.3g}") for m in means],
        )
        if means
        else []
    )


def curve_sections(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The [maj@p]_j and extrapolation tables with their headings (``[]`` when the run
    computed neither): for summary.md and the printed summary."""
    lines: list[str] = []
    if maj := majority_table(rows):
        lines += ["", "## [maj@p]_j: a vote among p of mu's answers after episode j", "", *maj]
    if extra := extrapolation_table(rows):
        lines += ["", "## Extrapolation with budget forcing", "", *extra]
    return lines


def write_summary(
    out: Path,
    stats: Sequence[Mapping[str, Any]],
    config: RegretConfig,
    failed: Sequence[dict],
    rows: Sequence[Mapping[str, Any]] = (),
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
    md += curve_sections(rows)
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
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return []
    out = Path(out)
    n = len(ok)
    held_note = "traces that ended hold their last value"

    fig, ax = _axes(episodes=True)
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
    fig, ax = _axes(episodes=True)
    for curve in cum:
        ax.plot(x, curve, color="tab:gray", lw=0.6, alpha=0.5)
    ax.plot([], [], color="tab:gray", lw=0.6, label="one trace")
    ax.plot(x, cum.mean(axis=0), color="tab:red", lw=2.2, label=f"mean over {n} traces")
    ax.set_xlabel(f"blocks (the paper's episodes) $k$ ({held_note})")
    ax.set_ylabel(r"cumulative regret $\Delta_k = \sum_{j=1}^{k}\,(1 - J_j)$")
    ax.set_title(f"Cumulative episode regret: {title}")
    ax.legend(loc="upper left")
    regret_path = out / REGRET_PNG
    fig.savefig(regret_path, dpi=120)
    paths = [j_path, regret_path]
    if means := majority_means(ok):
        paths.append(_majority_plot(means, out / MAJORITY_PNG, title))
    if extra := extrapolation_means(ok):
        paths.append(_extrapolation_plot(extra, out / EXTRAPOLATION_PNG, title))
    return paths


def _axes(*, episodes: bool = False) -> tuple[Any, Any]:
    """One plot of the report's size, with a grid; ``episodes``: whole-number x ticks."""
    fig = figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    if episodes:
        from matplotlib.ticker import MaxNLocator

        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    return fig, ax


def _majority_plot(means: Mapping[str, Any], path: Path, title: str) -> Path:
    """The authors' scaling-curve panel: [maj@p]_j against log2 tokens, a dashed line per
    episode j (p = 1, 2, 4, …), the solid [maj@1]_j through the episodes, and direct."""
    fig, ax = _axes()
    ps = means["p"]
    for a in means["at"]:
        x = [np.log2(max(a["tokens"][p], 1.0)) for p in ps]
        ax.plot(x, [a["maj"][p] for p in ps], ls="--", marker="o", ms=3, lw=1, color="tab:green")
    first = ps[0]
    ax.plot(
        [np.log2(max(a["tokens"][first], 1.0)) for a in means["at"]],
        [a["maj"][first] for a in means["at"]],
        marker="o",
        lw=2.4,
        color="tab:blue",
        label=f"$[\\mathrm{{maj@{first}}}]_j$ over episodes j",
    )
    ax.plot(
        [],
        [],
        ls="--",
        color="tab:green",
        label="$[\\mathrm{maj@p}]_j$ at one j, p = " + ", ".join(ps),
    )
    if "direct" in means:
        direct = means["direct"]
        ax.plot(
            [np.log2(max(d["tokens"], 1.0)) for d in direct.values()],
            [d["pass"] for d in direct.values()],
            marker="o",
            lw=2.4,
            color="tab:orange",
            label="direct pass@p",
        )
    ax.set_xlabel("log2 tokens")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Majority over mu's answers after each episode: {title}")
    ax.legend(loc="best", fontsize="small")
    fig.savefig(path, dpi=120)
    return path


def _extrapolation_plot(means: Sequence[Mapping[str, Any]], path: Path, title: str) -> Path:
    """J against log2 tokens after 0, 2, 4, … budget-forcing extensions."""
    fig, ax = _axes()
    x = [np.log2(max(m["tokens"], 1.0)) for m in means]
    ax.plot(
        x, [m["j"] for m in means], marker="o", lw=2.4, label=f"mean over {means[0]['n']} traces"
    )
    for xi, m in zip(x, means, strict=True):
        ax.annotate(str(m["extensions"]), (xi, m["j"]), textcoords="offset points", xytext=(0, 6))
    ax.set_xlabel("log2 tokens (prompt and thought; labels: extensions)")
    ax.set_ylabel("accuracy (mu continues the thought)")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Extrapolation with budget forcing: {title}")
    ax.legend(loc="best")
    fig.savefig(path, dpi=120)
    return path
