"""Worker processes that run sympy comparisons under a hard deadline.

sympy has no way to interrupt itself, and signal-based timeouts only work in the main
thread, so the symbolic work runs in child processes (``python -m mrt_env.grading.worker``):
the caller waits for the answer line for at most the deadline, and a worker that overruns
is killed and replaced in the background. The deadline therefore holds from any thread, and
a pathological input costs one worker, never the caller.

Workers are plain subprocesses, not ``multiprocessing`` children, so a user's script is
never re-imported in them. The pool is created on first use, shared by every caller in the
process, reused between calls, grows on demand up to ``max_workers`` (by default one per CPU,
at least 2 and at most 8; ``$MRT_GRADING_WORKERS`` or :func:`set_pool_size` change it), and
is shut down at interpreter exit. Starting a worker (importing sympy) takes about a second;
it is not counted against any call's deadline, and :func:`mrt_env.grading.warmup` does it
early.

Workers never outlive the process that started them, however it ends (``kill -9`` in the
middle of a comparison included): on Linux the kernel kills a worker when its parent dies
(``PR_SET_PDEATHSIG``, set by the worker), and every worker also watches its parent and
exits when it is gone. The death signal is tied to the *thread* that started the worker,
so every worker is started from one thread that lives as long as the process
(:class:`_Spawner`), never from the caller's thread, which may be a short-lived one. Each
worker's address space is capped (``$MRT_GRADING_MEMORY_MB``, 4096 by default), so a
heavy comparison fails there with a MemoryError instead of swapping the machine.

A call has two bounds: ``wait``, for a worker to come free, and ``timeout``, for the
comparison itself. They are kept apart so that a busy machine makes a call slower, never
its verdict different; a call that cannot get a worker, or whose comparison overruns,
reaches no verdict (``Outcome.undecided``) rather than a wrong one.
"""

from __future__ import annotations

import atexit
import collections
import concurrent.futures
import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mrt_env.errors import ConfigError, GradingError

__all__ = [
    "MEMORY_ENV",
    "WORKERS_ENV",
    "Outcome",
    "WorkerPool",
    "default_memory_limit_mb",
    "default_pool_size",
    "get_pool",
    "set_pool_size",
    "shutdown_pool",
]

_READY = "ready"
_EOF = object()  # what a reader thread queues when the worker's stdout closes
# Make the worker importable even when mrt_env is used from a source tree, not installed.
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[2])


WORKERS_ENV = "MRT_GRADING_WORKERS"
"""The environment variable that sets the process-wide pool's size."""

MEMORY_ENV = "MRT_GRADING_MEMORY_MB"
"""The environment variable that caps each worker's address space, in MiB (0: no cap)."""

DEFAULT_MEMORY_MB = 4096
# A ready worker maps about 280 MB of address space (sympy, the LaTeX parser): a smaller
# cap would fail every comparison, so it is a mistake, not a setting.
_MIN_MEMORY_MB = 512


@dataclass(frozen=True)
class Outcome:
    """What one comparison came to.

    ``undecided``: no verdict was reached (no worker came free in time, the comparison
    overran its deadline, or the worker died); ``correct`` is then False but is not a
    judgement of the answer. ``timed_out``: one of the two deadlines passed.
    """

    correct: bool
    reason: str
    timed_out: bool = False
    undecided: bool = False


@dataclass
class _Worker:
    process: subprocess.Popen
    lines: queue.Queue = field(default_factory=queue.Queue)

    @classmethod
    def start(cls, memory_limit_mb: int) -> _Worker:
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        env[MEMORY_ENV] = str(memory_limit_mb)
        env[PARENT_ENV] = str(os.getpid())  # the worker exits when this process is gone
        process = _spawner().popen(
            [sys.executable, "-m", "mrt_env.grading.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        return cls(process)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, name="mrt-grading-reader", daemon=True).start()

    def _read(self) -> None:
        # One reader thread per worker: a portable way to wait for a line with a timeout.
        try:
            for line in self.process.stdout:
                self.lines.put(json.loads(line))
        except (OSError, ValueError):
            pass  # a killed worker can leave half a line; EOF is signalled below either way
        self.lines.put(_EOF)

    def receive(self, timeout: float) -> object:
        """The next message, ``_EOF`` if the worker died; raises queue.Empty on timeout."""
        return self.lines.get(timeout=timeout)

    def write(self, line: str) -> None:
        self.process.stdin.write(line)
        self.process.stdin.flush()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=10)
        for stream in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):  # a broken pipe has nothing left to release
                stream.close()


