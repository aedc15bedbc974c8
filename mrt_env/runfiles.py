"""Run folders that survive a kill: JSONL rows written one at a time and read back after a
crash, a settings file that stops a resume under other settings, and checkpoints saved
atomically."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from mrt_env.errors import DataFormatError, RunStateError
from mrt_env.extras import require

__all__ = ["SETTINGS_FILE", "append_row", "check_settings", "read_rows", "save_atomic"]

SETTINGS_FILE = "settings.json"


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


def check_settings(out: Path, settings: Mapping[str, Any], *, resuming: bool) -> None:
    """Refuse to resume rows made under other ``settings``; then record the settings."""
    path = out / SETTINGS_FILE
    settings = json.loads(json.dumps(settings))  # as it will read back (tuples -> lists)
    if resuming and path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = [
            k for k in sorted(set(before) | set(settings)) if before.get(k) != settings.get(k)
        ]
        if changed:
            what = ", ".join(f"{k}: {before.get(k)!r} -> {settings.get(k)!r}" for k in changed)
            raise RunStateError(
                f"{out} holds rows computed with other settings ({what}); "
                "pass --overwrite to start afresh or choose another --out"
            )
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, synced, then renamed over ``path``: a kill at
    any moment leaves either the previous checkpoint or the new one, whole."""
    torch = require("torch", extra="hf", feature="checkpoints")
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
