"""Synthetic reasoning tasks that run offline, one family per module.

* :class:`~mrt_env.data.synthetic.arithmetic.ArithmeticTask` (``MRT-Arithmetic-v0``): long
  addition, one column per block.
* :class:`~mrt_env.data.synthetic.search.SearchTask` (``MRT-Search-v0``): find the pair
  that hits a target, one attempt per block; exploration matters.
* :class:`~mrt_env.data.synthetic.recheck.RecheckTask` (``MRT-Recheck-v0``): long addition
  with slips, fixes and idle blocks whose progress is exactly 0; the waste-rich testbed.
* :class:`~mrt_env.data.synthetic.recheck.ChecksTask` (``MRT-Checks-v0``): its variant where
  slips stay unless a check catches them, so some extra blocks pay and others are waste.

Problem ``i`` of a family is a pure function of ``(seed, i)``. ``load_problems("search")``
gives the held-out evaluation set (seed 0, the first :data:`EVAL_PROBLEMS`); the shipped
model was trained on other seeds, with the evaluation problems excluded.
"""

from __future__ import annotations

from mrt_env.data.synthetic.arithmetic import ArithmeticTask
from mrt_env.data.synthetic.base import ANSWER_OPEN, SyntheticTask, WorkedSolution
from mrt_env.data.synthetic.recheck import ChecksTask, RecheckTask
from mrt_env.data.synthetic.search import SearchTask
from mrt_env.errors import ConfigError

__all__ = [
    "ANSWER_OPEN",
    "EVAL_PROBLEMS",
    "TASKS",
    "TRAIN_SEED",
    "ArithmeticTask",
    "ChecksTask",
    "RecheckTask",
    "SearchTask",
    "SyntheticTask",
    "WorkedSolution",
    "get_task",
    "held_out_questions",
    "training_problems",
]

EVAL_PROBLEMS = 500
"""Size of each family's held-out set (seed 0, indices 0 .. EVAL_PROBLEMS - 1)."""

TRAIN_SEED = 2000
"""Trainers' and tabulated envs' problems come from generator seed ``TRAIN_SEED + seed``
(the tiny model was pretrained on seed 1000's, and evaluation uses seed 0's held-out set)."""

TASKS: dict[str, type[SyntheticTask]] = {
    "arithmetic": ArithmeticTask,
    "search": SearchTask,
    "recheck": RecheckTask,
    "checks": ChecksTask,
}


def get_task(name: str, **knobs: object) -> SyntheticTask:
    """The family ``name`` with the given knobs (``seed``, ``digits``, ``count`` ...)."""
    if name not in TASKS:
        raise ConfigError(f"unknown synthetic task {name!r}; the tasks are {sorted(TASKS)}")
    return TASKS[name](**knobs)


def held_out_questions(name: str) -> set[str]:
    """The questions of ``name``'s held-out evaluation set: a problem is recognised by its
    text, whatever seed drew it."""
    return {p.question for p in get_task(name, seed=0).problems(EVAL_PROBLEMS)}


def training_problems(name: str, *, seed: int, count: int) -> list:
    """``count`` fresh problems of ``name`` drawn from seed ``TRAIN_SEED + seed``, with any
    that is also in the held-out evaluation set left out (so there may be a few fewer): what
    trainers and tabulated envs learn on, never what they are evaluated on."""
    held_out = held_out_questions(name)
    drawn = get_task(name, seed=TRAIN_SEED + seed).problems(count)
    return [p for p in drawn if p.question not in held_out]
