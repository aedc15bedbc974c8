"""Answer grading: extract the committed answer, compare it with sympy, never hang.

>>> from mrt_env.grading import grade
>>> grade(r"<think>...</think> The answer is \\boxed{070}.", "70").correct
True

Public API: :func:`extract_answer`, :func:`answers_match`, :func:`grade`,
:func:`grade_many`, and :class:`~mrt_env.types.GradeResult`.
"""

from mrt_env.grading.extract import extract_answer
from mrt_env.grading.grader import (
    DEFAULT_TIMEOUT,
    DEFAULT_WAIT,
    MAX_TIMEOUT,
    answers_match,
    grade,
    grade_many,
)
from mrt_env.grading.normalize import normalize_answer
from mrt_env.grading.pool import default_pool_size, get_pool, set_pool_size, shutdown_pool
from mrt_env.types import GradeResult

__all__ = [
    "DEFAULT_TIMEOUT",
    "DEFAULT_WAIT",
    "MAX_TIMEOUT",
    "GradeResult",
    "answers_match",
    "default_pool_size",
    "extract_answer",
    "grade",
    "grade_many",
    "normalize_answer",
    "set_pool_size",
    "shutdown_pool",
    "warmup",
]


def warmup(workers: int | None = None) -> None:
    """Start the grading worker processes now (default: the pool's size, see
    :func:`default_pool_size`), so the first symbolic comparisons are fast."""
    get_pool(workers or 1).warmup(workers)
