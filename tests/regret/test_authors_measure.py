# ruff: noqa: RUF005 - notebook_area keeps the notebook's own list arithmetic, verbatim
"""mrt-regret measures as the authors' analysis code does: their forced contexts byte for
byte, their token-regret curve, their answer budget, and their settings as presets."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrt_env.cli import parse_command
from mrt_env.episodes import split_episodes
from mrt_env.errors import ConfigError, DataFormatError
from mrt_env.lm.base import Completion
from mrt_env.metrics import authors_token_regret
from mrt_env.prover import ForcedAnswerProver, LikelihoodProver, default_prompt
from mrt_env.regret import analyse_trace, main
from mrt_env.regret.config import AUTHORS_BUDGETS, PRESETS, RegretConfig
from mrt_env.types import Problem

# The authors' stop text, typed out from their pass_at_k_given_prefix.py (not our constant).
STOP = (
    "Time is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop "
    "thinking and formulate a final answer based on what I already have.\n</think>\n\n"
    "**Step-by-Step Explanation and Answer:**\n\n1. **"
)
TRACE_TEXT = (
    "We need 2+3.\n\nStart with 2.\n\nAdd 3 to it.\n\nThat gives 6.\n\n"
    "Wait, 2+3 is not 6.\n\nCount again: 3, 4, 5.\n\nSo it is 5.\n\n"
    "Wait, let me double-check.\n\n5 - 3 = 2, fine.\n\nSo the answer is \\boxed{5}.\n\n"
)
TRACE = {"problem_id": "toy/1", "question": "What is 2+3?", "answer": "5", "response": TRACE_TEXT}


def notebook_area(pass_at_1, flops, cutoff):
    """REFERENCE: the area of the authors' regret.ipynb (cell 14), transcribed literally."""
    y = [0] + list(pass_at_1)
    x = np.array([0] + list(flops))
    filtered_x = list(x[x < cutoff])
    if len(filtered_x) == len(x):
        return np.trapezoid(y + [y[-1]], list(x) + [cutoff]) / cutoff
    cutoff_index = len(filtered_x) - 1
    interpolate_y = y[cutoff_index] + (cutoff - x[cutoff_index]) / (
        x[cutoff_index + 1] - x[cutoff_index]
    ) * (y[cutoff_index + 1] - y[cutoff_index])
    final_x = list(x[x < cutoff]) + [cutoff]
    final_y = y[: cutoff_index + 1] + [interpolate_y]
    return np.trapezoid(final_y, final_x) / cutoff


def test_token_regret_by_hand():
    # J_0 = 0.2 costs 1000 tokens, J_1 = 0.6 at 3000, J_2 = 1.0 at 5000.
    costs, j = [1000, 3000, 5000], [0.2, 0.6, 1.0]
    # C0 = 4096: 0.5·1000·0.2 + 2000·(0.2+0.6)/2 + 1096·(0.6 + 0.6+0.4·1096/2000)/2
    inside = 100 + 800 + 1096 * (0.6 + (0.6 + 0.4 * 1096 / 2000)) / 2
    # C0 = 8192: everything up to 5000, then flat at 1.0.
    tail = 100 + 800 + 2000 * (0.6 + 1.0) / 2 + 3192 * 1.0
    got = authors_token_regret(costs, j, [4096, 8192])
    assert got.tolist() == pytest.approx([1 - inside / 4096, 1 - tail / 8192])


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.tuples(st.integers(1, 20_000), st.floats(0.0, 1.0)), min_size=1, max_size=12),
    st.lists(st.integers(1, 40_000), min_size=1, max_size=4),
    st.booleans(),
)
def test_token_regret_is_the_notebooks_formula(points, cutoffs, ordered):
    if ordered:
        points = sorted(points)
    costs, j = [float(c) for c, _ in points], [p for _, p in points]
    if len(set(costs)) < len(costs) and not ordered:
        return  # the notebook divides by zero on a repeated x inside the cutoff
    try:
        expected = [1 - notebook_area(j, costs, c) for c in cutoffs]
    except ZeroDivisionError:
        return
    if not all(np.isfinite(expected)):
        return
    assert authors_token_regret(costs, j, cutoffs).tolist() == pytest.approx(expected)


def test_token_regret_rejects_bad_input():
    with pytest.raises(ConfigError, match="aligned"):
        authors_token_regret([1, 2], [0.5], [10])
    with pytest.raises(ConfigError, match=">= 0"):
        authors_token_regret([-1], [0.5], [10])
    with pytest.raises(ConfigError, match="> 0"):
        authors_token_regret([1], [0.5], [0])
    # Unordered with a tie below the budget: the notebook divides by zero (an area of -inf
    # or NaN); here one line says why.
    with pytest.raises(DataFormatError, match=r"not increasing.*equal costs"):
        authors_token_regret([300, 100, 100], [0.5, 0.2, 0.9], [200])


class RecordingLM:
    """A stand-in model that records what μ is asked and answers '\\boxed{5}' in 3 tokens."""

    name = "recording-stand-in"

    def __init__(self):
        self.prompts: list[str] = []

    def generate(self, prompts, sampling):
        self.prompts += list(prompts)
        return [[Completion("\\boxed{5}", 3, "stop")] * sampling.n for _ in prompts]

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None


