"""The stream core: one batched prover call per step, a refused block changes nothing,
known-answer rewards and regret, forced answers at the budget."""

from __future__ import annotations

import doctest

import pytest

import mrt_env.envs.stream as stream_module
from mrt_env import info as keys
from mrt_env.envs.stream import Stepper, StreamConfig
from mrt_env.errors import MrtError, ResetNeeded
from mrt_env.prover import ProverEstimate
from mrt_env.types import Problem


class CountingProver:
    """A stand-in prover: J is the share of the gold answer's digits in the prefix."""

    def __init__(self) -> None:
        self.calls: list[int] = []

    def estimate_batch(self, requests):
        self.calls.append(len(requests))
        out = []
        for r in requests:
            gold = r.problem.answer
            out.append(ProverEstimate(sum(d in r.prefix for d in gold) / len(gold)))
        return out


class ScriptedLM:
    """A stand-in model for the forced answer: counts tokens as words, answers '\\boxed{12}'."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def generate(self, prompts, *_, **__):
        from mrt_env.lm.base import Completion

        self.prompts += list(prompts)
        return [
            [Completion(text="\\boxed{12}", num_tokens=3, finish_reason="stop")] for _ in prompts
        ]


PROBLEMS = [Problem("a", "6 + 6?", "12"), Problem("b", "7 + 7?", "14")]


def make(**rules):
    prover, lm = CountingProver(), ScriptedLM()
    return Stepper(StreamConfig(**rules), prover=prover, lm=lm), prover, lm


def test_one_prover_call_per_step_for_all_streams():
    stepper, prover, _ = make(max_blocks=5)
    streams = stepper.start(PROBLEMS, ["Q1\n", "Q2\n"])
    assert prover.calls == [2]
    outs = stepper.step(streams, ["I get 1.\n\n", "It is 14.\n\n"])
    assert prover.calls == [2, 2]
    # J: '12' -> '1' present: 1/2; '14' -> both digits present: 1.
    assert [o.reward for o in outs] == [0.5, 1.0]
    assert [o.info[keys.SUCCESS_PROB] for o in outs] == [0.5, 1.0]
    assert [o.info[keys.REGRET] for o in outs] == [0.5, 0.0]
    assert streams[0].observation == "Q1\nI get 1.\n\n"


def test_a_refused_block_changes_no_stream():
    stepper, prover, _ = make(max_block_chars=10)
    streams = stepper.start(PROBLEMS, ["Q1\n", "Q2\n"])
    before = [(list(s.blocks), list(s.estimates)) for s in streams]
    with pytest.raises(ValueError, match="max_block_chars=10"):
        stepper.step(streams, ["short", "far too long a block"])
    with pytest.raises(TypeError, match="must be a str"):
        stepper.step(streams, ["short", 3])
    assert [(s.blocks, s.estimates) for s in streams] == before
    assert prover.calls == [2]


def test_the_budget_forces_an_answer_that_is_graded():
    stepper, _, lm = make(max_blocks=2, forcing_text="\n</think>\n\nAnswer: ")
    (stream,) = stepper.start(PROBLEMS[:1], ["Q\n"])
    (first,) = stepper.step([stream], ["think\n\n"])
    assert not (first.terminated or first.truncated)
    (last,) = stepper.step([stream], ["more\n\n"])
    assert last.truncated and not last.terminated
    assert lm.prompts == ["Q\nthink\n\nmore\n\n\n</think>\n\nAnswer: "]
    assert last.info[keys.OUTCOME] == "forced" and last.info[keys.CORRECT] is True
    assert last.reward == pytest.approx(0.0 + 1.0)  # no progress, outcome 1
    with pytest.raises(ResetNeeded):
        stepper.step([stream], ["again"])


def test_a_commitment_ends_the_stream_and_is_graded():
    stepper, _, _ = make()
    (stream,) = stepper.start(PROBLEMS[1:], ["<think>Q\n"])
    (out,) = stepper.step([stream], ["7 + 7 = 14</think>\\boxed{14}"])
    assert out.terminated and out.info[keys.OUTCOME] == "committed"
    assert out.info[keys.CORRECT] is True and out.info[keys.ANSWER] == "14"


def test_reset_needed_is_ours_and_gymnasiums():
    import gymnasium as gym

    assert issubclass(ResetNeeded, MrtError) and issubclass(ResetNeeded, gym.error.ResetNeeded)


def test_rules_are_validated_once():
    with pytest.raises(ValueError, match="max_blocks"):
        StreamConfig(max_blocks=0)
    with pytest.raises(ValueError, match="alpha"):
        StreamConfig(alpha=float("nan"))


def test_the_module_docstring_example_runs():
    result = doctest.testmod(stream_module)
    assert result.attempted > 0 and result.failed == 0


def test_the_env_docstring_example_runs():
    import mrt_env.envs.reasoning as reasoning_module

    result = doctest.testmod(reasoning_module)
    assert result.attempted > 0 and result.failed == 0


def test_hostile_actions_and_options_are_clear_errors_and_change_nothing():
    import gymnasium as gym

    import mrt_env  # noqa: F401  (registers the ids)
    from mrt_env.errors import ArgumentTypeError, ConfigError

    env = gym.make("MRT-Arithmetic-v0", prover=None, problems="arithmetic", limit=3)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ConfigError, match="lone surrogate"):
        env.step("a\ud800\n")
    assert env.unwrapped.stream.blocks == []
    with pytest.raises(ArgumentTypeError, match="options must be a dict"):
        env.reset(options="x")
    assert env.unwrapped.stream.observation == obs  # the episode under way is untouched
    env.step("fine\n")
    assert env.unwrapped.stream.blocks == ["fine\n"]
