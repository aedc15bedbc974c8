"""Two jobs on one machine: does each slow down by the share of the cores it lost, or fall
off a cliff?

    python benchmarks/two_jobs.py                    # mrt-bench next to mrt-train, ~2 minutes
    python benchmarks/two_jobs.py --jobs mrt-pretrain mrt-bench --settings 2-active default
    python benchmarks/two_jobs.py --jobs mrt-pretrain mrt-pretrain --settings 2-active default

A fixed slice of each job (the shipped tiny model, offline) runs alone, then both are
started together, as separate processes. For each thread setting the table gives each
job's wall time alone and together and the slowdown (together / alone); "sequential" is
the two run one after the other, "both done" the two run together. Two jobs that share 2
cores well slow down by at most about 2x each and finish together no later than in
sequence; spinning threads cost far more.

A setting is a value of ``--threads`` (``default``: the commands' own default), optionally
suffixed ``-active`` to let idle threads spin (``OMP_WAIT_POLICY=ACTIVE``, OpenMP's own
behaviour) instead of the commands' passive wait. Run it alone on the machine.
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
    bench_problems: int = 50
    """mrt-bench slice: problems of MRT-Arithmetic-v0, think-to-budget, one sample each."""
    train_steps: int = 10
    """mrt-train slice: MRT steps on MRT-Search-v0 (2 problems × 4 traces, no evaluation)."""
    pretrain_steps: int = 60
    """mrt-pretrain slice: steps of the tiny model's pre-training (batch 48)."""
    jobs: tuple[str, ...] = ("mrt-bench", "mrt-train")
    """The jobs run together: mrt-bench, mrt-train, mrt-pretrain; a name given twice runs
    twice, the second with another seed (seeds side by side)."""


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
            *(py, "-m", "mrt_env.training"),
            *("--steps", str(cfg.train_steps), "--problems-per-step", "2", "--group-size", "4"),
            *("--eval-problems", "0", "--out", str(folder / "train"), "--overwrite"),
            *extra,
        ],
        "mrt-pretrain": [
            *(py, "-m", "mrt_env.pretrain.train"),
            *("--steps", str(cfg.pretrain_steps), "--out", str(folder / "pretrain")),
            *extra,
        ],
    }


def run_together(jobs: dict[str, list[str]], env: dict[str, str]) -> dict[str, float]:
    """Start every job at once; each one's wall time."""
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as logs:
        procs = {}
        for name, cmd in jobs.items():
            err = open(Path(logs) / f"{name}.err", "wb")  # noqa: SIM115 - closed below
            procs[name] = (
                subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=err),
                err,
            )
        times: dict[str, float] = {}
        while len(times) < len(procs):  # each job's own finish time, whichever ends first
            for name, (proc, err) in procs.items():
                if name not in times and proc.poll() is not None:
                    times[name] = time.perf_counter() - start
                    err.close()
                    if proc.returncode != 0:
                        tail = (Path(logs) / f"{name}.err").read_text(errors="replace")[-2000:]
                        raise SystemExit(f"{name} failed ({proc.returncode}):\n{tail}")
            time.sleep(0.05)
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
            jobs: dict[str, list[str]] = {}
            for i, name in enumerate(cfg.jobs):  # a job named twice: two seeds side by side
                label = name if name not in jobs else f"{name} (seed {i})"
                jobs[label] = commands(cfg, Path(tmp) / str(i), threads)[name]
                if label != name:
                    jobs[label] += ["--seed", str(i)]
            every = commands(cfg, Path(tmp) / "warm-up", threads)
            run_together({"warm-up": every["mrt-bench"]}, env)  # caches, imports
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
