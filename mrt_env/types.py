"""Typed data objects passed between mrt_env's components.

Frozen dataclasses only: values, no behaviour beyond validation, so that they can be
hashed, cached, pickled to worker processes and compared in tests.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from mrt_env.errors import ArgumentTypeError, ConfigError, DataFormatError

__all__ = ["EpisodeRecord", "GradeResult", "Problem"]


@dataclass(frozen=True)
class GradeResult:
    """The verdict on one response against one gold answer.

    Attributes:
        correct: whether the extracted answer is mathematically equivalent to the gold.
        extracted: the answer the response committed to (see ``extract_answer``), or
            ``None`` when it committed to none.
        timed_out: a deadline passed (the wait for a worker, or the comparison's own).
        reason: one short line saying how the verdict was reached, for debugging tables.
        undecided: no verdict was reached (a deadline passed, or the grading worker died):
            ``correct`` is then False, but it is not a judgement of the answer. Rewards and
            accuracies should leave such a result out (and count it), not score it as 0.
    """

    correct: bool
    extracted: str | None
    timed_out: bool = False
    reason: str = ""
    undecided: bool = False

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
                raise ArgumentTypeError(
                    f"Problem.{name} must be a str, got {type(value).__name__}: {value!r:.80}"
                )
        if not self.question.strip():
            raise ConfigError(f"Problem {self.id!r} has an empty question")
        if not self.answer.strip():
            raise ConfigError(f"Problem {self.id!r} has an empty answer")


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode: one attempt at one problem, k ≥ 1 reasoning blocks, and what the env
    said about them.

    :func:`mrt_env.agents.play` records one per problem it runs; ``mrt-bench`` writes one
    per row of ``results.jsonl`` (:meth:`to_row`, :meth:`from_row`); the trainers learn
    from batches of them; a :class:`~mrt_env.strategy.StrategyTable` replays them,
    with the answers forced at every prefix. Sequences are stored as tuples (lists given
    are converted).

    Attributes:
        problem_id: the problem's id.
        blocks: the k blocks written, in order.
        success_probs: J_0 … J_k, the meta-prover's success at the prefixes c_0 … c_k.
        prefix_tokens: transcript tokens of c_0 … c_k (c_0 = 0: the prompt is not counted).
        correct: whether the episode's answer is right; None when the grader reached no
            verdict on it (reports leave such episodes out and count them).
        outcome: how it ended: ``committed`` (the stream answered) or ``forced`` (a budget
            ran out and the answer was forced).
        answer: the answer that was graded (``None``: none).
        prompt: the text the blocks continue.
        rewards: the env's reward for each block (empty: not recorded).
        hidden_tokens: per block, tokens the agent generated off the transcript (parallel
            streams, self-forced answers; empty: none).
        forced_answers: optional, the model's greedy answer when forced at $c_0 … c_{k-1}$.
        forced_correct: optional, whether each of those is right: the outcome of answering
            at that prefix instead of writing the next block.

    >>> r = EpisodeRecord(
    ...     "p", ("x = 1", " so 2"), (0.1, 0.4, 0.9), (0, 2, 4), True, hidden_tokens=(3, 0)
    ... )
    >>> r.compute_tokens
    (0, 5, 7)
    >>> EpisodeRecord.from_row(r.to_row()) == r
    True
    """

    problem_id: str
    blocks: tuple[str, ...]
    success_probs: tuple[float, ...]
    prefix_tokens: tuple[int, ...]
    correct: bool | None
    outcome: str = ""
    answer: str | None = None
    prompt: str = ""
    rewards: tuple[float, ...] = ()
    hidden_tokens: tuple[int, ...] = ()
    forced_answers: tuple[str | None, ...] | None = None
    forced_correct: tuple[bool, ...] | None = None

    def __post_init__(self) -> None:
        for name in _SEQUENCES:
            value = getattr(self, name)
            if value is not None and not isinstance(value, tuple):
                object.__setattr__(self, name, tuple(value))  # frozen: set once, here
        k = len(self.blocks)
        if k < 1:
            raise ConfigError(f"an episode has at least one block, got none ({self.problem_id!r})")
        for name, size in (("success_probs", k + 1), ("prefix_tokens", k + 1)):
            if len(getattr(self, name)) != size:
                raise ConfigError(
                    f"{name} must have k + 1 = {size} entries, got {len(getattr(self, name))}"
                )
        for name in ("rewards", "hidden_tokens", "forced_answers", "forced_correct"):
            value = getattr(self, name)
            # rewards and hidden_tokens may be empty (not recorded / none); the forced
            # answers None (not recorded)
            if value is not None and len(value) != k and not (value == () and name in _EMPTY_OK):
                raise ConfigError(f"{name} must have k = {k} entries, got {len(value)}")
        if not all(0.0 <= j <= 1.0 for j in self.success_probs):
            raise ConfigError(f"success_probs must lie in [0, 1], got {self.success_probs}")

    @property
    def episode_return(self) -> float:
        """The sum of the env's rewards."""
        return float(sum(self.rewards))

    @property
    def compute_tokens(self) -> tuple[int, ...]:
        """Tokens spent by each prefix c_0 … c_k: the transcript's plus what the agent
        generated off it; the x-axis for comparing strategies at equal compute."""
        hidden = self.hidden_tokens or (0,) * len(self.blocks)
        spent, out = 0, [0]
        for j, extra in enumerate(hidden):
            spent += extra
            out.append(self.prefix_tokens[j + 1] + spent)
        return tuple(out)

    def to_row(self) -> dict[str, Any]:
        """The record as a JSON-ready dict: lists for sequences, the forced answers only
        when recorded."""
        row: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None and f.name in _OPTIONAL:
                continue
            row[f.name] = list(value) if isinstance(value, tuple) else value
        return row

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> EpisodeRecord:
        """The record in ``row`` (as :meth:`to_row` writes it; other keys, such as
        ``mrt-bench``'s ``env`` or ``seed``, are ignored).

        Raises:
            DataFormatError: a field the record needs is missing.
        """
        names = [f.name for f in fields(cls)]
        missing = [n for n in _REQUIRED if n not in row]
        if missing:
            raise DataFormatError(f"an episode row needs {missing}; it has {sorted(row)}")
        return cls(**{name: row[name] for name in names if name in row})


_SEQUENCES = (
    "blocks",
    "success_probs",
    "prefix_tokens",
    "rewards",
    "hidden_tokens",
    "forced_answers",
    "forced_correct",
)
_EMPTY_OK = ("rewards", "hidden_tokens")
_OPTIONAL = ("forced_answers", "forced_correct")
_REQUIRED = ("problem_id", "blocks", "success_probs", "prefix_tokens", "correct")
