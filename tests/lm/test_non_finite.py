"""A log-probability that is NaN, infinite or positive is a BackendError where it enters,
never a score (exp() of it would read as certainty downstream)."""

import math

import pytest

from mrt_env.errors import BackendError
from mrt_env.lm import TransformersLM
from mrt_env.lm.base import LOGPROB_TOLERANCE, TokenLogprobs, continuation_logprob
from mrt_env.prover import LikelihoodProver
from mrt_env.types import Problem

# The shared scoring rule every HF-tokenizer backend (TransformersLM, VLLMLM, the TRL
# server) sums its tokens with: "x" | "yz", the continuation's tokens at 1 and 2.
STARTS, ENDS = (0, 1, 2), (1, 2, 3)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, 0.5, 1e308])
def test_the_shared_scoring_rule_refuses_what_is_no_log_probability(bad):
    tokens = TokenLogprobs(STARTS, ENDS, (None, -0.5, bad))
    with pytest.raises(BackendError, match=r"^vllm-model score\[3\] token 1 of the continuation"):
        continuation_logprob(tokens, 1, where="vllm-model score[3]")
    with pytest.raises(BackendError) as caught:
        continuation_logprob(tokens, 1, where="m")
    assert repr(bad) in str(caught.value)


def test_rounding_just_above_zero_is_read_as_zero():
    tokens = TokenLogprobs(STARTS, ENDS, (None, -0.5, LOGPROB_TOLERANCE / 2))
    assert continuation_logprob(tokens, 1, where="m") == -0.5
    # Tokens of the prompt are not summed, so not judged either.
    tokens = TokenLogprobs(STARTS, ENDS, (None, math.nan, -0.25))
    assert continuation_logprob(tokens, 2, where="m") == -0.25


@pytest.fixture
def nan_lm(tiny_model_dir):
    """The tiny model with its final norm's weights set to NaN: every logit is NaN."""
    lm = TransformersLM.from_pretrained(tiny_model_dir)  # its own copy of the weights
    lm.model.model.norm.weight.data.fill_(math.nan)
    return lm


def test_nan_logits_are_a_backend_error_naming_the_model(nan_lm):
    with pytest.raises(BackendError, match=r"score\[0\] .*log-probability nan") as caught:
        nan_lm.score(["Q: 1+1?"], [" 2"])
    assert nan_lm.name in str(caught.value)
    with pytest.raises(BackendError, match=r"score_at_cuts\[0\]: got the log-probability nan"):
        nan_lm.score_at_cuts("Q: 1+1? A:", [3, 8], " Answer:", " 2")
    problem = Problem("toy/1", "1+1?", "2")
    for prefixes in (["", "Two."], ["One.", "Unrelated."]):  # the fast path, the plain one
        with pytest.raises(BackendError, match="log-probability nan"):
            LikelihoodProver(nan_lm).success_probs(problem, prefixes)
