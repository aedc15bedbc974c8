"""Tests for mrt_env.metrics: known answers computed by hand, properties, validation."""

from __future__ import annotations

import dataclasses
import itertools
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mrt_env.metrics import (
    EpisodeRegret,
    accuracy_at_budget,
    anytime_regret,
    anytime_success,
    episode_regret,
    maj_at_k,
    pass_at_k,
    progress,
    token_regret,
)

# The issue's example: a stream of k = 3 episodes.
J = [0.0, 0.5, 0.5, 1.0]
TOKENS = [0, 100, 200, 400]


# --------------------------------------------------------------------------------------------
# Progress and episode regret: known answers


def test_progress_known_answer() -> None:
    # r_prg_j = J_{j+1} - J_j: 0.5 - 0, 0.5 - 0.5, 1 - 0.5
    assert progress(J).tolist() == [0.5, 0.0, 0.5]


def test_progress_can_be_negative_and_of_one_value_is_empty() -> None:
    assert progress([0.25, 0.75, 0.5]).tolist() == [0.5, -0.25]
    assert progress([0.3]).size == 0


def test_episode_regret_known_answer() -> None:
    r = episode_regret(J)
    # J* = 1: terms 1 - J_1, 1 - J_2, 1 - J_3 = 0.5, 0.5, 0; J_0 enters no term.
    assert isinstance(r, EpisodeRegret)
    assert r.terms.tolist() == [0.5, 0.5, 0.0]
    assert r.cumulative.tolist() == [0.5, 1.0, 1.0]
    assert r.total == 1.0
    assert isinstance(r.total, float)


def test_episode_regret_ignores_j0() -> None:
    assert episode_regret([0.9, 0.5, 0.5, 1.0]).terms.tolist() == [0.5, 0.5, 0.0]


def test_episode_regret_scalar_comparator() -> None:
    # J* = 0.75: 0.75 - 0.5, 0.75 - 0.5, 0.75 - 1 (a negative term: the stream beat J*).
    r = episode_regret(J, comparator=0.75)
    assert r.terms.tolist() == [0.25, 0.25, -0.25]
    assert r.cumulative.tolist() == [0.25, 0.5, 0.25]
    assert r.total == 0.25


def test_episode_regret_comparator_policy() -> None:
    # Comparator policy's J per episode: 0.5 - 0.5, 0.75 - 0.5, 1 - 1.
    r = episode_regret(J, comparator=[0.5, 0.75, 1.0])
    assert r.terms.tolist() == [0.0, 0.25, 0.0]
    assert r.cumulative.tolist() == [0.0, 0.25, 0.25]
    assert r.total == 0.25
    r = episode_regret(J, comparator=np.array([0.0, 0.0, 0.5]))
    assert r.terms.tolist() == [-0.5, -0.5, -0.5]
    assert r.total == -1.5


def test_episode_regret_without_episodes() -> None:
    r = episode_regret([0.4])
    assert r.terms.size == 0 and r.cumulative.size == 0
    assert r.total == 0.0
    assert episode_regret([0.4], comparator=[]).total == 0.0


def test_episode_regret_is_immutable() -> None:
    r = episode_regret(J)
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.total = 0.0  # type: ignore[misc]
    with pytest.raises(ValueError):
        r.terms[0] = 0.0
    with pytest.raises(ValueError):
        r.cumulative[0] = 0.0


def test_inputs_are_not_modified() -> None:
    probs = np.array([0.5, 0.5, 1.0])
    tokens = np.array([0, 10, 20])
    token_regret(tokens, probs, [5, 40])
    episode_regret(probs)
    assert probs.tolist() == [0.5, 0.5, 1.0]
    assert tokens.tolist() == [0, 10, 20]


# --------------------------------------------------------------------------------------------
# Normalized token regret: known answers


