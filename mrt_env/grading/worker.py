"""The grading worker process: ``python -m mrt_env.grading.worker``.

Reads one JSON array ``[pred, gold]`` per line on stdin and writes one JSON array
``[verdict, reason]`` per line on stdout (after a first line ``"ready"``). Started and
killed by :mod:`mrt_env.grading.pool`; a plain subprocess rather than ``multiprocessing``
so that a user's script is never re-imported in the child (no ``__main__`` guard needed).
"""

from __future__ import annotations

import json
import os
import sys

# Address-space cap: a hostile input that tries to build a giant number fails with
# MemoryError here instead of swapping the machine.
MEMORY_LIMIT_BYTES = 4 * 1024**3


WARMUP_PAIRS = (
    ("x^{2}+2x+1", "(x+1)^{2}"),
    ("3x(x-2)", "3x^{2}-6x"),
    (r"\log_{2} 8", "3"),
    (r"\ln(e^{2})", "2"),
    (r"1+\sqrt{5}", r"\frac{\sqrt{20}}{2}+1"),
    (r"\sqrt[3]{2}\cdot\pi", r"2^{1/3}\pi"),
    (r"\frac{3}{5}+\frac{4}{5}i", r"\frac{3+4i}{5}"),
    (r"\sin(x)^{2}+\cos(x)^{2}", "1"),
    (r"\binom{5}{2}+5!", "130"),
    (r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{bmatrix} 1 & 2 \end{bmatrix}"),
    (r"(0,1]\cup[2,\infty)", r"x \le 3"),
    (r"\{1,2\}", "(1,2)"),
    ("y=2x+3", "ab-c"),
    ('exec("1")', "4"),
)


def _limit_memory(limit: int) -> None:
    try:
        import resource
    except ImportError:  # Windows: the deadline still holds there
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def main() -> None:
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    from mrt_env.grading.symbolic import compare

    # ANTLR builds its prediction tables lazily, so the first parse of each construct costs
    # 10-300 ms. Parsing one of each here, before announcing readiness, takes that cost
    # once per worker instead of inside the deadline of the first real answers.
    for pred, gold in WARMUP_PAIRS:
        compare(pred, gold)
    _limit_memory(MEMORY_LIMIT_BYTES)
    protocol.write('"ready"\n')
    protocol.flush()
    for line in sys.stdin:
        try:
            pred, gold = json.loads(line)
            verdict, reason = compare(pred, gold)
        # Grading never raises: whatever sympy or the parser throws on a malformed answer
        # becomes that answer's verdict (False), with the reason kept for debugging.
        except Exception as exc:  # noqa: BLE001
            detail = str(exc).strip().splitlines()[0][:120] if str(exc).strip() else ""
            verdict, reason = False, f"not comparable: {type(exc).__name__}: {detail}"
        protocol.write(json.dumps([bool(verdict), str(reason)]) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
