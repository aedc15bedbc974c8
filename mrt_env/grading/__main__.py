"""Grade answers from the command line.

    mrt-grade --gold 70 "<think>...</think> So the answer is \\boxed{070}."
    printf '%s\\n' "\\frac{1}{2}" "0.5" "0.33" | mrt-grade --gold "1/2" -

Prints one line per response (verdict, extracted answer, how it was decided), or JSON
lines with ``--json``. With ``--check`` it exits 1 unless every response is correct, for
use in shell scripts.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass

import tyro  # this module is only loaded for the command line

from mrt_env.cli import parse_command
from mrt_env.config import Config
from mrt_env.errors import ConfigError, MrtError
from mrt_env.grading.grader import DEFAULT_TIMEOUT, MAX_TIMEOUT, grade_many


@dataclass(frozen=True)
class GradeConfig(Config):
    """Grade model responses (or bare answers) against one reference answer."""

    responses: tyro.conf.Positional[tuple[str, ...]]
    """Responses to grade; '-' reads one response per line from standard input."""
    gold: str
    """The reference answer, e.g. 70, '\\frac{3}{4}' or '(0,1]'."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds the symbolic comparison of one response may take, in (0, 86400]."""
    json: bool = False
    """Print one JSON object per response instead of a table."""
    check: bool = False
    """Exit with status 1 unless every response is correct."""

    def validate(self) -> None:
        # The API's own bound, checked here so that it is one line of error, not a
        # traceback from inside grade_many (nan, inf and 1e300 all passed "> 0").
        timeout = self.timeout
        if isinstance(timeout, bool) or not isinstance(timeout, int | float):
            timeout = math.nan
        if not 0 < timeout <= MAX_TIMEOUT:
            raise ConfigError(
                f"--timeout must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {self.timeout}"
            )


def _read_responses(items: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item == "-":
            out.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            out.append(item)
    return out


def _json_line(row: dict) -> str:
    line = json.dumps(row, ensure_ascii=False)
    try:
        line.encode(sys.stdout.encoding or "utf-8")
    except (UnicodeEncodeError, LookupError):
        # A lone surrogate (an argument that was not valid UTF-8) cannot be printed as is.
        line = json.dumps(row)
    return line


def main(argv: list[str] | None = None) -> int:
    cmd = parse_command(GradeConfig, "mrt-grade", argv, description=__doc__)
    if cmd is None:  # a bad command line, reported on one line
        return 2
    responses = _read_responses(cmd.responses)
    if not responses:
        message = "no responses given (arguments, or '-' for stdin)"
        print(f"mrt-grade: error: {message}", file=sys.stderr)
        return 2
    try:
        results = grade_many([(r, cmd.gold) for r in responses], timeout=cmd.timeout)
    except MrtError as exc:
        print(f"mrt-grade: error: {exc}", file=sys.stderr)
        return 1
    for response, result in zip(responses, results, strict=True):
        if cmd.json:
            row = {"response": response, "gold": cmd.gold, **result.__dict__}
            print(_json_line(row))
        else:
            verdict = (
                "correct"
                if result.correct
                else "timeout"
                if result.timed_out
                else "undecided"
                if result.undecided
                else "wrong"
            )
            print(f"{verdict:<8} extracted={result.extracted!r:<24} ({result.reason})")
    return 1 if cmd.check and not all(r.correct for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