def test_token_regret_issue_example() -> None:
    # Curve: (0, 0) -> (100, .5) -> (200, .5) -> (400, 1), flat at 1 after 400.
    # Areas: [0, 100]: 100 * (0 + .5)/2 = 25; [100, 200]: 100 * .5 = 50;
    #        [200, 400]: 200 * (.5 + 1)/2 = 150.  Area to 400 = 225.
    # C0 = 400: 1 - 225/400 = 0.4375
    # C0 = 800: area 225 + 400 * 1 = 625 -> 1 - 625/800 = 0.21875
    # C0 = 100: area 25 -> 1 - 25/100 = 0.75
    # C0 = 300: curve(300) = .75; area 25 + 50 + 100 * (.5 + .75)/2 = 137.5
    #           -> 1 - 137.5/300 = 13/24
    # C0 = 50:  curve(50) = .25; area 50 * (0 + .25)/2 = 6.25 -> 1 - 6.25/50 = 0.875
    result = token_regret(TOKENS, J, [400, 800, 100, 300, 50])
    assert isinstance(result, np.ndarray)
    assert result.shape == (5,)
    assert result.tolist() == pytest.approx([0.4375, 0.21875, 0.75, 13 / 24, 0.875])


def test_token_regret_starts_at_origin_unless_include_j0() -> None:
    # J_0 = .4 > 0. Default curve: (0, 0) -> (200, .6) -> (300, 1).
    #   area to 300 = 200 * .3 + 100 * .8 = 60 + 80 = 140
    #   C0 = 300: 1 - 140/300 = 8/15;  C0 = 600: 1 - (140 + 300)/600 = 4/15
    # include_j0: (0, .4) -> (200, .6) -> (300, 1).
    #   area to 300 = 200 * .5 + 80 = 180
    #   C0 = 300: 1 - 180/300 = 0.4;   C0 = 600: 1 - (180 + 300)/600 = 0.2
    #   C0 = 100: curve(100) = .5; area 100 * (.4 + .5)/2 = 45 -> 0.55
    tokens, probs = [0, 200, 300], [0.4, 0.6, 1.0]
    assert token_regret(tokens, probs, [300, 600]).tolist() == pytest.approx([8 / 15, 4 / 15])
    assert token_regret(tokens, probs, [300, 600, 100], include_j0=True).tolist() == (
        pytest.approx([0.4, 0.2, 0.55])
    )


def test_token_regret_zero_token_episode_is_a_vertical_step() -> None:
    # (0, 0) -> (100, .5), step up to (100, 1), -> (200, 1).
    # C0 = 100: area 25 -> 0.75;  C0 = 150: 25 + 50 = 75 -> 0.5;  C0 = 200: 125 -> 0.375
    result = token_regret([0, 100, 100, 200], [0.0, 0.5, 1.0, 1.0], [100, 150, 200])
    assert result.tolist() == pytest.approx([0.75, 0.5, 0.375])


def test_token_regret_zero_token_first_episode() -> None:
    # tokens_1 = 0: the curve jumps from (0, 0) to (0, .6) and stays at .6.
    # C0 = 100 or 50: area .6 * C0 -> 0.4
    result = token_regret([0, 0, 100], [0.2, 0.6, 0.6], [100, 50])
    assert result.tolist() == pytest.approx([0.4, 0.4])


def test_token_regret_without_episodes() -> None:
    # k = 0: the curve is the constant y_0 (0 by default, J_0 with include_j0).
    assert token_regret([0], [0.3], [10]).tolist() == [1.0]
    assert token_regret([0], [0.3], [10], include_j0=True).tolist() == pytest.approx([0.7])


def test_token_regret_accepts_float_tokens_and_numpy_inputs() -> None:
    result = token_regret(np.array(TOKENS, dtype=float), np.array(J), np.array([400.0]))
    assert result.tolist() == pytest.approx([0.4375])


# --------------------------------------------------------------------------------------------
# Normalized token regret: properties

