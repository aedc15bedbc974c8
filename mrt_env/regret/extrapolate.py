"""Extrapolation with budget forcing: does a model gain from thinking past where it stopped?

As the MRT authors' ``pass_at_k_extrapolate.py`` and ``extrapolate.ipynb``: the trace's
thought (its response up to ``</think>``) is extended up to ``extensions`` times, each time
with the next cue of :class:`~mrt_env.budget_forcing.BudgetForcing` and at most ``tokens``
new tokens (ending early at the model's ``</think>``; an extension cut by its limit loses
its unfinished paragraph). Before the first extension and after every ``every`` of them, μ
continues the thought freely (no forcing text: the model closes its thinking and answers
itself) with its k samples and answer budget, and J is their share of right answers. The
curve of J against the thought's tokens (prompt included, as the authors count) gives an
accuracy-versus-tokens plot and its normalized token regret
(:func:`~mrt_env.metrics.authors_token_regret`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mrt_env.budget_forcing import BudgetForcing
from mrt_env.commitment import THINK_CLOSE, thinking
from mrt_env.lm.sampling import Sampling
from mrt_env.metrics import authors_token_regret
from mrt_env.prover import ForcedAnswerProver, ProverRequest, known_success_probs
from mrt_env.regret.config import ExtrapolationConfig, budget_key
from mrt_env.types import Problem

__all__ = ["extrapolate"]


def extrapolate(
    problem: Problem,
    prompt: str,
    response: str,
    *,
    prover: ForcedAnswerProver,
    settings: ExtrapolationConfig,
    budgets: Sequence[float],
    forcing: BudgetForcing | None = None,
) -> dict[str, Any]:
    """The extrapolation of one trace (see the module's docstring).

    Returns ``extensions`` (the checkpoints: 0, every, …), ``tokens`` (prompt and thought at
    each), ``success_probs`` (J there), ``answer_tokens`` (μ's mean continuation length),
    ``token_regret`` (budget → normalized regret of that curve) and ``finish`` (each
    extension's finish reason: ``stop`` when the model closed its thinking, ``length`` when
    cut). ``forcing``: the cues (default: the authors').
    """
    lm, cfg = prover.lm, prover.config
    forcing = forcing or BudgetForcing()
    sampling = Sampling(
        max_tokens=settings.tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        stop=(THINK_CLOSE,),
        seed=cfg.seed,
    )
    thought = thinking(response)
    thoughts, finish = [thought], []
    for i in range(settings.extensions):
        cue = forcing.cue(i)
        (out,) = lm.generate([prompt + thought + cue], sampling)[0]
        thought += cue + forcing.keep(out.text, out.finish_reason)
        finish.append(out.finish_reason)
        if (i + 1) % settings.every == 0:
            thoughts.append(thought)
    # μ continues each thought as it stands: no forcing text, the model ends it itself.
    estimates = prover.estimate_batch(
        [ProverRequest(problem, prompt, t, forcing_text="") for t in thoughts]
    )
    success_probs = known_success_probs(estimates)
    tokens = [lm.count_tokens(prompt + t) for t in thoughts]
    regret = authors_token_regret(tokens, success_probs, list(budgets))
    return {
        "extensions": settings.checkpoints,
        "tokens": tokens,
        "success_probs": success_probs,
        "answer_tokens": [e.mean_answer_tokens for e in estimates],
        "token_regret": {budget_key(b): float(r) for b, r in zip(budgets, regret, strict=True)},
        "finish": finish,
    }
