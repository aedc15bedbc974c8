"""[maj@p]_j and the budget-forcing extrapolation, as the authors' analysis code computes
them (episode_scaling_curve.ipynb, pass_at_k_extrapolate.py)."""

from __future__ import annotations

import json
import random

import pytest

from mrt_env.agents import BudgetForcingExtend
from mrt_env.budget_forcing import AUTHORS_CUES, BudgetForcing
from mrt_env.cli import parse_command
from mrt_env.commitment import thinking
from mrt_env.errors import ConfigError
from mrt_env.lm.base import Completion
from mrt_env.metrics import weighted_maj_at_k
from mrt_env.prover import ForcedAnswerProver
from mrt_env.regret import analyse_trace, main
from mrt_env.regret.config import ExtrapolationConfig, MajorityConfig, RegretConfig
from mrt_env.regret.extrapolate import extrapolate
from mrt_env.regret.majority import answer_classes
from mrt_env.regret.summary import extrapolation_table, majority_table, write_plots
from mrt_env.types import Problem


def notebook_maj_at_k(answers_dict, k, correct_answer, draws=100_000, seed=0):
    """REFERENCE: compute_maj_at_k of the authors' episode_scaling_curve.ipynb, transcribed
    (their answers_dict maps an answer key to the mean logprobs of its answers)."""
    rng = random.Random(seed)
    answers = [(key, p) for key, probs in answers_dict.items() for p in probs]
    reward = 0.0
    for _ in range(draws):
        counts = {}
        for key, probs in rng.sample(answers, k=k):
            counts[key] = counts.get(key, 0) + 2**probs
        right = counts.get(correct_answer, float("-inf"))
        other = max(
            (v for a, v in counts.items() if a != correct_answer and a is not None),
            default=float("-inf"),
        )
        if right > other:
            reward += 1
        elif right == other and not (right == float("-inf") and other == float("-inf")):
            reward += 0.5
    return reward / draws


# --------------------------------------------------------------------------------------------
# The vote


def test_weighted_vote_by_hand():
    # Answers 5, 5, 7 with 5 right: maj@2 draws {5,5} (win), {5,7} twice (tie: 0.5 each).
    assert weighted_maj_at_k(["5", "5", "7"], 2, gold="5") == pytest.approx(2 / 3)
    # Weights 0.2, 0.2, 1.0: {5,7} now loses (0.2 < 1.0); only {5,5} wins.
    weights = [0.2, 0.2, 1.0]
    assert weighted_maj_at_k(["5", "5", "7"], 2, gold="5", weights=weights) == pytest.approx(1 / 3)
    # None never wins: {None, 5} wins (twice), {None, 7} loses, {None, None} scores 0 and
    # {5, 7} ties: (2 + 0.5) / 6.
    assert weighted_maj_at_k([None, None, "5", "7"], 2, gold="5") == pytest.approx(2.5 / 6)
    # maj@1 is the share of right answers; no right answer at all: 0.
    assert weighted_maj_at_k(["5", "7", None, "5"], 1, gold="5") == 0.5
    assert weighted_maj_at_k(["7", "8"], 2, gold="5") == 0.0


@pytest.mark.parametrize("seed", range(4))
def test_the_vote_is_the_expectation_of_the_notebooks_estimate(seed):
    rng = random.Random(seed)
    n = 6
    keys = [rng.choice(["right", "a", "b", None]) for _ in range(n)]
    logprobs = [rng.uniform(-2.0, 0.0) for _ in range(n)]
    answers_dict = {"right": []}
    for key, lp in zip(keys, logprobs, strict=True):
        answers_dict.setdefault(key, []).append(lp)
    for k in (1, 2, 4):
        exact = weighted_maj_at_k(keys, k, gold="right", weights=[2**lp for lp in logprobs])
        sampled = notebook_maj_at_k(answers_dict, k, "right", draws=20_000, seed=seed)
        assert exact == pytest.approx(sampled, abs=0.015)


def test_many_subsets_are_sampled_under_the_seed():
    keys = ["r"] * 10 + ["w"] * 10
    a = weighted_maj_at_k(keys, 10, gold="r", samples=500, seed=1)
    assert a == weighted_maj_at_k(keys, 10, gold="r", samples=500, seed=1)
    exact = weighted_maj_at_k(keys, 10, gold="r")  # C(20,10) = 184,756 > 100,000: sampled
    assert a == pytest.approx(exact, abs=0.08) and exact == pytest.approx(0.5, abs=0.01)


