"""Agents: the protocol, scripted/replay agents, LM strategies on the shipped tiny model."""

import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from fakes import CopyLastBoxedFakeLM

import mrt_env  # noqa: F401
from mrt_env.agents import (
    Agent,
    BudgetForcingExtend,
    EarlyExit,
    LMAgent,
    ParallelVote,
    RandomAgent,
    ReplayAgent,
    ScriptedAgent,
    SelfVerify,
    ThinkToBudget,
    as_agent,
    play,
)
from mrt_env.envs import ReasoningEnv
from mrt_env.episodes import split_episodes
from mrt_env.lm import Sampling
from mrt_env.prover import ForcedAnswerProver
from mrt_env.types import Problem

TOY = (Problem("toy/0", "What is 2 + 2?", "4"), Problem("toy/1", "What is 3 + 3?", "6"))
THINKING = "Problem: {question}\n<think>\n"


def fake_env(**kw):
    """μ on the COPY-LAST-BOXED FAKE (answers with the context's last box)."""
    settings = dict(
        problems=TOY,
        prover=ForcedAnswerProver(CopyLastBoxedFakeLM(), k=2),
        prompt_template=THINKING,
        max_blocks=6,
    )
    settings.update(kw)
    return ReasoningEnv(**settings)


# -- protocol and model-free agents -----------------------------------------------------


def test_functions_are_agents_and_bad_ones_are_caught():
    agent = as_agent(lambda obs, info: "block\n\n")
    assert agent.act("x", {}) == "block\n\n"
    assert agent.act_batch(["a", "b"], [{}, {}]) == ["block\n\n"] * 2
    with pytest.raises(TypeError, match="returned int"):
        as_agent(lambda obs, info: 3).act("x", {})
    with pytest.raises(TypeError, match="expected an Agent"):
        as_agent(42)
    with pytest.raises(NotImplementedError, match="must override"):
        Agent().act("x", {})


def test_replay_agent_puts_a_recorded_response_through_the_env():
    response = (
        "First.\n\nSecond.\n\nThird.\n\nWait, the sum is \\boxed{4}.\n\nOk.\n\nSure.\n\n"
        "</think> The answer is \\boxed{4}."
    )
    episodes = split_episodes(response)
    records = play(fake_env(), ReplayAgent({"toy/0": response}), ["toy/0"])
    (record,) = records
    assert list(record.blocks) == episodes and "".join(record.blocks) == response
    assert record.correct and record.outcome == "committed"
    assert record.success_probs[0] == 0.0 and record.success_probs[-1] == 1.0


def test_scripted_and_random_agents():
    script = ScriptedAgent(["a\n\n", "</think> \\boxed{4}"])
    (rec,) = play(fake_env(), script, [0])
    assert rec.blocks == ("a\n\n", "</think> \\boxed{4}") and rec.correct
    rand = RandomAgent(seed=3)
    blocks = [rand.act("", {}) for _ in range(5)]
    rand.reset()
    assert [rand.act("", {}) for _ in range(5)] == blocks
    (rec,) = play(fake_env(max_blocks=3), RandomAgent(seed=1), [1])
    assert len(rec.blocks) <= 3 and rec.outcome in ("forced", "committed")


# -- LM strategies on the shipped model ---------------------------------------------------


def search_agent(cls, lm, **kw):
    return cls(
        lm, stop=("\n",), keep_stop=True, max_block_tokens=48, temperature=1.0, top_p=1.0, **kw
    )


@pytest.fixture(scope="module")
def search_vec():
    return gym.make_vec("MRT-Search-v0", num_envs=6)


@pytest.fixture(scope="module")
def search_lm(search_vec):
    return search_vec.unwrapped.prover.lm


FORCING = "A \\boxed{"


# Settings for the search task (blocks are lines; the answer is forced with its text).
STRATEGIES = {
    ThinkToBudget: {},
    EarlyExit: {"forcing_text": FORCING},
    SelfVerify: {"verify_text": "\n"},
    BudgetForcingExtend: {"n": 1, "cues": ("",), "separator": "\n"},
    ParallelVote: {"n": 3, "total_tokens": 300, "forcing_text": FORCING},
}


@pytest.mark.parametrize("cls", list(STRATEGIES))
def test_each_strategy_runs_end_to_end_through_gym_make(cls, search_lm):
    kw = STRATEGIES[cls]
    env = gym.make("MRT-Search-v0", prover=search_lm)
    records = play(env, search_agent(cls, search_lm, **kw), range(4), seed=0)
    assert len(records) == 4
    for r in records:
        assert r.outcome in ("committed", "forced") and len(r.blocks) >= 1
        assert len(r.success_probs) == len(r.blocks) + 1
        assert all(0.0 <= j <= 1.0 for j in r.success_probs)


