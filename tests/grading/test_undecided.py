"""Verdicts do not depend on load: waiting for a worker is not the comparison's time, and a
verdict that could not be reached is ``undecided``, which the env, mrt-bench and the TRL
rewards leave out (and count) rather than score as 0."""

from __future__ import annotations

import threading
import time

import pytest

from mrt_env import info as keys
from mrt_env.bench.report import headline_metrics, summarise
from mrt_env.envs.stream import Stepper, StreamConfig
from mrt_env.errors import ConfigError
from mrt_env.grading import DEFAULT_WAIT, grade, grade_many, normalize_answer, set_pool_size
from mrt_env.grading.pool import WORKERS_ENV, WorkerPool, default_pool_size
from mrt_env.integrations.trl import make_progress_reward, outcome_reward
from mrt_env.lm.base import Completion
from mrt_env.metrics import anytime_success
from mrt_env.prover import ForcedAnswerProver, ProverEstimate, known_success_probs
from mrt_env.types import GradeResult, Problem

# sympy needs minutes for this (it adds 100000 huge powers exactly); only a deadline stops it.
SLOW = r"\sum_{k=1}^{100000} k^{k}"
EQUAL = [
    (r"\sqrt{8}", r"2\sqrt{2}"),
    (r"\frac{1}{2}+\frac{1}{3}", r"\frac{5}{6}"),
    ("x^2-1", "(x-1)(x+1)"),
]


# The pool compares normalised answers.
ROOT8, TWO_ROOT2 = normalize_answer(r"\sqrt{8}"), normalize_answer(r"2\sqrt{2}")


def _join_all(threads: list[threading.Thread], seconds: float) -> None:
    """Join within ``seconds`` in all, so that a regression fails instead of hanging."""
    end = time.monotonic() + seconds
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "grading calls still running"