def test_the_vote_rejects_bad_input():
    with pytest.raises(ConfigError, match="1 <= k"):
        weighted_maj_at_k(["a"], 2, gold="a")
    with pytest.raises(ConfigError, match="parallel"):
        weighted_maj_at_k(["a", "b"], 1, gold="a", weights=[1.0])
    with pytest.raises(ConfigError, match="> 0"):
        weighted_maj_at_k(["a"], 1, gold="a", weights=[0.0])
    with pytest.raises(ConfigError, match="empty"):
        weighted_maj_at_k([], 1, gold="a")


def test_answer_classes_group_equal_wrong_answers():
    answers = ["5", "1/2", None, "0.5", "7", "5"]
    correct = [True, False, False, False, False, True]
    assert answer_classes(answers, correct) == [0, 1, None, 1, 2, 0]


# --------------------------------------------------------------------------------------------
# [maj@p]_j in a trace's row


class ScriptedLM:
    """A stand-in model: μ's answers at each context come from ``script`` (by the text the
    context ends with), each ``tokens`` long, and ``score`` gives each answer text the total
    log-probability ``logprob[text]``."""

    name = "scripted-stand-in"

    def __init__(self, script, logprob=None, tokens=4):
        self.script, self.logprob, self.tokens = script, logprob or {}, tokens
        self.prompts: list[str] = []

    def generate(self, prompts, sampling):
        self.prompts += list(prompts)
        out = []
        for p in prompts:
            texts = next(v for end, v in self.script.items() if p.endswith(end))
            texts = texts(sampling) if callable(texts) else texts
            out.append([Completion(t, self.tokens, "stop") for t in texts[: sampling.n]])
        return out

    def score(self, prompts, continuations):
        return [self.logprob[c] for c in continuations]

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None


TRACE_TEXT = "Start.\n\nThen more.\n\nWait, check it.\n\nSo \\boxed{5}."
TRACE = {"problem_id": "p", "question": "Q?", "answer": "5", "response": TRACE_TEXT}


def test_maj_at_p_per_episode_by_hand():
    # Two prefixes (markers rule: c_0 = "", c_1 = the whole trace). At c_0 μ answers
    # 7, 7, 5, 5 (maj@2: {7,7} 0, {5,5} 1, four {7,5} ties: (1 + 4·0.5)/6 = 0.5);
    # at c_1, 5, 5, 5, 8 (maj@2: 3 of {5,5} and 3 of {5,8} ties: (3 + 1.5)/6 = 0.75).
    early = ["\\boxed{7}", "\\boxed{7}", "\\boxed{5}", "\\boxed{5}"]
    late = ["\\boxed{5}", "\\boxed{5}", "\\boxed{5}", "\\boxed{8}"]
    lm = ScriptedLM({"1. **": early, "</think>": late})
    prover = ForcedAnswerProver(lm, k=4)
    row = analyse_trace(
        TRACE,
        prover=prover,
        lm=lm,
        budgets=[64],
        majority=MajorityConfig(p=(1, 2), weights="count"),
    )
    assert row["maj_at_p"] == {"1": [0.5, 0.75], "2": [0.5, 0.75]}
    # Tokens of asking for p answers: the context's tokens + p × the mean answer length (4).
    context = [lm.count_tokens(p) for p in lm.prompts]
    assert row["maj_tokens"] == {"1": [c + 4 for c in context], "2": [c + 8 for c in context]}
    assert row["costs"] == [c + 4 for c in context]  # the same x as the token regret's
    assert json.loads(json.dumps(row)) == row


def test_likelihood_weights_tip_the_vote():
    # One right answer of high likelihood against two wrong ones of low: weight 2**mean.
    answers = ["\\boxed{5}", "\\boxed{7}", "\\boxed{7}"]
    # Per-token means: "\\boxed{5}" is one word, so total = mean. 2**-0.1 vs 2·2**-3.
    lm = ScriptedLM({"": answers}, logprob={"\\boxed{5}": -0.1, "\\boxed{7}": -3.0})
    settings = MajorityConfig(p=(3,))
    plain = ForcedAnswerProver(lm, k=3)
    with pytest.raises(ConfigError, match="score_answers"):
        analyse_trace(TRACE, prover=plain, lm=lm, budgets=[64], majority=settings)
    scored = ForcedAnswerProver(lm, k=3, score_answers=True)
    row = analyse_trace(TRACE, prover=scored, lm=lm, budgets=[64], majority=settings)
    assert row["maj_at_p"]["3"] == [1.0, 1.0]  # 0.933 > 0.25: the right answer wins
    counted = analyse_trace(
        TRACE, prover=plain, lm=lm, budgets=[64], majority=MajorityConfig(p=(3,), weights="count")
    )
    assert counted["maj_at_p"]["3"] == [0.0, 0.0]  # one vote each: 7 wins 2 to 1


