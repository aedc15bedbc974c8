"""ReasoningEnv: spaces, registration, rewards, episode end, info, seeding, bad input."""

import re
import subprocess
import sys
import warnings

import gymnasium as gym
import pytest
from fakes import CopyLastBoxedFakeLM
from gymnasium.utils.env_checker import check_env

import mrt_env
from mrt_env import info as keys
from mrt_env.data.synthetic import TASKS
from mrt_env.envs import ReasoningEnv, ReasoningEnvConfig
from mrt_env.errors import ArgumentTypeError, MrtError
from mrt_env.metrics import episode_regret
from mrt_env.prover import ForcedAnswerProver
from mrt_env.spaces import UnicodeText
from mrt_env.types import Problem

GOLD = "4417"
PROBLEMS = (
    Problem("toy/0", "What is 4400 + 17?", GOLD),
    Problem("toy/1", "What is 2 + 2?", "4"),
    Problem("toy/2", "What is 3 * 3?", "9"),
)
THINKING = "Problem: {question}\n<think>\n"  # the thinking is open from the start


def fake_env(**overrides):
    """An env whose μ runs on the COPY-LAST-BOXED FAKE (answers with the context's last box)."""
    lm = CopyLastBoxedFakeLM()
    settings = dict(
        problems=PROBLEMS,
        prover=ForcedAnswerProver(lm, k=4),
        prompt_template=THINKING,
        max_blocks=8,
        max_tokens=10_000,
    )
    settings.update(overrides)
    return ReasoningEnv(**settings), lm


# -- spaces ---------------------------------------------------------------------------


def test_unicode_text_accepts_real_output_and_samples_members():
    space = UnicodeText(50, seed=3)
    assert space.contains("Wait, \\boxed{\\frac{π}{2}} ≤ 2 {x}\n")
    assert space.contains("")
    assert not space.contains("x" * 51) and not space.contains(b"bytes") and not space.contains(3)
    samples = [space.sample() for _ in range(50)]
    assert all(space.contains(s) and s.isascii() for s in samples)
    assert len(set(samples)) > 40  # actually random
    # Gymnasium's own Text rejects what models write; ours must not.
    assert not gym.spaces.Text(50).contains("a b")
    with pytest.raises(ValueError, match="max_length"):
        UnicodeText(-1)


# -- registration and check_env -------------------------------------------------------


FILE_BACKED_IDS = sorted(i for i, kw in mrt_env.ENV_IDS.items() if kw["problems"] not in TASKS)


def test_every_registered_id_is_checked_somewhere():
    # File-backed ids here; the synthetic ones with their default model in tests/assets.
    offline = {
        "MRT-Arithmetic-v0",
        "MRT-Search-v0",
        "MRT-Recheck-v0",
        "MRT-Recheck-Tight-v0",
        "MRT-Checks-v0",
    }
    assert set(FILE_BACKED_IDS) | offline == set(mrt_env.ENV_IDS)


@pytest.mark.parametrize("env_id", FILE_BACKED_IDS)
def test_every_registered_id_passes_check_env(env_id, shared_data, tiny_backend):
    env = gym.make(
        env_id,
        data_path=str(shared_data),
        prover=tiny_backend,
        prover_config={"k": 2, "max_answer_tokens": 4},
        max_blocks=3,
        forced_answer_tokens=4,
        limit=4,
    )
    check_env(env.unwrapped, skip_render_check=True)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs) and 0.0 <= info[keys.SUCCESS_PROB] <= 1.0


