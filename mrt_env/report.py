"""Reports of the analysis commands (``mrt-bench``, ``mrt-regret``), the model card and the
experiments: the one place for their statistics, column names, files and plot parts.

* statistics: :func:`mean_ci`, :func:`format_stat`, :func:`summarise_rows` (rows -> mean ±
  95% CI per group and column);
* names: :data:`COLUMNS` (every column a report writes -> what it means), :func:`describe`;
* files: :func:`markdown_table`, :func:`write_markdown`, :func:`write_stats_csv`;
* plots: :func:`can_plot`, :func:`figure`, :func:`panels`, :func:`held`,
  :func:`plot_held_mean` (J curves held to one length, with their CI) and
  :func:`metric_vs_tokens`. matplotlib is imported only when a figure is drawn (extra
  ``plot``); Agg canvases, no pyplot, no global backend.
"""

from __future__ import annotations

import csv
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.errors import DependencyNotInstalled
from mrt_env.extras import require

__all__ = [
    "COLUMNS",
    "can_plot",
    "describe",
    "figure",
    "format_stat",
    "held",
    "markdown_table",
    "mean_ci",
    "metric_vs_tokens",
    "model_title",
    "panels",
    "plot_held_mean",
    "summarise_rows",
    "write_markdown",
    "write_stats_csv",
]

Row = Mapping[str, Any]

# --------------------------------------------------------------------------------------------
# Column names

COLUMNS: dict[str, str] = {
    # One attempt (a whole try at one problem: Gymnasium's episode, a trace of mrt-regret):
    # mrt-bench, mrt-regret, mrt-train, the card. The words are the glossary's (Concepts).
    "accuracy": "the attempt's answer is correct (pass@1): the one it committed to, or forced",
    "accuracy@C0": "correct within {C0} tokens of compute",
    "pass@k": "some of {k} samples correct (unbiased)",
    "maj@k": "majority answer of {k} samples correct",
    "tokens": "tokens of compute per attempt: the transcript's, plus any generated off it",
    "blocks": "blocks in the stream, k (the paper's episodes)",
    "final_j": "J_k: the meta-prover's success after the last block",
    "progress": "mean progress per block, (J_k − J_0) / k",
    "regret": "cumulative episode regret Δ_k = Σ_{j≤k} (1 − J_j) over the blocks written",
    "anytime_regret": "Σ_{j≤B} (1 − s_j): J while thinking, the outcome once answered",
    "token_regret@C0": "normalized token regret at C0 = {C0} tokens",
    # The model card of a tiny model (mrt_env.pretrain.evaluate).
    "held_regret": "Σ_{j≤B} (1 − J_j) over the block budget B, J held after the attempt ends",
    "wasted_blocks": "blocks that repeat a tried pair or re-state a step",
    "no_waste_share": "share of attempts without a wasted block",
    # Experiments (examples/).
    "repeats": "blocks per attempt that try a pair already tried",
    "no_repeat_share": "share of attempts without a repeated pair",
    "sampled_tokens": "tokens the policy sampled in training (its compute)",
}
"""Every column a report writes -> what it means. A column with an argument is listed
once, by the name of its argument (``token_regret@C0`` stands for ``token_regret@480``)."""


def describe(column: str) -> str:
    """What ``column`` means (``""`` for a name :data:`COLUMNS` does not know).

    >>> describe("token_regret@480")
    'normalized token regret at C0 = 480 tokens'
    """
    if column in COLUMNS:
        return COLUMNS[column]
    name, at, arg = column.partition("@")
    if at:
        for key, text in COLUMNS.items():
            stem, key_at, placeholder = key.partition("@")
            if key_at and stem == name:
                return text.format(**{placeholder: arg})
    return ""


# --------------------------------------------------------------------------------------------
# Statistics


def mean_ci(values: Iterable[float]) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}``: the mean and its 95% half-width 1.96·std/√n (sample std).

    ``mean`` is NaN for no values, ``ci95`` NaN for fewer than two.
    """
    x = np.asarray(list(values), dtype=float)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    ci = float(1.96 * x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "ci95": ci, "n": n}


def format_stat(stat: Mapping[str, Any], digits: int = 4) -> str:
    """``mean ± ci`` as text (``n/a`` without values, the mean alone without a CI)."""
    if math.isnan(stat["mean"]):
        return "n/a"
    if math.isnan(stat["ci95"]):
        return f"{stat['mean']:.{digits}g}"
    return f"{stat['mean']:.{digits}g} ± {stat['ci95']:.2g}"


def summarise_rows(
    rows: Sequence[Row],
    columns: Callable[[Sequence[Row]], Mapping[str, Iterable[float]]],
    *,
    by: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Mean ± 95% CI (:func:`mean_ci`) of each column, per group of rows.

    Rows are grouped by their values of the keys ``by``, in the order the groups first
    appear (without ``by``, all rows are one group, even none); ``columns`` turns a
    group's rows into its columns, name -> values (one per episode, or per whatever the
    column counts). One entry per group and column, in that order:
    ``{**group keys, "metric", "mean", "ci95", "n"}``.

    >>> rows = [{"s": "a", "x": 1.0}, {"s": "a", "x": 3.0}, {"s": "b", "x": 2.0}]
    >>> stats = summarise_rows(rows, lambda g: {"x": [r["x"] for r in g]}, by=["s"])
    >>> [(s["s"], s["metric"], s["mean"], s["n"]) for s in stats]
    [('a', 'x', 2.0, 2), ('b', 'x', 2.0, 1)]
    """
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    if not by:
        groups[()] = list(rows)  # one group, even of no rows (its columns then have n = 0)
    else:
        for row in rows:
            groups[tuple(row[key] for key in by)].append(row)
    stats = []
    for key, group in groups.items():
        labels = dict(zip(by, key, strict=True))
        for name, values in columns(group).items():
            stats.append({**labels, "metric": name, **mean_ci(values)})
    return stats


