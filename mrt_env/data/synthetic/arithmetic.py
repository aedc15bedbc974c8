"""MRT-Arithmetic: long addition worked one column per block.

Text format (one block per line)::

    Q 482+396                 <- prompt
    2+6+0=08                  <- units column: digits, carry in, two-digit column sum
    8+9+0=17                  <- tens: the carry in is the previous sum's first digit
    4+3+1=08                  <- hundreds
    \\boxed{878}               <- the answer: the columns' last digits, read upwards,
                                 after the final carry if any

Graded as an integer. Forcing text: ``A \\boxed{``. Every column block makes the answer
more certain, so progress accrues block by block. The solver styles:

* ``columns``: one line per column, then the answer;
* ``recheck``: the same, but a column is re-stated with probability ``recheck_prob``
  (``2+6+0=08 ok``): an unproductive block, the waste MRT's per-block credit removes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from mrt_env.data.synthetic.base import ANSWER_OPEN, SyntheticTask, WorkedSolution
from mrt_env.errors import ConfigError
from mrt_env.types import Problem

__all__ = ["AdditionTask", "ArithmeticTask"]


@dataclass(frozen=True)
class AdditionTask(SyntheticTask):
    """Sums of two ``digits``-digit numbers: the problems of both addition families
    (``arithmetic`` and ``recheck``), which differ in how the columns are written."""

    seed: int = 0
    digits: int = 3
    """Digits of each operand (2 to 6)."""
    probabilities: ClassVar[tuple[str, ...]] = ()
    """The knobs of a subclass that are probabilities (checked to lie in [0, 1))."""

    def __post_init__(self) -> None:
        if not 2 <= self.digits <= 6:
            raise ConfigError(f"digits must lie in [2, 6], got {self.digits}")
        for knob in self.probabilities:
            if not 0.0 <= getattr(self, knob) < 1.0:
                raise ConfigError(f"{knob} must lie in [0, 1), got {getattr(self, knob)}")

    def digit_pairs(self, problem: Problem) -> list[tuple[int, int]]:
        """The operands' digits column by column, units first."""
        x, y = problem.metadata["operands"]
        return [(int(a), int(b)) for a, b in zip(str(x)[::-1], str(y)[::-1], strict=True)]

    def problem(self, index: int) -> Problem:
        rng = self.rng(index)
        low, high = 10 ** (self.digits - 1), 10**self.digits
        x, y = (int(v) for v in rng.integers(low, high, size=2))
        return Problem(
            f"{self.name}/{self.seed}-{index}",
            f"{x}+{y}",
            str(x + y),
            source=self.name,
            metadata={"operands": [x, y], "index": index},
        )


@dataclass(frozen=True)
class ArithmeticTask(AdditionTask):
    """Sums of two ``digits``-digit numbers, one column per block."""

    recheck_prob: float = 0.3
    """recheck style: chance that a column is re-stated once."""
    name: str = "arithmetic"
    styles: tuple[str, ...] = ("columns", "recheck")
    probabilities: ClassVar[tuple[str, ...]] = ("recheck_prob",)

    def columns(self, problem: Problem) -> list[str]:
        """The column lines, units first."""
        carry, lines = 0, []
        for a, b in self.digit_pairs(problem):
            s = a + b + carry
            lines.append(f"{a}+{b}+{carry}={s:02d}\n")
            carry = s // 10
        return lines

    def trace(self, problem: Problem, rng: np.random.Generator, style: str) -> WorkedSolution:
        self.check_style(style)
        blocks = []
        for line in self.columns(problem):
            blocks.append(line)
            if style == "recheck" and rng.random() < self.recheck_prob:
                blocks.append(line[:-1] + " ok\n")
        blocks.append(f"{ANSWER_OPEN}{problem.answer}}}\n")
        return WorkedSolution(tuple(blocks), style)

    def forced_answer(
        self, problem: Problem, blocks: tuple[str, ...], rng: np.random.Generator
    ) -> str:
        """The true sum: the model learns to finish the columns it has not written."""
        return problem.answer

    def waste(self, blocks: tuple[str, ...] | list[str]) -> int:
        """Blocks that add nothing: re-stated columns and repeats."""
        seen: set[str] = set()
        wasted = 0
        for block in blocks:
            key = block.removesuffix("\n").removesuffix(" ok")
            wasted += key in seen or block.rstrip().endswith(" ok")
            seen.add(key)
        return wasted
