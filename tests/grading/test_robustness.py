"""Hostile input, deadlines, threads and the worker pool: grading never raises or hangs."""

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import CASES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mrt_env.grading import answers_match, grade, grade_many
from mrt_env.grading.pool import get_pool

TIMEOUT = 1.0
# Time allowed beyond the deadline: waking up, killing a worker, scheduling on 2 busy cores.
SLACK = 1.5
# sympy needs minutes for this (it adds 100000 huge powers exactly); only a deadline stops it.
SLOW_PRED, SLOW_GOLD = r"\sum_{k=1}^{100000} k^{k}", "1"


def _timed_grade(response, gold, timeout=TIMEOUT):
    start = time.monotonic()
    result = grade(response, gold, timeout=timeout)
    return result, time.monotonic() - start


@pytest.mark.parametrize("text", CASES["HOSTILE_INPUTS"], ids=lambda s: repr(s[:30]))
@pytest.mark.parametrize("wrap", ["{}", r"\boxed{{{}}}", "<think>x</think> The answer is {}"])
def test_hostile_input_returns_false_within_the_deadline(text, wrap):
    result, elapsed = _timed_grade(wrap.format(text), "4")
    assert result.correct is False
    assert elapsed < TIMEOUT + SLACK, (elapsed, result)
    assert answers_match(text, "4", timeout=TIMEOUT) is False


def test_hostile_input_as_gold_is_survived_too():
    for text in CASES["HOSTILE_INPUTS"]:
        result, elapsed = _timed_grade(r"\boxed{4}", text)
        assert elapsed < TIMEOUT + SLACK, (text[:40], elapsed)
        assert result.correct is (text.strip() == "4")


def test_overrunning_comparison_times_out_and_the_worker_is_replaced():
    pool = get_pool()
    result, elapsed = _timed_grade(SLOW_PRED, SLOW_GOLD, timeout=0.5)
    assert result.timed_out and not result.correct
    assert "exceeded 0.5 s" in result.reason
    assert elapsed < 0.5 + SLACK
    # The pool recovers: the next symbolic comparison gets a working worker.
    assert grade(r"\boxed{x^2+2x+1}", "(x+1)^2").correct
    assert len(pool.worker_pids()) >= 1


def test_pool_is_reused_between_calls():
    grade(r"\sqrt{8}", r"2\sqrt{2}")
    before = set(get_pool().worker_pids())
    for _ in range(15):
        assert grade(r"\sqrt{8}", r"2\sqrt{2}").correct
    assert set(get_pool().worker_pids()) == before


def test_worker_killed_from_outside_is_replaced_transparently():
    grade(r"\sqrt{8}", r"2\sqrt{2}")
    pids = get_pool().worker_pids()
    for pid in pids:
        os.kill(pid, 9)
    time.sleep(0.2)
    assert grade(r"\sqrt{8}", r"2\sqrt{2}").correct
    assert not set(get_pool().worker_pids()) & set(pids)


def test_grade_works_from_a_plain_thread():
    results = {}

    def run():
        results["slow"] = _timed_grade(SLOW_PRED, SLOW_GOLD, timeout=0.5)
        results["ok"] = grade(r"\frac{1}{2} + \frac{\sqrt{3}}{2}i", r"\frac{1+i\sqrt{3}}{2}")

    thread = threading.Thread(target=run)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    (slow, elapsed), ok = results["slow"], results["ok"]
    assert slow.timed_out and elapsed < 0.5 + SLACK
    assert ok.correct


def test_grade_works_from_a_thread_pool_with_the_same_verdicts():
    cases = [c for c in CASES["GRADE_CASES"] if c.family not in ("hostile",)][:60]
    with ThreadPoolExecutor(max_workers=8) as ex:
        verdicts = list(ex.map(lambda c: grade(c.response, c.gold).correct, cases))
    assert verdicts == [c.correct for c in cases]


def test_grade_many_bounds_each_item_not_the_batch():
    pairs = [(SLOW_PRED, SLOW_GOLD), (r"\sqrt{8}", r"2\sqrt{2}"), ("070", "70")] * 2
    start = time.monotonic()
    results = grade_many(pairs, timeout=0.5, workers=2)
    # Items after a timeout wait for the killed worker's replacement (a process start, a
    # few seconds on a loaded machine) rather than time out themselves; only a hang fails.
    assert time.monotonic() - start < 60
    assert [r.timed_out for r in results] == [True, False, False] * 2
    assert [r.correct for r in results] == [False, True, True] * 2


