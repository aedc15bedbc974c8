"""Budget forcing: make a model think on by appending a cue where it wanted to stop.

One rule serves two users: the ``budget-forcing`` strategy (:class:`~mrt_env.agents.
BudgetForcingExtend`, s1's "Wait" at the model's own end) and ``mrt-regret``'s extrapolation
past the training budget (:mod:`mrt_env.regret.extrapolate`), which extends a finished
thought up to eight times as the MRT authors' ``pass_at_k_extrapolate.py`` does.

The authors' rule: the i-th extension appends ``"\\n" + CUES[i % 4]`` to the thought, with the
cues ``"Wait"``, ``"But wait"``, ``"Alternatively"``, ``"But hold on"``; an extension cut by
its token limit loses its unfinished last paragraph (:meth:`BudgetForcing.keep`).

>>> forcing = BudgetForcing()
>>> [forcing.cue(i) for i in range(5)]
['\\nWait', '\\nBut wait', '\\nAlternatively', '\\nBut hold on', '\\nWait']
>>> forcing.keep(" a.\\n\\nb, so", "length")
' a.\\n'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mrt_env.errors import ConfigError

__all__ = ["AUTHORS_CUES", "BudgetForcing"]

AUTHORS_CUES: tuple[str, ...] = ("Wait", "But wait", "Alternatively", "But hold on")
"""The continuation cues of the authors' extrapolation, used in turn."""


@dataclass(frozen=True)
class BudgetForcing:
    """The text that makes a model go on thinking: ``separator + cues[i % len(cues)]`` at
    the i-th extension (i from 0).

    Args:
        cues: used in turn; an empty cue is allowed when the separator is not empty (the
            synthetic tasks' blocks are lines: a bare newline makes the model write another).
        separator: what comes before the cue (the authors: one newline).
    """

    cues: tuple[str, ...] = AUTHORS_CUES
    separator: str = "\n"

    def __post_init__(self) -> None:
        cues = self.cues
        if isinstance(cues, str) or not isinstance(cues, Sequence) or not cues:
            raise ConfigError(f"cues must be a non-empty sequence of strings, got {cues!r}")
        if not all(isinstance(c, str) for c in cues) or not isinstance(self.separator, str):
            raise ConfigError(
                f"cues and separator must be strings, got {cues!r} and {self.separator!r}"
            )
        if not self.separator and not all(cues):
            raise ConfigError("an empty cue needs a separator, else nothing is appended")
        object.__setattr__(self, "cues", tuple(cues))

    def cue(self, i: int) -> str:
        """What the i-th extension (from 0) appends."""
        return self.separator + self.cues[i % len(self.cues)]

    @staticmethod
    def keep(continuation: str, finish_reason: str) -> str:
        """The part of an extension's continuation that stays in the thought.

        Whole when the model stopped by itself; cut by its token limit (``"length"``), the
        unfinished last paragraph goes (everything after the last blank line, which becomes
        a single newline), as the authors' ``remove_unfinished_line`` does.
        """
        if finish_reason != "length":
            return continuation
        return "\n\n".join(continuation.split("\n\n")[:-1]) + "\n"
