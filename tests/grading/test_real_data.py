"""Grading on real benchmark files: each MATH-500 / AIME 2024 reference solution must grade
as correct against its own answer, and (almost) never against another problem's answer."""

import json

from mrt_env.grading import answers_match, grade_many


def _rows(path):
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_math500_solutions_grade_correct_against_their_own_answers(shared_data):
    rows = _rows(shared_data / "math_500.jsonl")
    results = grade_many([(r["solution"], r["answer"]) for r in rows], workers=2)
    wrong = [
        (r["answer"], x.extracted, x.reason)
        for r, x in zip(rows, results, strict=True)
        if not x.correct
    ]
    assert not wrong, wrong[:10]
    assert not any(x.timed_out for x in results)


def test_math500_solutions_are_rejected_against_other_answers(shared_data):
    rows = _rows(shared_data / "math_500.jsonl")
    shifted = [(rows[i]["solution"], rows[(i + 1) % len(rows)]["answer"]) for i in range(len(rows))]
    results = grade_many(shifted, workers=2)
    accepted = [i for i, x in enumerate(results) if x.correct]
    # Neighbouring problems occasionally share an answer; each acceptance must be one of those.
    assert len(accepted) <= len(rows) // 50
    for i in accepted:
        assert answers_match(rows[i]["answer"], rows[(i + 1) % len(rows)]["answer"])


def test_aime24_boxed_solutions_grade_correct(shared_data):
    rows = [r for r in _rows(shared_data / "aime24.jsonl") if "\\boxed" in r["solution"]]
    assert len(rows) >= 25
    results = grade_many([(r["solution"], str(r["answer"])) for r in rows])
    assert all(x.correct for x in results), [
        (r["answer"], x.extracted) for r, x in zip(rows, results, strict=True)
    ]
