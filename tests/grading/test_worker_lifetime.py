"""Grading workers live and die with the process that started them: a parent killed in the
middle of a heavy comparison (``kill -9``, ``kill -TERM``) takes its workers with it, a
worker started from a short-lived thread outlives that thread, and each worker's memory is
capped."""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from mrt_env.errors import ConfigError
from mrt_env.grading.normalize import normalize_answer
from mrt_env.grading.pool import MEMORY_ENV, WorkerPool, default_memory_limit_mb

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

# sympy needs minutes for this (it adds 100000 huge powers exactly), with memory growing.
SLOW = r"\sum_{k=1}^{100000} k^{k}"

# The parent: starts its one worker from a thread that then ends (the case that breaks a
# plain PR_SET_PDEATHSIG, which is tied to the starting thread), reports the worker's pid,
# then has it compare the slow pair with an hour's deadline.
PARENT = textwrap.dedent(
    rf"""
    import threading
    from mrt_env.grading import get_pool, grade, set_pool_size
    set_pool_size(1)
    starter = threading.Thread(target=get_pool().warmup, args=(1,))
    starter.start()
    starter.join()
    print(*get_pool().worker_pids(), flush=True)
    grade(r"{SLOW}", "1", timeout=3600)
    """
)


def _stat(pid: int) -> list[str] | None:
    """Fields of /proc/PID/stat after the command name (state first), None when gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None


def _alive(pid: int) -> bool:
    fields = _stat(pid)
    return fields is not None and fields[0] != "Z"  # a zombie is dead, only not reaped yet


def _parent_of(pid: int) -> int | None:
    fields = _stat(pid)
    return None if fields is None else int(fields[1])


def _cpu_ticks(pid: int) -> int:
    fields = _stat(pid)
    return 0 if fields is None else int(fields[11]) + int(fields[12])  # utime + stime


@pytest.mark.timeout(180)
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["kill-9", "kill-TERM"])
def test_workers_die_with_a_parent_killed_mid_comparison(sig):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    workers: list[int] = []
    try:
        ready, _, _ = select.select([parent.stdout], [], [], 120)
        assert ready, "the parent did not start its grading worker within 120 s"
        workers = [int(p) for p in parent.stdout.readline().split()]
        assert len(workers) == 1
        (worker,) = workers
        assert _parent_of(worker) == parent.pid
        # The worker is busy with the slow pair (its CPU time grows) before the kill.
        start, deadline = _cpu_ticks(worker), time.monotonic() + 30
        while _cpu_ticks(worker) < start + 50 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert _alive(worker), "the worker started from an ended thread died with the thread"
        assert _cpu_ticks(worker) >= start + 50, "the worker never started comparing"
        os.kill(parent.pid, sig)
        parent.wait(timeout=30)
        deadline = time.monotonic() + 5
        while _alive(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _alive(worker), f"grading worker {worker} outlived its parent ({sig.name})"
    finally:
        # A regression must not leave a process computing at 100% CPU for minutes.
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        for pid in workers:
            if _alive(pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)


ROOT8, TWO_ROOT2 = normalize_answer(r"\sqrt{8}"), normalize_answer(r"2\sqrt{2}")


def test_a_worker_started_from_a_thread_that_ended_keeps_working():
    pool = WorkerPool(1)
    try:
        starter = threading.Thread(target=pool.warmup)
        starter.start()
        starter.join()
        time.sleep(0.5)  # long enough for a signal tied to the starting thread to land
        pids = pool.worker_pids()
        assert len(pids) == 1
        assert pool.compare(ROOT8, TWO_ROOT2, timeout=5.0, wait=60.0).correct
        assert pool.worker_pids() == pids  # the same worker: none died, none was replaced
    finally:
        pool.close()


def _address_space_limit(pid: int) -> str:
    with open(f"/proc/{pid}/limits") as f:
        row = next(line for line in f if line.startswith("Max address space"))
    return row.split()[3]  # the soft limit, in bytes, or "unlimited"


def test_each_worker_memory_is_capped_and_the_cap_is_configurable(monkeypatch):
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert default_memory_limit_mb() == 4096
    monkeypatch.setenv(MEMORY_ENV, "1536")
    assert default_memory_limit_mb() == 1536
    for bad in ("lots", "-1", "1.5", "10"):  # 10 MB cannot even hold the interpreter
        monkeypatch.setenv(MEMORY_ENV, bad)
        with pytest.raises(ConfigError, match=MEMORY_ENV):
            default_memory_limit_mb()
    monkeypatch.delenv(MEMORY_ENV)
    with pytest.raises(ConfigError, match="memory_limit_mb"):
        WorkerPool(1, memory_limit_mb=-5)
    for limit, expected in ((1536, str(1536 * 1024**2)), (0, "unlimited")):
        pool = WorkerPool(1, memory_limit_mb=limit)
        try:
            pool.warmup()
            (pid,) = pool.worker_pids()
            assert _address_space_limit(pid) == expected
            assert pool.compare(ROOT8, TWO_ROOT2, timeout=5.0, wait=60.0).correct
        finally:
            pool.close()
