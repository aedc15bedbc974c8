"""What a synthetic task family is: seeded, indexable problems plus their text format.

A family (one per module, as in reasoning-gym) turns ``(seed, index)`` into a
:class:`~mrt_env.types.Problem` and says how its reasoning is written: the prompt, the
block delimiter (one block per line), the forcing text that asks for the answer, and
worked traces of a solver, which the tiny shipped model is trained on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from mrt_env.errors import ConfigError
from mrt_env.types import Problem

__all__ = ["ANSWER_OPEN", "SyntheticTask", "WorkedSolution"]

ANSWER_OPEN = "\\boxed{"
"""Every family commits to its answer as ``\\boxed{...}``, the format the grader reads."""


@dataclass(frozen=True)
class WorkedSolution:
    """A worked solution: the blocks (each one line ending in ``\\n``) and its style."""

    blocks: tuple[str, ...]
    style: str

    @property
    def text(self) -> str:
        return "".join(self.blocks)


class SyntheticTask(ABC):
    """A family of generated problems. Subclasses are frozen dataclasses with ``seed``.

    Problem ``i`` is a pure function of ``(seed, i)``: ``task.problem(i)`` gives the same
    problem in any process, in any order.
    """

    name: str
    """The problem-set name (``load_problems(name)``) and the ids' prefix."""
    seed: int
    prompt_template: str = "Q {question}\n"
    """What the stream continues; the blocks follow it."""
    block_delimiter: str = "\n"
    """Every block is one line: agents stop a block here."""
    forcing_text: str = "A " + ANSWER_OPEN
    """Appended after a block boundary to force the answer now (the model completes ``x}``)."""
    styles: tuple[str, ...] = ()
    """The solver styles :meth:`trace` can write."""

    def rng(self, index: int, stream: int = 0) -> np.random.Generator:
        if isinstance(index, bool) or not isinstance(index, int | np.integer) or index < 0:
            raise ConfigError(f"index must be an int >= 0, got {index!r}")
        return np.random.default_rng([self.seed, int(index), stream])

    @abstractmethod
    def problem(self, index: int) -> Problem:
        """Problem ``index`` of this seed."""

    @abstractmethod
    def trace(self, problem: Problem, rng: np.random.Generator, style: str) -> WorkedSolution:
        """A worked solution of ``problem`` in ``style`` (ends with the boxed answer)."""

    @abstractmethod
    def forced_answer(
        self, problem: Problem, blocks: tuple[str, ...], rng: np.random.Generator
    ) -> str:
        """What the answer after ``blocks`` should be taught as (the solver's best guess)."""

    def problems(self, count: int, *, start: int = 0) -> list[Problem]:
        return [self.problem(i) for i in range(start, start + count)]

    def __iter__(self) -> Iterator[Problem]:
        i = 0
        while True:
            yield self.problem(i)
            i += 1

    def check_style(self, style: str) -> None:
        if style not in self.styles:
            raise ConfigError(f"{self.name} writes traces in styles {self.styles}, got {style!r}")