# J in multiples of 1/8 (K = 8 forced answers, as in the authors' runs): exact in binary.
probs_st = st.integers(0, 8).map(lambda i: i / 8)


@st.composite
def streams(draw: st.DrawFn, max_k: int = 8) -> tuple[list[int], list[float]]:
    k = draw(st.integers(0, max_k))
    steps = draw(st.lists(st.integers(0, 500), min_size=k, max_size=k))
    tokens = [0, *itertools.accumulate(steps)]
    probs = draw(st.lists(probs_st, min_size=k + 1, max_size=k + 1))
    return tokens, probs


budgets_st = st.lists(st.integers(1, 5000), min_size=1, max_size=6)


def reference_regret(
    tokens: list[int], probs: list[float], budget: int, include_j0: bool
) -> Fraction:
    """Exact regret with rationals: clip every segment to [0, C0] and integrate it."""
    ys = [Fraction(p) for p in probs]
    if not include_j0:
        ys[0] = Fraction(0)
    area = Fraction(0)
    for (x_a, y_a), (x_b, y_b) in itertools.pairwise(zip(tokens, ys, strict=True)):
        lo, hi = x_a, min(x_b, budget)
        if hi <= lo:
            continue
        slope = (y_b - y_a) / (x_b - x_a)
        # Linear on [lo, hi]: width times the value at the midpoint.
        area += (hi - lo) * (y_a + slope * (Fraction(lo + hi, 2) - x_a))
    if budget > tokens[-1]:
        area += (budget - tokens[-1]) * ys[-1]
    return 1 - area / budget


@given(streams(), budgets_st, st.booleans())
def test_token_regret_matches_exact_reference(
    stream: tuple[list[int], list[float]], budgets: list[int], include_j0: bool
) -> None:
    tokens, probs = stream
    result = token_regret(tokens, probs, budgets, include_j0=include_j0)
    expected = [float(reference_regret(tokens, probs, c0, include_j0)) for c0 in budgets]
    assert result.tolist() == pytest.approx(expected, abs=1e-12)


@given(streams(), budgets_st, st.booleans())
def test_token_regret_in_unit_interval(
    stream: tuple[list[int], list[float]], budgets: list[int], include_j0: bool
) -> None:
    result = token_regret(*stream, budgets, include_j0=include_j0)
    assert np.all((result >= 0.0) & (result <= 1.0))


@given(streams(), budgets_st, st.data())
def test_token_regret_weakly_decreases_when_j_increases(
    stream: tuple[list[int], list[float]], budgets: list[int], data: st.DataObject
) -> None:
    tokens, probs = stream
    bumps = data.draw(st.lists(probs_st, min_size=len(probs), max_size=len(probs)))
    higher = [min(1.0, p + b) for p, b in zip(probs, bumps, strict=True)]
    for include_j0 in (False, True):
        before = token_regret(tokens, probs, budgets, include_j0=include_j0)
        after = token_regret(tokens, higher, budgets, include_j0=include_j0)
        assert np.all(after <= before + 1e-12)


@given(streams(), budgets_st, probs_st)
def test_token_regret_flat_curve(
    stream: tuple[list[int], list[float]], budgets: list[int], c: float
) -> None:
    tokens, _ = stream
    const = [c] * len(tokens)
    # Starting at (0, c), the curve is c everywhere: regret 1 - c at every budget.
    result = token_regret(tokens, const, budgets, include_j0=True)
    assert result.tolist() == pytest.approx([1 - c] * len(budgets), abs=1e-12)
    # From the origin, it ramps up to c over [0, tokens_1] first (triangle of area
    # c * tokens_1 / 2, for C0 >= tokens_1), then stays at c.
    if len(tokens) > 1:
        t1 = tokens[1]
        big = [t1 + b for b in budgets]
        result = token_regret(tokens, const, big)
        expected = [1 - c + c * t1 / (2 * c0) for c0 in big]
        assert result.tolist() == pytest.approx(expected, abs=1e-12)


