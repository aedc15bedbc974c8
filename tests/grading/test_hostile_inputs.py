"""Text work in the caller's thread is linear: hostile inputs cannot stall the grader, and a
bad timeout is refused before it can cost the pool a worker."""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrt_env.errors import ConfigError
from mrt_env.grading import MAX_TIMEOUT, answers_match, grade
from mrt_env.grading.extract import extract_answer
from mrt_env.grading.normalize import strip_outer_braces

MB = 1_000_000


def _quadratic_strip(s: str) -> str:
    """REFERENCE: the rescan-per-layer definition that strip_outer_braces must agree with."""
    while len(s) >= 2 and s[0] == "{" and s[-1] == "}":
        depth = 0
        for i, ch in enumerate(s):
            depth += ch == "{"
            depth -= ch == "}"
            if depth == 0 and i < len(s) - 1:
                return s
        s = s[1:-1].strip()
    return s


# REFERENCE: the phrase rule as first written (cubic on long whitespace runs).
_BACKTRACKING_PHRASE = re.compile(
    r"(?:final\s+answer\s*(?:is|:)?|the\s+answer\s+is|\banswer\s*:)\s*(?:\*\*)?\s*:?\s*(.+)",
    re.IGNORECASE,
)


def _reference_phrase(text: str) -> str | None:
    last = None
    for match in _BACKTRACKING_PHRASE.finditer(text):
        last = match
    if last is None:
        return None
    return last.group(1).strip().strip(" \t\r\n$*.:").strip() or None


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="{} a\n", max_size=14))
def test_strip_outer_braces_agrees_with_the_rescan_definition(s):
    assert strip_outer_braces(s) == _quadratic_strip(s)
    wrapped = "{" + s + "}"
    assert strip_outer_braces(wrapped) == _quadratic_strip(wrapped)


PIECES = ["answer:", "Answer: ", "final answer is", "the answer is", "**", ":", " ", "\n"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([*PIECES, "5", "x", "$", "."]), max_size=9))
def test_the_answer_phrase_rule_is_unchanged(pieces):
    text = "".join(pieces)
    assert extract_answer(text) == _reference_phrase(text)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("newlines", [4000, MB])
def test_an_answer_phrase_before_a_sea_of_newlines_is_quick(newlines):
    # Bounded by the test's timeout, not a stopwatch: the cubic rule took 113 s for 4,000
    # newlines and would take years for a million.
    result = grade("Answer:" + "\n" * newlines, "4")
    assert result.correct is False and not result.timed_out


@pytest.mark.timeout(60)
@pytest.mark.parametrize("depth", [20_000, MB // 2])
def test_deeply_nested_braces_are_quick(depth):
    # The quadratic rescan took 30 s for 20,000 layers (about two days for 500,000).
    assert answers_match("{" * depth + "1" + "}" * depth, "4") is False
    assert answers_match("{" * depth + "4" + "}" * depth, "4") is True


@pytest.mark.timeout(120)
@pytest.mark.parametrize("timeout", [math.inf, 1e300, math.nan, -1.0, 0, MAX_TIMEOUT * 2])
def test_an_unusable_timeout_is_refused_and_no_worker_is_lost(timeout):
    for _ in range(3):
        with pytest.raises(ConfigError, match="timeout must be"):
            answers_match("x^2", "x*x", timeout=timeout)
        with pytest.raises(ConfigError, match="timeout must be"):
            grade("\\boxed{x^2}", "x*x", timeout=timeout)
    # Symbolic comparisons still reach a worker afterwards.
    assert answers_match("2*x + x", "3x") is True
    assert answers_match("\\frac{1}{2}", "0.5") is True
