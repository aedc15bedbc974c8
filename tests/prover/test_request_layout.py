"""μ is asked in one byte layout by every caller (the env, the vector env, TRL's
EpisodeScorer, verl's episode_fields, mrt-regret), and an estimate with no verdict is
carried by one rule, c_0 included. The expected contexts are typed out in full."""

from __future__ import annotations

import pytest

from mrt_env.envs import ReasoningEnv, ReasoningVectorEnv
from mrt_env.envs.stream import Stepper, StreamConfig
from mrt_env.episodes import EpisodeConfig
from mrt_env.integrations.verl import J_KEY, episode_fields
from mrt_env.lm.base import Completion
from mrt_env.prover import (
    FinishedText,
    ForcedAnswerProver,
    ProverEstimate,
    known_success_probs,
    score_finished,
)
from mrt_env.regret import analyse_trace
from mrt_env.training.credit import CreditConfig
from mrt_env.types import Problem

# The authors' stop text, typed out from their pass_at_k_given_prefix.py (not our constant).
STOP = (
    "Time is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop "
    "thinking and formulate a final answer based on what I already have.\n</think>\n\n"
    "**Step-by-Step Explanation and Answer:**\n\n1. **"
)
PROBLEM = Problem("x/1", "What is x + 1?", "4")
# Episodes by the marker rule, one paragraph at least: "First I set x = 3.\n\n" (ends in a
# blank line) and "Wait, x + 1 = 4." (no newline), or "Wait, x + 1 = 4.\n" (one).
TEXT = "First I set x = 3.\n\nWait, x + 1 = 4."
RULE = EpisodeConfig(min_paragraphs=1)


class RecordingLM:
    """A stand-in model that records the exact contexts μ sends it, call by call."""

    name = "recording-stand-in"

    def __init__(self):
        self.calls: list[list[str]] = []

    def generate(self, prompts, sampling):
        self.calls.append(list(prompts))
        return [[Completion("\\boxed{4}", 3, "stop")] * sampling.n for _ in prompts]

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None


class ScriptedProver:
    """A stand-in μ that returns the estimates it was given, one per request."""

    def __init__(self, estimates):
        self.estimates = list(estimates)

    def estimate_batch(self, requests):
        return [self.estimates.pop(0) for _ in requests]


def test_the_env_step_sends_mu_the_authors_bytes():
    lm = RecordingLM()
    env = ReasoningEnv(
        problems=[PROBLEM], prover=ForcedAnswerProver(lm, k=1), prompt_template="Q: {question}\n"
    )
    env.reset(seed=0)
    for block in ("First I set x = 3.\n\n", "Then x + 1 = 4.", "\nCheck: 4 - 1 = 3.\n"):
        env.step(block)
    assert lm.calls == [
        ["Q: What is x + 1?\n" + STOP],
        ["Q: What is x + 1?\nFirst I set x = 3.\n\n" + STOP],
        ["Q: What is x + 1?\nFirst I set x = 3.\n\nThen x + 1 = 4.\n\n" + STOP],
        ["Q: What is x + 1?\nFirst I set x = 3.\n\nThen x + 1 = 4.\nCheck: 4 - 1 = 3.\n\n" + STOP],
    ]


def test_the_vector_env_sends_mu_the_authors_bytes():
    lm = RecordingLM()
    env = ReasoningVectorEnv(
        2, problems=[PROBLEM], prover=ForcedAnswerProver(lm, k=1), prompt_template="Q: {question}\n"
    )
    env.reset(seed=0, options={"problem": 0})
    # A block ending in a blank line and the same block without a newline: the same bytes,
    # so μ is asked once.
    env.step(["First I set x = 3.\n\n", "First I set x = 3."])
    env.step(["Then x + 1 = 4.", "\nThen x + 1 = 4.\n"])
    assert lm.calls == [
        ["Q: What is x + 1?\n" + STOP],
        ["Q: What is x + 1?\nFirst I set x = 3.\n\n" + STOP],
        [
            "Q: What is x + 1?\nFirst I set x = 3.\n\nThen x + 1 = 4.\n\n" + STOP,
            "Q: What is x + 1?\nFirst I set x = 3.\nThen x + 1 = 4.\n\n" + STOP,
        ],
    ]