@given(streams(), budgets_st, probs_st)
def test_token_regret_ignores_j0_by_default(
    stream: tuple[list[int], list[float]], budgets: list[int], j0: float
) -> None:
    tokens, probs = stream
    other = [j0, *probs[1:]]
    assert token_regret(tokens, probs, budgets).tolist() == (
        token_regret(tokens, other, budgets).tolist()
    )
    # Starting the curve at J_0 >= 0 instead of 0 can only lower the regret.
    with_j0 = token_regret(tokens, probs, budgets, include_j0=True)
    assert np.all(with_j0 <= token_regret(tokens, probs, budgets) + 1e-12)


@given(streams(), budgets_st, st.data())
def test_token_regret_unchanged_by_a_point_on_the_curve(
    stream: tuple[list[int], list[float]], budgets: list[int], data: st.DataObject
) -> None:
    # Piecewise linear: adding a knot on an existing segment changes nothing.
    tokens, probs = stream
    if len(tokens) < 2:
        return
    j = data.draw(st.integers(1, len(tokens) - 1))
    if tokens[j] == tokens[j - 1]:
        return
    y_prev = probs[j - 1] if j > 1 else 0.0  # default curve: y_0 = 0
    mid_x = (tokens[j - 1] + tokens[j]) / 2
    mid_y = (y_prev + probs[j]) / 2
    new_tokens = [*tokens[:j], mid_x, *tokens[j:]]
    new_probs = [*probs[:j], mid_y, *probs[j:]]
    assert token_regret(new_tokens, new_probs, budgets).tolist() == pytest.approx(
        token_regret(tokens, probs, budgets).tolist(), abs=1e-12
    )


@given(streams(), budgets_st, st.sampled_from([0.25, 2.0, 8.0]))
def test_token_regret_scale_invariant(
    stream: tuple[list[int], list[float]], budgets: list[int], scale: float
) -> None:
    tokens, probs = stream
    scaled = token_regret([t * scale for t in tokens], probs, [b * scale for b in budgets])
    assert scaled.tolist() == pytest.approx(token_regret(tokens, probs, budgets).tolist())


@given(streams(), budgets_st)
def test_token_regret_aligned_with_budgets(
    stream: tuple[list[int], list[float]], budgets: list[int]
) -> None:
    tokens, probs = stream
    together = token_regret(tokens, probs, budgets)
    one_by_one = [token_regret(tokens, probs, [b])[0] for b in budgets]
    assert together.tolist() == one_by_one


# --------------------------------------------------------------------------------------------
# Progress and episode regret: properties


@given(st.lists(probs_st, min_size=1, max_size=12), probs_st)
def test_progress_and_regret_identities(probs: list[float], j_star: float) -> None:
    prg = progress(probs)
    k = len(probs) - 1
    assert prg.size == k
    assert float(prg.sum()) == pytest.approx(probs[-1] - probs[0])
    r = episode_regret(probs, comparator=j_star)
    assert r.terms.size == r.cumulative.size == k
    assert r.total == pytest.approx(k * j_star - sum(probs[1:]))
    assert r.cumulative.tolist() == pytest.approx(np.cumsum(r.terms).tolist())
    # Consecutive regret terms differ by the progress of the later episode.
    assert (-np.diff(r.terms)).tolist() == pytest.approx(prg[1:].tolist())
    # A constant comparator sequence is the same as the scalar.
    assert episode_regret(probs, comparator=[j_star] * k).terms.tolist() == r.terms.tolist()


@given(st.lists(probs_st, min_size=1, max_size=12))
def test_oracle_regret_is_nonnegative_and_nondecreasing(probs: list[float]) -> None:
    r = episode_regret(probs)
    assert np.all(r.terms >= 0)
    assert np.all(np.diff(r.cumulative) >= 0)


