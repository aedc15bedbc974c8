"""The answers forced from the model (at truncation, and a strategy's "answer now") see μ's
layout: after a real-set forcing text (a blank line first), the prefix's trailing newlines
are dropped and exactly one blank line comes before the stop text; nothing is added at the
empty prefix. The expected contexts are typed out in full."""

from __future__ import annotations

from types import SimpleNamespace

from mrt_env import info as keys
from mrt_env.agents import EarlyExit, ParallelVote
from mrt_env.envs import ReasoningEnv
from mrt_env.lm.base import Completion
from mrt_env.prover import PAPER_FORCING_TEXT, ForcedAnswerProver, OracleProver
from mrt_env.strategy.agent import forced_answers
from mrt_env.types import Problem

# The authors' stop text, typed out from their pass_at_k_given_prefix.py (not our constant).
STOP = (
    "Time is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop "
    "thinking and formulate a final answer based on what I already have.\n</think>\n\n"
    "**Step-by-Step Explanation and Answer:**\n\n1. **"
)
PROBLEM = Problem("x/1", "What is x + 1?", "4")
PROMPT = "Q: What is x + 1?\n"


class ScriptedLM:
    """A stand-in model: answers "\\boxed{4}" after the stop text, else writes the next of
    ``blocks`` (one per sample); records every context it is given."""

    name = "scripted-stand-in"

    def __init__(self, blocks=()):
        self.blocks = list(blocks)
        self.contexts: list[str] = []

    def generate(self, prompts, sampling):
        self.contexts += prompts
        out = []
        for prompt in prompts:
            if prompt.endswith(STOP):
                out.append([Completion("\\boxed{4}", 3, "stop")] * sampling.n)
            else:
                out.append([Completion(self.blocks.pop(0), 3, "stop") for _ in range(sampling.n)])
        return out

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None

    def forced(self):
        """The contexts the model was forced to answer from."""
        return [c for c in self.contexts if c.endswith(STOP)]


def _env(lm, prover, max_blocks):
    return ReasoningEnv(
        problems=[PROBLEM], prover=prover, prompt_template="Q: {question}\n", max_blocks=max_blocks
    )


def test_the_answer_forced_at_truncation_has_the_authors_layout():
    lm = ScriptedLM()
    env = _env(lm, ForcedAnswerProver(lm, k=1), max_blocks=2)
    env.reset(seed=0)
    env.step("First I set x = 3.\n\n")
    *_, truncated, info = env.step("Then x + 1 = 4.\n")
    assert truncated and info["outcome"] == "forced" and info["correct"] is True
    # μ's last request and the forced answer's context are the same bytes: one blank line
    # after the block that ended in one newline.
    last = PROMPT + "First I set x = 3.\n\nThen x + 1 = 4.\n\n" + STOP
    assert lm.contexts[-2:] == [last, last]


def test_the_answer_forced_at_an_empty_prefix_follows_the_prompt():
    lm = ScriptedLM()
    env = _env(lm, ForcedAnswerProver(lm, k=1), max_blocks=1)
    env.reset(seed=0)
    *_, truncated, _ = env.step("")
    assert truncated and lm.contexts[-1] == PROMPT + STOP


def test_early_exits_answer_now_has_the_authors_layout():
    # A prover that samples no answers: the strategy forces the model itself.
    lm = ScriptedLM(["First I set x = 3.\n", "Then x + 1 = 4."])
    env = _env(lm, OracleProver(lambda problem, blocks: 0.5), max_blocks=8)
    agent = EarlyExit(lm, m=2, forcing_text=PAPER_FORCING_TEXT, answer_tokens=8)
    obs, info = env.reset(seed=0)
    done = False
    while not done:
        (block,) = agent.act_batch([obs], [info])
        obs, _, done, _, info = env.step(block)
    assert info["outcome"] == "committed" and info["correct"] is True
    # c_0: the stop text right after the prompt; then the blocks as written, their trailing
    # newlines made one blank line.
    assert lm.forced() == [
        PROMPT + STOP,
        PROMPT + "First I set x = 3.\n\n" + STOP,
        PROMPT + "First I set x = 3.\nThen x + 1 = 4.\n\n" + STOP,
    ]


def test_parallel_votes_answer_now_has_the_authors_layout():
    # Two streams without an answer: each is forced after the observation it continued.
    lm = ScriptedLM(["x + 1 = 4.\n", "x is 3"])
    agent = ParallelVote(lm, n=2, total_tokens=64, forcing_text=PAPER_FORCING_TEXT, answer_tokens=8)
    (block,) = agent.act_batch([PROMPT], [{keys.EPISODE: 0}])
    assert "\\boxed{4}" in block
    assert lm.forced() == [PROMPT + "x + 1 = 4.\n\n" + STOP, PROMPT + "x is 3\n\n" + STOP]


def test_the_strategy_envs_answer_now_has_the_authors_layout():
    lm = ScriptedLM()
    env = SimpleNamespace(
        forcing_text=PAPER_FORCING_TEXT, config=SimpleNamespace(think_close="</think>")
    )
    agent = EarlyExit(lm)
    answers = forced_answers(agent, env, [PROMPT, PROMPT], ["", "First I set x = 3.\n"], 8)
    assert answers == ["4", "4"]
    assert lm.contexts == [PROMPT + STOP, PROMPT + "First I set x = 3.\n\n" + STOP]
