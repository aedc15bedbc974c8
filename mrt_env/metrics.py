r"""Metrics of how a model spends test-time compute (MRT, Qu et al., ICML 2025).

Notation (docs: Concepts, whose glossary this follows): a stream of k blocks (the paper's
episodes) $z_1 … z_k$; $c_j = x + z_1 … z_j$ is the prefix after block j ($c_0 = x$, the
empty prefix). $J_j = J(μ(·|c_j))$ is the success probability of the meta-prover μ (budget
forcing) at prefix j, for j = 0 … k, so a stream of k blocks gives k + 1 values
``success_probs = [J_0, J_1, …, J_k]``. (The paper numbers blocks from 0; its J indices are
the same.)

* **Progress** (the dense reward, "information gain"), one term per block:

    $$r_{prg}(z_j; c_{j-1}) = J(μ(·|c_j)) − J(μ(·|c_{j-1})) = J_j − J_{j-1}, \quad j = 1 … k$$

  → :func:`progress`.

* **Cumulative regret over blocks**, against the oracle comparator $J^* = 1$ unless a
  comparator policy is given:

    $$Δ_k = \sum_{j=1}^{k} (J^* − J(μ(·|c_j))) = \sum_{j=1}^{k} (J^* − J_j)$$

  → :func:`episode_regret` (per-block terms, running sums $Δ_1 … Δ_k$, and $Δ_k$).

* **Normalized (token) regret**, the quantity in the authors' plots: the piecewise-linear
  curve of μ's pass@1 against tokens, from (0, 0), held flat at its last J after the
  stream ends; for a budget $C_0$:

    $$\text{normalized regret}(C_0) = 1 − \frac{1}{C_0} \int_0^{C_0} \text{curve}(t)\, dt$$

  → :func:`authors_token_regret` (the authors' curve: J_0 on it, x = the cost of asking μ)
  and :func:`token_regret` (over the stream's own tokens, as ``mrt-bench`` compares
  strategies).

Also the usual sampling metrics: :func:`pass_at_k` (the unbiased estimator of Chen et al.,
2021), :func:`maj_at_k` (majority vote over the first k), :func:`weighted_maj_at_k` (the
authors' [maj@k]_j: a likelihood-weighted vote, expected over k-subsets) and
:func:`accuracy_at_budget`.

Everything here is numpy only and validates its inputs: wrong types raise
:class:`~mrt_env.errors.ArgumentTypeError` (a ``TypeError``), wrong values (J outside
[0, 1], mismatched lengths, decreasing token counts, non-positive budgets, empty inputs)
raise :class:`~mrt_env.errors.ConfigError` (a ``ValueError``); both say what was expected
and what came.
"""

from __future__ import annotations

import itertools
import math
import operator
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from mrt_env.errors import ArgumentTypeError, ConfigError, DataFormatError

__all__ = [
    "EpisodeRegret",
    "accuracy_at_budget",
    "anytime_regret",
    "anytime_success",
    "authors_token_regret",
    "episode_regret",
    "maj_at_k",
    "pass_at_k",
    "progress",
    "token_regret",
    "weighted_maj_at_k",
]


# --------------------------------------------------------------------------------------------
# Validation helpers


def _as_1d_floats(values: ArrayLike, name: str, *, allow_empty: bool = False) -> np.ndarray:
    """``values`` as a fresh 1-D float64 array, or a TypeError/ValueError naming ``name``."""
    if isinstance(values, (str, bytes)) or np.ndim(values) == 0:
        # A bare number or a string is never a sequence of numbers here; np.asarray would
        # turn a number into a 0-d array and a string into a character array.
        raise ArgumentTypeError(
            f"{name} must be a 1-D sequence of numbers, got {type(values).__name__}: {values!r:.80}"
        )
    try:
        array = np.array(values, dtype=np.float64)  # a copy: callers' arrays stay untouched
    except (TypeError, ValueError) as exc:
        raise ArgumentTypeError(
            f"{name} must be a 1-D sequence of numbers, got {type(values).__name__}: "
            f"{values!r:.80} ({exc})"
        ) from None
    if array.ndim != 1:
        raise ConfigError(f"{name} must be 1-D, got an array of shape {array.shape}")
    if array.size == 0 and not allow_empty:
        raise ConfigError(f"{name} must not be empty")
    if not np.all(np.isfinite(array)):
        bad = int(np.flatnonzero(~np.isfinite(array))[0])
        raise ConfigError(f"{name} must be finite, got {float(array[bad])!r} at index {bad}")
    return array