# --------------------------------------------------------------------------------------------
# pass@k


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (10, 3, 1, 0.3),
        (5, 0, 1, 0.0),
        (5, 0, 5, 0.0),
        (5, 5, 1, 1.0),
        (5, 5, 5, 1.0),
        (4, 2, 2, 5 / 6),  # 1 - C(2,2)/C(4,2) = 1 - 1/6
        (4, 1, 2, 0.5),  # 1 - C(3,2)/C(4,2) = 1 - 3/6
        (10, 3, 8, 1.0),  # n - c = 7 < k: every 8-subset has a correct sample
        (1, 1, 1, 1.0),
        (1, 0, 1, 0.0),
    ],
)
def test_pass_at_k_known(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


@st.composite
def nck(draw: st.DrawFn, max_n: int = 10) -> tuple[int, int, int]:
    n = draw(st.integers(1, max_n))
    return n, draw(st.integers(0, n)), draw(st.integers(1, n))


@given(nck())
def test_pass_at_k_is_average_over_k_subsets(args: tuple[int, int, int]) -> None:
    n, c, k = args
    subsets = list(itertools.combinations(range(n), k))
    hits = sum(any(i < c for i in subset) for subset in subsets)  # samples 0..c-1 correct
    assert pass_at_k(n, c, k) == pytest.approx(hits / len(subsets), abs=1e-12)


@given(nck(max_n=2000))
def test_pass_at_k_matches_exact_binomials_for_large_n(args: tuple[int, int, int]) -> None:
    n, c, k = args
    exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
    value = pass_at_k(n, c, k)
    assert 0.0 <= value <= 1.0
    assert value == pytest.approx(float(exact), abs=1e-9)


def test_pass_at_k_accepts_numpy_ints() -> None:
    assert pass_at_k(np.int64(4), np.int32(2), np.int64(2)) == pytest.approx(5 / 6)


@pytest.mark.parametrize(
    ("n", "c", "k"), [(0, 0, 1), (5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6), (-3, 0, 1)]
)
def test_pass_at_k_rejects_bad_counts(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError, match="must"):
        pass_at_k(n, c, k)


@pytest.mark.parametrize(("n", "c", "k"), [(5.0, 2, 1), (5, "2", 1), (5, 2, True), (5, None, 1)])
def test_pass_at_k_rejects_non_integers(n: object, c: object, k: object) -> None:
    with pytest.raises(TypeError, match="must be an int"):
        pass_at_k(n, c, k)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# maj@k


def test_maj_at_k_majority_wins() -> None:
    assert maj_at_k(["7", "7", "3"], [True, True, False]) == 1.0
    assert maj_at_k(["3", "7", "3"], [False, True, False]) == 0.0


def test_maj_at_k_tie_goes_to_first_occurrence() -> None:
    assert maj_at_k(["3", "7", "7", "3"], [False, True, True, False]) == 0.0
    assert maj_at_k(["7", "3", "3", "7"], [True, False, False, True]) == 1.0
    # Three-way tie, the first occurrence is at index 0.
    assert maj_at_k(["a", "b", "c"], [True, False, False]) == 1.0


def test_maj_at_k_none_never_wins() -> None:
    assert maj_at_k([None, None, "5"], [False, False, True]) == 1.0
    assert maj_at_k([None, None, None, "5", "6", "6"], [False] * 4 + [True, True]) == 1.0
    # No answer at all: nothing to be right about.
    assert maj_at_k([None, None], [False, False]) == 0.0


def test_maj_at_k_uses_first_k() -> None:
    answers = ["a", "b", "b", "b"]
    correct = [True, False, False, False]
    assert maj_at_k(answers, correct, k=1) == 1.0
    assert maj_at_k(answers, correct, k=2) == 1.0  # 1-1 tie: "a" came first
    assert maj_at_k(answers, correct, k=3) == 0.0
    assert maj_at_k(answers, correct) == 0.0
    assert maj_at_k([None, "x"], [False, True], k=1) == 0.0


def test_maj_at_k_grades_the_winner_at_its_first_occurrence() -> None:
    # Equal keys should grade alike; if they do not, the first occurrence decides.
    assert maj_at_k(["6", "6", "5"], [False, True, True]) == 0.0
    assert maj_at_k(["6", "6", "5"], [True, False, False]) == 1.0


def test_maj_at_k_any_hashable_and_numpy_bools() -> None:
    assert maj_at_k([(1, 2), (1, 2), 3], np.array([True, True, False])) == 1.0
    assert maj_at_k([1, 2, 2], [np.True_, np.False_, np.False_]) == 0.0


@given(
    st.lists(st.one_of(st.none(), st.sampled_from("abc")), min_size=1, max_size=10),
    st.data(),
)
def test_maj_at_k_returns_the_grade_of_the_winner(answers: list, data: st.DataObject) -> None:
    # Grade by key so equal answers agree; then the result is the grade of some
    # non-None answer in the first k, or 0.0 when there is none.
    right = data.draw(st.sampled_from("abc"))
    correct = [a == right for a in answers]
    k = data.draw(st.integers(1, len(answers)))
    result = maj_at_k(answers, correct, k)
    window = [a for a in answers[:k] if a is not None]
    if not window:
        assert result == 0.0
    else:
        top = max(window.count(a) for a in window)
        winners = [a for a in window if window.count(a) == top]
        assert result == (1.0 if winners[0] == right else 0.0)


def test_maj_at_k_validation() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        maj_at_k([], [])
    with pytest.raises(ValueError, match="parallel"):
        maj_at_k(["a", "b"], [True])
    with pytest.raises(ValueError, match="k must satisfy"):
        maj_at_k(["a", "b"], [True, False], k=0)
    with pytest.raises(ValueError, match="k must satisfy"):
        maj_at_k(["a", "b"], [True, False], k=3)
    with pytest.raises(TypeError, match="must be an int"):
        maj_at_k(["a", "b"], [True, False], k=1.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"correct\[1\] must be a bool"):
        maj_at_k(["a", "b"], [True, 1])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="hashable"):
        maj_at_k([["a"], "b"], [True, False])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="string"):
        maj_at_k("ab", [True, False])


