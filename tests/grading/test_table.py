"""The regression table: verdicts on what real reasoning models write (tests/grading/cases.py)."""

import pytest
from conftest import CASES

from mrt_env.grading import extract_answer, grade, grade_many

GRADE_CASES = CASES["GRADE_CASES"]
EXTRACT_CASES = CASES["EXTRACT_CASES"]


def _id(case) -> str:
    text = case.response if hasattr(case, "response") else case.text
    return f"{getattr(case, 'family', 'extract')}:{text[-40:]!r}"[:90]


def test_table_is_large_and_covers_every_family():
    families = {c.family for c in GRADE_CASES}
    assert len(GRADE_CASES) >= 150
    for needed in (
        "aime_integer",
        "fraction",
        "radical",
        "interval",
        "matrix",
        "hostile",
        "multiple_choice",
        "complex",
        "tuple",
        "set_list",
        "inequality",
        "text_word",
    ):
        assert needed in families
    # Near misses matter as much as matches.
    assert sum(not c.correct for c in GRADE_CASES) >= 100


@pytest.mark.parametrize("case", GRADE_CASES, ids=_id)
def test_grade_verdict(case):
    result = grade(case.response, case.gold)
    assert result.correct is case.correct, result
    assert not result.timed_out, result


@pytest.mark.parametrize("case", EXTRACT_CASES, ids=_id)
def test_extract_answer(case):
    assert extract_answer(case.text) == case.expected


def test_grade_many_gives_the_same_verdicts_as_grade():
    pairs = [(c.response, c.gold) for c in GRADE_CASES]
    batched = grade_many(pairs, workers=2)
    assert [r.correct for r in batched] == [c.correct for c in GRADE_CASES]
    singles = [grade(r, g) for r, g in pairs[:40]]
    assert batched[:40] == singles
