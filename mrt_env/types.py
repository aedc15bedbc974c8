"""Typed data objects passed between mrt_env's components.

Frozen dataclasses only: values, no behaviour beyond validation, so that they can be
hashed, cached, pickled to worker processes and compared in tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["GradeResult", "Problem"]


@dataclass(frozen=True)
class GradeResult:
    """The verdict on one response against one gold answer.

    Attributes:
        correct: whether the extracted answer is mathematically equivalent to the gold.
        extracted: the answer the response committed to (see ``extract_answer``), or
            ``None`` when it committed to none.
        timed_out: the symbolic comparison overran its deadline (then ``correct`` is False).
        reason: one short line saying how the verdict was reached, for debugging tables.
    """

    correct: bool
    extracted: str | None
    timed_out: bool = False
    reason: str = ""

    def __bool__(self) -> bool:  # lets ``if grade(...):`` read naturally
        return self.correct


@dataclass(frozen=True)
class Problem:
    """One reasoning problem with a gradable answer.

    Attributes:
        id: stable, unique within its source (same file -> same ids).
        question: the problem statement as given to the model.
        answer: the gold answer as a string, in the form the grader expects.
        source: the name of the source it came from (``"aime24"``, ``"synthetic/search"`` ...).
        metadata: whatever else the source knows (year, contest, difficulty, solution ...).
    """

    id: str
    question: str
    answer: str
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        for name in ("id", "question", "answer", "source"):
            value = getattr(self, name)
            if not isinstance(value, str):
                raise TypeError(
                    f"Problem.{name} must be a str, got {type(value).__name__}: {value!r:.80}"
                )
        if not self.question.strip():
            raise ValueError(f"Problem {self.id!r} has an empty question")
        if not self.answer.strip():
            raise ValueError(f"Problem {self.id!r} has an empty answer")
