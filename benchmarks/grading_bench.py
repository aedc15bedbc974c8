"""Our grader next to Math-Verify on the regression table, in one run.

    python benchmarks/grading_bench.py            # needs the [dev] extra (math-verify)

For each grader: agreement with the table's labels, total wall time over the table, the
slowest case, and the speed ratio. Both graders run sequentially in the main thread with
their default timeouts (5 s each); imports and our one-time worker start are excluded
from the timings and reported separately. Math-verify is called the way its README shows
(gold wrapped in ``$...$``), and so is a bare answer (a response with no box).
"""

from __future__ import annotations

import runpy
import time
from dataclasses import dataclass
from pathlib import Path

import tyro

TABLE = Path(__file__).resolve().parents[1] / "tests" / "grading" / "cases.py"


@dataclass(frozen=True)
class BenchConfig:
    """Compare mrt_env.grading with math-verify on tests/grading/cases.py."""

    limit: int | None = None
    """Use only the first N cases of the table (default: all)."""
    families: tuple[str, ...] = ()
    """Use only these families (default: all)."""
    workers: int = 2
    """Worker processes for the grade_many (batched) row."""


@dataclass
class Run:
    name: str
    verdicts: list[bool]
    seconds: list[float]


def _run(name: str, fn, cases) -> Run:
    verdicts, seconds = [], []
    for case in cases:
        start = time.perf_counter()
        verdicts.append(bool(fn(case.response, case.gold)))
        seconds.append(time.perf_counter() - start)
    return Run(name, verdicts, seconds)


def main(cfg: BenchConfig) -> None:
    cases = runpy.run_path(str(TABLE))["GRADE_CASES"]
    if cfg.families:
        cases = [c for c in cases if c.family in cfg.families]
    cases = cases[: cfg.limit]
    labels = [c.correct for c in cases]

    t0 = time.perf_counter()
    from mrt_env.grading import grade, grade_many, shutdown_pool, warmup

    warmup(cfg.workers)
    ours_setup = time.perf_counter() - t0
    t0 = time.perf_counter()
    from math_verify import parse, verify

    mv_setup = time.perf_counter() - t0

    def math_verify(response: str, gold: str) -> bool:
        # Called as its README shows: the gold wrapped in $...$; a bare answer (a short
        # response with no box and no </think>) is wrapped in $...$ too. One call per case.
        bare = len(response) < 200 and "\\boxed" not in response and "</think>" not in response
        return verify(parse(f"${gold}$"), parse(f"${response}$" if bare else response))

    print(f"{len(cases)} cases from {TABLE.relative_to(TABLE.parents[2])}")
    runs = [
        _run("mrt_env", lambda r, g: grade(r, g).correct, cases),
        _run("math-verify", math_verify, cases),
    ]
    base = sum(runs[1].seconds)
    print()
    print("| grader | agreement | wall time (s) | speed vs math-verify | slowest case |")
    print("|---|---|---|---|---|")
    for run in runs:
        agree = sum(v == lab for v, lab in zip(run.verdicts, labels, strict=True))
        total = sum(run.seconds)
        worst = max(range(len(cases)), key=run.seconds.__getitem__)
        snippet = cases[worst].response[:40].replace("\n", " ").replace("|", "\\|")
        print(
            f"| {run.name} | {agree}/{len(cases)} ({agree / len(cases):.1%}) | {total:.2f} "
            f"| {base / total:.1f}x | {run.seconds[worst]:.2f} s ({cases[worst].family}: "
            f"`{snippet}`) |"
        )
    ours_total, mv_total = sum(runs[0].seconds) + ours_setup, base + mv_setup
    print()
    print(
        f"one-time setup, excluded above: mrt_env {ours_setup:.2f} s (import + worker start),"
        f" math-verify {mv_setup:.2f} s (import)"
    )
    print(
        f"including setup: mrt_env {ours_total:.2f} s, math-verify {mv_total:.2f} s "
        f"({mv_total / ours_total:.1f}x)"
    )
    # Fresh workers: the first pass filled the old ones' parse caches with these strings.
    shutdown_pool()
    warmup(cfg.workers)
    start = time.perf_counter()
    batched = grade_many([(c.response, c.gold) for c in cases], workers=cfg.workers)
    many = time.perf_counter() - start
    assert [r.correct for r in batched] == runs[0].verdicts, "grade_many must agree with grade"
    print(
        f"grade_many on {cfg.workers} workers: {many:.2f} s for the table "
        f"on fresh workers ({base / many:.1f}x math-verify's sequential time; same verdicts)"
    )
    disagreements = [
        (c.family, c.response[:50], c.gold, lab, o, m)
        for c, lab, o, m in zip(cases, labels, runs[0].verdicts, runs[1].verdicts, strict=True)
        if o != lab or m != lab
    ]
    by_family: dict[str, list[int]] = {}
    for fam, _, _, lab, o, m in disagreements:
        counts = by_family.setdefault(fam, [0, 0])
        counts[0] += o != lab
        counts[1] += m != lab
    if by_family:
        print("\nmistakes per family (mrt_env / math-verify):")
        for fam, (o, m) in sorted(by_family.items()):
            print(f"  {fam:<18} {o:>3} / {m:>3}")


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