def test_equal_pairs_are_judged_equal_while_slow_inputs_hold_every_worker():
    # The reproduction, scaled down: 8 threads on 2 workers, slow inputs among them.
    set_pool_size(2)
    verdicts: list[GradeResult] = []
    slow: list[GradeResult] = []
    lock = threading.Lock()

    def equal_caller(i: int) -> None:
        for j in range(6):
            pred, gold = EQUAL[(i + j) % len(EQUAL)]
            result = grade(f"\\boxed{{{pred}}}", gold, timeout=1.0)
            with lock:
                verdicts.append(result)

    def slow_caller() -> None:
        for _ in range(2):
            result = grade(SLOW, "1", timeout=1.0)
            with lock:
                slow.append(result)

    threads = [threading.Thread(target=slow_caller) for _ in range(2)]
    threads += [threading.Thread(target=equal_caller, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    _join_all(threads, 120)
    assert len(verdicts) == 36 and len(slow) == 4
    wrong = [(r.extracted, r.reason) for r in verdicts if not r.correct]
    assert not wrong, f"equal pairs not judged equal under load: {wrong}"
    assert all(r.undecided and r.timed_out and not r.correct for r in slow)


def test_no_worker_free_within_wait_is_undecided_not_wrong():
    pool = WorkerPool(1)
    try:
        pool.warmup()
        holder = threading.Thread(
            target=pool.compare, args=(SLOW, "1"), kwargs={"timeout": 3.0, "wait": 5.0}
        )
        holder.start()
        time.sleep(0.3)  # the only worker is busy now
        start = time.monotonic()
        outcome = pool.compare(ROOT8, TWO_ROOT2, timeout=1.0, wait=0.3)
        assert time.monotonic() - start < 0.3 + 1.0
        assert outcome.undecided and not outcome.correct
        assert "came free within 0.3 s" in outcome.reason
        # Given a wait long enough for the busy worker's replacement, the verdict is reached.
        later = pool.compare(ROOT8, TWO_ROOT2, timeout=1.0, wait=30.0)
        assert later.correct and not later.undecided
        _join_all([holder], 30)
    finally:
        pool.close()


def test_callers_get_workers_in_the_order_they_came():
    pool = WorkerPool(1)
    try:
        pool.warmup()
        order: list[int] = []

        def caller(i: int) -> None:
            assert pool.compare(ROOT8, TWO_ROOT2, timeout=5.0, wait=60.0).correct
            order.append(i)

        holder = threading.Thread(
            target=pool.compare, args=(SLOW, "1"), kwargs={"timeout": 1.0, "wait": 5.0}
        )
        holder.start()
        time.sleep(0.3)
        callers = []
        for i in range(4):  # each queues behind the one before
            callers.append(threading.Thread(target=caller, args=(i,)))
            callers[-1].start()
            time.sleep(0.1)
        _join_all([holder, *callers], 60)
        assert order == [0, 1, 2, 3]
    finally:
        pool.close()


def test_grade_separates_a_verdict_from_no_verdict():
    wrong = grade(r"\boxed{3}", "4")
    assert not wrong.correct and not wrong.undecided  # a verdict: wrong
    lost = grade(SLOW, "1", timeout=0.5)
    assert not lost.correct and lost.undecided and lost.timed_out  # no verdict
    assert grade_many([(SLOW, "1"), ("070", "70")], timeout=0.5)[1].undecided is False


@pytest.mark.parametrize("name", ["timeout", "wait"])
@pytest.mark.parametrize("value", [0, -1.0, float("inf"), float("nan"), True, "5"])
def test_both_bounds_are_validated(name, value):
    with pytest.raises(ConfigError, match=name):
        grade("1", "1", **{name: value})


def test_the_pool_is_sized_to_the_machine_and_configurable(monkeypatch):
    monkeypatch.delenv(WORKERS_ENV, raising=False)
    assert 2 <= default_pool_size() <= 8
    monkeypatch.setenv(WORKERS_ENV, "5")
    assert default_pool_size() == 5
    monkeypatch.setenv(WORKERS_ENV, "many")
    with pytest.raises(ConfigError, match=WORKERS_ENV):
        default_pool_size()
    with pytest.raises(ConfigError, match="max_workers"):
        set_pool_size(0)
    pool = WorkerPool(3)
    try:
        pool.warmup()
        assert len(pool.worker_pids()) == 3
        pool.resize(1, shrink=True)
        assert len(pool.worker_pids()) == 1 and pool.max_workers == 1
        assert pool.compare(ROOT8, TWO_ROOT2, timeout=5.0, wait=DEFAULT_WAIT).correct
    finally:
        pool.close()


# ---------------------------------------------------------------------------------------
# What the consumers do with no verdict.


class SlowAnswerLM:
    """A stand-in model whose forced answers are all the slow input (no verdict in 0.5 s)."""

    name = "slow-answer-stand-in"

    def generate(self, prompts, sampling):
        text = f"\\boxed{{{SLOW}}}"
        return [[Completion(text, 5, "stop")] * sampling.n for _ in prompts]

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None


PROBLEM = Problem("p", "What is 1?", "1")


def test_the_prover_leaves_undecided_answers_out_of_j_and_does_not_cache_them():
    prover = ForcedAnswerProver(SlowAnswerLM(), k=2, grading_timeout=0.5)
    (estimate,) = prover.estimate(PROBLEM, [""], prompt="Q\n")
    assert estimate.undecided == 2 and estimate.no_verdict
    prover.estimate(PROBLEM, [""], prompt="Q\n")
    assert prover.hits == 0 and prover.misses == 2  # asked again: not cached


def test_known_success_probs_keep_the_previous_j_when_there_is_no_verdict():
    lost = ProverEstimate(0.0, ("a",), (False,), undecided=1)
    seen = [ProverEstimate(0.25, ("a",), (False,)), lost, ProverEstimate(0.75, ("b",), (True,))]
    assert known_success_probs(seen) == [0.25, 0.25, 0.75]
    assert known_success_probs([lost, lost]) == [0.0, 0.0]


class FixedProver:
    """A stand-in prover returning scripted estimates, one per request."""

    def __init__(self, estimates):
        self.estimates = list(estimates)

    def estimate_batch(self, requests):
        return [self.estimates.pop(0) for _ in requests]


class BoxedLM:
    def count_tokens(self, text):
        return len(text.split())


def test_the_env_keeps_j_and_withholds_the_outcome_reward_without_a_verdict(monkeypatch):
    import mrt_env.envs.stream as stream_module

    lost = ProverEstimate(0.0, ("x", "y"), (False, False), undecided=2)
    prover = FixedProver([ProverEstimate(0.5, ("1", "2"), (True, False)), lost])
    stepper = Stepper(StreamConfig(), prover=prover, lm=BoxedLM())
    (stream,) = stepper.start([PROBLEM], ["<think>Q\n"])

    # STAND-IN for a grader that could not reach a verdict (a deadline passed under load).
    def no_verdict(response, gold, **_):
        return GradeResult(False, "1", True, "sympy comparison exceeded 5 s", undecided=True)

    monkeypatch.setattr(stream_module, "grade", no_verdict)
    (out,) = stepper.step([stream], ["so 1</think>\\boxed{1}"])
    assert out.terminated
    assert out.info[keys.SUCCESS_PROB] == 0.5  # kept, not dropped to 0
    assert out.info[keys.CORRECT] is None and out.info[keys.UNDECIDED] == 3
    assert out.reward == 0.0  # no progress invented, no outcome scored


def _row(strategy, correct, sample):
    return {
        "env": "E",
        "strategy": strategy,
        "problem_id": "p",
        "seed": 0,
        "sample": sample,
        "success_probs": [0.2, 0.6],
        "compute_tokens": [0, 10],
        "regret": 0.4,
        "correct": correct,
        "answer": "1",
    }


def test_mrt_bench_leaves_undecided_episodes_out_and_reports_them():
    rows = [_row("s", True, 0), _row("s", False, 1), _row("s", None, 2), _row("s", None, 3)]
    stats = summarise(rows, max_blocks={"E": 2}, budgets={"E": [10]}, samples=4)
    by = {s["metric"]: s for s in stats}
    assert by["accuracy"]["mean"] == 0.5 and by["accuracy"]["n"] == 2
    assert by["undecided"]["mean"] == 0.5 and by["undecided"]["n"] == 4
    assert "undecided" in headline_metrics(stats, "E")
    clean = summarise(rows[:2], max_blocks={"E": 2}, budgets={"E": [10]}, samples=2)
    assert "undecided" not in {s["metric"] for s in clean}  # tables unchanged without any
    with pytest.raises(ConfigError, match="no verdict"):
        anytime_success([0.2, 0.6], None)


def test_the_trl_rewards_give_none_not_zero_without_a_verdict(caplog):
    prover = ForcedAnswerProver(SlowAnswerLM(), k=1, grading_timeout=0.5)
    reward = make_progress_reward(prover, grading_timeout=0.5)
    completions = [f"\\boxed{{{SLOW}}}", r"\boxed{2}"]
    out = reward(["Q1", "Q2"], completions, answer=["1", "1"])
    assert out[0] is None and out[1] is not None
    assert "no verdict on 1 of 2" in caplog.text
    # The plain outcome reward, on its default deadline, still tells right from wrong.
    assert outcome_reward(["Q", "Q"], [r"\boxed{1}", r"\boxed{2}"], answer=["1", "1"]) == [1.0, 0.0]
