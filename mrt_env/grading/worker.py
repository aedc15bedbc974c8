"""The grading worker process: ``python -m mrt_env.grading.worker``.

Reads one JSON array ``[pred, gold]`` per line on stdin and writes one JSON array
``[verdict, reason, undecided]`` per line on stdout (after a first line ``"ready"``).
Started and killed by :mod:`mrt_env.grading.pool`; a plain subprocess rather than
``multiprocessing`` so that a user's script is never re-imported in the child (no
``__main__`` guard needed).

A worker dies with the process that started it (``$MRT_GRADING_PARENT``), however that
process ends, and its address space is capped (``$MRT_GRADING_MEMORY_MB``).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time

# Set by the pool (see mrt_env.grading.pool: MEMORY_ENV, PARENT_ENV, DEFAULT_MEMORY_MB);
# spelled out here so that the worker starts without importing the pool.
_MEMORY_ENV = "MRT_GRADING_MEMORY_MB"
_PARENT_ENV = "MRT_GRADING_PARENT"
_DEFAULT_MEMORY_MB = 4096
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>
# How often the watchdog looks for its parent: the bound on an orphan's life where the
# kernel's death signal is not available.
_WATCH_SECONDS = 0.2

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
    # A hostile input that tries to build a giant number fails with MemoryError here
    # instead of swapping the machine.
    try:
        import resource
    except ImportError:  # Windows: the deadline still holds there
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _die_with_parent(parent: int) -> None:
    """End this process as soon as ``parent`` is gone, however it ended.

    Linux: the kernel sends SIGKILL when the parent dies, even while a comparison holds the
    GIL in C code. The pool starts workers from a thread that lives as long as it does,
    since the signal is tied to the thread that forked. Everywhere: a watchdog thread sees
    the worker re-parented (to init or a subreaper) and exits, and the check right after
    ``prctl`` covers a parent that died before the signal was asked for.
    """
    if sys.platform == "linux":
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no prctl in this libc: the watchdog remains
            pass
    if os.getppid() != parent:
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(_WATCH_SECONDS)
        os._exit(1)  # not sys.exit: the main thread may be deep in a computation

    threading.Thread(target=watch, name="mrt-grading-watchdog", daemon=True).start()


def _env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, "") or default)
    except ValueError:  # the pool validates what it sets; a hand-run worker falls back
        return default


# Exceptions that mean the comparison ran out of a resource, not that the answer is wrong:
# no verdict. (The int/str conversion limit is a ValueError; its message names it.)
_OUT_OF_RESOURCES = (MemoryError, RecursionError)


def _no_verdict(exc: Exception, text: str) -> bool:
    return isinstance(exc, _OUT_OF_RESOURCES) or (
        isinstance(exc, ValueError) and "integer string conversion" in text
    )


def main() -> None:
    _die_with_parent(_env_int(_PARENT_ENV, os.getppid()))
    # The protocol owns the real stdout; anything a library prints goes to stderr.
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    sys.stdout = sys.stderr
    from mrt_env.grading.symbolic import compare

    # ANTLR builds its prediction tables lazily, so the first parse of each construct costs
    # 10-300 ms. Parsing one of each here, before announcing readiness, takes that cost
    # once per worker instead of inside the deadline of the first real answers.
    for pred, gold in WARMUP_PAIRS:
        compare(pred, gold)
    memory_mb = _env_int(_MEMORY_ENV, _DEFAULT_MEMORY_MB)
    if memory_mb > 0:
        _limit_memory(memory_mb * 1024**2)
    protocol.write('"ready"\n')
    protocol.flush()
    for line in sys.stdin:
        try:
            pred, gold = json.loads(line)
            verdict, reason, undecided = compare(pred, gold)
        # Grading never raises: whatever sympy or the parser throws on a malformed answer
        # becomes that answer's verdict (False), with the reason kept for debugging; running
        # out of memory or stack reaches no verdict.
        except Exception as exc:  # noqa: BLE001
            try:
                text = str(exc).strip()
            except Exception:  # noqa: BLE001 - a message too large to print, say
                text = ""
            detail = text.splitlines()[0][:120] if text else ""
            verdict, reason = False, f"not comparable: {type(exc).__name__}: {detail}"
            undecided = _no_verdict(exc, text)
        protocol.write(json.dumps([bool(verdict) and not undecided, reason, undecided]) + "\n")
        protocol.flush()


if __name__ == "__main__":
    main()
