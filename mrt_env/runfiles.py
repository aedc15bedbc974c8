"""Run folders that survive a kill: JSONL rows written one at a time and read back after a
crash, a settings file that stops a resume under other settings, and checkpoints saved
atomically."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mrt_env.errors import DataFormatError, RunStateError
from mrt_env.extras import require

__all__ = [
    "LOCK_FILE",
    "SETTINGS_FILE",
    "append_row",
    "changed_settings",
    "check_settings",
    "locked",
    "read_rows",
    "save_atomic",
    "write_text_atomic",
]

SETTINGS_FILE = "settings.json"
LOCK_FILE = ".lock"


def read_rows(path: Path, *, key: str, tool: str) -> list[dict[str, Any]]:
    """The rows already in ``path`` (each a JSON object with ``key``); [] if there is none.

    A torn last line (the run was killed mid-write) is cut off the file, so the next append
    starts on a clean line; a complete last row whose newline was not yet written gets it.
    Any other bad line means the file is not ``tool``'s: a :class:`DataFormatError`.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    rows: list[dict[str, Any]] = []
    lines = data.split(b"\n")  # the last item is b"" when the file ends with a newline
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            if not isinstance(row, dict) or key not in row:
                raise DataFormatError("not a row")
        except ValueError:
            if i == len(lines) - 1:  # the last line, without its newline: torn by a kill
                print(f"note: dropping an incomplete last line of {path}", file=sys.stderr)
                with path.open("r+b") as f:
                    f.truncate(len(data) - len(raw))
                break
            raise DataFormatError(
                f"{path}:{i + 1}: not a row of {tool}; pass --overwrite or another --out"
            ) from None
        rows.append(row)
    else:
        if data and not data.endswith(b"\n"):  # complete last row, newline not yet written
            with path.open("ab") as f:
                f.write(b"\n")
    return rows


def append_row(f: IO[str], row: Mapping[str, Any]) -> None:
    """Append one row and make it durable before going on (a kill loses no finished row)."""
    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    f.flush()
    os.fsync(f.fileno())


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The settings that differ, as ``name: old -> new, ...`` ('' when none do); nested
    groups are compared field by field (``model.name: ...``)."""

    def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, Mapping):
                out |= flat(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v
        return out

    # Compared as they read back from JSON (tuples -> lists).
    a, b = flat(json.loads(json.dumps(before))), flat(json.loads(json.dumps(after)))
    changed = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed)


def check_settings(out: Path, settings: Mapping[str, Any], *, resuming: bool) -> None:
    """Refuse to resume rows made under other ``settings``, naming them; then record the
    settings."""
    path = out / SETTINGS_FILE
    if resuming and path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        if what := changed_settings(before, settings):
            raise RunStateError(
                f"{out} holds rows computed with other settings ({what}); "
                "pass --overwrite to start afresh or choose another --out"
            )
    text = json.dumps(json.loads(json.dumps(settings)), indent=2)
    path.write_text(text + "\n", encoding="utf-8")


@contextmanager
def locked(out: Path, tool: str) -> Iterator[None]:
    """Hold ``out`` for one run of ``tool``: a second run on the same folder is refused at
    once instead of interleaving its rows. The lock is the operating system's (``flock``),
    so a killed run leaves no stale lock. Where ``fcntl`` is missing (Windows) it is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK_FILE).open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunStateError(
                f"{out} is in use by another {tool} run ({holder}); wait for it to finish "
                "or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over ``path``: a kill at any moment
    leaves the old file or the new one, never half of one."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, synced, then renamed over ``path``: a kill at
    any moment leaves either the previous checkpoint or the new one, whole."""
    torch = require("torch", extra="hf", feature="checkpoints")
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
