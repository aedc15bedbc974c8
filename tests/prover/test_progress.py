"""The meta-prover μ: forced-answer and likelihood estimates of J, the cache, the fast path."""

import math

import numpy as np
import pytest
from fakes import CopyLastBoxedFakeLM

from mrt_env.errors import BackendError, ConfigError
from mrt_env.lm import Sampling
from mrt_env.lm.base import LOGPROB_TOLERANCE
from mrt_env.prover import (
    LIKELIHOOD_FORCING_TEXT,
    PAPER_FORCING_TEXT,
    ForcedAnswerProver,
    LikelihoodProver,
    OracleProver,
    ProverConfig,
    ProverEstimate,
    default_prompt,
)
from mrt_env.types import Problem

PROBLEM = Problem("toy/1", "What is 2+2?", "4")
STREAM = (
    "We need 2+2.\n\nCounting: 1, 2, then 3, 4.\n\nSo the sum is \\boxed{4}.\n\n"
    "Wait, let me double-check: 2+2 = 4. Yes.\n\n"
)
PREFIXES = [STREAM[:i] for i in (0, 14, 42, 70, len(STREAM))]


def test_paper_forcing_text_is_byte_exact():
    assert PAPER_FORCING_TEXT == (
        "\n\nTime is up.\n\nGiven the time I've spent and the approaches I've tried, I should "
        "stop thinking and formulate a final answer based on what I already have.\n</think>\n\n"
        "**Step-by-Step Explanation and Answer:**\n\n1. **"
    )
    assert LIKELIHOOD_FORCING_TEXT.startswith(PAPER_FORCING_TEXT.split("**Step")[0])


def test_forced_prover_j_rises_once_the_prefix_holds_the_boxed_answer():
    lm = CopyLastBoxedFakeLM()
    prover = ForcedAnswerProver(lm, k=4)
    estimates = prover.estimate(PROBLEM, PREFIXES)
    assert [e.success_prob for e in estimates] == [0.0, 0.0, 0.0, 1.0, 1.0]
    assert estimates[3].answers == ("4",) * 4 and estimates[3].correct == (True,) * 4
    # One batched call for all prefixes; each context is prompt + prefix + forcing text.
    [contexts] = lm.generate_calls
    prompt = default_prompt(lm, PROBLEM)
    assert contexts == [prompt + p + PAPER_FORCING_TEXT for p in PREFIXES]


def test_likelihood_prover_j_rises_once_the_prefix_holds_the_boxed_answer():
    lm = CopyLastBoxedFakeLM()
    js = LikelihoodProver(lm).success_probs(PROBLEM, PREFIXES)
    assert js[:3] == pytest.approx([0.01] * 3) and js[3:] == pytest.approx([0.9] * 2)


def test_cache_answers_repeated_prefixes_without_the_model():
    lm = CopyLastBoxedFakeLM()
    prover = ForcedAnswerProver(lm, k=2)
    first = prover.success_probs(PROBLEM, PREFIXES)
    again = prover.success_probs(PROBLEM, PREFIXES[::-1] + PREFIXES[:1])
    assert again == first[::-1] + first[:1]
    assert len(lm.generate_calls) == 1
    assert (prover.hits, prover.misses) == (6, 5)
    # Only the unseen prefix reaches the model.
    prover.success_probs(PROBLEM, [*PREFIXES, STREAM + "More."])
    assert lm.generate_calls[-1] == [
        default_prompt(lm, PROBLEM) + STREAM + "More." + PAPER_FORCING_TEXT
    ]
    # Another gold answer or other settings are other keys.
    other = Problem("toy/1", "What is 2+2?", "5")
    assert prover.success_probs(other, PREFIXES[-1:]) == [0.0]


def test_cache_size_bounds_the_cache():
    prover = ForcedAnswerProver(CopyLastBoxedFakeLM(), k=1, cache_size=2)
    prover.success_probs(PROBLEM, PREFIXES)
    assert len(prover._cache) == 2


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"k": 0}, "k must be >= 1, got 0"),
        ({"top_p": 0}, "top_p"),
        ({"temperature": -1}, "temperature"),
    ],
)
def test_forced_prover_validates_its_settings(kwargs, match):
    with pytest.raises(ValueError, match=match):
        ForcedAnswerProver(CopyLastBoxedFakeLM(), **kwargs)