def test_make_by_module_path_needs_no_prior_import(shared_data):
    code = (
        "import sys, gymnasium as gym\n"
        "assert 'mrt_env' not in sys.modules\n"
        f"env = gym.make('mrt_env:MRT-AIME-v0', data_path={str(shared_data)!r})\n"
        "print(len(env.unwrapped.problems))\n"
        "assert 'torch' not in sys.modules\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "60"  # AIME 2024 + 2025


def test_missing_data_fails_with_the_data_layers_message(tmp_path):
    with pytest.raises(MrtError, match="aime24"):
        gym.make("MRT-AIME24-v0", data_path=str(tmp_path))


def test_unknown_setting_and_bad_config_are_clear_errors():
    with pytest.raises(TypeError, match="unknown ReasoningEnv settings \\['alpah'\\]"):
        ReasoningEnv(problems=PROBLEMS, alpah=2.0)
    with pytest.raises(ValueError, match="max_blocks must be an int >= 1"):
        ReasoningEnvConfig(problems=PROBLEMS, max_blocks=0)
    with pytest.raises(TypeError, match="problems must be"):
        ReasoningEnvConfig(problems=["not a problem"])
    with pytest.raises(TypeError, match="prover must be"):
        ReasoningEnv(problems=PROBLEMS, prover=3.5)


BAD_KEYWORDS = [
    ("limit", "2", "limit must be an int or None, got str: '2'"),
    ("limit", True, "limit must be an int or None, got bool"),
    ("force_answer", "no", "force_answer must be a bool, got str: 'no'"),
    ("forcing_text", 3, "forcing_text must be a str or None, got int"),
    ("think_close", 5, "think_close must be a str, got int"),
    ("prompt_template", 5, "prompt_template must be a str or None, got int"),
    (
        "prover_config",
        "k=4",
        "prover_config must be a ProverConfig or a dict of its fields, got str",
    ),
    ("backend_kwargs", 3, "backend_kwargs must be a dict, got int"),
    ("data_path", 3, "data_path must be a path or None, got int"),
    ("split", 3, "split must be a str or None, got int"),
    ("backend", None, "backend must be a str, got NoneType"),
    ("problems", 5, "problems must be a set name or a non-empty sequence of Problem, got int"),
]


@pytest.mark.parametrize(
    ("name", "value", "message"), BAD_KEYWORDS, ids=[b[0] for b in BAD_KEYWORDS]
)
def test_a_keyword_of_the_wrong_type_fails_at_construction_saying_what_was_expected(
    name, value, message
):
    with pytest.raises(ArgumentTypeError) as caught:
        ReasoningEnvConfig(**{"problems": PROBLEMS, name: value})
    assert message in str(caught.value)
    # gym.make fails the same way, before any model or data is loaded.
    with pytest.raises(ArgumentTypeError, match=re.escape(message)):
        gym.make("MRT-Search-v0", **{name: value})


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("max_blocks", "3", "max_blocks must be an int >= 1, got '3'"),
        ("max_tokens", 1.5, "max_tokens must be an int >= 1, got 1.5"),
        ("alpha", "x", "alpha must be a finite number, got 'x'"),
    ],
)
def test_budgets_and_weights_of_the_wrong_type_fail_at_construction(name, value, message):
    with pytest.raises(MrtError, match=re.escape(message)):
        gym.make("MRT-Search-v0", **{name: value})


# -- the semantics ----------------------------------------------------------------------


def test_gold_answer_in_block_3_makes_j_jump_there():
    env, _ = fake_env()
    obs, info = env.reset(options={"problem": "toy/0"})
    assert info[keys.SUCCESS_PROB] == 0.0 and info[keys.EPISODE] == 0
    blocks = [
        "We add the units first.\n\n",
        "Then the hundreds.\n\n",
        f"So the total is \\boxed{{{GOLD}}}.\n\n",  # inside the thinking: no commitment yet
        "Wait, let me double-check the carry.\n\n",
    ]
    progress, success_probs = [], []
    for block in blocks:
        obs, reward, terminated, truncated, info = env.step(block)
        assert not terminated and not truncated
        progress.append(info[keys.PROGRESS])
        success_probs.append(info[keys.SUCCESS_PROB])
        assert reward == pytest.approx(info[keys.PROGRESS])
    assert progress == [0.0, 0.0, 1.0, 0.0]
    assert info[keys.SUCCESS_PROB] == 1.0 and info[keys.EPISODE] == 4
    assert info[keys.REGRET] == pytest.approx(2.0)  # (1 - 0) + (1 - 0) + 0 + 0
    assert info[keys.REGRET] == pytest.approx(episode_regret([0.0, *success_probs]).total)
    assert info[keys.TERMINATION_REWARD] == 1.0 and info[keys.ANSWER] == GOLD
    assert obs == env.unwrapped.stream.prompt + "".join(blocks)


