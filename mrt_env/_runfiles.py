"""What the commands (``mrt-regret``, ``mrt-bench``, ``mrt-train``, ``mrt-pretrain``) share:
command lines whose bad values end in one line of error, JSONL rows written one at a time
and read back after a kill, a settings file that stops a resume under other settings, and
mean ± 95% CI statistics for their summaries."""

from __future__ import annotations

import contextvars
import json
import math
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

import numpy as np

from mrt_env.errors import DataFormatError, MrtError

__all__ = [
    "CommandConfig",
    "append_row",
    "check_settings",
    "exit_status",
    "format_stat",
    "held",
    "mean_ci",
    "model_title",
    "parse_command",
    "read_rows",
]

SETTINGS_FILE = "settings.json"

# A command line is parsed first and validated after: tyro catches a ValueError raised while
# it builds a config and prints it in a multi-line box with its usage.
_validate_on_init = contextvars.ContextVar("mrt_env_validate_on_init", default=True)


class CommandConfig:
    """Base of the commands' frozen config dataclasses: a config checks itself when it is
    built (:meth:`validate`), except inside :func:`parse_command`, which checks it right
    after the command line is parsed."""

    def __post_init__(self) -> None:
        if _validate_on_init.get():
            self.validate()

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting (what was given, what
        was expected)."""


def parse_command(
    cls: type, prog: str, argv: Sequence[str] | None = None, *, description: str | None = None,
    default: Any = None,
) -> Any:  # fmt: skip
    """``cls`` from the command line (``--help`` from its field docs), or None after printing
    ``prog: error: ...`` for a bad value (the command then exits with status 2)."""
    import tyro

    token = _validate_on_init.set(False)
    try:
        config = tyro.cli(cls, args=None if argv is None else list(argv), default=default,
                          prog=prog, description=description)  # fmt: skip
    finally:
        _validate_on_init.reset(token)
    try:
        config.validate()
    except ValueError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return None
    return config


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
                raise ValueError("not a row")
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
            raise ValueError(
                f"{out} holds rows computed with other settings ({what}); "
                "pass --overwrite to start afresh or choose another --out"
            )
    path.write_text(json.dumps(settings, indent=2) + "\n", encoding="utf-8")


def mean_ci(values: Iterable[float]) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}``: the mean and its 95% half-width 1.96·std/√n (sample std).

    ``mean`` is NaN for no values, ``ci95`` NaN for fewer than two.
    """
    x = np.asarray(list(values), dtype=float)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    ci = float(1.96 * x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "ci95": ci, "n": n}


def format_stat(stat: Mapping[str, Any], digits: int = 4) -> str:
    """``mean ± ci`` as text (``n/a`` without values, the mean alone without a CI)."""
    if math.isnan(stat["mean"]):
        return "n/a"
    if math.isnan(stat["ci95"]):
        return f"{stat['mean']:.{digits}g}"
    return f"{stat['mean']:.{digits}g} ± {stat['ci95']:.2g}"


def held(curves: Sequence[Sequence[float]], width: int | None = None) -> np.ndarray:
    """Curves of different lengths as one array, each held at its last value to ``width``
    (default: the longest): a stream that ended keeps its last J."""
    width = max(len(c) for c in curves) if width is None else width
    return np.array([[*c[:width], *[c[-1]] * (width - len(c))] for c in curves], dtype=float)


def model_title(model: str) -> str:
    """A model's name in titles: a local folder by its last part, a hub id or server name
    as it is."""
    return Path(model).name if Path(model).exists() else model


def exit_status(
    prog: str,
    work: Callable[[], object],
    rows_path: Path,
    *,
    resume: str = "Run the same command again to resume.",
) -> int:
    """Run a resumable command's ``work`` and turn its end into an exit status.

    A failure the user can fix (bad data, a backend error, a file problem) is one line on
    stderr and status 1; Ctrl-C says where the finished rows are and how to resume (130).
    """
    try:
        work()
    except (MrtError, ValueError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; what was finished is in {rows_path}. {resume}",
            file=sys.stderr,
        )
        return 130
    return 0
