"""The public grading API: signatures, bad arguments, the shape of results."""

import pytest

from mrt_env.grading import GradeResult, answers_match, extract_answer, grade, grade_many
from mrt_env.grading.extract import find_boxed, match_braces
from mrt_env.grading.normalize import fast_verdict, normalize_answer, split_top_level


def test_grade_returns_a_grade_result_with_the_extracted_answer():
    result = grade(r"<think>maybe \boxed{3}</think> Therefore $\boxed{\dfrac{1}{2}}$.", "0.5")
    assert isinstance(result, GradeResult)
    assert result.correct and bool(result)
    assert result.extracted == r"\dfrac{1}{2}"
    assert result.timed_out is False and result.reason


def test_answer_inside_thinking_does_not_count_once_thinking_is_closed():
    assert not grade(r"<think>\boxed{5}</think> I am not sure.", "5").correct
    assert grade(r"<think>\boxed{4}</think> Final: \boxed{5}", "5").correct


def test_answers_match_is_asymmetric_gold_decides_choice_letters():
    assert answers_match(r"\textbf{(C)}", "C")
    # A lone lower-case "c" is a choice only against a choice gold ...
    assert answers_match("c", r"\text{(C)}")
    # ... and a gold that is a number never accepts a letter.
    assert not answers_match("C", "3")


def test_timeout_and_order_are_keyword_only():
    with pytest.raises(TypeError):
        answers_match("1", "1", 5.0)  # type: ignore[misc]
    with pytest.raises(TypeError):
        grade("1", "1", 5.0)  # type: ignore[misc]


@pytest.mark.parametrize("bad", [0, -1, float("nan"), "5", True, None])
def test_bad_timeout_is_a_clear_value_error(bad):
    with pytest.raises(ValueError, match="timeout must be a number of seconds"):
        grade("1", "1", timeout=bad)


def test_non_string_inputs_give_a_false_verdict_not_an_exception():
    assert grade(None, "1").correct is False  # type: ignore[arg-type]
    assert "not str" in grade(12, "12").reason  # type: ignore[arg-type]
    assert grade("12", None).correct is False  # type: ignore[arg-type]
    assert extract_answer(None) is None  # type: ignore[arg-type]


def test_grade_many_validates_its_arguments():
    with pytest.raises(ValueError, match="workers must be a positive int"):
        grade_many([("1", "1")], workers=0)
    with pytest.raises(TypeError, match=r"pairs\[1\] must be a \(response, gold\) pair"):
        grade_many([("1", "1"), "oops"])  # type: ignore[list-item]
    assert grade_many([]) == []


def test_match_braces_skips_escaped_braces_and_ignores_unmatched():
    text = r"{a\{b}}{"
    assert match_braces(text) == {0: 5}  # the \{ is skipped; the second } is unmatched
    assert find_boxed(r"\boxed{\{1,2\}} and \boxed{") == r"\{1,2\}"
    assert find_boxed(r"\boxed{}") is None


@pytest.mark.parametrize(
    ("raw", "norm"),
    [
        ("070", "070"),
        (r"1{,}000", "1000"),
        (r"1\,000", "1000"),
        (r"\$32,348", "32348"),
        (r"30^\circ", "30"),
        (r"50\%", "50"),
        (r"\dfrac12", r"\frac{1}{2}"),
        (r"\sqrt2", r"\sqrt{2}"),
        ("x = 7", "7"),
        ("x=1, x=2", "1,2"),
        (r"5\text{ cm}^2", "5"),
        ("2m", "2m"),  # a one-letter unit needs a space: 2m may be 2 times m
        (r"\left( 3, \frac{\pi}{2} \right)", r"( 3, \frac{\pi}{2} )"),
        (r"\begin{pmatrix}1 \\ 2\end{pmatrix}", r"\begin{pmatrix}1 \\ 2\end{pmatrix}"),
    ],
)
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_fast_path_settles_numbers_exactly_and_leaves_expressions_to_sympy():
    assert fast_verdict("0.5", r"\frac{1}{2}") == (True, "exact number comparison")
    assert fast_verdict("0.33", "1/3")[0] is False
    long_a, long_b = "9" * 5000, "9" * 4999 + "8"
    assert fast_verdict(long_a, long_b)[0] is False  # no int() on 5000 digits
    assert fast_verdict(r"2\sqrt{2}", r"\sqrt{8}") is None


def test_split_top_level_respects_all_brackets():
    assert split_top_level(r"(0,1],\{2,3\},[4,5)") == ["(0,1]", r"\{2,3\}", "[4,5)"]