def test_the_forced_contexts_are_the_authors_byte_for_byte():
    lm = RecordingLM()
    row = analyse_trace(TRACE, prover=ForcedAnswerProver(lm, k=2), lm=lm, budgets=[4096])
    problem = Problem("toy/1", "What is 2+3?", "5")
    prompt = default_prompt(lm, problem)
    episodes = [z.rstrip("\n") for z in split_episodes(TRACE_TEXT)]
    assert len(episodes) == 3
    # pass_at_k_given_prefix.py: the empty prefix, then "\n\n".join(z[:j]) + "\n\n", each
    # followed by the stop text; the full trace followed by "\n</think>" alone.
    expected = [prompt + STOP]
    expected += [prompt + "\n\n".join(episodes[:j]) + "\n\n" + STOP for j in (1, 2)]
    expected.append(prompt + "\n\n".join(episodes) + "\n</think>")
    assert lm.prompts == expected
    assert row["measure"] == "authors"
    # x_j: the context's tokens plus μ's mean answer length (3).
    assert row["costs"] == [lm.count_tokens(c) + 3.0 for c in expected]
    assert row["token_regret"]["4096"] == pytest.approx(
        1 - notebook_area(row["success_probs"], row["costs"], 4096)
    )


def test_the_stream_measure_asks_mu_as_the_env_does():
    lm = RecordingLM()
    row = analyse_trace(TRACE, prover=ForcedAnswerProver(lm, k=1), lm=lm, measure="stream")
    assert row["measure"] == "stream" and "costs" not in row
    # The authors' layout, but the whole trace is asked as the other prefixes are: the env,
    # which sees a stream block by block, never closes it.
    prompt = default_prompt(lm, Problem("toy/1", "What is 2+3?", "5"))
    episodes = [z.rstrip("\n") for z in split_episodes(TRACE_TEXT)]
    expected = [prompt + STOP]
    expected += [prompt + "\n\n".join(episodes[:j]) + "\n\n" + STOP for j in (1, 2, 3)]
    assert lm.prompts == expected
    with pytest.raises(ConfigError, match="forced prover"):
        analyse_trace(TRACE, prover=LikelihoodProver(lm), lm=lm, measure="authors")
    own = ForcedAnswerProver(lm, k=1, forcing_text="\n\nAnswer: ")
    with pytest.raises(ConfigError, match="the authors' forcing text"):
        analyse_trace(TRACE, prover=own, lm=lm, measure="authors")


def _config(*flags):
    return parse_command(RegretConfig, "mrt-regret", [*flags, "t.jsonl", "--model.name", "m"])


def test_the_defaults_are_the_authors_answer_budget_and_measure():
    config = _config()
    assert config.prover.max_answer_tokens == 4096
    assert config.effective_measure == "authors"
    assert _config("--prover.kind", "likelihood").effective_measure == "stream"
    assert _config("--prover.forcing-text", "Answer:").effective_measure == "stream"


@pytest.mark.parametrize(
    ("name", "steps", "group", "temperature", "top_p"),
    [
        ("r1-aime24", 45, 3, 0.7, 1.0),
        ("r1-omnimath", 49, 5, 0.7, 1.0),
        ("deepscaler", 99, 10, 0.6, 0.95),
    ],
)
def test_presets_hold_the_authors_settings(name, steps, group, temperature, top_p):
    config = _config(*PRESETS[name].settings)
    assert (config.episodes.max_steps, config.episodes.group_size) == (steps, group)
    assert (config.prover.k, config.prover.temperature, config.prover.top_p) == (
        8,
        temperature,
        top_p,
    )
    assert config.prover.max_answer_tokens == 4096 and config.budgets == AUTHORS_BUDGETS
    # A flag given after the preset wins.
    assert _config(*PRESETS[name].settings, "--prover.k", "4").prover.k == 4


def test_help_lists_the_presets_and_a_bad_one_is_one_line(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(name in out for name in PRESETS)
    assert main(["--preset", "nope", "t.jsonl", "--model.name", "m"]) == 2
    assert "--preset must be one of" in capsys.readouterr().err
    assert (
        main(
            ["t.jsonl", "--model.name", "m", "--measure", "authors", "--prover.kind", "likelihood"]
        )
        == 2
    )
    assert "--measure authors" in capsys.readouterr().err


def test_real_sets_give_forced_answers_the_authors_budget(shared_data):
    import gymnasium as gym

    import mrt_env  # noqa: F401 - registers the ids

    env = gym.make("MRT-AIME24-v0", prover=RecordingLM(), data_path=shared_data).unwrapped
    assert env.prover.config.max_answer_tokens == 4096
    assert env.config.forced_answer_tokens == 4096
    synthetic = gym.make(
        "MRT-Arithmetic-v0", prover=RecordingLM(), prover_config={"kind": "forced"}
    ).unwrapped
    assert synthetic.prover.config.max_answer_tokens == synthetic.config.forced_answer_tokens < 100
