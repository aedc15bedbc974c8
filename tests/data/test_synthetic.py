"""Synthetic task families: indexable, deterministic, gradable, and the solver styles."""

import itertools

import numpy as np
import pytest

from mrt_env.data import load_problems
from mrt_env.data.synthetic import EVAL_PROBLEMS, ArithmeticTask, SearchTask, get_task
from mrt_env.grading import grade


@pytest.mark.parametrize("name", ["arithmetic", "search", "recheck"])
def test_problem_i_is_a_pure_function_of_seed_and_index(name):
    a, b = get_task(name, seed=5), get_task(name, seed=5)
    forward = [a.problem(i) for i in range(30)]
    backward = [b.problem(i) for i in reversed(range(30))][::-1]
    assert forward == backward
    assert [p.id for p in forward[:2]] == [f"{name}/5-0", f"{name}/5-1"]
    other = get_task(name, seed=6).problems(30)
    assert sum(p.question != q.question for p, q in zip(forward, other, strict=True)) > 20
    assert len({p.question for p in forward}) >= 28  # varied


@pytest.mark.parametrize("name", ["arithmetic", "search", "recheck"])
def test_every_style_ends_with_a_correct_boxed_answer(name):
    task = get_task(name)
    rng = np.random.default_rng(0)
    for problem in task.problems(40):
        for style in task.styles:
            trace = task.trace(problem, rng, style)
            assert all(b.endswith("\n") and b.count("\n") == 1 for b in trace.blocks)
            assert grade(trace.blocks[-1], problem.answer).correct
            assert "\\boxed" not in "".join(trace.blocks[:-1])  # one commitment, at the end
        with pytest.raises(ValueError, match="styles"):
            task.trace(problem, rng, "nope")


def test_arithmetic_columns_are_right():
    task = ArithmeticTask(digits=4)
    for problem in task.problems(50):
        x, y = problem.metadata["operands"]
        assert int(problem.answer) == x + y and len(str(x)) == len(str(y)) == 4
        lines = task.columns(problem)
        carry = 0
        for line, a, b in zip(lines, str(x)[::-1], str(y)[::-1], strict=True):
            s = int(a) + int(b) + carry
            assert line == f"{a}+{b}+{carry}={s:02d}\n"
            carry = s // 10


def test_search_has_exactly_one_hitting_pair_and_the_styles_differ_in_waste():
    task = SearchTask()
    rng = np.random.default_rng(1)
    systematic, wasteful = [], []
    for problem in task.problems(200):
        nums, target = problem.metadata["numbers"], problem.metadata["target"]
        hits = [(a, b) for i, a in enumerate(nums) for b in nums[i + 1 :] if a + b == target]
        assert hits == [tuple(problem.metadata["pair"])] and len(set(nums)) == 5
        systematic.append(task.trace(problem, rng, "systematic"))
        wasteful.append(task.trace(problem, rng, "random_repeats"))
    assert all(task.waste(t.blocks) == 0 for t in systematic)
    assert max(len(t.blocks) for t in systematic) <= 10  # at most all pairs once
    assert np.mean([task.waste(t.blocks) for t in wasteful]) > 0.5
    assert np.mean([len(t.blocks) for t in wasteful]) > np.mean([len(t.blocks) for t in systematic])


def test_forced_answers_are_the_hit_once_found_else_an_untried_pair():
    task = SearchTask()
    problem = task.problem(3)
    trace = task.trace(problem, np.random.default_rng(0), "systematic")
    rng = np.random.default_rng(0)
    assert task.forced_answer(problem, trace.blocks, rng) == problem.answer
    before = trace.blocks[:-1]
    guesses = {task.forced_answer(problem, before, rng) for _ in range(50)}
    assert not guesses & {f"{a},{b}" for a, b in task.tried(before)}


def test_knobs_are_validated():
    with pytest.raises(ValueError, match="digits"):
        ArithmeticTask(digits=9)
    with pytest.raises(ValueError, match="count"):
        SearchTask(count=2)
    with pytest.raises(ValueError, match="unknown synthetic task"):
        get_task("chess")
    with pytest.raises(ValueError, match="index"):
        SearchTask().problem(-1)


def test_load_problems_gives_the_held_out_set():
    problems = load_problems("search")
    assert len(problems) == EVAL_PROBLEMS and problems[0] == SearchTask(seed=0).problem(0)
    assert len(load_problems("arithmetic", limit=7)) == 7
    with pytest.raises(ValueError, match="one split"):
        load_problems("search", split="train")


def test_search_oracle_success_is_the_forced_answers_chance():
    task = get_task("search", seed=0)
    problem = task.problem(0)
    numbers, (a, b) = problem.metadata["numbers"], tuple(problem.metadata["pair"])
    target = a + b
    misses = [p for p in itertools.combinations(numbers, 2) if p != (a, b)]
    line = lambda x, y: f"{x:02d}+{y:02d}={x + y:02d}/{target:02d} n\n"  # noqa: E731
    assert task.oracle_success(problem, []) == pytest.approx(1 / 10)
    one = [line(*misses[0])]
    assert task.oracle_success(problem, one) == pytest.approx(1 / 9)
    assert task.oracle_success(problem, one * 3) == pytest.approx(1 / 9)  # repeats add nothing
    assert task.oracle_success(problem, ["99+98=...\n"]) == pytest.approx(1 / 10)  # not a pair
    hit = [*one, f"{a:02d}+{b:02d}={target:02d}/{target:02d} y \\boxed{{{a},{b}}}\n"]
    assert task.oracle_success(problem, hit) == 1.0
    # As a meta-prover in the env: J after each block, no model involved.
    from mrt_env.prover import OracleProver

    prover = OracleProver(task.oracle_success)
    assert prover.success_probs(problem, ["", "".join(one), "".join(hit)]) == pytest.approx(
        [0.1, 1 / 9, 1.0]
    )