def test_prover_settings_build_the_kind_with_its_settings():
    lm = CopyLastBoxedFakeLM()
    forced = ProverConfig(k=3, temperature=1.0, seed=5).build(lm)
    assert isinstance(forced, ForcedAnswerProver)
    assert forced.config.forcing_text == PAPER_FORCING_TEXT  # None: the kind's own text
    # The k answers are sampled with one Sampling built from the settings.
    assert forced.config.answers == Sampling(
        max_tokens=256, n=3, temperature=1.0, top_p=0.95, seed=5
    )
    likely = ProverConfig(kind="likelihood", forcing_text="A: ").build(lm)
    assert isinstance(likely, LikelihoodProver) and likely.config.forcing_text == "A: "
    assert isinstance(ProverConfig().build(lm, default_kind="likelihood"), LikelihoodProver)
    with pytest.raises(ValueError, match="k must be >= 1, got 0"):
        ProverConfig(k=0)
    with pytest.raises(ValueError, match="top_p must be in"):
        ProverConfig(top_p=1.5)
    with pytest.raises(ValueError, match="forcing_text must not be empty"):
        ProverConfig(forcing_text="")


def test_likelihood_prover_validates_its_settings():
    with pytest.raises(ValueError, match="normalize must be"):
        LikelihoodProver(CopyLastBoxedFakeLM(), normalize="mean")
    with pytest.raises(ValueError, match="must contain"):
        LikelihoodProver(CopyLastBoxedFakeLM(), answer_template="no placeholder")
    with pytest.raises(TypeError, match="got a str"):
        LikelihoodProver(CopyLastBoxedFakeLM()).success_probs(PROBLEM, STREAM)


# ---------------------------------------------------------------------------------------
# The real (tiny, random) model: ranges, reproducibility, the fast path.


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    pytest.importorskip("transformers")
    from mrt_env.lm import TransformersLM
    from mrt_env.lm.testing import tiny_lm

    return TransformersLM.from_pretrained(tiny_lm(tmp_path_factory.mktemp("m"), max_positions=2048))


def test_forced_prover_on_the_tiny_model_is_a_probability_and_reproducible(tiny):
    settings = {"k": 4, "max_answer_tokens": 6, "forcing_text": "\n</think>\\boxed{"}
    a = ForcedAnswerProver(tiny, seed=3, **settings).estimate(PROBLEM, PREFIXES)
    b = ForcedAnswerProver(tiny, seed=3, **settings).estimate(PROBLEM, PREFIXES)
    assert a == b
    assert all(0.0 <= e.success_prob <= 1.0 and len(e.answers) == 4 for e in a)


def test_likelihood_prover_on_the_tiny_model(tiny):
    js = LikelihoodProver(tiny).success_probs(PROBLEM, PREFIXES)
    assert len(js) == len(PREFIXES) and all(0.0 < j <= 1.0 for j in js)
    per_token = LikelihoodProver(tiny, normalize="per_token").success_probs(PROBLEM, PREFIXES)
    # The per-token geometric mean is never below the whole-sequence probability.
    assert all(p >= s for p, s in zip(per_token, js, strict=True))


def test_fast_path_equals_naive_scoring(tiny):
    prompt = default_prompt(tiny, PROBLEM)
    forcing, answer = LIKELIHOOD_FORCING_TEXT, "4}$"
    fast = tiny.score_at_cuts(
        prompt + STREAM, [len(prompt) + len(p) for p in PREFIXES], forcing, answer
    )
    naive = tiny.score([prompt + p + forcing for p in PREFIXES], [answer] * len(PREFIXES))
    assert fast == pytest.approx(naive, abs=1e-4)
    # The prover takes the fast path for prefixes of one stream ...
    prover = LikelihoodProver(tiny)
    assert prover.success_probs(PROBLEM, PREFIXES) == pytest.approx(
        [math.exp(x) for x in naive], rel=1e-4
    )
    # ... and the naive one for unrelated contexts, with the same results.
    mixed = [PREFIXES[2], "Something else entirely."]
    expected = tiny.score([prompt + p + forcing for p in mixed], [answer] * 2)
    assert LikelihoodProver(tiny).success_probs(PROBLEM, mixed) == pytest.approx(
        [math.exp(x) for x in expected], rel=1e-4
    )


def test_score_at_cuts_validates_cuts(tiny):
    with pytest.raises(ValueError, match="cuts must lie in"):
        tiny.score_at_cuts("abc", [5], "x", "y")
    assert tiny.score_at_cuts("abc", [], "x", "y") == []


