"""The report module every report is built from: statistics, column names, files, plots."""

import csv
import math

import pytest

from mrt_env.bench.report import summarise as bench_summarise
from mrt_env.regret.summary import summarise as regret_summarise
from mrt_env.report import (
    COLUMNS,
    describe,
    figure,
    held,
    markdown_table,
    metric_vs_tokens,
    plot_held_mean,
    summarise_rows,
    write_stats_csv,
)


def test_summarise_rows_groups_in_order_of_first_appearance():
    rows = [{"s": "b", "x": 1.0}, {"s": "a", "x": 2.0}, {"s": "b", "x": 3.0}]
    stats = summarise_rows(rows, lambda g: {"x": [r["x"] for r in g]}, by=["s"])
    assert [(s["s"], s["mean"], s["n"]) for s in stats] == [("b", 2.0, 2), ("a", 2.0, 1)]
    assert stats[0]["ci95"] == pytest.approx(1.96 * math.sqrt(2) / math.sqrt(2))
    assert math.isnan(stats[1]["ci95"])  # one value: no CI
    # Without keys, the rows are one group, even with none (its columns have n = 0).
    (empty,) = summarise_rows([], lambda g: {"x": [r["x"] for r in g]})
    assert empty["n"] == 0 and math.isnan(empty["mean"])
    assert set(empty) == {"metric", "mean", "ci95", "n"}


def test_every_column_the_commands_write_is_described():
    bench_row = {
        "env": "E",
        "strategy": "s",
        "seed": 0,
        "sample": 0,
        "problem_id": "p",
        "correct": True,
        "answer": "4",
        "success_probs": [0.2, 0.9],
        "compute_tokens": [0, 10],
        "regret": 0.1,
    }
    rows = [bench_row, {**bench_row, "sample": 1, "correct": False}]
    bench = bench_summarise(rows, max_blocks={"E": 2}, budgets={"E": [5, 20]}, samples=2)
    regret_row = {
        "blocks": 1,
        "prefix_tokens": [0, 10],
        "final_j": 0.9,
        "correct": True,
        "regret": 0.1,
        "token_regret": {"16": 0.5},
    }
    regret = regret_summarise([regret_row], [16])
    names = {s["metric"] for s in [*bench, *regret]}
    assert {"blocks", "regret", "token_regret@16", "pass@2", "maj@2", "accuracy@20"} <= names
    assert not {"episodes", "regret_total"} & names  # one name per quantity
    assert all(describe(name) for name in names), [n for n in names if not describe(n)]
    assert describe("token_regret@16") == "normalized token regret at C0 = 16 tokens"
    assert describe("pass@8") == "some of 8 samples correct (unbiased)"
    assert describe("no_such_column") == "" and describe("no_such@3") == ""
    assert all(text.strip() for text in COLUMNS.values())


def test_markdown_and_csv_files(tmp_path):
    assert markdown_table(["a", "b"], [[1, ""], ["x", 2.5]]) == [
        "| a | b |",
        "|---|---|",
        "| 1 |  |",
        "| x | 2.5 |",
    ]
    stats = [
        {"env": "E", "metric": "accuracy", "mean": 0.1 + 0.2, "ci95": math.nan, "n": 1},
        {"env": "E", "metric": "tokens", "mean": math.nan, "ci95": math.nan, "n": 0},
    ]
    path = write_stats_csv(tmp_path / "s.csv", stats, by=["env"])
    with path.open() as f:
        lines = list(csv.reader(f))
    assert lines[0] == ["env", "metric", "mean", "ci95", "n"]
    assert lines[1] == ["E", "accuracy", repr(0.1 + 0.2), "", "1"]  # exact, NaN as empty
    assert lines[2] == ["E", "tokens", "", "", "0"]


def test_plot_parts_draw_held_curves_and_metric_vs_tokens(tmp_path):
    pytest.importorskip("matplotlib")
    assert held([[0.1, 0.5], [0.2]], 3).tolist() == [[0.1, 0.5, 0.5], [0.2, 0.2, 0.2]]
    fig = figure(figsize=(4, 3))
    ax = fig.add_subplot()
    line = plot_held_mean(ax, [[0.0, 0.5, 1.0], [0.0, 1.0]], label="m")
    assert line.get_ydata().tolist() == pytest.approx([0.0, 0.75, 1.0])
    fig = metric_vs_tokens(
        {"E1": {"s": ([1, 2], [0.1, 0.2])}, "E2": {"s": ([1, 2], [0.3, 0.4])}},
        ylabel="y",
        title="t",
    )
    assert [ax.get_title() for ax in fig.axes] == ["E1", "E2"]
    fig.savefig(tmp_path / "f.png")
    assert (tmp_path / "f.png").read_bytes()[:4] == b"\x89PNG"
