"""ReasoningVectorEnv: one prover call per step for all sub-envs, same results as one by one."""

import gymnasium as gym
import numpy as np
import pytest
from fakes import CopyLastBoxedFakeLM

from mrt_env import info as keys
from mrt_env.envs import ReasoningEnv, ReasoningVectorEnv
from mrt_env.errors import ArgumentTypeError, ConfigError
from mrt_env.prover import ForcedAnswerProver, LikelihoodProver
from mrt_env.types import Problem

PROBLEMS = tuple(Problem(f"toy/{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(6))
THINKING = "Problem: {question}\n<think>\n"


@pytest.mark.filterwarnings("ignore:ReasoningEnv without a prover")
def test_make_vec_uses_the_batched_env_and_sync_mode_still_works(shared_data):
    env = gym.make_vec("MRT-AIME24-v0", num_envs=2, data_path=str(shared_data))
    assert isinstance(env.unwrapped, ReasoningVectorEnv)
    obs, _ = env.reset(seed=0)
    assert len(obs) == 2 and all(isinstance(o, str) for o in obs)
    sync = gym.make_vec(
        "MRT-AIME24-v0", num_envs=2, vectorization_mode="sync", data_path=str(shared_data)
    )
    obs, _ = sync.reset(seed=0)
    obs, rewards, _, _, _ = sync.step(("a block", "another"))
    assert rewards.shape == (2,) and len(obs) == 2


def test_one_prover_call_per_step_and_autoreset():
    lm = CopyLastBoxedFakeLM()  # FAKE backend: answers with the context's last \boxed{}
    env = ReasoningVectorEnv(
        num_envs=3,
        problems=PROBLEMS,
        prover=ForcedAnswerProver(lm, k=2),
        prompt_template=THINKING,
        max_blocks=5,
    )
    _, infos = env.reset(seed=0)
    # J_0 of all three in one call (sub-envs on the same problem share one cached prefix).
    assert len(lm.generate_calls) == 1
    assert len(lm.generate_calls[0]) == len(set(infos[keys.PROBLEM_ID]))
    gold = [PROBLEMS[int(pid.split("/")[1])].answer for pid in infos[keys.PROBLEM_ID]]
    actions = ["Thinking.\n\n", f"\\boxed{{{gold[1]}}}\n\n", f"</think> \\boxed{{{gold[2]}}}"]
    _, rewards, terminated, truncated, infos = env.step(actions)
    # One call for the step; env 2's thinking ("" before </think>) is J_0's prefix: cached.
    assert len(lm.generate_calls) == 2 and len(lm.generate_calls[1]) == 2
    assert rewards[0] == 0.0 and rewards[1] == 1.0 and rewards[2] == pytest.approx(1.0)
    assert terminated.tolist() == [False, False, True] and not truncated.any()
    assert infos[keys.CORRECT][2] and infos["_" + keys.CORRECT].tolist() == [0, 0, 1]
    # Next step: env 2 is reset (its action ignored, reward 0), the others go on.
    obs, rewards, terminated, _, infos = env.step(["More.\n\n", "More.\n\n", "ignored"])
    assert rewards[2] == 0.0 and infos[keys.EPISODE].tolist() == [2, 2, 0]
    assert "ignored" not in obs[2]


def test_batched_results_equal_one_env_at_a_time(tiny_backend):
    settings = dict(
        problems=PROBLEMS,
        prover_config={"k": 2, "max_answer_tokens": 5, "temperature": 1.0},
        max_blocks=3,
        forced_answer_tokens=4,
    )
    blocks = [["First step.\n\n", "Then.\n\n", "Done?\n\n"], ["Hm.\n\n", "Sum.\n\n", "Ok.\n\n"]]
    vec = ReasoningVectorEnv(num_envs=2, prover=tiny_backend, **settings)
    _, vinfo = vec.reset(seed=[3, 4])
    v_probs = [list(vinfo[keys.SUCCESS_PROB])]
    v_rewards = []
    for step in range(3):
        _, r, _, _, vinfo = vec.step([blocks[0][step], blocks[1][step]])
        v_probs.append(list(vinfo[keys.SUCCESS_PROB]))
        v_rewards.append(list(r))
    for i, seed in enumerate((3, 4)):
        env = ReasoningEnv(prover=tiny_backend, **settings)
        _, info = env.reset(seed=seed)
        probs, rewards = [info[keys.SUCCESS_PROB]], []
        for step in range(3):
            _, r, _, _, info = env.step(blocks[i][step])
            probs.append(info[keys.SUCCESS_PROB])
            rewards.append(r)
        assert probs == [row[i] for row in v_probs]
        assert rewards == pytest.approx([row[i] for row in v_rewards])


def test_bad_action_in_a_batch_changes_no_sub_env():
    env = ReasoningVectorEnv(
        num_envs=2, problems=PROBLEMS, prover=LikelihoodProver(CopyLastBoxedFakeLM())
    )
    env.reset(seed=0)
    with pytest.raises(TypeError, match="must be a str"):
        env.step(["fine", 7])
    with pytest.raises(ValueError, match="one action per sub-env"):
        env.step(["only one"])
    _, _, _, _, infos = env.step(["a", "b"])
    assert infos[keys.EPISODE].tolist() == [1, 1]
    assert np.all(infos[keys.SUCCESS_PROB] >= 0)


def _vec(num_envs=2):
    return ReasoningVectorEnv(
        num_envs=num_envs, problems=PROBLEMS, prover=LikelihoodProver(CopyLastBoxedFakeLM())
    )


@pytest.mark.parametrize(
    ("actions", "error", "match"),
    [
        ("ab", ArgumentTypeError, "actions must be a sequence of 2 str .* got str: 'ab'"),
        (b"ab", ArgumentTypeError, "got bytes"),
        (None, ArgumentTypeError, "got NoneType"),
        (7, ArgumentTypeError, "got int"),
        ({"a": 1, "b": 2}, ArgumentTypeError, "got dict"),
    ],
)
def test_actions_must_be_one_str_per_sub_env(actions, error, match):
    env = _vec()
    env.reset(seed=0)
    with pytest.raises(error, match=match):
        env.step(actions)
    # Nothing moved: the next good step is every sub-env's first.
    _, _, _, _, infos = env.step(("a", "b"))
    assert infos[keys.EPISODE].tolist() == [1, 1]


@pytest.mark.parametrize(
    ("options", "seed", "error", "match"),
    [
        ("x", 0, ArgumentTypeError, "options must be a dict or None, got str"),
        ({"reset_mask": [True]}, 0, ConfigError, r"one bool per sub-env \(2\), got shape \(1,\)"),
        ({"reset_mask": [True, False, True]}, 0, ConfigError, r"got shape \(3,\)"),
        ({"reset_mask": [1, 0]}, 0, ArgumentTypeError, r"reset_mask'\] must be bools"),
        ({"reset_mask": "TF"}, 0, ArgumentTypeError, r"reset_mask'\] must be bools"),
        (None, "12", ArgumentTypeError, "seed must be an int, None or one per sub-env"),
        (None, 1.5, ArgumentTypeError, "got float: 1.5"),
        (None, [1, 2, 3], ConfigError, "need 2 seeds, got 3"),
    ],
)
def test_reset_arguments_are_checked(options, seed, error, match):
    env = _vec()
    with pytest.raises(error, match=match):
        env.reset(seed=seed, options=options)


def test_a_boolean_reset_mask_resets_only_the_sub_envs_it_names():
    env = _vec()
    env.reset(seed=0)
    env.step(["a", "b"])
    _, infos = env.reset(options={"reset_mask": np.array([False, True])})
    assert infos["_" + keys.EPISODE].tolist() == [False, True]
    _, _, _, _, infos = env.step(["c", "d"])
    assert infos[keys.EPISODE].tolist() == [2, 1]