def test_the_trl_episode_scorer_sends_mu_the_authors_bytes():
    pytest.importorskip("trl")
    from mrt_env.integrations.trl import EpisodeScorer

    lm = RecordingLM()
    scorer = EpisodeScorer(ForcedAnswerProver(lm, k=1), rule=RULE)
    out = scorer.score(["Q: a?\n", "Q: b?\n"], [TEXT, TEXT + "\n"], {"answer": ["4", "4"]})
    assert [js for _, js in out] == [[1.0, 1.0, 1.0]] * 2
    assert lm.calls == [  # one call for the whole batch
        [
            "Q: a?\n" + STOP,
            "Q: a?\nFirst I set x = 3.\n\n" + STOP,
            "Q: a?\nFirst I set x = 3.\n\nWait, x + 1 = 4.\n\n" + STOP,
            "Q: b?\n" + STOP,
            "Q: b?\nFirst I set x = 3.\n\n" + STOP,
            "Q: b?\nFirst I set x = 3.\n\nWait, x + 1 = 4.\n\n" + STOP,
        ]
    ]


class CharTokenizer:
    """A stand-in tokenizer: one token per character."""

    def decode(self, ids, skip_special_tokens=True):
        return "".join(map(chr, ids))

    def batch_decode(self, sequences, skip_special_tokens=True):
        return [self.decode(ids) for ids in sequences]


def test_verl_episode_fields_send_mu_the_authors_bytes():
    lm = RecordingLM()
    fields = episode_fields(
        CharTokenizer(),
        [ord(c) for c in TEXT + "\n"],
        context="Q: a?\n",
        problem=PROBLEM,
        prover=ForcedAnswerProver(lm, k=1),
        rule=RULE,
        credit=CreditConfig("block"),
    )
    assert fields[J_KEY] == "[1.0, 1.0, 1.0]"
    assert lm.calls == [
        [
            "Q: a?\n" + STOP,
            "Q: a?\nFirst I set x = 3.\n\n" + STOP,
            "Q: a?\nFirst I set x = 3.\n\nWait, x + 1 = 4.\n\n" + STOP,
        ]
    ]


@pytest.mark.parametrize("ending", ["", "\n", "\n\n"])
def test_mrt_regret_sends_mu_the_authors_bytes(ending):
    prompt = "Problem: What is x + 1?\n\nSolution:\n"  # the plain template: no chat template
    trace = {"problem_id": "x/1", "question": "What is x + 1?", "answer": "4"}
    trace["response"] = TEXT + ending
    sent = {}
    for measure in ("authors", "stream"):
        lm = RecordingLM()
        analyse_trace(trace, prover=ForcedAnswerProver(lm, k=1), lm=lm, rule=RULE, measure=measure)
        sent[measure] = [c for call in lm.calls for c in call]
    partial = [prompt + STOP, prompt + "First I set x = 3.\n\n" + STOP]
    # The authors close the whole trace with "\n</think>" alone; the stream measure asks about
    # it as the env asks about a block.
    assert sent["authors"] == [
        *partial,
        prompt + "First I set x = 3.\n\nWait, x + 1 = 4.\n</think>",
    ]
    assert sent["stream"] == [
        *partial,
        prompt + "First I set x = 3.\n\nWait, x + 1 = 4.\n\n" + STOP,
    ]


# ---------------------------------------------------------------------------------------
# The rule for an estimate with no verdict, at c_0 and after


LOST = ProverEstimate(0.3, ("a", "b"), (False, False), undecided=2)  # J says nothing
KNOWN = ProverEstimate(0.5, ("4", "2"), (True, False))


def _env_js(estimates):
    stepper = Stepper(StreamConfig(), prover=ScriptedProver(estimates))
    (stream,) = stepper.start([PROBLEM], ["Q\n"])
    stepper.step([stream], ["First I set x = 3.\n\n"])
    return stream.success_probs


def _finished(estimates):
    text = FinishedText(PROBLEM, "Q\n", "First I set x = 3.\n\n", [0, 20])
    (scored,) = score_finished(ScriptedProver(estimates), [text])
    return scored


def test_an_undecided_j0_counts_as_zero_in_the_env_and_in_a_finished_text():
    # The env reports J_0 at reset, before any later J exists: 0.0, not the next J.
    finished = [e.success_prob for e in _finished([LOST, KNOWN])]
    assert _env_js([LOST, KNOWN]) == finished == [0.0, 0.5]
    assert known_success_probs([LOST, KNOWN]) == [0.0, 0.5]


def test_a_later_undecided_j_keeps_the_one_before_in_the_env_and_in_a_finished_text():
    scored = _finished([KNOWN, LOST])
    assert _env_js([KNOWN, LOST]) == [e.success_prob for e in scored] == [0.5, 0.5]
    assert scored[1].undecided == 2 and scored[1].answers == ("a", "b")  # the rest as μ gave
