"""The grading API: ``grade``, ``answers_match``, ``grade_many``.

Two phases, as in Math-Verify: the response is reduced to the answer it committed to
(:func:`~mrt_env.grading.extract.extract_answer`), both answers are normalised, and then
compared: exactly in this thread when both are plain numbers, choice letters or words
(most AIME-style answers), otherwise symbolically with sympy in a worker process under a
deadline (:mod:`mrt_env.grading.pool`).

None of these functions raises, whatever the input: a failure is a ``correct=False``
result whose ``reason`` says what happened. When no verdict could be reached (no worker
came free within ``wait``, the comparison overran ``timeout``, the worker died) the result
is ``undecided``: not a judgement that the answer is wrong, and the env, ``mrt-bench`` and
the TRL rewards leave it out rather than count it as 0.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

from mrt_env.errors import ArgumentTypeError, ConfigError, GradingError
from mrt_env.grading.extract import THINK_CLOSE, extract_answer
from mrt_env.grading.normalize import fast_verdict, implausible, normalize_answer, too_large
from mrt_env.grading.pool import Outcome, get_pool
from mrt_env.types import GradeResult

__all__ = ["DEFAULT_TIMEOUT", "DEFAULT_WAIT", "MAX_TIMEOUT", "answers_match", "grade", "grade_many"]

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 5.0
"""Seconds a symbolic comparison may take before it is given up (``undecided``)."""

DEFAULT_WAIT = 60.0
"""Seconds a call may wait for a free grading worker before it is given up (``undecided``).

Kept apart from ``timeout`` so that waiting behind other callers never eats into the
comparison's own time: on a busy machine a call is slower, its verdict the same."""

# A response without a box is taken as a bare answer only when it is this short.
_BARE_ANSWER_MAX_CHARS = 200


MAX_TIMEOUT = 86_400.0
"""The longest ``timeout`` accepted (a day): waits past it overflow the platform's clocks."""


def _check_seconds(name: str, value: float) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not 0 < value <= MAX_TIMEOUT
    ):
        raise ConfigError(
            f"{name} must be a number of seconds in (0, {MAX_TIMEOUT:g}], got {value!r}"
        )
    return float(value)


def _check_bounds(timeout: float, wait: float) -> tuple[float, float]:
    return _check_seconds("timeout", timeout), _check_seconds("wait", wait)


def _settle(pred: str, gold: str) -> Outcome | tuple[str, str]:
    """Phase one, in this thread: the outcome when no sympy is needed, else the two
    normalised answers the symbolic phase compares."""
    if not isinstance(pred, str) or not isinstance(gold, str):
        kinds = f"{type(pred).__name__} and {type(gold).__name__}"
        return Outcome(False, f"expected two str answers, got {kinds}")
    pred_norm, gold_norm = normalize_answer(pred), normalize_answer(gold)
    fast = fast_verdict(pred_norm, gold_norm)
    if fast is not None:
        return Outcome(*fast)
    if not gold_norm:
        return Outcome(False, "empty gold answer")
    # A reference that cannot be read, or values too large to evaluate, give no verdict;
    # an answer of a shape no real answer has is wrong (as an unparseable one is).
    refusal = implausible(gold_norm)
    if refusal is not None:
        return Outcome(False, f"reference {refusal}", undecided=True)
    huge = too_large(gold_norm) or too_large(pred_norm)
    if huge is not None:
        return Outcome(False, huge, undecided=True)
    refusal = implausible(pred_norm)
    if refusal is not None:
        return Outcome(False, refusal)
    return pred_norm, gold_norm


def _symbolic(pair: tuple[str, str], timeout: float, wait: float) -> Outcome:
    """Phase two: sympy in a grading worker, under the deadlines."""
    return _symbolic_many([pair], timeout, wait)[0]


def _symbolic_many(pairs: list[tuple[str, str]], timeout: float, wait: float) -> list[Outcome]:
    """Phase two for several pairs, streamed through one worker at a time."""
    try:
        return get_pool().compare_many(pairs, timeout=timeout, wait=wait)
    except GradingError as exc:
        logger.warning("grading pool unavailable: %s", exc)
        return [Outcome(False, f"grading pool unavailable: {exc}", undecided=True)] * len(pairs)


def _compare(pred: str, gold: str, timeout: float, wait: float) -> Outcome:
    try:
        settled = _settle(pred, gold)
        return settled if isinstance(settled, Outcome) else _symbolic(settled, timeout, wait)
    except Exception as exc:  # the grading boundary (see _internal_error)
        logger.exception("answers_match() failed on an input; no verdict")
        return Outcome(False, _internal_error(exc).reason, undecided=True)


def answers_match(
    pred: str, gold: str, *, timeout: float = DEFAULT_TIMEOUT, wait: float = DEFAULT_WAIT
) -> bool:
    """Is the answer ``pred`` mathematically equivalent to the reference ``gold``?

    Both are answer strings (not whole responses). Asymmetric: ``gold`` decides the kind
    of comparison (a gold choice letter accepts ``(C)``/``\\text{(C)}``; a gold integer
    accepts only that exact value). Keyword-only ``timeout`` bounds the sympy work and
    ``wait`` the wait for a free worker. False when undecided (:func:`grade` tells apart).
    """
    return _compare(pred, gold, *_check_bounds(timeout, wait)).correct