@pytest.mark.parametrize("cls", list(STRATEGIES))
def test_batched_runs_equal_one_by_one_runs(cls, search_lm, search_vec):
    kw = STRATEGIES[cls]
    batched = play(search_vec, search_agent(cls, search_lm, **kw), range(6), seed=0)
    single_env = gym.make("MRT-Search-v0", prover=search_lm)
    one_by_one = play(single_env, search_agent(cls, search_lm, **kw), range(6), seed=0)
    assert [r.blocks for r in batched] == [r.blocks for r in one_by_one]
    for a, b in zip(batched, one_by_one, strict=True):
        assert a.success_probs == pytest.approx(b.success_probs, abs=1e-6)
        assert (a.correct, a.outcome) == (b.correct, b.outcome)


def test_early_exit_stops_earlier_than_thinking_to_budget(search_lm):
    vec = gym.make_vec("MRT-Arithmetic-v0", num_envs=10, prover=search_lm)
    problems = range(20)
    think = play(vec, search_agent(ThinkToBudget, search_lm), problems, seed=0)
    early = play(
        vec, search_agent(EarlyExit, search_lm, m=1, forcing_text=FORCING), problems, seed=0
    )
    # Thinking to budget spends only the transcript; early exit also its forced answers.
    assert all(r.compute_tokens == r.prefix_tokens for r in think)
    assert sum(sum(r.hidden_tokens) for r in early) > 0
    blocks_think = np.mean([len(r.blocks) for r in think])
    blocks_early = np.mean([len(r.blocks) for r in early])
    assert blocks_early < blocks_think
    # ... on the problems where its answers agreed (it committed before the model did).
    assert any(len(e.blocks) < len(t.blocks) for e, t in zip(early, think, strict=True))


def test_parallel_vote_respects_the_total_token_budget(search_lm):
    agent = search_agent(ParallelVote, search_lm, n=4, total_tokens=200, forcing_text=FORCING)
    env = gym.make("MRT-Search-v0", prover=search_lm)
    before = 0
    for problem in range(3):
        (record,) = play(env, agent, [problem], seed=0)
        spent = agent.tokens_generated - before
        before = agent.tokens_generated
        assert 0 < spent <= 200 and len(record.blocks) == 1  # one committing block
        # The streams are off the transcript: the record counts them as hidden compute.
        assert record.hidden_tokens == (spent,)
        assert record.compute_tokens == (0, record.prefix_tokens[1] + spent)
    with pytest.raises(ValueError, match="leaves no tokens"):
        ParallelVote(search_lm, n=4, total_tokens=40)


def test_lm_agent_keeps_or_drops_the_stop_string(search_lm):
    keep = LMAgent(search_lm, stop=("\n",), keep_stop=True, temperature=0.0)
    drop = LMAgent(search_lm, stop=("\n",), keep_stop=False, temperature=0.0)
    obs = "Q 03 06 11 14 17 sum 23\n"
    assert keep.act(obs, {}) == drop.act(obs, {}) + "\n"
    with pytest.raises(TypeError, match="sequence of strings"):
        LMAgent(search_lm, stop="\n")
    # Bad sampling settings fail when the agent is built, not at its first block.
    with pytest.raises(ValueError, match="top_p must be in"):
        LMAgent(search_lm, top_p=0.0)


def test_custom_agent_example_runs():
    example = Path(__file__).resolve().parents[2] / "examples" / "custom_agent.py"
    out = subprocess.run(
        [sys.executable, str(example)], capture_output=True, text=True, timeout=600
    )
    assert out.returncode == 0, out.stderr[-2000:]
    rows = [line.split(":", 1) for line in out.stdout.splitlines() if ":" in line]
    lines = {name.strip(): figures for name, figures in rows}
    assert set(lines) >= {"shipped model", "systematic_search"}
    assert "accuracy 1.00" in lines["systematic_search"]  # a correct searcher never fails


def test_envs_showing_the_same_text_get_different_samples(search_lm):
    agent = LMAgent(
        search_lm,
        stop=("\n",),
        keep_stop=True,
        max_block_tokens=48,
        temperature=1.0,
        top_p=1.0,
        seed=3,
    )
    prompt = "Q 03 06 11 14 17 sum 23\n"
    other = "Q 02 05 09 13 18 sum 14\n"
    blocks = agent.act_batch([prompt] * 6 + [other], [{}] * 7)
    assert len(set(blocks[:6])) > 1  # a group of rollouts, not six copies of one
    # A text seen once samples as it would alone; the first copy too.
    assert blocks[6] == agent.act(other, {}) and blocks[0] == agent.act(prompt, {})
    assert agent.act_batch([prompt] * 6 + [other], [{}] * 7) == blocks  # reproducible


def test_one_seed_per_prompt_on_the_transformers_backend(search_lm):
    kw = {"max_tokens": 20, "stop": ["\n"], "temperature": 1.0}
    prompt = "Q 03 06 11 14 17 sum 23\n"
    a = search_lm.generate([prompt, prompt], Sampling(seed=[1, 2], **kw))
    assert a[0][0].text == search_lm.generate([prompt], Sampling(seed=1, **kw))[0][0].text
    assert a[1][0].text == search_lm.generate([prompt], Sampling(seed=2, **kw))[0][0].text
    with pytest.raises(ValueError, match="one seed per prompt"):
        search_lm.generate([prompt, prompt], Sampling(seed=[1], **kw))