# --------------------------------------------------------------------------------------------
# Files


def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> list[str]:
    """A markdown table's lines: the header, the rule, one line per row.

    >>> markdown_table(["a", "b"], [[1, "x"]])
    ['| a | b |', '|---|---|', '| 1 | x |']
    """
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return lines


def write_markdown(path: Path, lines: Sequence[str]) -> Path:
    """``lines`` as a markdown file (UTF-8, one final newline)."""
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_stats_csv(
    path: Path, stats: Sequence[Mapping[str, Any]], *, by: Sequence[str] = ()
) -> Path:
    """``stats`` of :func:`summarise_rows` as CSV: the group keys ``by``, then ``metric,
    mean, ci95, n``; numbers written exactly (``repr``), an empty cell for NaN."""

    def exact(x: float) -> str:
        return "" if math.isnan(x) else repr(x)

    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*by, "metric", "mean", "ci95", "n"])
        for s in stats:
            keys = [s[k] for k in by]
            writer.writerow([*keys, s["metric"], exact(s["mean"]), exact(s["ci95"]), s["n"]])
    return path


def model_title(model: str) -> str:
    """A model's name in titles: a local folder by its last part, a hub id or server name
    as it is."""
    return Path(model).name if Path(model).exists() else model


# --------------------------------------------------------------------------------------------
# Plots


def can_plot(feature: str = "the plots") -> bool:
    """Whether matplotlib is installed; without it, one line says so (the reports then
    skip their plots rather than fail)."""
    try:
        require("matplotlib", extra="plot", feature=feature)
    except DependencyNotInstalled as exc:
        print(f"skipping plots: {exc}")
        return False
    return True


def figure(**kwargs: Any) -> Any:
    """A matplotlib ``Figure`` (Agg canvas: no pyplot, no global backend).

    Raises:
        DependencyNotInstalled: without matplotlib (extra ``plot``).
    """
    require("matplotlib", extra="plot", feature="the plots")
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def panels(
    titles: Sequence[str], *, xlabel: str, ylabel: str, size: tuple[float, float] = (5.2, 4.2)
) -> tuple[Any, list[Any]]:
    """A figure with one panel per title side by side (each ``size`` inches), a grid on
    each, the y label on the first."""
    fig = figure(figsize=(size[0] * len(titles), size[1]), layout="constrained")
    axes = list(fig.subplots(1, len(titles), squeeze=False)[0])
    for ax, title in zip(axes, titles, strict=True):
        ax.set_title(title)
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    return fig, axes


def held(curves: Sequence[Sequence[float]], width: int | None = None) -> np.ndarray:
    """Curves of different lengths as one array, each held at its last value to ``width``
    (default: the longest): a stream that ended keeps its last J."""
    width = max(len(c) for c in curves) if width is None else width
    return np.array([[*c[:width], *[c[-1]] * (width - len(c))] for c in curves], dtype=float)


def plot_held_mean(
    ax: Any,
    curves: Sequence[Sequence[float]],
    *,
    width: int | None = None,
    label: str | None = None,
    band_alpha: float = 0.12,
    band_label: str | None = None,
) -> Any:
    """The mean of ``curves`` held to one length (:func:`held`) at x = 0, 1, ..., with
    its 95% CI (1.96·std/√n) as a band clipped to [0, 1]; returns the mean's line."""
    values = held(curves, width)  # [curves, width]
    n = len(values)
    mean = values.mean(axis=0)
    ci = 1.96 * values.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros_like(mean)
    x = np.arange(len(mean))
    (line,) = ax.plot(x, mean, marker="o", ms=3, label=label)
    ax.fill_between(
        x,
        np.clip(mean - ci, 0, 1),
        np.clip(mean + ci, 0, 1),
        color=line.get_color(),
        alpha=band_alpha,
        label=band_label,
    )
    return line


def metric_vs_tokens(
    curves: Mapping[str, Mapping[str, tuple[Sequence[float], Sequence[float]]]],
    *,
    ylabel: str,
    title: str,
    xlabel: str = "tokens (compute)",
    ylim: tuple[float, float] | None = None,
) -> Any:
    """A metric against tokens: one panel per key of ``curves`` (an env), one line per
    label in it (a strategy), each given as ``(tokens, values)``; returns the figure."""
    fig, axes = panels(list(curves), xlabel=xlabel, ylabel=ylabel)
    for ax, lines in zip(axes, curves.values(), strict=True):
        for label, (x, y) in lines.items():
            ax.plot(x, y, label=label)
        if ylim is not None:
            ax.set_ylim(*ylim)
    axes[-1].legend(loc="best", fontsize="small")
    fig.suptitle(title)
    return fig
