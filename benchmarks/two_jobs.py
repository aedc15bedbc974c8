"""Two jobs on one machine: does each slow down by the share of the cores it lost, or fall
off a cliff?

    python benchmarks/two_jobs.py                       # the default settings, ~3 minutes
    python benchmarks/two_jobs.py --settings default 1 2 2-active   # compare mechanisms

A fixed slice of ``mrt-bench`` and one of ``mrt-train`` (the shipped tiny model, offline)
each run alone, then both started together, as separate processes. For each thread setting
the table gives each job's wall time alone and together, and the slowdown ratio
(together / alone): two jobs sharing the cores evenly cost each at most about 2x; spinning
threads cost far more. "sequential" is the time of running the two alone one after the
other; "together" finishes no later than that when sharing works.

A setting is a value of ``--threads`` (``default``: the commands' own default), optionally
suffixed ``-active`` to let idle threads spin (``OMP_WAIT_POLICY=ACTIVE``, torch's own
default) instead of the commands' passive wait. Run it alone on the machine.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass(frozen=True)
class Config:
    """Each job alone and two at once, per thread setting."""

    settings: tuple[str, ...] = ("default",)
    """Thread settings to compare: default, N, or N-active (see the module's doc)."""
    bench_problems: int = 12
    """mrt-bench slice: problems of MRT-Arithmetic-v0, think-to-budget, one sample each."""
    train_steps: int = 3
    """mrt-train slice: MRT steps on MRT-Search-v0 (2 problems × 4 traces, no evaluation)."""


def commands(cfg: Config, folder: Path, threads: str) -> dict[str, list[str]]:
    extra = [] if threads == "default" else ["--threads", threads]
    py = sys.executable
    return {
        "mrt-bench": [
            *(py, "-m", "mrt_env.bench"),
            *("--envs", "MRT-Arithmetic-v0", "--strategies", "think-to-budget"),
            *("--problems", str(cfg.bench_problems), "--samples", "1"),
            *("--out", str(folder / "bench"), "--overwrite"),
            *extra,
        ],
        "mrt-train": [
            *(py, "-m", "mrt_env.training.train"),
            *("--steps", str(cfg.train_steps), "--problems-per-step", "2", "--group-size", "4"),
            *("--eval-problems", "0", "--out", str(folder / "train"), "--overwrite"),
            *extra,
        ],
    }


def run_together(jobs: dict[str, list[str]], env: dict[str, str]) -> dict[str, float]:
    """Start every job at once; each one's wall time."""
    start = time.perf_counter()
    procs = {
        name: subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        for name, cmd in jobs.items()
    }
    times = {}
    for name, proc in procs.items():
        _, err = proc.communicate()
        times[name] = time.perf_counter() - start
        if proc.returncode != 0:
            raise SystemExit(f"{name} failed ({proc.returncode}):\n{err.decode()[-2000:]}")
    return times


def main(cfg: Config) -> None:
    print("| threads | job | alone s | together s | slowdown | sequential s | both done s |")
    print("|---|---|---|---|---|---|---|")
    for setting in cfg.settings:
        threads, _, policy = setting.partition("-")
        env = dict(os.environ)
        env.pop("OMP_NUM_THREADS", None)
        if policy == "active":
            env["OMP_WAIT_POLICY"] = "ACTIVE"
        with tempfile.TemporaryDirectory() as tmp:
            jobs = commands(cfg, Path(tmp), threads)
            run_together({"warm-up": jobs["mrt-bench"]}, env)  # caches, imports
            alone = {name: run_together({name: cmd}, env)[name] for name, cmd in jobs.items()}
            together = run_together(jobs, env)
        sequential = sum(alone.values())
        both = max(together.values())
        for name in jobs:
            print(
                f"| {setting} | {name} | {alone[name]:.1f} | {together[name]:.1f} | "
                f"{together[name] / alone[name]:.2f}x | {sequential:.1f} | {both:.1f} |"
            )


if __name__ == "__main__":
    main(tyro.cli(Config))