@pytest.mark.parametrize("attention", ["eager", "sdpa"])
@pytest.mark.parametrize("mode", ["one pack", "many packs", "one segment per pass"])
def test_fast_path_packing_modes_agree_with_naive(tiny, monkeypatch, attention, mode):
    """Packed segments under the 4D mask give the naive scores, however they are packed."""
    import mrt_env.lm.transformers_lm as tlm

    monkeypatch.setattr(tiny.model.config, "_attn_implementation", attention)
    if mode == "one pack":
        monkeypatch.setattr(tlm, "_PACKS", 1)
    elif mode == "many packs":
        monkeypatch.setattr(tlm, "_PACK_TOKENS", 40)  # forces ~1 segment-pair per pass
        monkeypatch.setattr(tlm, "_MIN_PACK_TOKENS", 1)
    else:
        monkeypatch.setattr(tiny, "_takes_custom_masks", False)
    prompt = default_prompt(tiny, PROBLEM)
    forcing, answer = "\nAnswer: $\\boxed{", "4}$"
    cuts = [len(prompt) + len(p) for p in PREFIXES] + [len(prompt) + 3]  # one inside a word
    fast = tiny.score_at_cuts(prompt + STREAM, cuts, forcing, answer)
    naive = tiny.score([(prompt + STREAM)[:c] + forcing for c in cuts], [answer] * len(cuts))
    assert fast == pytest.approx(naive, abs=1e-4)


# ---------------------------------------------------------------------------------------
# A score that is no log-probability never becomes J = 1.


class FixedScoreLM(CopyLastBoxedFakeLM):
    """FAKE backend whose every score is one given value (what a broken model returns)."""

    name = "fixed-score-fake"

    def __init__(self, value):
        super().__init__()
        self.value = value

    def score(self, prompts, continuations):
        return [self.value] * len(prompts)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 0.5, 1e308, "-1.0", None])
@pytest.mark.parametrize("normalize", ["sequence", "per_token"])
def test_likelihood_prover_refuses_a_score_that_is_no_log_probability(value, normalize):
    lm = FixedScoreLM(value)
    prover = LikelihoodProver(lm, normalize=normalize)
    with pytest.raises(BackendError, match=r"fixed-score-fake score of the gold answer") as caught:
        prover.success_probs(PROBLEM, PREFIXES[:2])
    assert repr(value) in str(caught.value)
    # Nothing was cached from the failed call: once the model is sound, J is its own.
    lm.value = -1.0
    per_token = 1 / lm.count_tokens("4}$") if normalize == "per_token" else 1
    assert prover.success_probs(PROBLEM, PREFIXES[:2]) == [pytest.approx(math.exp(-per_token))] * 2


@pytest.mark.parametrize("value", [1e-6, LOGPROB_TOLERANCE, 0.0, -1e-9])
def test_rounding_just_above_zero_counts_as_certain(value):
    assert LikelihoodProver(FixedScoreLM(value)).success_probs(PROBLEM, [""]) == [
        pytest.approx(1.0)
    ]


def test_above_the_rounding_tolerance_is_refused():
    with pytest.raises(BackendError, match=r"0\.002"):
        LikelihoodProver(FixedScoreLM(2 * LOGPROB_TOLERANCE)).success_probs(PROBLEM, [""])


def test_forced_prover_refuses_a_nan_answer_score():
    prover = ForcedAnswerProver(FixedScoreLM(math.nan), k=2, score_answers=True)
    with pytest.raises(BackendError, match=r"fixed-score-fake score of answer 0.*nan"):
        prover.estimate(PROBLEM, PREFIXES[:1])


@pytest.mark.parametrize("j", [math.nan, 1.5, -0.1, math.inf, None, "0.5", True])
def test_an_estimate_is_a_probability(j):
    with pytest.raises(ConfigError, match=r"must be a number in \[0, 1\]"):
        ProverEstimate(j)
    oracle = OracleProver(lambda problem, blocks: j)
    with pytest.raises(ConfigError, match=r"oracle's success function, on problem 'toy/1'"):
        oracle.success_probs(PROBLEM, [""])
    assert ProverEstimate(np.float32(0.5)).success_prob == 0.5
    assert type(ProverEstimate(np.float32(0.5)).success_prob) is float