def _committed_answer(response: str) -> str | None:
    extracted = extract_answer(response)
    if extracted is not None:
        return extracted
    bare = response.strip()
    if (
        bare
        and len(bare) <= _BARE_ANSWER_MAX_CHARS
        and "\\boxed" not in bare
        and "\\fbox" not in bare
        and THINK_CLOSE not in bare
    ):
        return bare  # a bare answer string such as "\frac{3}{4}" or "070"
    return None


def grade(
    response: str, gold: str, *, timeout: float = DEFAULT_TIMEOUT, wait: float = DEFAULT_WAIT
) -> GradeResult:
    """Grade a model ``response`` against the reference answer ``gold``.

    The answer is what :func:`extract_answer` finds; a short response with no box and no
    ``</think>`` is taken as a bare answer. Never raises. Blocks for at most ``wait`` (for
    a free grading worker, when other threads hold them all) plus ``timeout`` (for the
    comparison), plus the start of a worker when the pool grows (about a second); past
    either bound the result is ``undecided``. Thread-safe.
    """
    return _grade(response, gold, *_check_bounds(timeout, wait))


# What phase one of grading leaves: a verdict, or the extracted answer and the pair that
# still needs the symbolic comparison.
_Pending = tuple[str, tuple[str, str]]


def _grade(response: str, gold: str, timeout: float, wait: float) -> GradeResult:
    first = _first_phase(response, gold)
    if isinstance(first, GradeResult):
        return first
    return _second_phase(first, timeout, wait)


def _first_phase(response: str, gold: str) -> GradeResult | _Pending:
    try:
        if not isinstance(response, str):
            kind = type(response).__name__
            return GradeResult(False, None, False, f"response is {kind}, not str")
        extracted = _committed_answer(response)
        if extracted is None:
            return GradeResult(False, None, False, "no final answer found")
        settled = _settle(extracted, gold)
        if isinstance(settled, Outcome):
            return _result(extracted, settled)
        return extracted, settled
    except Exception as exc:  # the grading boundary (see _internal_error)
        logger.exception("grade() failed on an input; no verdict")
        return _internal_error(exc)


def _second_phase(pending: _Pending, timeout: float, wait: float) -> GradeResult:
    return _second_phase_many([pending], timeout, wait)[0]


def _second_phase_many(pending: list[_Pending], timeout: float, wait: float) -> list[GradeResult]:
    try:
        outcomes = _symbolic_many([pair for _, pair in pending], timeout, wait)
        return [_result(extracted, o) for (extracted, _), o in zip(pending, outcomes, strict=True)]
    except Exception as exc:  # the grading boundary (see _internal_error)
        logger.exception("grade() failed on an input; no verdict")
        return [_internal_error(exc)] * len(pending)


def _result(extracted: str, outcome: Outcome) -> GradeResult:
    return GradeResult(
        outcome.correct, extracted, outcome.timed_out, outcome.reason, outcome.undecided
    )


def _internal_error(exc: Exception) -> GradeResult:
    # The grading boundary: an unexpected bug must cost one verdict, not a training run.
    reason = f"internal error: {type(exc).__name__}: {exc}"
    return GradeResult(False, None, False, reason, undecided=True)


def grade_many(
    pairs: Iterable[tuple[str, str]],
    *,
    timeout: float = DEFAULT_TIMEOUT,
    wait: float = DEFAULT_WAIT,
    workers: int | None = None,
) -> list[GradeResult]:
    """Grade many ``(response, gold)`` pairs; same verdicts as :func:`grade`, in order.

    Plain answers are settled in this thread; the symbolic ones run on ``workers`` worker
    processes at once (default: the number of CPUs, at most 8). Each item's comparison is
    bounded by ``timeout``, and its wait for a free worker by ``wait``; the batch's own
    items do not compete for workers (it uses at most ``workers`` at once).
    """
    timeout, wait = _check_bounds(timeout, wait)
    pairs = list(pairs)
    if workers is None:
        workers = min(8, os.cpu_count() or 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ConfigError(f"workers must be a positive int, got {workers!r}")
    for i, pair in enumerate(pairs):
        if not (isinstance(pair, tuple | list) and len(pair) == 2):
            raise ArgumentTypeError(f"pairs[{i}] must be a (response, gold) pair, got {pair!r:.80}")
    # Phase one settles most answers (plain numbers, no answer at all) here, without the
    # threads: for a batch of a prover's forced answers the threads cost more than it.
    results = [_first_phase(response, gold) for response, gold in pairs]
    pending = [i for i, r in enumerate(results) if not isinstance(r, GradeResult)]
    if not pending:
        return results  # type: ignore[return-value]
    get_pool(workers)  # grows the pool to ``workers`` if it is smaller
    # Each thread streams its share through one worker (no round trip per pair).
    shares = [pending[k::workers] for k in range(min(workers, len(pending)))]

    def one(share: list[int]) -> list[GradeResult]:
        return _second_phase_many([results[i] for i in share], timeout, wait)  # type: ignore[misc]

    if len(shares) > 1:
        with ThreadPoolExecutor(max_workers=len(shares), thread_name_prefix="mrt-grade") as ex:
            graded = list(ex.map(one, shares))
    else:
        graded = [one(shares[0])]
    order = [i for share in shares for i in share]
    done = [result for share in graded for result in share]
    for i, result in zip(order, done, strict=True):
        results[i] = result
    return results  # type: ignore[return-value]
