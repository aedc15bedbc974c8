"""The strategy env: the meta-level decision (continue / answer) for stable-baselines3.

Replay dynamics are checked against hand-computed regrets on hand-built tables; the
tabulated and live modes against the shipped tiny model (real LM, no stand-in); the
registered ids build the mode their arguments ask for."""

from __future__ import annotations

import gzip
import json

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import mrt_env  # noqa: F401  (registers the ids)
from mrt_env.data.synthetic import get_task, training_problems
from mrt_env.metrics import anytime_regret
from mrt_env.strategy import (
    ANSWER,
    CONTINUE,
    TABLE_FORMAT,
    LiveStrategyEnv,
    StrategyEnv,
    StrategyTable,
    TabulatedStrategyEnv,
    anytime_return_bound,
    make_strategy_env,
    tabulate,
)
from mrt_env.types import EpisodeRecord

H = 4


def hand_table() -> StrategyTable:
    # Trace 0: 3 blocks, the model commits at block 3 and is right.
    # Trace 1: 4 blocks (the budget), forced at the end, wrong.
    return StrategyTable(
        "MRT-Search-v0",
        horizon=H,
        max_tokens=100,
        traces=(
            EpisodeRecord(
                "p0",
                ("b1", "b2", "b3"),
                (0.1, 0.2, 0.5, 1.0),
                (0, 10, 20, 30),
                correct=True,
                outcome="committed",
                forced_answers=("a", "b", "b"),
                forced_correct=(False, True, True),
            ),
            EpisodeRecord(
                "p1",
                ("b1", "b2", "b3", "b4"),
                (0.3, 0.2, 0.2, 0.4, 0.1),
                (0, 5, 10, 15, 20),
                correct=False,
                outcome="forced",
                forced_answers=(None, "x", "x", "x"),
                forced_correct=(False, False, False, False),
            ),
        ),
    )


def play_actions(env, trace, actions):
    obs, info = env.reset(options={"trace": trace})
    rewards, infos = [], [info]
    for action in actions:
        obs, reward, terminated, truncated, info = env.step(action)
        rewards.append(reward)
        infos.append(info)
        assert env.observation_space.contains(obs)
        if terminated or truncated:
            break
    return rewards, infos, terminated


def test_thinking_to_the_end_returns_minus_the_anytime_regret():
    env = TabulatedStrategyEnv(hand_table())
    rewards, infos, done = play_actions(env, 0, [CONTINUE] * 3)
    # Blocks 1, 2 cost 1 − J: 0.8, 0.5; block 3 ends right: 0 for the rest.
    assert rewards == pytest.approx([-0.8, -0.5, 0.0])
    assert done and infos[-1]["correct"] is True and infos[-1]["outcome"] == "committed"
    assert sum(rewards) == pytest.approx(-anytime_regret([0.1, 0.2, 0.5, 1.0], True, H))
    rewards, infos, done = play_actions(env, 1, [CONTINUE] * 4)
    # 0.8, 0.8, 0.6, then the budget ends at block 4, wrong: (1 − 0)·(4 − 4 + 1).
    assert rewards == pytest.approx([-0.8, -0.8, -0.6, -1.0])
    assert sum(rewards) == pytest.approx(-anytime_regret([0.3, 0.2, 0.2, 0.4, 0.1], False, H))
    assert infos[-1]["regret"] == pytest.approx(3.2) and infos[-1]["outcome"] == "forced"


