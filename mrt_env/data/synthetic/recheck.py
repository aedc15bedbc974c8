"""MRT-Recheck: long addition where the solver slips, fixes, and wastes blocks idly.

The waste-rich testbed: a task whose base policy spends a large share of its blocks on
work that provably changes nothing, next to checks that sometimes matter, with its exact
meta-prover known. Text format (one block per line)::

    Q 482+396                                  <- prompt
    wait, let me re-read the question          <- idle: changes nothing
    2+6+0=08 rest 48+39                        <- units column, and the digits left
    ok 2+6+0=08                                <- a check of a right column: idle
    8+9+0=18 rest 4+3                          <- a slip (the sum is off by one)
    fix 8+9+0=17 rest 4+3                      <- a check that corrects it: productive
    4+3+1=08
    \\boxed{878}

Two choices of format keep the idle blocks idle for a small model too. Each column line
carries the operands' digits still to add (``rest``), so the next column copies the last
digits of the column line before it rather than counting positions in the prompt; an
``ok`` line does not repeat that ``rest``, so it gives the next column nothing to copy.
And a check says what it is in its first word: a line that starts with a digit is always
a new column (a first version put ``ok`` and ``fixed`` at the end, and its model, having
begun a line with the last column's digits, often finished it as a garbled new column).

The forced answer (``A \\boxed{`` after any block) reads the written column sums and
works the unwritten columns out "in the head", getting each column's digit wrong with
probability ``guess_error``. So the exact μ is known (:meth:`RecheckTask.oracle_success`):
J = 0 once a written sum is wrong, else ``(1 - guess_error) ** unwritten`` columns (the
carries are exact). A right column or a fix raises J; an ``ok`` check or a ``wait`` line
leaves it where it was, which is what makes them waste.

Solver styles (both fix every slip, so both are equally accurate: the waste costs no
outcome unless the block budget is tight):

* ``lean``: the columns, each slip followed at once by its fix, then the answer;
* ``careful``: the same, plus an ``ok`` check after a right column with probability
  ``check_prob`` and a ``wait`` line before a column with probability ``wait_prob``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mrt_env.data.synthetic.arithmetic import AdditionTask
from mrt_env.data.synthetic.base import ANSWER_OPEN, WorkedSolution
from mrt_env.types import Problem

__all__ = ["BLOCK_KINDS", "WAIT_LINE", "ChecksTask", "RecheckTask", "block_kind", "slipped_sum"]

WAIT_LINE = "wait, let me re-read the question\n"
"""The idle block: it restates nothing the model could use (no digits)."""

_COLUMN = re.compile(r"^(ok |fix )?(\d)\+(\d)\+(\d)=(\d\d)(?: rest \d+\+\d+)?$")
_BOXED = re.compile(r"\\boxed\{([^}]*)\}")


@dataclass(frozen=True)
class RecheckTask(AdditionTask):
    """Sums of two ``digits``-digit numbers, worked with slips, fixes and idle blocks."""

    slip_prob: float = 0.1
    """Chance that the solver writes a column's sum off by one (and fixes it next)."""
    check_prob: float = 0.5
    """careful style: chance of an ``ok`` check after a right column."""
    wait_prob: float = 0.4
    """careful style: chance of a ``wait`` line before a column."""
    guess_error: float = 0.3
    """Forced answer: chance that an unwritten column's digit comes out wrong."""
    name: str = "recheck"
    styles: tuple[str, ...] = ("lean", "careful")
    probabilities: ClassVar[tuple[str, ...]] = (
        "slip_prob",
        "check_prob",
        "wait_prob",
        "guess_error",
    )

    def columns(self, problem: Problem) -> list[str]:
        """The right column lines, units first (without their newline)."""
        x, y = (str(v) for v in problem.metadata["operands"])
        carry, lines = 0, []
        for k, (a, b) in enumerate(self.digit_pairs(problem), start=1):
            s = a + b + carry
            rest = f" rest {x[:-k]}+{y[:-k]}" if k < len(x) else ""
            lines.append(f"{a}+{b}+{carry}={s:02d}{rest}")
            carry = s // 10
        return lines

    def trace(self, problem: Problem, rng: np.random.Generator, style: str) -> WorkedSolution:
        self.check_style(style)
        careful = style == "careful"
        blocks: list[str] = []
        for line in self.columns(problem):
            if careful and rng.random() < self.wait_prob:
                blocks.append(WAIT_LINE)
            if rng.random() < self.slip_prob:
                head, s, rest = line[:6], int(line[6:8]), line[8:]
                blocks += [f"{head}{slipped_sum(s, rng):02d}{rest}\n", f"fix {line}\n"]
            else:
                blocks.append(line + "\n")
                if careful and rng.random() < self.check_prob:
                    blocks.append(f"ok {line[:8]}\n")
        blocks.append(f"{ANSWER_OPEN}{problem.answer}}}\n")
        return WorkedSolution(tuple(blocks), style)

    @staticmethod
    def written_sums(blocks: tuple[str, ...] | list[str]) -> list[int]:
        """The column sums the blocks leave standing, units first: a column line adds
        one, a ``fix`` line replaces the last, anything else changes nothing."""
        sums: list[int] = []
        for block in blocks:
            m = _COLUMN.match(block.rstrip("\n"))
            if m is None or m.group(1) == "ok ":
                continue
            if m.group(1) == "fix ":
                if sums:
                    sums[-1] = int(m.group(5))
                continue
            sums.append(int(m.group(5)))
        return sums

    @staticmethod
    def _start(sums: list[int]) -> tuple[list[int], int]:
        """The forced answer's start after ``sums``: the written digits (units first) and
        the carry into the first unwritten column."""
        return [s % 10 for s in sums], (sums[-1] // 10 if sums else 0)

    def forced_answer(
        self, problem: Problem, blocks: tuple[str, ...], rng: np.random.Generator
    ) -> str:
        """The written digits, then the unwritten columns worked out from the written
        carry, each digit wrong with probability ``guess_error`` (carries stay exact)."""
        digits, carry = self._start(self.written_sums(blocks))
        for a, b in self.digit_pairs(problem)[len(digits) :]:
            s = a + b + carry
            d = s % 10
            if rng.random() < self.guess_error:
                d = int(rng.choice([v for v in range(10) if v != d]))
            digits.append(d)
            carry = s // 10
        return read_upwards(digits, carry)

    def oracle_success(self, problem: Problem, blocks: tuple[str, ...] | list[str]) -> float:
        """The exact J after ``blocks``: the chance that :meth:`forced_answer` is right.

        A committed answer scores 1 or 0. Otherwise every written digit must be the gold
        one, and each unwritten column contributes ``1 - guess_error`` if the exact carry
        gives the gold digit there, ``guess_error / 9`` if it does not.
        """
        for block in blocks:
            if (m := _BOXED.search(block)) is not None:
                return float(m.group(1).strip() == problem.answer)
        digits, carry = self._start(self.written_sums(blocks))
        gold = [int(c) for c in problem.answer[::-1]]
        if digits != gold[: len(digits)]:
            return 0.0
        p = 1.0
        for a, b in self.digit_pairs(problem)[len(digits) :]:
            s, at = a + b + carry, len(digits)
            right = at < len(gold) and s % 10 == gold[at]
            p *= (1.0 - self.guess_error) if right else self.guess_error / 9
            digits.append(gold[at] if at < len(gold) else s % 10)  # the only right digit
            carry = s // 10
        # The last carry (the sum's leading 1) is exact: it decides on its own.
        return p if read_upwards(digits, carry) == problem.answer else 0.0

    def waste(self, blocks: tuple[str, ...] | list[str]) -> int:
        """Idle blocks: those that leave the written sums as they were and commit nothing
        (``ok`` checks, ``wait`` lines, a fix that fixes nothing, stray text). Under the
        exact μ these are the blocks whose progress is 0 by construction."""
        wasted, before = 0, []
        for i, block in enumerate(blocks):
            after = self.written_sums(blocks[: i + 1])
            wasted += after == before and ANSWER_OPEN not in block
            before = after
        return wasted


def read_upwards(digits: list[int], carry: int) -> str:
    """The sum read from its column digits (units first) and the last carry."""
    text = "".join(str(d) for d in reversed(digits))
    return (str(carry) if carry else "") + text if text else str(carry)


def slipped_sum(s: int, rng: np.random.Generator) -> int:
    """A column sum ``s`` written off by one (kept within a column's range, 0 to 19)."""
    return s + 1 if s == 0 or (s < 19 and rng.random() < 0.5) else s - 1


BLOCK_KINDS = ("column", "slip", "wait", "ok", "fix", "answer", "other")
"""What :func:`block_kind` calls a block."""


def block_kind(task: RecheckTask, problem: Problem, blocks: Sequence[str], i: int) -> str:
    """What block ``i`` of ``blocks`` is, by what it does to the written sums.

    ``column``: a new column whose sum is right for the carry written before it; ``slip``:
    a new column written wrong; ``wait``: the idle line; ``ok``: a check line that changes
    nothing; ``fix``: a check that changes the last written sum;
    ``answer``: the boxed answer; ``other``: anything else (changes nothing).
    """
    block = blocks[i]
    if ANSWER_OPEN in block:
        return "answer"
    if block == WAIT_LINE:
        return "wait"
    before, after = task.written_sums(blocks[:i]), task.written_sums(blocks[: i + 1])
    if after == before:  # a check that changes nothing is idle, whatever it says
        return "ok" if block.startswith(("ok ", "fix ")) else "other"
    if block.startswith("fix "):
        return "fix"
    if len(before) >= task.digits:
        return "slip"  # a column past the last one
    a, b = task.digit_pairs(problem)[len(before)]
    carry = before[-1] // 10 if before else 0
    return "column" if after[-1] == a + b + carry else "slip"


@dataclass(frozen=True)
class ChecksTask(RecheckTask):
    """MRT-Checks: the recheck variant where some extra blocks pay.

    Slips are not fixed at once. A ``careful`` solver checks a column, whether it is right
    or not, with probability ``check_prob``: the check reads ``ok 8+9+0=17`` when the
    column is right (idle) and ``fix 8+9+0=17 rest 4+3`` when it slipped (productive: it
    turns a lost problem back into a winnable one). ``wait`` lines stay pure waste. A
    slip nobody checks stays written: the next column starts from its carry and the
    answer reads its digit, so the ``lean`` solver, which never checks, keeps its slips::

        Q 482+396
        wait, let me re-read the question     <- idle
        2+6+0=08 rest 48+39
        ok 2+6+0=08                           <- a check of a right column: idle
        8+9+0=18 rest 4+3                     <- a slip
        fix 8+9+0=17 rest 4+3                 <- a check that catches it: productive
        4+3+1=08
        \\boxed{878}

    The exact μ and the idle blocks are :class:`RecheckTask`'s. With the defaults a column
    slips with probability 0.2: the lean solver is right (1 − 0.2)³ ≈ 0.51 of the time, a
    solver that checks every column always, the careful one (1 − 0.2 · 0.5)³ ≈ 0.73.
    """

    slip_prob: float = 0.2
    """Chance that a column's sum is written off by one."""
    check_prob: float = 0.5
    """careful style: chance of a check after a column (``ok`` or ``fix``)."""
    name: str = "checks"

    def trace(self, problem: Problem, rng: np.random.Generator, style: str) -> WorkedSolution:
        self.check_style(style)
        careful = style == "careful"
        blocks: list[str] = []
        digits: list[int] = []
        carry = 0
        x, y = (str(v) for v in problem.metadata["operands"])
        for k, (a, b) in enumerate(self.digit_pairs(problem), start=1):
            if careful and rng.random() < self.wait_prob:
                blocks.append(WAIT_LINE)
            s = a + b + carry
            written = slipped_sum(s, rng) if rng.random() < self.slip_prob else s
            rest = f" rest {x[:-k]}+{y[:-k]}" if k < len(x) else ""
            blocks.append(f"{a}+{b}+{carry}={written:02d}{rest}\n")
            if careful and rng.random() < self.check_prob:
                if written == s:
                    blocks.append(f"ok {a}+{b}+{carry}={s:02d}\n")
                else:
                    blocks.append(f"fix {a}+{b}+{carry}={s:02d}{rest}\n")
                    written = s
            digits.append(written % 10)
            carry = written // 10
        blocks.append(f"{ANSWER_OPEN}{read_upwards(digits, carry)}}}\n")
        return WorkedSolution(tuple(blocks), style)
