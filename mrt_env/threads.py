"""CPU threads: one ``--threads`` setting for every command, and a machine shared well.

torch computes on a pool of OpenMP threads, one per core by default, and by default an idle
thread *spins* (busy-waits) before it sleeps. Alone on a machine that is fastest. Two jobs
on the same cores are not alone: each one's spinning threads burn the cycles the other one's
working threads need, and both slow down far more than the 2x that sharing the cores costs
(18x was measured for ``mrt-pretrain`` next to ``mrt-bench`` on 2 cores).

:func:`set_threads` is what every command calls with its ``--threads`` value before any
model is loaded: idle threads wait passively (``OMP_WAIT_POLICY=PASSIVE``, unless the
environment sets a policy), and torch uses ``threads`` threads (default: one per core, as
torch). ``benchmarks/two_jobs.py`` measures the choice: each job alone and two at once.
"""

from __future__ import annotations

import os
import sys

from mrt_env.errors import ConfigError

__all__ = ["set_threads"]


def set_threads(threads: int | None) -> int:
    """Use ``threads`` CPU threads for torch (None: one per core) with passive waiting;
    returns the count. Before torch is imported this goes through the environment (which
    OpenMP reads once, at load); after, through ``torch.set_num_threads`` as well (the
    wait policy is then already fixed).

    Raises:
        ConfigError: ``threads`` is not a positive integer.
    """
    if threads is not None and (
        isinstance(threads, bool) or not isinstance(threads, int) or threads < 1
    ):
        raise ConfigError(f"--threads must be a positive integer, got {threads!r}")
    count = threads or os.cpu_count() or 1
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    if threads is not None:
        os.environ["OMP_NUM_THREADS"] = str(count)
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(count)
    return count