# --------------------------------------------------------------------------------------------
# accuracy at a token budget


def test_accuracy_at_budget_known() -> None:
    used = [100, 200, 300, 400]
    correct = [True, True, False, True]
    assert accuracy_at_budget(used, correct, 250) == 0.5
    assert accuracy_at_budget(used, correct, 400) == 0.75  # <= budget counts
    assert accuracy_at_budget(used, correct, 399) == 0.5  # answered after the budget: wrong
    assert accuracy_at_budget(used, correct, 50) == 0.0
    assert accuracy_at_budget(used, correct, math.inf) == 0.75
    assert accuracy_at_budget(np.array([0.0]), np.array([True]), 0.5) == 1.0


def test_accuracy_at_budget_validation() -> None:
    with pytest.raises(ValueError, match="budget must be > 0"):
        accuracy_at_budget([1], [True], 0)
    with pytest.raises(ValueError, match="budget must be > 0"):
        accuracy_at_budget([1], [True], -5)
    with pytest.raises(ValueError, match="budget must be > 0"):
        accuracy_at_budget([1], [True], math.nan)
    with pytest.raises(TypeError, match="budget must be a number"):
        accuracy_at_budget([1], [True], "10")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="parallel"):
        accuracy_at_budget([1, 2], [True], 10)
    with pytest.raises(ValueError, match=">= 0"):
        accuracy_at_budget([1, -2], [True, True], 10)
    with pytest.raises(ValueError, match="must not be empty"):
        accuracy_at_budget([], [], 10)
    with pytest.raises(TypeError, match="must be a bool"):
        accuracy_at_budget([1], ["yes"], 10)  # type: ignore[list-item]


