"""The grader under hostile input and load: do its promises hold when many threads call it?

    python benchmarks/grading_load.py                    # the full size (a few minutes)
    python benchmarks/grading_load.py --calls 200        # CI's smoke size

Threads call :func:`mrt_env.grading.grade` at once, as a busy RL run's reward workers do,
on a mix of three kinds of input, shuffled:

* **equal**: the regression table's cases labelled correct (plain numbers, fractions,
  roots, intervals, matrices, choice letters, ...): every one must come back correct;
* **hostile**: the table's hostile inputs and the generated ones that used to stall the
  grader's own thread (an ``Answer:`` followed by a megabyte of newlines, 20,000 nested
  braces, ...): every call must return within its bound;
* **slow**: a sum sympy needs minutes for, so that its comparison holds a worker for its
  whole ``timeout``: the load that made other callers' verdicts wrong before waiting for a
  worker and the comparison got separate bounds.

It prints, per kind: calls, exceptions raised, calls over their bound (``wait`` +
``timeout`` + 2 s for a worker's start), verdicts (correct / wrong / undecided) and
latency (median, 99th percentile, max). The targets are 0 exceptions, 0 calls over their
bound and 0 equal pairs not judged equal; slow inputs should all be undecided.
"""

from __future__ import annotations

import random
import runpy
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import tyro

TABLE = Path(__file__).resolve().parents[1] / "tests" / "grading" / "cases.py"
SLOW = r"\sum_{k=1}^{100000} k^{k}"
# Time beyond ``wait + timeout`` a call may take: starting a replacement worker (import
# sympy, about a second; more on a loaded machine).
START_SLACK = 2.0


@dataclass(frozen=True)
class LoadConfig:
    """Grade a shuffled mix of equal, hostile and slow inputs from many threads at once."""

    calls: int = 3000
    """Grading calls in all."""
    threads: int = 8
    """Threads calling grade() at once."""
    slow_share: float = 0.07
    """Share of the calls that are slow inputs (each holds a worker for its timeout)."""
    hostile_share: float = 0.10
    """Share of the calls that are hostile inputs."""
    timeout: float = 2.0
    """grade()'s timeout: seconds a comparison may take."""
    wait: float = 60.0
    """grade()'s wait: seconds a call may wait for a free worker."""
    workers: int | None = None
    """Grading workers (default: the package's default pool size for this machine)."""
    seed: int = 0
    """Seed of the shuffle."""


def _hostile_generated() -> list[tuple[str, str]]:
    return [
        ("Answer:" + "\n" * 1_000_000, "4"),
        ("Answer:" + " " * 200_000 + "**", "4"),
        ("{" * 20_000 + "1" + "}" * 20_000, "4"),
        (r"\boxed{" + "{" * 20_000 + "4" + "}" * 20_000 + "}", "4"),
        ("The final answer is " + "(" * 50_000, "4"),
        ("a\ud800b", "4"),
        ("\x00" * 10_000, "4"),
    ]


def _inputs(cfg: LoadConfig) -> list[tuple[str, str, str]]:
    """(kind, response, gold) for every call, shuffled."""
    table = runpy.run_path(str(TABLE))
    equal = [(c.response, c.gold) for c in table["GRADE_CASES"] if c.correct]
    hostile = [(t, "4") for t in table["HOSTILE_INPUTS"]] + _hostile_generated()
    n_slow = round(cfg.calls * cfg.slow_share)
    n_hostile = round(cfg.calls * cfg.hostile_share)
    n_equal = cfg.calls - n_slow - n_hostile
    rng = random.Random(cfg.seed)
    calls = [("slow", SLOW, "1")] * n_slow
    calls += [("hostile", *hostile[i % len(hostile)]) for i in range(n_hostile)]
    calls += [("equal", *equal[i % len(equal)]) for i in range(n_equal)]
    rng.shuffle(calls)
    return calls


def main(cfg: LoadConfig) -> None:
    from tqdm.auto import tqdm

    from mrt_env.grading import default_pool_size, grade, set_pool_size, warmup

    workers = cfg.workers or default_pool_size()
    set_pool_size(workers)
    warmup(workers)
    calls = _inputs(cfg)
    bound = cfg.wait + cfg.timeout + START_SLACK
    results: dict[str, list[tuple[str, float]]] = defaultdict(list)  # kind -> (verdict, s)
    errors: dict[str, list[str]] = defaultdict(list)
    lock = threading.Lock()
    todo = iter(calls)
    bar = tqdm(total=len(calls), desc="grading under load", unit="call")

    def caller() -> None:
        while True:
            with lock:
                item = next(todo, None)
            if item is None:
                return
            kind, response, gold = item
            start = time.monotonic()
            try:
                result = grade(response, gold, timeout=cfg.timeout, wait=cfg.wait)
            except Exception as exc:  # noqa: BLE001 - the promise under test: grade() never raises
                with lock:
                    errors[kind].append(f"{type(exc).__name__}: {exc}"[:200])
                    bar.update()
                continue
            seconds = time.monotonic() - start
            verdict = (
                "undecided" if result.undecided else ("correct" if result.correct else "wrong")
            )
            with lock:
                results[kind].append((verdict, seconds))
                bar.update()

    began = time.monotonic()
    threads = [threading.Thread(target=caller, name=f"caller-{i}") for i in range(cfg.threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    bar.close()
    wall = time.monotonic() - began

    print(
        f"\n{len(calls)} calls from {cfg.threads} threads on {workers} grading workers, "
        f"timeout {cfg.timeout:g} s, wait {cfg.wait:g} s (bound per call {bound:g} s); "
        f"{wall:.1f} s wall\n"
    )
    columns = ["kind", "calls", "exceptions", "over bound", "correct", "wrong", "undecided"]
    columns += ["median s", "p99 s", "max s"]
    print("| " + " | ".join(columns) + " |")
    print("|" + "---|" * len(columns))
    for kind in ("equal", "hostile", "slow"):
        rows = results[kind]
        seconds = sorted(s for _, s in rows) or [0.0]
        counts = {v: sum(r == v for r, _ in rows) for v in ("correct", "wrong", "undecided")}
        p99 = seconds[min(len(seconds) - 1, int(0.99 * len(seconds)))]
        print(
            f"| {kind} | {len(rows) + len(errors[kind])} | {len(errors[kind])} | "
            f"{sum(s > bound for s in seconds)} | {counts['correct']} | {counts['wrong']} | "
            f"{counts['undecided']} | {statistics.median(seconds):.3f} | {p99:.3f} | "
            f"{seconds[-1]:.3f} |"
        )
    equal = results["equal"]
    missed = sum(v != "correct" for v, _ in equal) + len(errors["equal"])
    exceptions = sum(len(e) for e in errors.values())
    over = sum(s > bound for rows in results.values() for _, s in rows)
    print(
        f"\ntargets: exceptions {exceptions} (0), calls over bound {over} (0), "
        f"equal pairs not judged equal {missed} (0)"
    )
    for kind, messages in errors.items():
        for message in messages[:3]:
            print(f"  {kind}: {message}", file=sys.stderr)
    if exceptions or over or missed:
        sys.exit(1)


if __name__ == "__main__":
    main(tyro.cli(LoadConfig))
