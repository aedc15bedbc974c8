"""The paper's MRT-RL rollouts: an env episode can start after a prefix c_j, and the
trainer's second round continues the first round's traces from where it cut them."""

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

import gymnasium as gym

import mrt_env  # noqa: F401 - registers the ids
from mrt_env.agents import LMAgent, play
from mrt_env.errors import ConfigError
from mrt_env.registration import ENV_IDS, block_settings
from mrt_env.training.rollouts import collect_from_prefixes, cut_prefixes
from mrt_env.types import EpisodeRecord


def test_an_episode_starts_after_a_prefix():
    env = gym.make("MRT-Arithmetic-v0", max_blocks=4)
    obs, _info = env.reset(options={"problem": 0})
    first = "867+640=1507\n" if obs.startswith("Q 867+640") else "a line\n"
    _, _, _, _, after = env.step(first)
    obs2, info2 = env.reset(options={"problem": 0, "blocks": [first]})
    assert obs2 == obs + first
    # J at c_1 is the one measured when the block was written; the budgets count it.
    assert info2["episode"] == 1 and info2["success_prob"] == after["success_prob"]
    assert info2["tokens"] == after["tokens"]
    for _ in range(3):
        *_, truncated, last = env.step("x\n")
    assert truncated and last["episode"] == 4  # 4 blocks in all: the prefix's one counts
    with pytest.raises(ConfigError, match="commits to an answer"):
        env.reset(options={"problem": 0, "blocks": ["</think> \\boxed{1}"]})
    with pytest.raises(ConfigError, match="uses up a budget"):
        env.reset(options={"problem": 0, "blocks": ["a\n"] * 4})


def test_play_records_only_the_continuation(tiny_backend):
    vec = gym.make_vec("MRT-Arithmetic-v0", num_envs=2, max_blocks=6)
    lm = vec.unwrapped.prover.lm
    agent = LMAgent(lm, seed=0, **block_settings(ENV_IDS["MRT-Arithmetic-v0"]))
    (full,) = play(vec, agent, [3], seed=0)
    prefix = list(full.blocks[:1])
    records = play(vec, agent, [3, 3], seed=1, prefixes=[prefix, prefix])
    for r in records:
        assert r.prompt.endswith(prefix[0]) and r.success_probs[0] == full.success_probs[1]
        assert r.prefix_tokens[0] == 0 and len(r.blocks) <= 5


def test_cut_prefixes_never_include_the_last_block():
    record = EpisodeRecord("p", ("a", "b", "c"), (0.1, 0.2, 0.3, 0.4), (0, 1, 2, 3), True)
    rng = np.random.default_rng(0)
    cuts = [len(p) for p in cut_prefixes([record] * 200, rng)]
    assert set(cuts) == {0, 1, 2}
    nonzero = [len(p) for p in cut_prefixes([record] * 200, rng, cut="nonzero")]
    assert set(nonzero) == {1, 2}
    single = EpisodeRecord("p", ("a",), (0.1, 0.2), (0, 1), True)
    assert cut_prefixes([single], rng, cut="nonzero") == [[]]


def test_collect_from_prefixes_groups_continuations_of_one_prefix():
    vec = gym.make_vec("MRT-Search-v0", num_envs=6)
    lm = vec.unwrapped.prover.lm
    agent = LMAgent(lm, seed=0, **block_settings(ENV_IDS["MRT-Search-v0"]))
    batch = collect_from_prefixes(
        vec, agent, [0, 1], group_size=3, seed=0, rng=np.random.default_rng(1)
    )
    assert batch.groups == sorted(batch.groups) and len(batch.traces) <= 6
    for g in set(batch.groups):
        traces = [t for t, h in zip(batch.traces, batch.groups, strict=True) if h == g]
        # One prefix per group: the same prompt and the same J_j to start from.
        assert len({t.prompt for t in traces}) == 1
        assert len({t.success_probs[0] for t in traces}) == 1
    assert batch.sampled_tokens > 0 and "cut" in batch.stats