# --------------------------------------------------------------------------------------------
# Validation of success probabilities, tokens and budgets


@pytest.mark.parametrize("bad", [[0.0, 1.5], [-0.1, 0.5], [0.5, math.nan], [math.inf]])
def test_success_probs_must_be_probabilities(bad: list[float]) -> None:
    for call in (
        lambda: progress(bad),
        lambda: episode_regret(bad),
        lambda: token_regret(list(range(len(bad))), bad, [10]),
    ):
        with pytest.raises(ValueError, match="success_probs must be"):
            call()


def test_success_probs_shape_and_type() -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        progress([])
    with pytest.raises(ValueError, match="must be 1-D"):
        progress([[0.1, 0.2]])
    with pytest.raises(TypeError, match="1-D sequence of numbers"):
        progress(0.5)
    with pytest.raises(TypeError, match="1-D sequence of numbers"):
        progress("0.5")
    with pytest.raises(TypeError, match="1-D sequence of numbers"):
        progress(None)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="1-D sequence of numbers"):
        progress(["a", "b"])


def test_comparator_validation() -> None:
    with pytest.raises(ValueError, match="expected length k = 3"):
        episode_regret(J, comparator=[1.0, 1.0])
    with pytest.raises(ValueError, match=r"comparator J\* must be a probability"):
        episode_regret(J, comparator=1.2)
    with pytest.raises(ValueError, match=r"comparator J\* must be a probability"):
        episode_regret(J, comparator=math.nan)
    with pytest.raises(ValueError, match="comparator must be probabilities"):
        episode_regret(J, comparator=[1.0, -0.5, 1.0])
    with pytest.raises(TypeError, match="comparator must be"):
        episode_regret(J, comparator="1")
    with pytest.raises(TypeError, match="comparator must be"):
        episode_regret(J, comparator=None)  # type: ignore[arg-type]


def test_token_regret_validation() -> None:
    with pytest.raises(ValueError, match="aligned"):
        token_regret([0, 100], J, [100])
    with pytest.raises(ValueError, match=r"tokens\[0\] must be 0"):
        token_regret([10, 100, 200, 400], J, [100])
    with pytest.raises(ValueError, match=r"non-decreasing.*tokens\[1\] = 200.0 > tokens\[2\]"):
        token_regret([0, 200, 100, 400], J, [100])
    with pytest.raises(ValueError, match="tokens must be finite"):
        token_regret([0, 100, math.inf, 400], J, [100])
    with pytest.raises(ValueError, match="budgets must be > 0"):
        token_regret(TOKENS, J, [100, 0])
    with pytest.raises(ValueError, match="budgets must be > 0"):
        token_regret(TOKENS, J, [-100])
    with pytest.raises(ValueError, match="budgets must be finite"):
        token_regret(TOKENS, J, [math.inf])
    with pytest.raises(ValueError, match="budgets must not be empty"):
        token_regret(TOKENS, J, [])
    with pytest.raises(TypeError, match=r"budgets must be a 1-D sequence"):
        token_regret(TOKENS, J, 400)  # type: ignore[arg-type]


def test_anytime_success_and_regret_take_the_outcome_once_answered():
    # J while thinking, then the graded outcome in place of μ's last J.
    assert anytime_success([0.1, 0.4, 0.3], correct=True) == pytest.approx([0.1, 0.4, 1.0])
    assert anytime_success([0.1, 0.9], correct=False) == pytest.approx([0.1, 0.0])
    # Held at the outcome up to the horizon: (1 - 0.4) + 0 + 0 + 0.
    assert anytime_regret([0.1, 0.4, 0.3], correct=True, horizon=4) == pytest.approx(0.6)
    assert anytime_regret([0.1, 0.9], correct=False, horizon=3) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="at least one block"):
        anytime_success([0.2], correct=True)
