"""The ``mrt-bench`` command: run strategies on envs, then write the tables and plots."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from mrt_env.bench.config import BenchConfig
from mrt_env.bench.report import (
    headline_metrics,
    summarise,
    table_lines,
    write_plots,
    write_summary,
)
from mrt_env.bench.runner import (
    RESULTS_FILE,
    plan_envs,
    prepare_out,
    run_episodes,
)
from mrt_env.bench.specs import parse_strategy
from mrt_env.cli import exit_status, parse_command
from mrt_env.report import model_title
from mrt_env.runfiles import locked

__all__ = ["main", "run"]

_DESCRIPTION = """\
Benchmark exploration strategies by regret. Each strategy (an agent) solves each problem of
each env, one reasoning block per step; after every block the env's meta-prover gives J, the
chance that the model forced to answer now is right. Reported per env and strategy (mean ±
95% CI): accuracy, pass@k and maj@k, compute tokens, blocks, progress, episode regret,
normalized token regret and accuracy at token budgets; plotted: accuracy vs tokens, mean J
per block, cumulative regret vs tokens. Rows are appended to OUT/results.jsonl as they
finish: rerun the same command to resume after an interruption.

  mrt-bench                                       # offline: synthetic envs, shipped model
  mrt-bench --strategies think-to-budget mymod:MyAgent --problems 0:100 --samples 4
  mrt-bench --envs MRT-AIME-v0 --model.name agentica-org/DeepScaleR-1.5B-Preview \\
      --model.backend vllm --prover.k 4 --agent.temperature 0.6
"""


def run(config: BenchConfig) -> Path:
    """Run (or resume) ``config`` and write its summary and plots; returns the folder.

    The folder is locked for the run: a second ``mrt-bench`` on the same ``--out`` is
    refused instead of interleaving its rows."""
    with locked(Path(config.out), "mrt-bench"):
        return _run_locked(config)


def _run_locked(config: BenchConfig) -> Path:
    from tqdm import tqdm

    rows_path, existing = prepare_out(config)
    plans = plan_envs(config, {r["key"] for r in existing})  # bad problems fail before loading
    total = sum(len(p.picked) for p in plans) * len(config.strategies) * len(config.seeds)
    total *= config.samples
    left = sum(len(v) for p in plans for v in p.todo.values())
    every_row = list(existing)
    if left:
        from mrt_env.lm import load_lm

        lm = load_lm(config.model)
        with tqdm(total=total, initial=total - left, desc="mrt-bench", unit="attempt") as bar:
            every_row.extend(run_episodes(config, plans, lm, rows_path, bar))
    else:
        print(f"all {total} attempts already in {rows_path}; rewriting the summary")

    # The summary covers this run's envs, strategies, seeds, samples and problems only.
    wanted = {(p.env_id, p.problem_ids[i]) for p in plans for i in p.picked}
    labels = {parse_strategy(s).label for s in config.strategies}
    rows = [
        r
        for r in every_row
        if (r["env"], r["problem_id"]) in wanted
        and r["strategy"] in labels
        and r["seed"] in config.seeds
        and r["sample"] < config.samples
    ]
    max_blocks = {p.env_id: p.max_blocks for p in plans}
    budgets = {p.env_id: p.budgets for p in plans}
    stats = summarise(rows, max_blocks=max_blocks, budgets=budgets, samples=config.samples)
    header = [
        f"Model `{config.model.name}` ({config.model.backend}); problems "
        f"`{config.problems}`, seeds {list(config.seeds)}, {config.samples} sample(s) each; "
        "token budgets C0: " + "; ".join(f"{p.env_id} {list(p.budgets)}" for p in plans) + ".",
    ]
    md_path, csv_path = write_summary(config.out, stats, header=header)
    plots = (
        write_plots(
            rows,
            config.out,
            max_blocks=max_blocks,
            budgets=budgets,
            title=model_title(config.model.name),
        )
        if config.plots
        else []
    )
    for plan in plans:
        print(f"\n{plan.env_id}")
        print("\n".join(table_lines(stats, plan.env_id, headline_metrics(stats, plan.env_id))))
    print("\nwrote:")
    for path in (rows_path, md_path, csv_path, *plots):
        print(f"  {path}")
    if plots:
        print(f"plots: {Path(config.out) / '*.png'}")
    return Path(config.out)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mrt-bench`` command; returns the exit status (2 for bad settings)."""
    config = parse_command(BenchConfig, "mrt-bench", argv, description=_DESCRIPTION)
    if config is None:
        return 2
    return exit_status("mrt-bench", lambda: run(config), Path(config.out) / RESULTS_FILE)


if __name__ == "__main__":
    sys.exit(main())
