"""Grade answers from the command line.

    mrt-grade --gold 70 "<think>...</think> So the answer is \\boxed{070}."
    printf '%s\\n' "\\frac{1}{2}" "0.5" "0.33" | mrt-grade --gold "1/2" -

Prints one line per response (verdict, extracted answer, how it was decided), or JSON
lines with ``--json``. With ``--check`` it exits 1 unless every response is correct, for
use in shell scripts.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass

import tyro  # this module is only loaded for the command line

from mrt_env.errors import ConfigError
from mrt_env.grading.grader import DEFAULT_TIMEOUT, grade_many


@dataclass(frozen=True)
class GradeCommand:
    """Grade model responses (or bare answers) against one reference answer."""

    responses: tyro.conf.Positional[tuple[str, ...]]
    """Responses to grade; '-' reads one response per line from standard input."""
    gold: str
    """The reference answer, e.g. 70, '\\frac{3}{4}' or '(0,1]'."""
    timeout: float = DEFAULT_TIMEOUT
    """Seconds the symbolic comparison of one response may take."""
    json: bool = False
    """Print one JSON object per response instead of a table."""
    check: bool = False
    """Exit with status 1 unless every response is correct."""

    def __post_init__(self) -> None:
        if not self.timeout > 0:
            raise ConfigError(f"--timeout must be positive, got {self.timeout}")


def _read_responses(items: tuple[str, ...]) -> list[str]:
    out: list[str] = []
    for item in items:
        if item == "-":
            out.extend(line.rstrip("\n") for line in sys.stdin if line.strip())
        else:
            out.append(item)
    return out


def main(argv: list[str] | None = None) -> int:
    cmd = tyro.cli(GradeCommand, args=argv, description=__doc__, prog="mrt-grade")
    responses = _read_responses(cmd.responses)
    if not responses:
        print("error: no responses given (arguments, or '-' for stdin)", file=sys.stderr)
        return 2
    results = grade_many([(r, cmd.gold) for r in responses], timeout=cmd.timeout)
    for response, result in zip(responses, results, strict=True):
        if cmd.json:
            row = {"response": response, "gold": cmd.gold, **result.__dict__}
            print(json.dumps(row, ensure_ascii=False))
        else:
            verdict = "correct" if result.correct else "timeout" if result.timed_out else "wrong"
            print(f"{verdict:<8} extracted={result.extracted!r:<24} ({result.reason})")
    return 1 if cmd.check and not all(r.correct for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