def _check_probabilities(array: np.ndarray, name: str) -> None:
    outside = np.flatnonzero((array < 0.0) | (array > 1.0))
    if outside.size:
        i = int(outside[0])
        raise ConfigError(
            f"{name} must be probabilities in [0, 1], got {float(array[i])!r} at index {i}"
        )


def _success_probs(success_probs: ArrayLike) -> np.ndarray:
    array = _as_1d_floats(success_probs, "success_probs")
    _check_probabilities(array, "success_probs")
    return array


def _readonly(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False
    return array


def _as_int(value: object, name: str) -> int:
    # bool is an int subclass, but pass_at_k(n=True, ...) is a bug, not a count.
    if isinstance(value, (bool, np.bool_)):
        raise ArgumentTypeError(f"{name} must be an int, got bool: {value!r}")
    try:
        return operator.index(value)  # accepts int and numpy integers, rejects 2.0 and "2"
    except TypeError:
        raise ArgumentTypeError(
            f"{name} must be an int, got {type(value).__name__}: {value!r:.80}"
        ) from None


def _as_bools(values: Sequence[bool], name: str) -> list[bool]:
    if isinstance(values, (str, bytes)) or np.ndim(values) != 1:
        raise ArgumentTypeError(
            f"{name} must be a 1-D sequence of bools, got {type(values).__name__}"
        )
    out = []
    for i, value in enumerate(values):
        # Only real booleans: truthiness of arbitrary objects ("False" is truthy) hides bugs.
        if not isinstance(value, (bool, np.bool_)):
            raise ArgumentTypeError(
                f"{name}[{i}] must be a bool, got {type(value).__name__}: {value!r:.80}"
            )
        out.append(bool(value))
    return out


# --------------------------------------------------------------------------------------------
# Progress and cumulative regret over episodes


def anytime_success(success_probs: ArrayLike, correct: bool) -> list[float]:
    """s_0 … s_k: μ's J_j while the stream thinks (j < k), the graded outcome at its end.

    Once a stream has answered, its chance of being right *is* its answer's correctness,
    whoever wrote the last block (the model, or a strategy that committed for it). This
    puts streams that stop at different blocks on one scale: hold s_k to a common horizon
    for the block regret, or integrate it over tokens for the token regret.
    """
    probs = _success_probs(success_probs)
    if probs.size < 2:
        raise ConfigError(f"need J_0 and at least one block: got {probs.size} value(s)")
    if correct is None:
        raise ConfigError(
            "correct is None: the grader reached no verdict on this stream; leave it out "
            "(an undecided episode has no anytime success)"
        )
    return [*probs[:-1].tolist(), float(bool(correct))]


def anytime_regret(success_probs: ArrayLike, correct: bool, horizon: int) -> float:
    r"""$\sum_{j=1}^{H} (1 − s_j)$ over :func:`anytime_success`, s held at its last value
    after the stream ends: a regret comparable across streams that stop at different
    blocks (H = ``horizon``: the block budget)."""
    s = anytime_success(success_probs, correct)
    held = s[1 : horizon + 1] + [s[-1]] * (horizon + 1 - len(s))
    return float(sum(1.0 - x for x in held))


def progress(success_probs: ArrayLike) -> np.ndarray:
    """The progress terms $J_j − J_{j-1}$ of blocks j = 1 … k.

    Args:
        success_probs: ``[J_0, …, J_k]``, μ's success probability after each prefix
            (J_0: the empty prefix), each in [0, 1]; at least one value.

    Returns:
        A float64 array of length k (empty when the stream has no block). Its sum
        telescopes to $J_k − J_0$.
    """
    return np.diff(_success_probs(success_probs))


@dataclass(frozen=True, eq=False)  # eq=False: the generated __eq__ cannot compare arrays
class EpisodeRegret:
    """Cumulative regret over the blocks of one stream (see the docs' Concepts page).

    Attributes:
        terms: per-block regret, $J^*_j − J_j$ for j = 1 … k ($J^*_j = J^*$ for the oracle
            comparator). Read-only float64 array of length k.
        cumulative: running sums $Δ_1 … Δ_k$ of ``terms``. Read-only float64 array, length k.
        total: $Δ_k$, the cumulative regret of the whole stream (0.0 when k = 0).
    """

    terms: np.ndarray
    cumulative: np.ndarray
    total: float


def episode_regret(
    success_probs: ArrayLike, *, comparator: float | ArrayLike = 1.0
) -> EpisodeRegret:
    r"""Cumulative regret $Δ_k = \sum_{j=1}^{k} (J^* − J(μ(·|c_j)))$ of one stream.

    Args:
        success_probs: ``[J_0, …, J_k]`` in [0, 1]. $J_0$ (the empty prefix) enters no term:
            block j is charged for the prefix $c_j$ it leaves behind.
        comparator: either one number $J^*$ in [0, 1] (default 1.0, the oracle that is always
            right), or a sequence of length k with a comparator policy's J for each block
            j = 1 … k; then term j is ``comparator[j - 1]`` − $J_j$. Against a comparator
            policy a term may be negative (the stream beat the comparator there).

    Returns:
        :class:`EpisodeRegret` with ``terms``, ``cumulative`` and ``total``.
    """
    after = _success_probs(success_probs)[1:]  # J_1 … J_k
    k = after.size
    if isinstance(comparator, (str, bytes)):
        raise ArgumentTypeError(
            f"comparator must be a number or a sequence of numbers, got {comparator!r}"
        )
    if np.ndim(comparator) == 0:
        try:
            j_star = float(comparator)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ArgumentTypeError(
                "comparator must be a number or a sequence of numbers, got "
                f"{type(comparator).__name__}: {comparator!r:.80}"
            ) from None
        if not 0.0 <= j_star <= 1.0:  # also rejects NaN
            raise ConfigError(f"comparator J* must be a probability in [0, 1], got {j_star!r}")
        reference = np.full(k, j_star)
    else:
        reference = _as_1d_floats(comparator, "comparator", allow_empty=True)
        _check_probabilities(reference, "comparator")
        if reference.size != k:
            raise ConfigError(
                f"comparator must give one J per episode: expected length k = {k} "
                f"(len(success_probs) - 1), got length {reference.size}"
            )
    terms = reference - after
    cumulative = np.cumsum(terms)
    total = float(cumulative[-1]) if k else 0.0
    return EpisodeRegret(terms=_readonly(terms), cumulative=_readonly(cumulative), total=total)


# --------------------------------------------------------------------------------------------
# Normalized token regret


def token_regret(
    tokens: ArrayLike,
    success_probs: ArrayLike,
    budgets: ArrayLike,
    *,
    include_j0: bool = False,
) -> np.ndarray:
    r"""The normalized token regret at each token budget C0, over the stream's own tokens.

    This is ``mrt-bench``'s measure: x counts the tokens of the stream (and whatever a
    strategy generated off it), not the prompt, the forcing text or μ's answers. The
    authors' own curve, with those counted and J_0 on it, is :func:`authors_token_regret`
    (``mrt-regret``'s default).

    The curve of μ's pass@1 against tokens is piecewise linear through the points
    ``(tokens_j, y_j)`` for j = 0 … k, and flat at ``y_k`` after ``tokens_k``, where
    ``y_j = J_j`` for j ≥ 1 and

    * ``include_j0=False`` (default): ``y_0 = 0``. The curve starts at the origin (0, 0)
      even when J_0 > 0, as the authors' does; since ``tokens_0 = 0`` the point (0, J_0)
      would sit at the same x as the origin, so J_0 is not used for the area. The first
      segment rises linearly from (0, 0) to (tokens_1, J_1).
    * ``include_j0=True``: ``y_0 = J_0``; the curve starts at (0, J_0), crediting what μ
      knows before any thinking.

    For each budget $C_0 > 0$ the result is $1 − \frac{1}{C_0} \int_0^{C_0} \text{curve}(t)\,dt$.
    A budget
    inside the stream integrates only up to C0 (the curve is interpolated at C0); a budget
    past the end adds the flat tail ``(C0 − tokens_k) · y_k``. The integral is computed with
    trapezoids, which is exact for a piecewise-linear curve. Repeated token counts (an
    episode of zero tokens) make a vertical step that adds no area.

    Args:
        tokens: cumulative token counts at each prefix, ``[0, tokens_1, …, tokens_k]``:
            length k + 1 (aligned with ``success_probs``), ``tokens[0] == 0`` (the empty
            prefix), non-decreasing, finite.
        success_probs: ``[J_0, …, J_k]`` in [0, 1].
        budgets: one or more budgets C0 (a 1-D sequence; finite, > 0). A bare number is
            rejected: pass ``[C0]``.
        include_j0: start the curve at (0, J_0) instead of (0, 0); see above.

    Returns:
        A float64 array aligned with ``budgets``: ``result[i]`` is the normalized regret at
        ``budgets[i]``, in [0, 1].

    With k = 0 (no episode) the curve is the constant ``y_0``: 0 by default (regret 1), J_0
    with ``include_j0=True``.
    """
    x = _as_1d_floats(tokens, "tokens")
    y = _success_probs(success_probs)
    c0 = _as_1d_floats(budgets, "budgets")
    if x.size != y.size:
        raise ConfigError(
            "tokens and success_probs must be aligned (one token count per prefix, "
            f"length k + 1): got len(tokens) = {x.size}, len(success_probs) = {y.size}"
        )
    if x[0] != 0.0:
        raise ConfigError(f"tokens[0] must be 0 (the empty prefix), got {float(x[0])!r}")
    steps = np.diff(x)
    if np.any(steps < 0):
        i = int(np.flatnonzero(steps < 0)[0])
        raise ConfigError(
            "tokens must be non-decreasing (cumulative counts), got "
            f"tokens[{i}] = {float(x[i])!r} > tokens[{i + 1}] = {float(x[i + 1])!r}"
        )
    if np.any(c0 <= 0):
        i = int(np.flatnonzero(c0 <= 0)[0])
        raise ConfigError(f"budgets must be > 0, got {float(c0[i])!r} at index {i}")

    if not include_j0:
        y[0] = 0.0  # the authors' curve starts at the origin (y is our own copy)

    # Area under the curve from 0 to each knot: exact trapezoids (zero-width ones add 0).
    area_at_knot = np.concatenate(([0.0], np.cumsum(steps * (y[:-1] + y[1:]) / 2.0)))

    # Knot i with x_i <= C0 < x_{i+1}; side="right" skips repeated x so the segment that
    # follows has positive width. x_0 = 0 < C0, so i >= 0.
    i = np.searchsorted(x, c0, side="right") - 1
    inside = i < x.size - 1
    area = np.empty_like(c0)
    # Past the end: everything up to x_k plus the flat tail at y_k.
    tail = ~inside
    area[tail] = area_at_knot[-1] + (c0[tail] - x[-1]) * y[-1]
    # Within the stream: area to knot i plus the trapezoid from x_i to C0, with the curve's
    # value at C0 interpolated on segment i.
    ii = i[inside]
    x_a, x_b, y_a, y_b = x[ii], x[ii + 1], y[ii], y[ii + 1]
    width = c0[inside] - x_a
    y_c0 = y_a + (y_b - y_a) * (width / (x_b - x_a))
    area[inside] = area_at_knot[ii] + width * (y_a + y_c0) / 2.0

    # Mathematically 0 <= area <= C0; clip only the last-bit rounding of the division.
    return np.clip(1.0 - area / c0, 0.0, 1.0)


def authors_token_regret(
    costs: ArrayLike, success_probs: ArrayLike, budgets: ArrayLike
) -> np.ndarray:
    """The normalized token regret exactly as the MRT authors' ``regret.ipynb`` computes it.

    The curve runs through the origin and one point per prefix,
    ``(0, 0), (x_0, J_0), (x_1, J_1), …, (x_k, J_k)``, where ``x_j`` is what asking μ at
    prefix j costs: the tokens of the forced context (prompt, prefix c_j and forcing text)
    plus the mean length of μ's sampled answers. At a budget C0 past ``x_k`` the curve is
    held flat at ``J_k`` up to C0; at a budget inside, it is interpolated at C0 on the
    segment that crosses it. The result is ``1 − (area under the curve up to C0) / C0``,
    the area by the trapezoidal rule, as in the notebook (which plots ``1 - area``).

    How it differs from :func:`token_regret` (mrt-bench's): J_0 is on the curve, and x
    counts the prompt, the forcing text and μ's answers, not only the stream's own tokens.
    ``costs`` are normally increasing; when they are not (a short prefix whose answers
    ran long), the notebook's formula is followed literally: the points below C0 in their
    order, then C0. Where that formula would interpolate between two equal costs (it
    divides by zero, and the notebook's area is not a number), a ``DataFormatError`` says so.

    Args:
        costs: ``[x_0, …, x_k]``, each ≥ 0 and finite.
        success_probs: ``[J_0, …, J_k]`` in [0, 1].
        budgets: the cutoffs C0 (each > 0); the authors use 4096, 8192, 12288 and 16384.

    >>> # J: 0.5 at x = 100, 1.0 at x = 300. Up to 200: the area 25 (0 to 100) + 62.5 (100 to
    >>> # 200, J rising to 0.75 at 200), so 1 - 87.5 / 200. Up to 400: 1 - (25 + 150 + 100) / 400.
    >>> authors_token_regret([100, 300], [0.5, 1.0], [200, 400]).tolist()
    [0.5625, 0.3125]
    """
    x = np.concatenate(([0.0], _as_1d_floats(costs, "costs")))
    y = np.concatenate(([0.0], _success_probs(success_probs)))
    c0 = _as_1d_floats(budgets, "budgets")
    if x.size != y.size:
        raise ConfigError(
            "costs and success_probs must be aligned (one cost per prefix, length k + 1): "
            f"got len(costs) = {x.size - 1}, len(success_probs) = {y.size - 1}"
        )
    if np.any(x < 0):
        raise ConfigError(f"costs must be >= 0 token counts, got {x[1:].tolist()}")
    if np.any(c0 <= 0):
        i = int(np.flatnonzero(c0 <= 0)[0])
        raise ConfigError(f"budgets must be > 0, got {float(c0[i])!r} at index {i}")
    out = np.empty_like(c0)
    for n, cutoff in enumerate(c0):
        below = x < cutoff
        if below.all():  # held flat from x_k to the cutoff
            xs, ys = np.append(x, cutoff), np.append(y, y[-1])
        else:  # interpolated at the cutoff, after the last point below it
            i = int(below.sum()) - 1
            if x[i + 1] == x[i]:  # only on unordered costs: the formula divides by zero
                raise DataFormatError(
                    f"costs {x[1:].tolist()} are not increasing, and at budget {cutoff:g} "
                    "the authors' formula interpolates between two equal costs (it divides "
                    "by zero there); order the prefixes by cost"
                )
            y_c = y[i] + (cutoff - x[i]) / (x[i + 1] - x[i]) * (y[i + 1] - y[i])
            xs, ys = np.append(x[below], cutoff), np.append(y[: i + 1], y_c)
        out[n] = 1.0 - float(np.trapezoid(ys, xs)) / cutoff
    return out


# --------------------------------------------------------------------------------------------
# Sampling metrics


def pass_at_k(n: int, c: int, k: int) -> float:
    r"""The unbiased pass@k estimator 1 − C(n−c, k) / C(n, k) (Chen et al., 2021).

    The probability that at least one of k samples drawn without replacement from n samples,
    c of them correct, is correct. Computed in product form,
    $C(n−c, k) / C(n, k) = \prod_{i=n−c+1}^{n} (1 − k/i)$, which never forms the huge
    binomials.

    Args:
        n: number of samples, n >= 1.
        c: number of correct samples, 0 <= c <= n.
        k: the k of pass@k, 1 <= k <= n.
    """
    n, c, k = _as_int(n, "n"), _as_int(c, "c"), _as_int(k, "k")
    if n < 1:
        raise ConfigError(f"n must be >= 1, got n = {n}")
    if not 0 <= c <= n:
        raise ConfigError(f"c must satisfy 0 <= c <= n = {n}, got c = {c}")
    if not 1 <= k <= n:
        raise ConfigError(f"k must satisfy 1 <= k <= n = {n}, got k = {k}")
    if n - c < k:
        return 1.0  # every k-subset contains a correct sample
    return 1.0 - math.prod(1.0 - k / i for i in range(n - c + 1, n + 1))


def maj_at_k(
    answers: Sequence[Hashable | None], correct: Sequence[bool], k: int | None = None
) -> float:
    """Majority vote over the first k answers: 1.0 if the winning answer is correct, else 0.0.

    Args:
        answers: one answer key per sample (hashable; e.g. normalised answer strings), or
            ``None`` for a sample that gave no answer.
        correct: a parallel sequence of bools: ``correct[i]`` says whether ``answers[i]`` is
            right. Same length as ``answers``.
        k: vote over ``answers[:k]``; ``None`` votes over all. 1 <= k <= len(answers).

    Rules: the most frequent non-``None`` answer wins; ties go to the answer that occurs
    first. ``None`` never wins; if all k answers are ``None`` there is no answer and the
    result is 0.0. The verdict is ``correct`` at the winner's first occurrence (equal keys
    are expected to grade alike).
    """
    if isinstance(answers, (str, bytes)):
        raise ArgumentTypeError(
            f"answers must be a sequence of answer keys, got a string: {answers!r:.80}"
        )
    answers = list(answers)
    flags = _as_bools(correct, "correct")
    if not answers:
        raise ConfigError("answers must not be empty")
    if len(flags) != len(answers):
        raise ConfigError(
            "correct must be parallel to answers: got "
            f"len(answers) = {len(answers)}, len(correct) = {len(flags)}"
        )
    if k is None:
        k = len(answers)
    k = _as_int(k, "k")
    if not 1 <= k <= len(answers):
        raise ConfigError(f"k must satisfy 1 <= k <= len(answers) = {len(answers)}, got k = {k}")

    counts: dict[Hashable, int] = {}
    first: dict[Hashable, int] = {}
    for i, answer in enumerate(answers[:k]):
        if answer is None:
            continue
        try:
            counts[answer] = counts.get(answer, 0) + 1
        except TypeError:
            raise ArgumentTypeError(
                f"answers[{i}] must be hashable, got {type(answer).__name__}: {answer!r:.80}"
            ) from None
        first.setdefault(answer, i)
    if not counts:
        return 0.0
    # max() keeps the first maximum it meets, and dicts iterate in first-occurrence order.
    winner = max(counts, key=counts.__getitem__)
    return 1.0 if flags[first[winner]] else 0.0


def weighted_maj_at_k(
    classes: Sequence[Hashable | None],
    k: int,
    *,
    gold: Hashable,
    weights: ArrayLike | None = None,
    samples: int = 100_000,
    seed: int = 0,
) -> float:
    """[maj@k] as the MRT authors compute it (``episode_scaling_curve.ipynb``): the expected
    outcome of a weighted vote among k of the n sampled answers, drawn without replacement.

    In a subset, each answer class scores the sum of its answers' ``weights`` (the authors:
    ``2 ** (mean log-probability per token)`` of each answer); the vote scores 1 if the gold
    class outscores every other class that is an answer, 0 if some other class outscores
    it, and 0.5 on a tie, except that a subset with neither the gold class nor any other
    answer (all ``None``) scores 0. ``None`` answers never win.

    The authors average over 100,000 random subsets; here all C(n, k) subsets are
    enumerated when there are at most ``samples`` of them (the exact expectation their
    estimate converges to), else ``samples`` random ones under ``seed``.

    Args:
        classes: one class key per answer (equal keys: equivalent answers), ``None`` for an
            answer that gave none.
        k: subset size, 1 <= k <= n.
        gold: the key of the right answer's class (it may have no member).
        weights: one vote weight per answer, each > 0 and finite; default 1 (a plain
            majority vote whose ties count 0.5).

    >>> weighted_maj_at_k(["4", "5", "5"], 1, gold="4")  # maj@1 = the share of right answers
    0.3333333333333333
    >>> weighted_maj_at_k(["4", "5", "5"], 2, gold="4")  # {4,5} ties twice, {5,5} loses
    0.3333333333333333
    >>> weighted_maj_at_k(["4", "5", "5"], 2, gold="4", weights=[3.0, 1.0, 1.0])
    0.6666666666666666
    """
    if isinstance(classes, (str, bytes)):
        raise ArgumentTypeError(
            f"classes must be a sequence of keys, got a string: {classes!r:.80}"
        )
    keys = list(classes)
    n = len(keys)
    if n == 0:
        raise ConfigError("classes must not be empty")
    k = _as_int(k, "k")
    if not 1 <= k <= n:
        raise ConfigError(f"k must satisfy 1 <= k <= len(classes) = {n}, got k = {k}")
    samples = _as_int(samples, "samples")
    if samples < 1:
        raise ConfigError(f"samples must be >= 1, got {samples}")
    if weights is None:
        w = np.ones(n)
    else:
        w = _as_1d_floats(weights, "weights")
        if w.size != n:
            raise ConfigError(
                f"weights must be parallel to classes: got {w.size} weights for {n} answers"
            )
        if np.any(w <= 0):
            raise ConfigError(f"weights must be > 0, got {w.tolist()}")
    try:
        index = {key: i for i, key in enumerate(dict.fromkeys(x for x in keys if x is not None))}
    except TypeError:
        raise ArgumentTypeError("classes must be hashable keys (or None)") from None
    # Column c of `member` marks the answers of class c; None answers belong to no class.
    member = np.zeros((n, len(index) + 1))
    for i, key in enumerate(keys):
        if key is not None:
            member[i, index[key]] = 1.0
    gold_column = index.get(gold, len(index))  # an empty column when no answer is right
    if math.comb(n, k) <= samples:
        subsets = np.array(list(itertools.combinations(range(n), k)))
    else:
        rng = np.random.default_rng(seed)
        subsets = np.array([rng.choice(n, size=k, replace=False) for _ in range(samples)])
    mask = np.zeros((len(subsets), n))
    np.put_along_axis(mask, subsets, 1.0, axis=1)
    score = (mask * w) @ member  # (subsets, classes): each class's summed weight
    present = mask @ member > 0
    right = np.where(present[:, gold_column], score[:, gold_column], -np.inf)
    others = np.where(present, score, -np.inf)
    others[:, gold_column] = -np.inf
    best_other = others.max(axis=1)
    vote = np.where(right > best_other, 1.0, np.where(right < best_other, 0.0, 0.5))
    vote[np.isneginf(right) & np.isneginf(best_other)] = 0.0
    return float(vote.mean())


def accuracy_at_budget(tokens_used: ArrayLike, correct: Sequence[bool], budget: float) -> float:
    """Fraction of runs that are correct and used at most ``budget`` tokens.

    An answer produced after the budget counts as wrong: under a hard cap of ``budget``
    tokens the run would have been cut before it answered.

    Args:
        tokens_used: tokens each run used until its answer (finite, >= 0).
        correct: a parallel sequence of bools, whether each run's answer is right.
        budget: the token budget, > 0 (``math.inf`` gives plain accuracy).
    """
    used = _as_1d_floats(tokens_used, "tokens_used")
    flags = np.array(_as_bools(correct, "correct"), dtype=bool)
    if flags.size != used.size:
        raise ConfigError(
            "correct must be parallel to tokens_used: got "
            f"len(tokens_used) = {used.size}, len(correct) = {flags.size}"
        )
    if np.any(used < 0):
        i = int(np.flatnonzero(used < 0)[0])
        raise ConfigError(f"tokens_used must be >= 0, got {float(used[i])!r} at index {i}")
    if isinstance(budget, (bool, np.bool_)) or not isinstance(budget, (int, float, np.number)):
        raise ArgumentTypeError(
            f"budget must be a number, got {type(budget).__name__}: {budget!r:.80}"
        )
    if not budget > 0:  # also rejects NaN
        raise ConfigError(f"budget must be > 0, got {budget!r}")
    return float(np.mean(flags & (used <= budget)))
