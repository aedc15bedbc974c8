"""What the commands (``mrt-bench``, ``mrt-regret``, ``mrt-train``, ``mrt-pretrain``) share on
the command line: typed configs whose ``--help`` comes from their field docs, bad settings
that end in one line of error (exit status 2), and failures turned into exit statuses."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrt_env.config import Config, deferred_validation, validate_tree
from mrt_env.errors import ConfigError, MrtError
from mrt_env.threads import set_threads

__all__ = ["CommandConfig", "exit_status", "parse_command", "presets_help", "take_preset"]


@dataclass(frozen=True)
class CommandConfig(Config):
    """Base of the commands' frozen config dataclasses: a config checks itself when it is
    built (:meth:`validate`), except inside :func:`parse_command`, which checks it (and the
    value objects nested in it: ``--model.*``, ``--prover.*``, ...) right after the command
    line is parsed. (A command line is parsed first and validated after: tyro catches a
    ValueError raised while it builds a config and prints it in a multi-line box.)

    Every command has ``--threads`` (:func:`mrt_env.threads.set_threads`), applied by
    :func:`parse_command` before any model is loaded."""

    threads: int | None = field(default=None, kw_only=True)
    """CPU threads torch computes with (default: one per core). Idle threads wait passively,
    so two runs on one machine share its cores instead of spinning against each other."""


def parse_command(
    cls: type,
    prog: str,
    argv: Sequence[str] | None = None,
    *,
    description: str | None = None,
    default: Any = None,
) -> Any:
    """``cls`` from the command line (``--help`` from its field docs), or None after printing
    ``prog: error: ...`` for a bad value (the command then exits with status 2)."""
    import tyro

    with deferred_validation():
        config = tyro.cli(
            cls,
            args=None if argv is None else list(argv),
            default=default,
            prog=prog,
            description=description,
        )
    try:
        validate_tree(config)
        if isinstance(config, CommandConfig):
            set_threads(config.threads)
    except MrtError as exc:  # anything else is a bug in a validate(): keep its traceback
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return None
    return config


def take_preset(args: Sequence[str], names: Sequence[str]) -> tuple[str | None, list[str]]:
    """Split ``--preset NAME`` (or ``--preset=NAME``) off a command line: the name (None
    when absent) and the other arguments, in order.

    >>> take_preset(["--out", "x", "--preset", "a"], ["a", "b"])
    ('a', ['--out', 'x'])

    Raises:
        ConfigError: a name not in ``names``, or ``--preset`` without one.
    """
    args, name = list(args), None
    for i, arg in enumerate(args):
        if arg == "--preset" or arg.startswith("--preset="):
            given = arg.partition("=")[2] if "=" in arg else None
            if given is None:
                given = args[i + 1] if i + 1 < len(args) else ""
                del args[i : i + 2]
            else:
                del args[i]
            name = given
            break
    if name is not None and name not in names:
        raise ConfigError(f"--preset must be one of {sorted(names)}, got {name!r}")
    return name, args


def presets_help(presets: Mapping[str, str]) -> str:
    """The lines ``--help`` shows for the presets: one per name, with what it sets."""
    lines = ["presets (--preset NAME sets these defaults; flags given after override them):"]
    lines += [f"  {name}: {summary}" for name, summary in presets.items()]
    return "\n".join(lines)


def exit_status(
    prog: str,
    work: Callable[[], object],
    rows_path: Path,
    *,
    resume: str = "Run the same command again to resume.",
) -> int:
    """Run a resumable command's ``work`` and turn its end into an exit status.

    A failure the user can fix (an :class:`~mrt_env.errors.MrtError`: bad data or settings,
    a backend error; or an ``OSError``: a file problem) is one line on stderr and status 1;
    anything else is a bug and keeps its traceback. Ctrl-C says where the finished rows are
    and how to resume (130).
    """
    try:
        work()
    except (MrtError, OSError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(
            f"\ninterrupted; what was finished is in {rows_path}. {resume}",
            file=sys.stderr,
        )
        return 130
    return 0