def test_a_stream_of_pairs_gets_the_verdicts_of_one_call_each():
    # More pairs than are ever sent ahead at once, so the stream refills as answers come.
    cases = [c for c in CASES["GRADE_CASES"] if c.family not in ("hostile",)][:40]
    pairs = [(r"\sqrt{8}", r"2\sqrt{2}"), (r"x^{2}", "2x"), (r"\frac{1}{2}", "0.5")] * 80
    pool = get_pool()
    streamed = pool.compare_many(pairs, timeout=5.0, wait=60.0)
    assert sum(len(json.dumps(pair)) + 1 for pair in pairs) > pool.AHEAD_BYTES
    assert [o.correct for o in streamed] == [True, False, True] * 80
    one_by_one = [pool.compare(p, g, timeout=5.0, wait=60.0) for p, g in pairs[:3]]
    assert streamed[:3] == one_by_one
    assert [r.correct for r in grade_many([(c.response, c.gold) for c in cases])] == [
        c.correct for c in cases
    ]


def test_an_overrun_inside_a_stream_costs_only_its_own_verdict():
    pool = get_pool()
    pairs = [(r"\sqrt{8}", r"2\sqrt{2}"), (SLOW_PRED, SLOW_GOLD), ("x+1", "1+x"), ("3", "4")]
    start = time.monotonic()
    outcomes = pool.compare_many(pairs, timeout=0.5, wait=60.0)
    assert time.monotonic() - start < 60
    assert [o.timed_out for o in outcomes] == [False, True, False, False]
    assert [o.correct for o in outcomes] == [True, False, True, False]
    assert outcomes[1].undecided and "exceeded 0.5 s" in outcomes[1].reason


def test_workers_are_gone_after_the_interpreter_exits(tmp_path):
    script = textwrap.dedent(
        r"""
        from mrt_env.grading import grade, get_pool
        assert grade(r"\sqrt{8}", r"2\sqrt{2}").correct
        print(*get_pool().worker_pids())
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    ).stdout
    pids = [int(p) for p in out.split()]
    assert pids
    deadline = time.monotonic() + 10
    alive = pids
    while alive and time.monotonic() < deadline:
        alive = [p for p in alive if _alive(p)]
        time.sleep(0.05)
    assert not alive, f"grading workers outlived their parent: {alive}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie is dead but not yet reaped by its (already finished) parent's parent.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


_FRAGMENTS = [
    r"\frac{",
    "}",
    "{",
    r"\sqrt",
    r"\sqrt[",
    "^",
    "^{",
    "!",
    "(",
    ")",
    "[",
    "]",
    r"\boxed{",
    "</think>",
    "<think>",
    "2",
    "9",
    "0",
    "100",
    "x",
    ",",
    ".",
    r"\pi",
    "e",
    "i",
    "=",
    r"\le",
    "<",
    r"\cup",
    r"\{",
    r"\}",
    r"\begin{pmatrix}",
    r"\\",
    "&",
    r"\end{pmatrix}",
    "10^{",
    "-",
    "+",
    " ",
    r"\text{",
    "\x00",
    "$",
    r"\infty",
    r"\binom{",
    r"\log_",
    "\\",
    "/",
    "*",
    "%",
    "__import__('os')",
    "lambda",
    r"\left(",
    r"\right)",
    "The answer is ",
    "Answer: ",
]
_adversarial = st.lists(st.sampled_from(_FRAGMENTS), max_size=40).map("".join)
_golds = st.sampled_from(["4", r"\frac12", "(0,1]", "x^2+1", r"\text{(C)}", "1,2", r"2\sqrt{2}"])


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    response=st.one_of(st.text(max_size=300), _adversarial),
    gold=st.one_of(_golds, _adversarial),
)
def test_fuzz_grade_never_raises_and_respects_the_deadline(response, gold):
    result, elapsed = _timed_grade(response, gold)
    assert isinstance(result.correct, bool)
    assert elapsed < TIMEOUT + SLACK, (elapsed, result)