def test_direct_curve_is_pass_at_p_of_answers_straight_from_the_question():
    # Straight from the question (the prompt alone, no forcing text): 5, 7, 7, 5.
    direct = ["\\boxed{5}", "\\boxed{7}", "\\boxed{7}", "\\boxed{5}"]
    lm = ScriptedLM({"Solution:\n": direct, "": ["\\boxed{5}"] * 4})
    prover = ForcedAnswerProver(lm, k=2)
    settings = MajorityConfig(p=(1, 2), weights="count", direct=4)
    row = analyse_trace(TRACE, prover=prover, lm=lm, budgets=[64], majority=settings)
    d = row["direct"]
    assert (d["n"], d["correct"]) == (4, 2)
    # pass@2 from 4 samples with 2 right: 1 − C(2,2)/C(4,2) = 5/6.
    assert d["pass_at_p"] == {"1": 0.5, "2": pytest.approx(5 / 6)}
    assert d["maj_at_p"] == {"1": 0.5, "2": 0.5}
    assert d["tokens"] == {"1": 4.0, "2": 8.0}
    assert any(p.endswith("Solution:\n") for p in lm.prompts)


def test_majority_table_and_plot(tmp_path):
    lm = ScriptedLM({"": ["\\boxed{5}", "\\boxed{7}"]})
    prover = ForcedAnswerProver(lm, k=2)
    settings = MajorityConfig(p=(1, 2), weights="count", direct=2)
    rows = [analyse_trace(TRACE, prover=prover, lm=lm, budgets=[64], majority=settings)]
    table = "\n".join(majority_table(rows))
    assert "[maj@2]_j" in table and "pass@p" in table
    paths = write_plots(rows, tmp_path, title="t")
    assert (tmp_path / "maj_at_p.png").read_bytes()[:4] == b"\x89PNG"
    assert len(paths) == 3


# --------------------------------------------------------------------------------------------
# Budget forcing: one rule for the extrapolation and the strategy


def test_budget_forcing_is_the_authors_rule():
    forcing = BudgetForcing()
    assert [forcing.cue(i) for i in range(5)] == ["\n" + c for c in (*AUTHORS_CUES, "Wait")]
    # remove_unfinished_line of pass_at_k_extrapolate.py: drop after the last blank line.
    assert forcing.keep("a\n\nb\n\nc unfinis", "length") == "a\n\nb\n"
    assert forcing.keep("no blank line", "length") == "\n"
    assert forcing.keep("a\n\nb", "stop") == "a\n\nb"
    with pytest.raises(ConfigError, match="separator"):
        BudgetForcing(cues=("",), separator="")
    with pytest.raises(ConfigError, match="non-empty"):
        BudgetForcing(cues="Wait")


def test_extrapolation_builds_the_authors_thoughts_byte_for_byte():
    class Extender(ScriptedLM):
        def generate(self, prompts, sampling):
            if sampling.stop == ("</think>",):  # an extension: 2 words; the 2nd one is cut
                self.prompts += list(prompts)
                cut = len(self.prompts) == 2
                text = " more\n\nhalf a para" if cut else " fine.\n\n"
                return [[Completion(text, 3, "length" if cut else "stop")]]
            return super().generate(prompts, sampling)

    lm = Extender({"": ["\\boxed{5}", "\\boxed{6}"]})
    prover = ForcedAnswerProver(lm, k=2)
    problem = Problem("p", "Q?", "5")
    response = "Think.\n</think>\n\nThe answer is \\boxed{5}."
    assert thinking(response) == "Think.\n"
    settings = ExtrapolationConfig(extensions=4, tokens=8, every=2)
    out = extrapolate(problem, "P:", response, prover=prover, settings=settings, budgets=[100])
    t0 = "Think.\n"
    t1 = t0 + "\nWait" + " fine.\n\n"
    t2 = t1 + "\nBut wait" + " more\n"  # cut by its limit: the unfinished paragraph goes
    t3 = t2 + "\nAlternatively" + " fine.\n\n"
    t4 = t3 + "\nBut hold on" + " fine.\n\n"
    assert lm.prompts[:4] == [
        "P:" + t0 + "\nWait",
        "P:" + t1 + "\nBut wait",
        "P:" + t2 + "\nAlternatively",
        "P:" + t3 + "\nBut hold on",
    ]
    # μ continues each checkpoint's thought freely: the context ends with the thought.
    assert lm.prompts[4:] == ["P:" + t0, "P:" + t2, "P:" + t4]
    assert out["extensions"] == [0, 2, 4]
    assert out["finish"] == ["stop", "length", "stop", "stop"]
    assert out["success_probs"] == [0.5, 0.5, 0.5]
    assert out["tokens"] == [lm.count_tokens("P:" + t) for t in (t0, t2, t4)]
    table = "\n".join(extrapolation_table([{"extrapolation": out}]))
    assert "| 4 | 1 |" in table


