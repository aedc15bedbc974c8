"""MRT-Search: find the pair of given numbers that hits a target, one attempt per block.

Text format (one block per line)::

    Q 03 06 11 14 17 sum 23          <- prompt: the numbers (sorted, two digits) and target
    03+06=09/23 n                   <- an attempt: the pair, its sum / the target, n = missed
    06+17=23/23 y \\boxed{6,17}      <- a hit, and the committed answer (smaller first)

Exactly one pair of the numbers sums to the target, so the answer is unique; it is graded
as the pair ``a,b`` (either order is accepted by the grader). Forcing text: ``A \\boxed{``,
after which the model writes its best pair.

Exploration matters here: there are ``n·(n-1)/2`` pairs, a systematic search needs at most
that many blocks, and repeating a missed attempt wastes a block (it adds no information, so
its progress is 0). The two solver styles the shipped model is trained on:

* ``systematic``: the pairs in order (i < j over the sorted numbers), no repeats;
* ``random_repeats``: a random untried pair, or with probability ``repeat_prob`` a repeat
  of an attempt that already missed: the wasteful habit MRT should remove.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import numpy as np

from mrt_env.data.synthetic.base import ANSWER_OPEN, SyntheticTask, WorkedSolution
from mrt_env.errors import ConfigError
from mrt_env.types import Problem

__all__ = ["SearchTask"]

_ATTEMPT = re.compile(r"^(\d+)\+(\d+)=")


@dataclass(frozen=True)
class SearchTask(SyntheticTask):
    """Pairs that hit a target. Knobs: how many numbers, how large, how often repeats."""

    seed: int = 0
    count: int = 5
    """How many distinct numbers are given (pairs: count·(count-1)/2)."""
    max_value: int = 19
    """Numbers are drawn from 1..max_value (two digits at most)."""
    repeat_prob: float = 0.3
    """random_repeats style: chance that an attempt repeats one that already missed."""
    name: str = "search"
    styles: tuple[str, ...] = ("systematic", "random_repeats")

    def __post_init__(self) -> None:
        if not 3 <= self.count <= 8:
            raise ConfigError(f"count must lie in [3, 8], got {self.count}")
        if not self.count + 2 <= self.max_value <= 99:
            raise ConfigError(f"max_value must lie in [count + 2, 99], got {self.max_value}")
        if not 0.0 <= self.repeat_prob < 1.0:
            raise ConfigError(f"repeat_prob must lie in [0, 1), got {self.repeat_prob}")

    def problem(self, index: int) -> Problem:
        rng = self.rng(index)
        while True:  # draw until exactly one pair hits the target
            numbers = sorted(
                int(x) for x in rng.choice(self.max_value, self.count, replace=False) + 1
            )
            a, b = sorted(int(x) for x in rng.choice(numbers, 2, replace=False))
            sums = [x + y for x, y in itertools.combinations(numbers, 2)]
            if sums.count(a + b) == 1:
                break
        question = " ".join(f"{x:02d}" for x in numbers) + f" sum {a + b}"
        return Problem(
            f"{self.name}/{self.seed}-{index}",
            question,
            f"{a},{b}",
            source=self.name,
            metadata={"numbers": numbers, "target": a + b, "pair": [a, b], "index": index},
        )

    @staticmethod
    def _line(x: int, y: int, target: int) -> str:
        hit = x + y == target
        tail = f"y {ANSWER_OPEN}{x},{y}}}" if hit else "n"
        # The target is restated beside the sum: the verdict is then a local comparison,
        # which a tiny model learns far sooner than a look-up back into the prompt.
        return f"{x:02d}+{y:02d}={x + y:02d}/{target:02d} {tail}\n"

    def trace(self, problem: Problem, rng: np.random.Generator, style: str) -> WorkedSolution:
        self.check_style(style)
        numbers, target = problem.metadata["numbers"], problem.metadata["target"]
        pairs = list(itertools.combinations(numbers, 2))
        blocks: list[str] = []
        if style == "systematic":
            for x, y in pairs:
                blocks.append(self._line(x, y, target))
                if x + y == target:
                    break
            return WorkedSolution(tuple(blocks), style)
        untried = [pairs[i] for i in rng.permutation(len(pairs))]
        missed: list[tuple[int, int]] = []
        while True:
            if missed and rng.random() < self.repeat_prob:
                x, y = missed[int(rng.integers(len(missed)))]
            else:
                x, y = untried.pop()
            blocks.append(self._line(x, y, target))
            if x + y == target:
                return WorkedSolution(tuple(blocks), style)
            missed.append((x, y))

    def tried(self, blocks: tuple[str, ...]) -> set[tuple[int, int]]:
        """The pairs attempted in ``blocks``."""
        out = set()
        for block in blocks:
            m = _ATTEMPT.match(block)
            if m:
                out.add(tuple(sorted((int(m.group(1)), int(m.group(2))))))
        return out

    def forced_answer(
        self, problem: Problem, blocks: tuple[str, ...], rng: np.random.Generator
    ) -> str:
        """The hit if it is among ``blocks``, else a guess among the pairs not yet tried."""
        a, b = problem.metadata["pair"]
        tried = self.tried(blocks)
        if (a, b) in tried:
            return f"{a},{b}"
        left = [p for p in itertools.combinations(problem.metadata["numbers"], 2) if p not in tried]
        x, y = left[int(rng.integers(len(left)))]
        return f"{x},{y}"

    def oracle_success(self, problem: Problem, blocks: tuple[str, ...] | list[str]) -> float:
        """The ideal meta-prover's J after ``blocks``: the chance that the forced answer of
        :meth:`forced_answer` is right, 1 once the hit is among the attempts, else one over
        the pairs not yet tried. A fresh miss is worth 1/(n−m) − 1/(n−m+1); a repeat, 0."""
        pairs = set(itertools.combinations(problem.metadata["numbers"], 2))
        tried = self.tried(tuple(blocks)) & pairs
        if tuple(problem.metadata["pair"]) in tried:
            return 1.0
        return 1.0 / (len(pairs) - len(tried))

    def waste(self, blocks: tuple[str, ...] | list[str]) -> int:
        """Blocks that add nothing: repeats of an attempt already made, and non-attempts."""
        seen: set[tuple[int, int]] = set()
        wasted = 0
        for block in blocks:
            m = _ATTEMPT.match(block)
            if not m:
                wasted += 1
                continue
            pair = tuple(sorted((int(m.group(1)), int(m.group(2)))))
            wasted += pair in seen
            seen.add(pair)
        return wasted