_CRASHED = Outcome(False, "grading worker crashed on this input", undecided=True)

PARENT_ENV = "MRT_GRADING_PARENT"
"""Set by the pool for each worker: the pid of the process the worker must die with."""


class _Spawner:
    """Starts the worker processes, all from one thread that lives as long as the process.

    A worker asks the kernel to kill it when its parent dies (``PR_SET_PDEATHSIG``), and
    Linux sends that signal when the *thread* that forked the worker ends, not the process:
    a worker started from a caller's short-lived thread (a ThreadPoolExecutor's, a
    respawn thread) would be killed as soon as that thread finished.
    """

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        threading.Thread(target=self._run, name="mrt-grading-spawner", daemon=True).start()

    def _run(self) -> None:
        while True:
            args, kwargs, done = self._requests.get()
            if not done.set_running_or_notify_cancel():
                continue
            try:
                done.set_result(subprocess.Popen(args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, which raises it
                done.set_exception(exc)

    def popen(self, args: list[str], **kwargs: object) -> subprocess.Popen:
        done: concurrent.futures.Future = concurrent.futures.Future()
        self._requests.put((args, kwargs, done))
        try:
            return done.result()
        except BaseException:
            # Interrupted (Ctrl-C) while the process was being started: nobody will own it.
            if not done.cancel():
                done.add_done_callback(_kill_unowned)
            raise


def _kill_unowned(done: concurrent.futures.Future) -> None:
    if not done.cancelled() and done.exception() is None:
        process = done.result()
        process.kill()
        process.wait()


_spawner_instance: _Spawner | None = None
_spawner_lock = threading.Lock()


def _spawner() -> _Spawner:
    """This process's spawner (a forked child has none of its parent's threads)."""
    global _spawner_instance
    with _spawner_lock:
        if _spawner_instance is None or _spawner_instance.pid != os.getpid():
            _spawner_instance = _Spawner()
        return _spawner_instance


def _check_memory_limit(name: str, mb: object) -> int:
    if isinstance(mb, bool) or not isinstance(mb, int) or (mb != 0 and mb < _MIN_MEMORY_MB):
        raise ConfigError(
            f"{name} must be 0 (no cap) or an int of MiB >= {_MIN_MEMORY_MB}, got {mb!r}"
        )
    return mb


def default_memory_limit_mb() -> int:
    """``$MRT_GRADING_MEMORY_MB`` if set, else 4096: each worker's address-space cap in MiB
    (0: no cap)."""
    raw = os.environ.get(MEMORY_ENV, "").strip()
    if not raw:
        return DEFAULT_MEMORY_MB
    try:
        mb: object = int(raw)
    except ValueError:
        mb = raw
    return _check_memory_limit(f"${MEMORY_ENV}", mb)


class WorkerPool:
    """A pool of grading workers with per-call deadlines. Thread-safe.

    Args:
        max_workers: how many workers may exist at once (more concurrent callers wait).
        startup_timeout: how long to wait for a new worker to be ready (import sympy).
            Starting is not counted against a call's deadline; :meth:`warmup` does it early.
        memory_limit_mb: each worker's address-space cap in MiB, 0 for none (default:
            :func:`default_memory_limit_mb`). A comparison that needs more fails with no
            verdict (``undecided``).
    """

    def __init__(
        self,
        max_workers: int = 2,
        *,
        startup_timeout: float = 120.0,
        memory_limit_mb: int | None = None,
    ) -> None:
        if max_workers < 1:
            raise ConfigError(f"max_workers must be >= 1, got {max_workers}")
        self.max_workers = max_workers
        self.startup_timeout = startup_timeout
        self.memory_limit_mb = (
            default_memory_limit_mb()
            if memory_limit_mb is None
            else _check_memory_limit("memory_limit_mb", memory_limit_mb)
        )
        self._cond = threading.Condition()
        self._idle: list[_Worker] = []
        self._line: collections.deque[object] = collections.deque()  # callers waiting, in order
        self._count = 0  # workers alive or starting
        self._closed = False
        self._pid = os.getpid()

    # -- lifecycle ---------------------------------------------------------------------

    def _start_worker(self) -> _Worker:
        return self._await_ready(_Worker.start(self.memory_limit_mb))

    def _await_ready(self, worker: _Worker) -> _Worker:
        try:
            ready = worker.receive(self.startup_timeout) == _READY
        except queue.Empty:
            ready = False
        except BaseException:  # Ctrl-C while it starts: it would belong to nobody
            worker.kill()
            raise
        if not ready:
            worker.kill()
            raise GradingError(
                f"a grading worker ({sys.executable} -m mrt_env.grading.worker) did not start "
                f"within {self.startup_timeout:.0f} s (exit code {worker.process.returncode})"
            )
        return worker

    def warmup(self, n: int | None = None) -> None:
        """Start ``n`` workers now (default: ``max_workers``) so later calls find them ready.

        The workers start in parallel; this returns when all of them are ready.
        """
        n = self.max_workers if n is None else min(n, self.max_workers)
        with self._cond:
            missing = max(0, n - self._count)
            self._count += missing
        spawned: list[_Worker] = []
        ready: list[_Worker] = []
        try:
            for _ in range(missing):
                spawned.append(_Worker.start(self.memory_limit_mb))
            for worker in spawned:
                ready.append(self._await_ready(worker))
        finally:
            for worker in spawned[len(ready) :]:  # not ready: one failed, or Ctrl-C
                worker.kill()
            with self._cond:
                self._count -= missing - len(ready)
                self._idle.extend(ready)
                self._cond.notify_all()

    def resize(self, max_workers: int, *, shrink: bool = False) -> None:
        """Allow ``max_workers`` workers: grow to it, or with ``shrink`` also shrink to it
        (surplus workers stop as they come free)."""
        if isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1:
            raise ConfigError(f"max_workers must be an int >= 1, got {max_workers!r}")
        with self._cond:
            self.max_workers = max_workers if shrink else max(self.max_workers, max_workers)
            surplus = max(0, min(len(self._idle), self._count - self.max_workers))
            stopped, self._idle = self._idle[:surplus], self._idle[surplus:]
            self._count -= surplus
            self._cond.notify_all()
        for worker in stopped:
            worker.kill()

    def close(self) -> None:
        """Stop every worker; calls made afterwards fail with a clear reason."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._cond.notify_all()
        for worker in idle:
            worker.kill()

    @property
    def pid(self) -> int:
        """The process that made the pool (a forked child must not use its parent's)."""
        return self._pid

    @property
    def usable_here(self) -> bool:
        """Whether this process may use the pool: it made it, and it is not closed."""
        return self._pid == os.getpid() and not self._closed

    def worker_pids(self) -> list[int]:
        """Process ids of the idle, live workers (for diagnostics and tests)."""
        with self._cond:
            return [w.process.pid for w in self._idle if w.process.poll() is None]

    # -- use ---------------------------------------------------------------------------

    def _acquire(self, deadline: float) -> _Worker | None:
        # First come, first served: a caller takes a worker only at the head of the line.
        # Without the line, a thread can lose every race for a freed worker to the others
        # and wait far longer than its turn (seen as a 60 s wait under 8 threads).
        ticket = object()
        with self._cond:
            self._line.append(ticket)
            try:
                while True:
                    if self._closed:
                        raise GradingError("the grading pool is closed")
                    if self._line[0] is ticket:
                        while self._idle:
                            worker = self._idle.pop()
                            if worker.process.poll() is None:
                                return worker
                            self._count -= 1  # died while idle (killed from outside): drop it
                            worker.kill()
                        if self._count < self.max_workers:
                            self._count += 1
                            break
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    self._cond.wait(remaining)
            finally:
                self._line.remove(ticket)
                self._cond.notify_all()  # the next in line may go now
        try:
            return self._start_worker()
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify_all()
            raise

    def _release(self, worker: _Worker) -> None:
        with self._cond:
            if self._closed or self._count > self.max_workers:  # closed, or shrunk
                worker.kill()
                self._count -= 1
                self._cond.notify_all()
                return
            self._idle.append(worker)
            self._cond.notify_all()

    def _replace(self, worker: _Worker) -> None:
        """Kill ``worker`` and start its successor, both off the caller's thread."""

        def run() -> None:
            worker.kill()
            with self._cond:
                if self._closed:  # nothing will use a successor
                    self._count -= 1
                    self._cond.notify_all()
                    return
            try:
                successor = self._start_worker()
            except GradingError:
                with self._cond:
                    self._count -= 1
                    self._cond.notify_all()
                return
            self._release(successor)

        if worker.process.poll() is None:
            worker.process.kill()  # stop the runaway computation right now
        threading.Thread(target=run, name="mrt-grading-respawn", daemon=True).start()

    def compare(self, pred: str, gold: str, *, timeout: float, wait: float) -> Outcome:
        """Compare two normalised answers in a worker.

        ``wait`` bounds the wait for a free worker; ``timeout`` bounds the comparison once
        it has one. Starting a new worker counts against neither. When either bound
        passes, the outcome is undecided.
        """
        return self.compare_many([(pred, gold)], timeout=timeout, wait=wait)[0]

    def compare_many(
        self, pairs: Sequence[tuple[str, str]], *, timeout: float, wait: float
    ) -> list[Outcome]:
        """Compare each pair as :meth:`compare` does, all through one worker at a time.

        The pairs are streamed: the worker starts a pair as soon as it has answered the one
        before, and that pair's ``timeout`` counts from then, so the outcomes are those of
        one :meth:`compare` per pair, without a round trip between the caller's threads and
        the worker for each. A pair that overruns, or kills the worker, costs its own
        verdict; the pairs after it go to a fresh worker (``wait`` again bounds the wait).
        """
        lines = [json.dumps(list(pair)) + "\n" for pair in pairs]  # encoded once, resent as is
        results: list[Outcome] = []
        while len(results) < len(pairs):
            worker = self._acquire(time.monotonic() + wait)
            if worker is None:
                busy = Outcome(
                    False, f"no grading worker came free within {wait:g} s", True, undecided=True
                )
                results.extend([busy] * (len(pairs) - len(results)))
                break
            self._stream(worker, lines, results, timeout)
        return results

    # Bytes sent ahead of the pair being compared: less than any pipe buffer, so a write
    # never blocks while a pair runs past its deadline (the wait for its answer must end).
    AHEAD_BYTES = 4096

    def _stream(
        self,
        worker: _Worker,
        lines: list[str],
        results: list[Outcome],
        timeout: float,
    ) -> None:
        """Send ``lines[len(results):]`` (one encoded pair each) to ``worker`` and append
        their outcomes, until they are done (the worker is released) or one ends the
        worker (it is replaced)."""
        ahead: collections.deque[int] = collections.deque()  # sizes of the lines in flight
        sent = len(results)
        try:
            while len(results) < len(lines):
                while sent < len(lines):
                    size = len(lines[sent])
                    if ahead and sum(ahead) + size > self.AHEAD_BYTES:
                        break
                    worker.write(lines[sent])
                    ahead.append(size)
                    sent += 1
                message = worker.receive(timeout)
                ahead.popleft()
                if message is _EOF:  # e.g. a C stack overflow in the parser
                    self._replace(worker)
                    results.append(_CRASHED)
                    return
                verdict, reason, undecided = message
                results.append(Outcome(bool(verdict), str(reason), undecided=bool(undecided)))
        except queue.Empty:
            self._replace(worker)
            results.append(
                Outcome(False, f"sympy comparison exceeded {timeout:g} s", True, undecided=True)
            )
            return
        except OSError:  # broken pipe: the worker had died on the pair it was comparing
            self._replace(worker)
            results.append(_CRASHED)
            return
        except BaseException:
            # Anything else (Ctrl-C while waiting, say) leaves the worker mid-computation:
            # replace it, so that the pool never loses a worker.
            self._replace(worker)
            raise
        self._release(worker)


def default_pool_size() -> int:
    """``$MRT_GRADING_WORKERS`` if set, else one worker per CPU (at least 2, at most 8)."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if not raw:
        return max(2, min(8, os.cpu_count() or 1))
    try:
        size = int(raw)
    except ValueError:
        size = 0
    if size < 1:
        raise ConfigError(f"${WORKERS_ENV} must be a positive int, got {raw!r}")
    return size


_pool: WorkerPool | None = None
_pool_lock = threading.Lock()


def get_pool(min_workers: int = 1) -> WorkerPool:
    """The process-wide pool (created on first use; recreated after ``os.fork``)."""
    global _pool
    with _pool_lock:
        if _pool is None or not _pool.usable_here:
            _pool = WorkerPool(max(default_pool_size(), min_workers))
        elif min_workers > _pool.max_workers:
            _pool.resize(min_workers)
        return _pool


def set_pool_size(workers: int) -> None:
    """Set how many grading workers the process may run at once (grows or shrinks the pool).

    The default is :func:`default_pool_size`. More workers let more symbolic comparisons
    run side by side (each is one process, about 90 MB), so concurrent callers wait less.
    """
    get_pool().resize(workers, shrink=True)


def shutdown_pool() -> None:
    """Stop the process-wide pool's workers (also runs at interpreter exit)."""
    global _pool
    with _pool_lock:
        pool, _pool = _pool, None
    if pool is not None and pool.pid == os.getpid():
        pool.close()


atexit.register(shutdown_pool)