def test_answering_holds_the_forced_answers_outcome_to_the_budget():
    env = TabulatedStrategyEnv(hand_table())
    # Answer at c_1 (forced answer "b", right): 0.8 for block 1, then 0 for blocks 2..4.
    rewards, infos, done = play_actions(env, 0, [CONTINUE, ANSWER])
    assert rewards == pytest.approx([-0.8, 0.0]) and done
    assert infos[-1]["correct"] is True and infos[-1]["outcome"] == "answered"
    # Answer at once (c_0's answer "a" is wrong): all 4 blocks cost 1.
    rewards, infos, _ = play_actions(env, 0, [ANSWER])
    assert rewards == pytest.approx([-4.0]) and infos[-1]["correct"] is False
    # Trace 1 answers at c_2 ("x", wrong): 0.8 + 0.8, then (4 − 2)·1.
    rewards, _, _ = play_actions(env, 1, [CONTINUE, CONTINUE, ANSWER])
    assert rewards == pytest.approx([-0.8, -0.8, -2.0])
    # The oracle stopper: answer at c_1 on trace 0 (−0.8); on trace 1 every answer is
    # wrong, and thinking (1 − J < 1 a block) beats holding a wrong answer: to the end,
    # 0.8 + 0.8 + 0.6 + 1 = 3.2.
    assert anytime_return_bound(hand_table()) == pytest.approx((-0.8 - 3.2) / 2)


def test_observation_features():
    env = TabulatedStrategyEnv(hand_table())
    obs, info = env.reset(options={"trace": 1})
    np.testing.assert_allclose(obs, [0.0, 0.0, 0.3, 0.0, 0.0], atol=1e-6)
    obs, *_ = env.step(CONTINUE)
    obs, _, _, _, info = env.step(CONTINUE)
    # t = 2 of H = 4, 10 of 100 tokens, J 0.2, trend 0, "x" agreed at c_1 and c_2.
    np.testing.assert_allclose(obs, [0.5, 0.1, 0.2, 0.0, 0.5], atol=1e-6)
    assert info["agreement"] == 2 and info["answer"] == "x"
    deployable = TabulatedStrategyEnv(hand_table(), features="deployable")
    assert deployable.observation_space.shape == (3,)
    obs, _ = deployable.reset(options={"trace": 0})
    obs, *_ = deployable.step(CONTINUE)
    np.testing.assert_allclose(obs, [0.25, 0.1, 0.25], atol=1e-6)


def test_both_env_checkers_pass_on_the_table():
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("MRT-Strategy-Search-v0", table=hand_table())
    check_env(env.unwrapped)
    sb3_check_env(env.unwrapped, warn=True)


def test_bad_input_gets_clear_errors(tmp_path):
    env = TabulatedStrategyEnv(hand_table())
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(CONTINUE)
    env.reset(options={"trace": 0})
    with pytest.raises(ValueError, match="action must be 0"):
        env.step(2)
    with pytest.raises(ValueError, match=r"options\['trace'\]"):
        env.reset(options={"trace": 5})
    with pytest.raises(ValueError, match="features"):
        TabulatedStrategyEnv(hand_table(), features="some")
    with pytest.raises(TypeError, match="replays its table"):
        make_strategy_env(table=hand_table(), max_blocks=3)
    with pytest.raises(ValueError, match="forced_answers must have k = 2"):
        EpisodeRecord("p", ("x", "y"), (0.1, 0.2, 0.3), (0, 1, 2), False, forced_answers=("a",))
    with pytest.raises(ValueError, match="longer than the horizon"):
        StrategyTable("MRT-Search-v0", 2, 10, hand_table().traces)
    unforced = EpisodeRecord("p", ("x",), (0.1, 0.2), (0, 1), False)
    with pytest.raises(ValueError, match="without forced_answers"):
        StrategyTable("MRT-Search-v0", 2, 10, (unforced,))
    with pytest.raises(FileNotFoundError, match="tabulate"):
        StrategyTable.load(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"traces": []}))
    with pytest.raises(ValueError, match="not a strategy table"):
        StrategyTable.load(bad)
    bad.write_text(json.dumps({"format": "mrt-strategy-table/1", "traces": []}))
    with pytest.raises(ValueError, match="older mrt_env: record it again"):
        StrategyTable.load(bad)


def test_both_modes_are_one_interface():
    # A policy is trained and evaluated on either mode through the same StrategyEnv.
    assert issubclass(LiveStrategyEnv, StrategyEnv)
    assert issubclass(TabulatedStrategyEnv, StrategyEnv)
    with pytest.raises(TypeError):
        StrategyEnv()  # the interface alone has no blocks to play


