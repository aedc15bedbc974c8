"""MRT-Recheck: the waste-rich testbed's traces, its exact μ and what counts as waste."""

import hashlib

import numpy as np
import pytest

from mrt_env.data.synthetic import ChecksTask, RecheckTask, get_task
from mrt_env.data.synthetic.recheck import BLOCK_KINDS, WAIT_LINE, block_kind


@pytest.fixture
def task():
    return RecheckTask()


def problem_with(task, x, y):
    """A problem of ``task`` with chosen operands (the generator's format)."""
    from mrt_env.types import Problem

    return Problem("t", f"{x}+{y}", str(x + y), metadata={"operands": [x, y]})


def test_exact_mu_by_hand(task):
    # 482 + 396 = 878: columns 2+6+0=08, 8+9+0=17, 4+3+1=08; a guessed column is right
    # with 0.7.
    p = problem_with(task, 482, 396)
    assert task.columns(p) == ["2+6+0=08 rest 48+39", "8+9+0=17 rest 4+3", "4+3+1=08"]
    J = task.oracle_success
    assert J(p, []) == pytest.approx(0.7**3)
    assert J(p, ["2+6+0=08\n"]) == pytest.approx(0.7**2)
    assert J(p, ["2+6+0=08\n", WAIT_LINE]) == pytest.approx(0.7**2)  # idle
    assert J(p, ["2+6+0=08\n", "ok 2+6+0=08\n"]) == pytest.approx(0.7**2)  # idle
    assert J(p, ["2+6+0=08\n", "8+9+0=18\n"]) == 0.0  # a slip: the 8 is read off
    assert J(p, ["2+6+0=08\n", "8+9+0=18\n", "fix 8+9+0=17\n"]) == pytest.approx(0.7)
    # A slip that keeps the digit but loses the carry: 8+9+0=07 -> the next column
    # starts from carry 0, so its guessed digit is right only by a wrong guess (0.3 / 9).
    assert J(p, ["2+6+0=08\n", "8+9+0=07\n"]) == pytest.approx(0.3 / 9)
    done = ["2+6+0=08\n", "8+9+0=17\n", "4+3+1=08\n"]
    assert J(p, done) == 1.0
    assert J(p, [*done, "\\boxed{878}\n"]) == 1.0
    assert J(p, [*done, "\\boxed{879}\n"]) == 0.0
    # 951 + 862 = 1813: the leading 1 is the last carry, exact once the columns are written.
    q = problem_with(task, 951, 862)
    assert J(q, ["1+2+0=03\n", "5+6+0=11\n", "9+8+1=18\n"]) == 1.0
    assert J(q, ["1+2+0=03\n", "5+6+0=11\n"]) == pytest.approx(0.7)


def test_exact_mu_is_the_forced_answers_success_rate(task):
    rng = np.random.default_rng(3)
    for problem in task.problems(12):
        blocks = task.trace(problem, rng, "careful").blocks[:-1]
        slipped = (task.columns(problem)[0][:-1] + "9\n",)  # a units sum ending in 9
        for prefix in (*(blocks[:k] for k in range(len(blocks) + 1)), slipped):
            draws = [task.forced_answer(problem, prefix, rng) for _ in range(3000)]
            rate = np.mean([d == problem.answer for d in draws])
            assert rate == pytest.approx(task.oracle_success(problem, prefix), abs=0.03)


def test_styles_fix_every_slip_and_differ_only_in_idle_blocks(task):
    rng = np.random.default_rng(0)
    lean, careful = [], []
    for problem in task.problems(400):
        for style, kept in (("lean", lean), ("careful", careful)):
            trace = task.trace(problem, rng, style)
            kept.append(trace.blocks)
            assert task.oracle_success(problem, trace.blocks[:-1]) == 1.0  # slips fixed
            blocks = trace.blocks
            js = [task.oracle_success(problem, blocks[:k]) for k in range(len(blocks))]
            progress = np.diff(js)
            # Idle blocks are exactly the zero-progress ones (J never stays put otherwise:
            # a column or a fix always moves it here).
            idle = [b for b, d in zip(blocks[:-1], progress, strict=True) if d == 0]
            assert len(idle) == task.waste(trace.blocks)
    assert all(task.waste(b) == 0 for b in lean)
    share = sum(map(task.waste, careful)) / sum(map(len, careful))
    assert 0.3 < share < 0.45  # the careful solver: about 37% of its blocks idle
    slips = sum(b.startswith("fix ") for blocks in lean for b in blocks) / (400 * 3)
    assert slips == pytest.approx(task.slip_prob, abs=0.03)
    assert {b for blocks in careful for b in blocks if not b[0].isdigit()} >= {WAIT_LINE}


