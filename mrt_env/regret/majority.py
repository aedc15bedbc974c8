"""[maj@p]_j: a vote among p of μ's answers after each episode j, the paper's R1 analysis,
computed as the authors' ``episode_scaling_curve.ipynb`` does; and the 'direct' curve it is
compared with (the model answering at once, without a thinking prefix).

The authors' recipe, per prefix c_j with n sampled answers:

1. **Classes.** The right answers form the gold class; every other answer joins the first
   earlier answer it is equivalent to (by the grader), else opens a class; an answer with no
   final answer is in no class (it can take a seat in the vote, never win it).
2. **Weights.** Each answer votes with ``2 ** (its mean log-probability per token)`` (their
   logprobs are natural logs: the base 2 is theirs, kept as is). ``weights="count"`` gives
   each a vote of 1.
3. **The vote** (:func:`~mrt_env.metrics.weighted_maj_at_k`): the expected outcome over the
   k-subsets of the n answers (1 right, 0 wrong, 0.5 tie).
4. **Tokens.** Asking for p answers at c_j costs the context's tokens plus p times the mean
   answer length.

A prefix where some answer got no verdict from the grader (:attr:`ProverEstimate.undecided`)
has no value (None): its right answers are not known.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from mrt_env.errors import ConfigError
from mrt_env.grading import answers_match
from mrt_env.metrics import pass_at_k, weighted_maj_at_k
from mrt_env.prover import ForcedAnswerProver, ProverEstimate, ProverRequest
from mrt_env.types import Problem

__all__ = ["answer_classes", "direct_curve", "majority_curves", "vote"]


def answer_classes(
    answers: Sequence[str | None], correct: Sequence[bool], *, timeout: float = 5.0
) -> list[int | None]:
    """Class of each answer: 0 for the right ones, 1, 2, … for the wrong ones in order of
    first appearance (two wrong answers share a class when the grader finds them equal),
    None for no answer.

    >>> answer_classes(["4", "5", None, "5.0", "6"], [True, False, False, False, False])
    [0, 1, None, 1, 2]
    """
    firsts: list[str] = []  # the first answer of each wrong class
    out: list[int | None] = []
    for answer, right in zip(answers, correct, strict=True):
        if right:
            out.append(0)
        elif answer is None:
            out.append(None)
        else:
            same = (
                c for c, first in enumerate(firsts) if answers_match(answer, first, timeout=timeout)
            )
            found = next(same, None)
            if found is None:
                firsts.append(answer)
                found = len(firsts) - 1
            out.append(found + 1)
    return out


def vote(estimate: ProverEstimate, p: Sequence[int], *, weights: str) -> dict[str, float | None]:
    """[maj@p] of one estimate's answers for each p (None: some answer undecided)."""
    if estimate.undecided:
        return {str(q): None for q in p}
    if weights == "likelihood":
        if len(estimate.answer_logprobs) != len(estimate.answers):
            raise ConfigError(
                "likelihood-weighted votes need each answer's log-probability: build the "
                "forced prover with score_answers=True (or use weights='count')"
            )
        w: list[float] | None = [2.0**lp for lp in estimate.answer_logprobs]
    elif weights == "count":
        w = None
    else:
        raise ConfigError(f"weights must be 'likelihood' or 'count', got {weights!r}")
    classes = answer_classes(estimate.answers, estimate.correct)
    return {str(q): weighted_maj_at_k(classes, q, gold=0, weights=w) for q in p}


def majority_curves(
    estimates: Sequence[ProverEstimate],
    context_tokens: Sequence[int],
    p: Sequence[int],
    *,
    weights: str,
) -> dict[str, Any]:
    """``maj_at_p`` (p → [maj@p]_0 … [maj@p]_k) and ``maj_tokens`` (p → the tokens of asking
    for p answers at each prefix) of one trace's estimates."""
    votes = [vote(e, p, weights=weights) for e in estimates]
    mean_answer = [e.mean_answer_tokens for e in estimates]
    return {
        "maj_at_p": {str(q): [v[str(q)] for v in votes] for q in p},
        "maj_tokens": {
            str(q): [c + q * m for c, m in zip(context_tokens, mean_answer, strict=True)] for q in p
        },
    }


def direct_curve(
    problem: Problem,
    prompt: str,
    prover: ForcedAnswerProver,
    n: int,
    p: Sequence[int],
    *,
    weights: str,
) -> dict[str, Any]:
    """The 'direct' curve of one problem: n answers sampled straight from ``prompt`` (no
    prefix, no forcing text) with μ's sampling settings; pass@p (the authors' direct curve,
    the unbiased estimator over n) and [maj@p] for each p, at p times the mean answer length.
    """
    direct = ForcedAnswerProver(prover.lm, cache_size=0, config=replace(prover.config, k=n))
    (estimate,) = direct.estimate_batch([ProverRequest(problem, prompt, "", forcing_text="")])
    decided = n - estimate.undecided
    right = sum(estimate.correct)
    mean_answer = estimate.mean_answer_tokens
    return {
        "n": n,
        "correct": right,
        "undecided": estimate.undecided,
        "pass_at_p": {str(q): (pass_at_k(decided, right, q) if q <= decided else None) for q in p},
        "maj_at_p": vote(estimate, p, weights=weights),
        "tokens": {str(q): q * mean_answer for q in p},
    }
