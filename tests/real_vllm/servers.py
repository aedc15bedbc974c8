"""Servers started by the real-engine tests: on 127.0.0.1, in a process group of their own,
waited for on /health, and stopped by the group's id (the server's pid) with nothing left."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(cmd: Sequence[str], port: int, log: Path, env: dict[str, str]) -> subprocess.Popen:
    """Start ``cmd`` (a server on 127.0.0.1:``port``) and wait until /health answers."""
    proc = subprocess.Popen(list(cmd), stdout=log.open("w"), stderr=subprocess.STDOUT,
                            env={**os.environ, **env}, start_new_session=True)  # fmt: skip
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"the server exited with {proc.returncode}:\n{log.read_text()[-3000:]}"
            )
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(1)
    stop(proc)
    raise RuntimeError(f"the server did not answer in 300 s:\n{log.read_text()[-3000:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop the server and its engine processes by the group's id, and check that none of
    them is left."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    deadline = time.monotonic() + 30  # the engine core ends after the server
    while time.monotonic() < deadline:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.5)
    os.killpg(proc.pid, signal.SIGKILL)
    raise AssertionError(f"processes of the server's group {proc.pid} outlived it by 30 s")