def test_waste_counts_blocks_that_change_nothing(task):
    assert task.waste(["2+6+0=08\n", "ok 2+6+0=08\n", WAIT_LINE, "hello\n"]) == 3
    assert task.waste(["2+6+0=09\n", "fix 2+6+0=08\n"]) == 0  # the fix changed a sum
    assert task.waste(["2+6+0=08\n", "fix 2+6+0=08\n"]) == 1  # a fix of nothing
    assert task.waste(["\\boxed{878}\n"]) == 0


@pytest.mark.parametrize(
    ("knob", "value"),
    [("digits", 1), ("slip_prob", 1.0), ("check_prob", -0.1), ("wait_prob", 2), ("guess_error", 1)],
)
def test_knobs_are_validated(knob, value):
    with pytest.raises(ValueError, match=knob):
        get_task("recheck", **{knob: value})


# -- MRT-Checks: the variant where a check can pay -------------------------------------


def test_a_check_fixes_a_slip_and_an_unchecked_slip_stays():
    task, p = ChecksTask(), problem_with(RecheckTask(), 482, 396)
    J = task.oracle_success
    slipped = ["2+6+0=08 rest 48+39\n", "8+9+0=18 rest 4+3\n"]
    assert J(p, slipped) == 0.0
    assert J(p, [*slipped, "fix 8+9+0=17 rest 4+3\n"]) == pytest.approx(0.7)
    kinds = [block_kind(task, p, [*slipped, "fix 8+9+0=17 rest 4+3\n"], i) for i in range(3)]
    assert kinds == ["column", "slip", "fix"]
    checked = ["2+6+0=08 rest 48+39\n", "ok 2+6+0=08\n", WAIT_LINE, "\\boxed{878}\n"]
    assert [block_kind(task, p, checked, i) for i in range(4)] == [
        "column",
        "ok",
        "wait",
        "answer",
    ]
    # A "fix" that changes nothing is an idle check; a column after the last, a slip.
    assert block_kind(task, p, ["2+6+0=08\n", "fix 2+6+0=08\n"], 1) == "ok"
    done = ["2+6+0=08\n", "8+9+0=17\n", "4+3+1=08\n", "1+1+0=02\n"]
    assert block_kind(task, p, done, 3) == "slip"


def test_lean_keeps_its_slips_and_careful_checks_catch_half_of_them():
    task, rng = get_task("checks"), np.random.default_rng(0)
    n = 2000
    for style, accuracy in (("lean", 0.8**3), ("careful", 0.9**3)):
        right, kinds = 0, {k: 0 for k in BLOCK_KINDS}
        for problem in task.problems(n):
            blocks = task.trace(problem, rng, style).blocks
            right += blocks[-1] == f"\\boxed{{{problem.answer}}}\n"
            for i in range(len(blocks)):
                kinds[block_kind(task, problem, blocks, i)] += 1
            # The boxed answer is the one the written sums give: J before it is 1 or 0.
            assert task.oracle_success(problem, blocks[:-1]) == float(
                blocks[-1] == f"\\boxed{{{problem.answer}}}\n"
            )
            assert task.waste(blocks) == sum(b == WAIT_LINE or b.startswith("ok ") for b in blocks)
        assert right / n == pytest.approx(accuracy, abs=0.03), style
        columns = kinds["column"] + kinds["slip"]
        assert columns == 3 * n
        assert kinds["slip"] / columns == pytest.approx(task.slip_prob, abs=0.02)
        assert kinds["other"] == 0
        if style == "lean":
            assert kinds["ok"] == kinds["fix"] == kinds["wait"] == 0
        else:  # a check after half the columns, right or not: a fix for a fifth of them
            checks = kinds["ok"] + kinds["fix"]
            assert checks / columns == pytest.approx(task.check_prob, abs=0.03)
            assert kinds["fix"] / checks == pytest.approx(task.slip_prob, abs=0.03)
            assert kinds["wait"] / columns == pytest.approx(task.wait_prob, abs=0.03)


def test_the_recheck_solver_draws_as_before():
    # ChecksTask shares the slip rule with RecheckTask; the shipped recheck model was
    # trained on RecheckTask's traces, which must not change with it.
    rng = np.random.default_rng(7)
    problem = RecheckTask().problem(3)
    texts = [RecheckTask().trace(problem, rng, "careful").text for _ in range(40)]
    assert sum(t.count("fix ") for t in texts) > 0
    # The digest of these draws before ChecksTask was added (commit 0754064).
    assert hashlib.sha256("".join(texts).encode()).hexdigest()[:12] == "f4fb258a67fc"
