"""Summarise a problem set: where it loaded from, how many problems, the answer types.

    mrt-data aime24
    mrt-data math500 --path path/to/data --limit 50
    mrt-data my_problems.jsonl
    mrt-data            # lists the known sets

(``python -m mrt_env.data`` is the same command.) Exits with status 1 and the loader's
message on one line (every place tried, and how to provide the data) when the set cannot be
loaded, and with status 2 for a bad command line.
"""

from __future__ import annotations

import logging
import re
import sys
import textwrap
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import tyro  # this module is only loaded for the command line

from mrt_env.cli import parse_command
from mrt_env.config import Config
from mrt_env.data import available_sources, load_problems
from mrt_env.errors import ConfigError, MrtError
from mrt_env.types import Problem

PROG = "mrt-data"

_KINDS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("integer", re.compile(r"[+-]?\d+")),
    ("decimal", re.compile(r"[+-]?(\d+\.\d*|\.\d+)")),
    ("fraction", re.compile(r"[+-]?(\d+/\d+|\\[dt]?frac\{\d+\}\{\d+\})")),
    ("text", re.compile(r"(\\text\{[^{}]*\}|[A-Za-z][A-Za-z ]*)")),
)


@dataclass(frozen=True)
class DataConfig(Config):
    """Load a problem set and print a short summary of it."""

    name: tyro.conf.Positional[str | None] = None
    """A set's name (aime24, aime25, aime, amc23, math500, minerva, aime_1983_2023, ...) or a data
    file; without it, the known sets are listed."""
    path: Path | None = None
    """A local file or folder to load the set from (else $MRT_ENV_DATA_DIR, else the Hub)."""
    split: str | None = None
    """The Hub split to load instead of the set's usual one."""
    limit: int | None = None
    """Keep only the first LIMIT problems."""
    width: int = 300
    """Characters of the first question to print."""

    def validate(self) -> None:
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be a positive integer, got {self.limit}")
        if self.width < 20:
            raise ConfigError(f"--width must be at least 20, got {self.width}")


def answer_kind(answer: str) -> str:
    """integer, decimal, fraction, text or expression: a coarse type for the summary."""
    for kind, pattern in _KINDS:
        if pattern.fullmatch(answer.strip()):
            return kind
    return "expression"


def summary(name: str, problems: Sequence[Problem], *, width: int = 300) -> str:
    """The text the command prints for ``problems``."""
    kinds = Counter(answer_kind(p.answer) for p in problems)
    first = problems[0]
    question = textwrap.shorten(first.question, width=width, placeholder=" ...")
    # An answer is often one long word (digits, LaTeX), which textwrap.shorten would drop.
    answer = first.answer if len(first.answer) <= width else first.answer[: width - 4] + " ..."
    extra = sorted(k for k in first.metadata if k != "raw_answer")
    lines = [
        f"{name}: {len(problems)} problem{'' if len(problems) == 1 else 's'} "
        f"(ids {problems[0].id} ... {problems[-1].id})",
        "answer types: " + ", ".join(f"{n} {kind}" for kind, n in kinds.most_common()),
        f"first problem: {first.id}",
        f"  question: {question}",
        f"  answer: {answer}",
        f"  other fields: {', '.join(extra) or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mrt-data`` command; returns the exit status (1: the set did not load; 2: a bad
    command line)."""
    cmd = parse_command(DataConfig, PROG, argv, description=__doc__)
    if cmd is None:
        return 2
    if cmd.name is None:
        for name, description in available_sources().items():
            print(f"{name:<16} {description}")
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    try:
        problems = load_problems(cmd.name, path=cmd.path, split=cmd.split, limit=cmd.limit)
    except (MrtError, OSError) as exc:  # anything else is a bug: keep its traceback
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 1
    title = cmd.name if cmd.name in available_sources() else problems[0].source
    print(summary(title, problems, width=cmd.width))
    return 0


if __name__ == "__main__":
    sys.exit(main())