def test_closing_the_thinking_terminates_and_grades_the_answer():
    env, _ = fake_env(alpha=0.5, outcome_weight=2.0)
    env.reset(options={"problem": 0})
    total = 0.0
    for block in ["Let me see.\n\n", f"It is \\boxed{{{GOLD}}}.\n\n"]:
        total += env.step(block)[1]
    _, reward, terminated, truncated, info = env.step(f"</think>\nThe answer is \\boxed{{{GOLD}}}.")
    total += reward
    assert terminated and not truncated
    assert info[keys.CORRECT] is True and info[keys.OUTCOME] == "committed"
    assert info[keys.GOLD_ANSWER] == GOLD
    # α · (J_end - J_0) + outcome_weight · correct
    assert total == pytest.approx(0.5 * (1.0 - 0.0) + 2.0 * 1)
    with pytest.raises(gym.error.ResetNeeded):
        env.step("more")


def test_boxed_answer_commits_only_outside_the_thinking():
    env, _ = fake_env(prompt_template="Q: {question}\nA: ")  # no thinking tags at all
    env.reset(options={"problem": 1})
    _, _reward, terminated, _, info = env.step("2 + 2 = \\boxed{5}")
    assert terminated and info[keys.CORRECT] is False and info[keys.ANSWER] == "5"


def test_truncation_by_blocks_forces_an_answer():
    env, lm = fake_env(max_blocks=3)
    env.reset(options={"problem": 0})
    env.step("First idea.\n\n")
    env.step(f"Candidate: \\boxed{{{GOLD}}}\n\n")
    _, _reward, terminated, truncated, info = env.step("Hmm.\n\n")
    assert truncated and not terminated
    assert info[keys.OUTCOME] == "forced" and info[keys.CORRECT] is True
    # The forced answer continued the thinking, closed by the forcing text.
    forced_context = lm.generate_calls[-1][0]
    assert forced_context.endswith(env.unwrapped.forcing_text)
    assert forced_context.count("</think>") == 1


def test_truncation_by_tokens_and_unforced_outcome():
    env, _ = fake_env(max_tokens=30, force_answer=False)
    env.reset(options={"problem": 0})
    _, _, terminated, truncated, info = env.step("x" * 20)
    assert not truncated and info[keys.TOKENS] == 20  # the fake counts characters
    _, _, terminated, truncated, info = env.step("y" * 20)
    assert truncated and not terminated and info[keys.TOKENS] == 40
    assert info[keys.OUTCOME] == "unforced" and info[keys.CORRECT] is False


def test_info_and_observations_never_show_the_gold_answer_before_the_end():
    env, _ = fake_env(max_blocks=4)
    obs, info = env.reset(options={"problem": 0})
    seen = [obs, repr(info)]
    done = False
    while not done:
        obs, _, terminated, truncated, info = env.step("Some thoughts about 4400.\n\n")
        done = terminated or truncated
        if not done:
            seen += [obs, repr(info)]
    assert not any(GOLD in s for s in seen)
    assert info[keys.GOLD_ANSWER] == GOLD  # shown once it is over


def test_bad_actions_raise_and_leave_the_env_usable():
    env, _ = fake_env(max_block_chars=100)
    env.reset(options={"problem": 0})
    env.step("one\n\n")
    with pytest.raises(TypeError, match="must be a str"):
        env.step(42)
    with pytest.raises(ValueError, match="max_block_chars=100"):
        env.step("z" * 101)
    obs, _, _, _, info = env.step("two\n\n")
    assert info[keys.EPISODE] == 2 and obs.endswith("one\n\ntwo\n\n")


def test_reset_options_pick_problems_and_reject_bad_choices():
    env, _ = fake_env()
    assert env.reset(options={"problem": 2})[1][keys.PROBLEM_ID] == "toy/2"
    assert env.reset(options={"problem": "toy/1"})[1][keys.PROBLEM_ID] == "toy/1"
    with pytest.raises(ValueError, match="index must lie in"):
        env.reset(options={"problem": 7})
    with pytest.raises(ValueError, match="no problem with id"):
        env.reset(options={"problem": "nope"})


