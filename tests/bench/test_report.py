"""Known-answer tests of the benchmark's statistics on hand-built rows."""

import math

import pytest

from mrt_env.bench.report import anytime_success, episode_values, sample_ks, summarise


def row(strategy, problem, sample, probs, tokens, correct, answer, seed=0):
    return {
        "env": "E",
        "strategy": strategy,
        "seed": seed,
        "sample": sample,
        "problem": problem,
        "problem_id": f"p{problem}",
        "correct": correct,
        "answer": answer,
        "success_probs": probs,
        "compute_tokens": tokens,
        "regret": sum(1 - p for p in probs[1:]),
    }


def test_episode_values_by_hand():
    # Two blocks: J_0 = 0.2, J_1 = 0.5, then the model committed a right answer.
    r = row("s", 0, 0, [0.2, 0.5, 0.9], [0, 10, 30], True, "4")
    assert anytime_success(r) == [0.2, 0.5, 1.0]  # the last point is the graded outcome
    v = episode_values(r, max_blocks=4, budgets=[20, 60])
    assert v["blocks"] == 2 and v["tokens"] == 30 and v["final_j"] == 0.9
    assert v["progress"] == pytest.approx((0.9 - 0.2) / 2)
    assert v["regret"] == pytest.approx(0.5 + 0.1)  # the paper's Δ_k on μ's J
    # s_1..s_4 = 0.5, 1, 1, 1 (held): regret 0.5
    assert v["anytime_regret"] == pytest.approx(0.5)
    # The curve (0,0) -> (10, 0.5) -> (30, 1), flat after. Area to 20: 2.5 + 10 * (0.5+0.75)/2
    assert v["token_regret@20"] == pytest.approx(1 - (2.5 + 6.25) / 20)
    # Area to 60: 2.5 + 15 + 30 = 47.5
    assert v["token_regret@60"] == pytest.approx(1 - 47.5 / 60)
    assert v["accuracy@20"] == 0.0 and v["accuracy@60"] == 1.0  # answered at 30 tokens


def test_summary_pass_and_majority_over_samples():
    rows = [
        # problem 0: answers 7 (wrong), 5 (right), 7 (wrong): pass@2 = 1 - C(2,2)/C(3,2) = 2/3
        row("s", 0, 0, [0, 0], [0, 5], False, "7"),
        row("s", 0, 1, [0, 1], [0, 5], True, "5"),
        row("s", 0, 2, [0, 0], [0, 5], False, "7"),
        # problem 1: all right
        *[row("s", 1, i, [0, 1], [0, 5], True, "3") for i in range(3)],
    ]
    stats = {
        s["metric"]: s for s in summarise(rows, max_blocks={"E": 2}, budgets={"E": [5]}, samples=3)
    }
    assert stats["accuracy"]["mean"] == pytest.approx(4 / 6) and stats["accuracy"]["n"] == 6
    assert stats["pass@2"]["mean"] == pytest.approx((2 / 3 + 1) / 2)
    assert stats["pass@3"]["mean"] == pytest.approx(1.0)
    assert stats["maj@3"]["mean"] == pytest.approx(0.5)  # problem 0 votes 7: wrong
    assert stats["maj@2"]["mean"] == pytest.approx(0.5)  # 7 vs 5: the first wins the tie
    assert stats["pass@2"]["n"] == 2  # one value per (problem, seed)
    expected_ci = 1.96 * math.sqrt(sum((x - 4 / 6) ** 2 for x in [0, 1, 0, 1, 1, 1]) / 5 / 6)
    assert stats["accuracy"]["ci95"] == pytest.approx(expected_ci)


def test_sample_ks():
    assert sample_ks(1) == []
    assert sample_ks(2) == [2]
    assert sample_ks(6) == [2, 4, 6]