def test_the_strategy_uses_the_same_cues():
    class Stub:
        name = "stub"

        def count_tokens(self, text):
            return len(text)

    agent = BudgetForcingExtend(Stub(), n=2, max_block_tokens=8)
    forcing = BudgetForcing()
    info = {"episode": 1}
    first = agent.revise(["Q:"], [info], ["so \\boxed{5}"])
    second = agent.revise(["Q:so " + forcing.cue(0)], [info], ["then \\boxed{5}"])
    third = agent.revise(["Q:..."], [info], ["now \\boxed{5}"])
    assert first == ["so " + forcing.cue(0)] and second == ["then " + forcing.cue(1)]
    assert third == ["now \\boxed{5}"]  # n = 2 reached: the commitment goes through


# --------------------------------------------------------------------------------------------
# The command


def _config(*flags):
    return parse_command(RegretConfig, "mrt-regret", [*flags, "t.jsonl", "--model.name", "m"])


def test_flags_and_their_errors(capsys):
    config = _config("--maj.p", "1", "2", "4", "8", "--maj.direct", "32")
    assert config.maj == MajorityConfig(p=(1, 2, 4, 8), direct=32)
    assert config.analysis_settings()["maj"] == {
        "p": [1, 2, 4, 8],
        "weights": "likelihood",
        "direct": 32,
    }
    assert "maj" not in _config().analysis_settings()  # off: older runs resume as before
    assert _config("--extrapolate.extensions", "8").extrapolate.checkpoints == [0, 2, 4, 6, 8]
    for flags, message in [
        (("--maj.p", "16"), "exceeds --prover.k"),
        (("--maj.p", "2", "--prover.kind", "likelihood"), "forced prover"),
        (("--maj.p", "0"), "distinct positive"),
        (("--extrapolate.extensions", "-1"), ">= 0"),
        (("--extrapolate.every", "0"), ">= 1"),
    ]:
        assert main(["t.jsonl", "--model.name", "m", *flags]) == 2
        assert message in capsys.readouterr().err


def test_a_run_with_majority_and_extrapolation_end_to_end(tmp_path, tiny_model_dir, capsys):
    pytest.importorskip("transformers")
    traces = tmp_path / "t.jsonl"
    traces.write_text(json.dumps(TRACE) + "\n")
    out = tmp_path / "out"
    args = [str(traces), "--model.name", str(tiny_model_dir), "--model.backend", "transformers"]
    args += ["--out", str(out), "--prover.k", "2", "--prover.max-answer-tokens", "4"]
    args += ["--maj.p", "1", "2", "--maj.direct", "2"]
    args += ["--extrapolate.extensions", "2", "--extrapolate.tokens", "4", "--budgets", "64"]
    assert main(args) == 0
    printed = capsys.readouterr().out
    (row,) = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert set(row["maj_at_p"]) == {"1", "2"} and len(row["maj_at_p"]["2"]) == row["blocks"] + 1
    assert all(0.0 <= v <= 1.0 for v in row["maj_at_p"]["2"])
    assert row["extrapolation"]["extensions"] == [0, 2]
    tokens = row["extrapolation"]["tokens"]
    assert tokens[1] > tokens[0]  # the thought grew by the cues and what followed them
    md = (out / "summary.md").read_text()
    for text in ("[maj@2]_j", "pass@p", "Extrapolation with budget forcing"):
        assert text in md and text in printed
    for name in ("maj_at_p.png", "extrapolation.png"):
        assert (out / name).read_bytes()[:4] == b"\x89PNG"