def test_without_a_prover_the_env_is_outcome_only_and_says_so():
    with pytest.warns(UserWarning, match="outcome-only"):
        env = ReasoningEnv(problems=PROBLEMS, prompt_template=THINKING)
    env.reset(options={"problem": 0})
    _, reward, _, _, info = env.step(f"\\boxed{{{GOLD}}}\n\n")
    assert reward == 0.0 and info[keys.SUCCESS_PROB] == 0.0
    _, reward, terminated, _, _ = env.step(f"</think> \\boxed{{{GOLD}}}")
    assert terminated and reward == 1.0


def test_render_ansi_shows_j_and_progress_per_block():
    env, _ = fake_env(render_mode="ansi")
    env.reset(options={"problem": 0})
    env.step("Think.\n\n")
    env.step(f"\\boxed{{{GOLD}}}\n\n")
    text = env.render()
    assert "[J_0 = 0.000]" in text
    assert "block 2" in text and "J = 1.000" in text and "progress +1.000" in text


# -- real tiny model ------------------------------------------------------------------


def test_seeding_gives_the_same_problems_and_the_same_j(tiny_backend):
    def run(seed):
        env = ReasoningEnv(
            problems=PROBLEMS,
            prover=tiny_backend,
            prover_config={"k": 3, "max_answer_tokens": 6, "temperature": 1.0},
            max_blocks=2,
            forced_answer_tokens=4,
        )
        trace = []
        _, info = env.reset(seed=seed)
        for _ in range(3):
            trace.append(
                (info[keys.PROBLEM_ID], info[keys.SUCCESS_PROB], info[keys.FORCED_ANSWERS])
            )
            _, _, _, _, info = env.step("Add the numbers.\n\n")
            trace.append((info[keys.SUCCESS_PROB], info[keys.FORCED_ANSWERS]))
            _obs, info = env.reset()
        return trace

    first = run(7)
    assert run(7) == first
    ids = [t[0] for t in first[::2]]
    assert sorted(ids) == ["toy/0", "toy/1", "toy/2"]  # a shuffle of the whole set
    assert any(run(s)[0][0] != first[0][0] for s in range(8, 14))  # seeds change the order


def test_prover_from_a_model_path_and_likelihood_kind(tiny_model_dir):
    env = ReasoningEnv(
        problems=PROBLEMS,
        prover=str(tiny_model_dir),
        prover_config={"kind": "likelihood"},
        backend_kwargs={"device": "cpu", "dtype": "float32"},
    )
    _, info = env.reset(options={"problem": 1})
    assert 0.0 < info[keys.SUCCESS_PROB] < 1.0  # a random model gives "4}$" some probability
    assert info[keys.FORCED_ANSWERS] == () and info[keys.ANSWER] is None
    _, reward, _, _, info = env.step("Two and two.\n\n")
    assert reward == pytest.approx(info[keys.PROGRESS])
    assert env.unwrapped.prover.lm.count_tokens("abc") == 3  # shared with agents


def test_gym_make_kwargs_reach_the_config(tiny_backend, shared_data):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a prover given: no outcome-only warning
        env = gym.make(
            "MRT-AMC23-v0",
            data_path=str(shared_data),
            prover=tiny_backend,
            alpha=0.25,
            max_tokens=99,
            limit=5,
        )
    config = env.unwrapped.config
    assert (config.alpha, config.max_tokens, config.problems) == (0.25, 99, "amc23")
    assert len(env.unwrapped.problems) == 5 and env.unwrapped.prover.lm is tiny_backend


def test_the_old_prover_kind_and_kwargs_still_work_with_a_deprecation_warning(tiny_backend):
    with pytest.warns(DeprecationWarning, match="prover_config"):
        env = ReasoningEnv(
            problems=PROBLEMS,
            prover=tiny_backend,
            prover_kind="forced",
            prover_kwargs={"k": 3, "max_answer_tokens": 6},
        )
    assert env.prover.config.k == 3 and env.prover.config.max_answer_tokens == 6
    assert env.config.prover_config.kind == "forced"