def test_table_round_trips_through_json_and_gzip(tmp_path):
    table = hand_table()
    assert StrategyTable.load(table.save(tmp_path / "t.json")) == table
    path = table.save(tmp_path / "t.json.gz")
    with gzip.open(path, "rt") as f:
        assert json.load(f)["format"] == TABLE_FORMAT == "mrt-strategy-table/2"
    env = gym.make("MRT-Strategy-Search-v0", table=str(path))
    assert isinstance(env.unwrapped, TabulatedStrategyEnv) and env.unwrapped.table == table


# -- the tiny model (real LM) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def search_tables():
    """Streams of the shipped model: training problems (2 each) and held-out ones (1 each)."""
    train = tabulate(
        "MRT-Search-v0", training_problems("search", seed=0, count=16), samples=2, progress=False
    )
    held_out = tabulate(
        "MRT-Search-v0", get_task("search", seed=0).problems(16), samples=1, seed=1, progress=False
    )
    return train, held_out


def test_tabulated_streams_match_the_env_and_the_grader(search_tables):
    train, _ = search_tables
    assert len(train.traces) == 32 and train.horizon == 10
    by_problem: dict[str, list[EpisodeRecord]] = {}
    for trace in train.traces:
        by_problem.setdefault(trace.problem_id, []).append(trace)
        assert len(trace.blocks) <= 10 and trace.prefix_tokens[0] == 0
        assert list(trace.prefix_tokens) == sorted(trace.prefix_tokens)
        assert trace.outcome in ("committed", "forced")
    # A problem's two streams are distinct samples, not copies.
    assert any(a != b for a, b in by_problem.values())
    # Forced answers are graded against the gold pair "a,b" (ascending): right ones name it.
    gold = {p.id: p.answer for p in training_problems("search", seed=0, count=16)}
    for trace in train.traces:
        for answer, right in zip(trace.forced_answers, trace.forced_correct, strict=True):
            named = answer is not None and answer.replace(" ", "") == gold[trace.problem_id]
            assert right == named, (answer, gold[trace.problem_id])
    assert any(any(t.forced_correct) for t in train.traces)


LIVE_IDS = [("MRT-Strategy-Search-v0", 10), ("MRT-Strategy-Arithmetic-v0", 8)]


@pytest.mark.parametrize(("env_id", "horizon"), LIVE_IDS)
def test_live_mode_runs_the_model_and_returns_minus_the_anytime_regret(env_id, horizon):
    env = gym.make(env_id)
    assert isinstance(env.unwrapped, LiveStrategyEnv) and env.unwrapped.horizon == horizon
    check_env(env.unwrapped, skip_render_check=True)
    _, info = env.reset(seed=5)
    js, total, done = [info["success_prob"]], 0.0, False
    while not done:
        _, reward, done, _, info = env.step(CONTINUE)
        js.append(info["success_prob"])
        total += reward
    assert total == pytest.approx(-anytime_regret(js, info["correct"], horizon))
    # Answering at once commits to the greedy forced answer at c_0.
    env.reset(seed=5)
    _, reward, done, _, end = env.step(ANSWER)
    assert done and reward == pytest.approx(-horizon * (1 - end["correct"]))


def test_ppo_on_the_table_beats_random_meta_actions(search_tables):
    from stable_baselines3 import PPO

    train, held_out = search_tables
    model = PPO(
        "MlpPolicy",
        TabulatedStrategyEnv(train),
        n_steps=256,
        batch_size=64,
        learning_rate=1e-3,
        seed=0,
        device="cpu",
    )
    model.learn(total_timesteps=6000)

    def mean_return(policy):
        env, returns = TabulatedStrategyEnv(held_out), []
        rng = np.random.default_rng(0)
        for i in range(len(held_out.traces)):
            obs, _ = env.reset(options={"trace": i})
            total, done = 0.0, False
            while not done:
                obs, reward, done, _, _ = env.step(policy(obs, rng))
                total += reward
            returns.append(total)
        return float(np.mean(returns))

    ppo = mean_return(lambda obs, rng: int(model.predict(obs, deterministic=True)[0]))
    random = mean_return(lambda obs, rng: int(rng.integers(2)))
    assert ppo > random + 1.0, (ppo, random)  # regret is −return
