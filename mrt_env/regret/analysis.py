"""One trace through the MRT analysis: episodes, J at every prefix, progress and regret; and
the trace files it reads."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.episodes import EpisodeRule, prefixes
from mrt_env.errors import ArgumentTypeError, ConfigError, DataFormatError, DataNotFound
from mrt_env.grading import grade
from mrt_env.metrics import authors_token_regret, episode_regret, progress, token_regret
from mrt_env.progress import (
    PAPER_FORCING_TEXT,
    ForcedAnswerProver,
    MetaProver,
    ProverRequest,
    authors_requests,
    default_prompt,
    known_success_probs,
)
from mrt_env.regret.config import (
    DEFAULT_BUDGETS,
    ExtrapolationSettings,
    MajoritySettings,
    budget_key,
)
from mrt_env.regret.extrapolate import extrapolate
from mrt_env.regret.majority import direct_curve, majority_curves
from mrt_env.types import Problem

__all__ = [
    "MEASURES",
    "analyse_trace",
    "budget_key",
    "default_measure",
    "load_traces",
]

MEASURES = ("authors", "stream")
"""How ``mrt-regret`` measures (see :func:`analyse_trace`)."""


def default_measure(prover: MetaProver) -> str:
    """``authors`` for the paper's μ (a forced prover with the authors' forcing text),
    ``stream`` otherwise: the authors' contexts need their own forcing texts."""
    if isinstance(prover, ForcedAnswerProver) and prover.config.forcing_text == PAPER_FORCING_TEXT:
        return "authors"
    return "stream"


# --------------------------------------------------------------------------------------------
# Input


def load_traces(path: str | Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Read and check a traces file; each trace gets a unique ``id`` and its ``line``.

    Returns one dict per trace (blank lines skipped) with ``id`` (``problem_id``, else
    ``id``, else the line number; a repeat gets ``#2``, ``#3`` …), ``problem_id``,
    ``question`` (None when absent), ``answer``, ``response`` and ``line``.

    Raises:
        DataNotFound: (a ``FileNotFoundError``) no such file.
        DataFormatError: a line that is not a JSON object, lacks ``answer`` or ``response``,
            or has neither an id nor a question; the message names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise DataNotFound(f"traces file {path} not found")
    traces: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            if limit is not None and len(traces) >= limit:
                break
            where = f"{path}:{number}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
            traces.append(_check_trace(row, where, number, seen))
    if not traces:
        raise DataFormatError(f"{path}: no traces (the file is empty)")
    return traces


def _text_field(row: Mapping[str, Any], name: str, where: str, *, numbers: bool) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)  # gold answers are often stored as numbers
    if not isinstance(value, str):
        raise DataFormatError(f"{where}: {name!r} must be a string, got {type(value).__name__}")
    return value


def _check_trace(row: dict, where: str, number: int, seen: dict[str, int]) -> dict[str, Any]:
    answer = _text_field(row, "answer", where, numbers=True)
    response = _text_field(row, "response", where, numbers=False)
    question = _text_field(row, "question", where, numbers=False)
    problem_id = _text_field(row, "problem_id", where, numbers=True)
    if problem_id is None:
        problem_id = _text_field(row, "id", where, numbers=True)
    missing = [n for n, v in (("answer", answer), ("response", response)) if v is None]
    if missing:
        raise DataFormatError(f"{where}: missing {' and '.join(map(repr, missing))}")
    assert answer is not None and response is not None  # narrowed above
    if not answer.strip():
        raise DataFormatError(f"{where}: 'answer' is empty")
    if problem_id is None and not (question and question.strip()):
        raise DataFormatError(f"{where}: needs 'problem_id' (or 'id') or 'question'")
    key = problem_id if problem_id is not None else str(number)
    seen[key] = seen.get(key, 0) + 1
    trace_id = key if seen[key] == 1 else f"{key}#{seen[key]}"
    return {
        "id": trace_id,
        "problem_id": key,
        "question": question if question and question.strip() else None,
        "answer": answer,
        "response": response,
        "line": number,
    }


# --------------------------------------------------------------------------------------------
# The analysis of one trace (no I/O)


def analyse_trace(
    trace: Mapping[str, Any],
    *,
    prover: MetaProver,
    lm: Any,
    rule: EpisodeRule | str = "markers",
    tokenizer: Any = None,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    measure: str | None = None,
    majority: MajoritySettings | None = None,
    extrapolation: ExtrapolationSettings | None = None,
) -> dict[str, Any]:
    """The regret analysis of one trace, as a JSON-serialisable row.

    Two ways to measure (``measure``; default :func:`default_measure`):

    * ``authors``: as the authors' analysis code does. μ's contexts are theirs, byte for
      byte (:func:`~mrt_env.progress.authors_requests`: one blank line before the stop text,
      none for the empty prefix, the full trace closed by ``"\n</think>"`` alone), and the
      token regret is :func:`~mrt_env.metrics.authors_token_regret` over ``costs``: each
      context's tokens plus the mean length of μ's answers. Needs a forced prover with the
      authors' forcing text.
    * ``stream``: μ's forcing text appended to each prefix as it is, and the token regret
      over the stream's own tokens (:func:`~mrt_env.metrics.token_regret`), as ``mrt-bench``
      measures.

    Args:
        trace: ``answer`` and ``response``, plus ``id``/``problem_id`` and/or ``question``
            (a row of :func:`load_traces`, or any dict with those keys).
        prover: the meta-prover μ (:class:`~mrt_env.progress.ForcedAnswerProver` or
            :class:`~mrt_env.progress.LikelihoodProver`), usually on ``lm``.
        lm: the model whose ``count_tokens`` measures the prefixes.
        rule, tokenizer: how the response is cut into episodes
            (:func:`~mrt_env.episodes.prefixes`); default: the paper's marker rule.
        budgets: token budgets C0 for the normalized regret (each > 0).
        measure: ``authors`` or ``stream`` (above).
        majority: [maj@p]_j at every prefix and the direct curve
            (:mod:`mrt_env.regret.majority`); likelihood weights need a forced prover built
            with ``score_answers=True``.
        extrapolation: budget forcing past the thought (:mod:`mrt_env.regret.extrapolate`).

    Returns:
        A dict with ``id``, ``problem_id``, ``gold_answer``, ``blocks`` (k, the episodes),
        ``prefix_tokens`` (tokens of the prefixes c_0 … c_k, the first 0),
        ``success_probs`` (J_0 … J_k), ``progress`` (k terms J_{j+1} − J_j),
        ``regret_terms``, ``regret_cumulative`` (Δ_1 … Δ_k), ``regret`` (Δ_k),
        ``token_regret`` (budget as a string → normalized regret),
        ``final_j`` (J_k), ``correct`` and ``answer`` (the response graded as written: its answer),
        ``measure``, ``costs`` (``authors``: x_0 … x_k of the token regret),
        ``prover_answers`` and ``prover_answer_tokens`` (forced prover: the graded answers at
        each prefix, and their lengths) and ``seconds``; with ``majority``: ``maj_at_p``
        and ``maj_tokens`` (p → a value per prefix) and ``direct``; with ``extrapolation``:
        ``extrapolation``.
    """
    started = time.perf_counter()
    answer = str(trace["answer"])
    response = trace["response"]
    if not isinstance(response, str):
        raise ArgumentTypeError(f"trace['response'] must be a str, got {type(response).__name__}")
    question = trace.get("question")
    problem_id = str(trace.get("problem_id", trace.get("id", "")))
    trace_id = str(trace.get("id", problem_id))
    # Without a question μ sees the response alone; Problem still needs a question string.
    problem = Problem(problem_id or trace_id, question or f"(problem {trace_id})", answer)
    prompt = None if question else ""

    measure = measure or default_measure(prover)
    if measure not in MEASURES:
        raise ConfigError(f"measure must be one of {MEASURES}, got {measure!r}")
    if measure == "authors" and not isinstance(prover, ForcedAnswerProver):
        raise ConfigError(
            "measure='authors' needs a forced prover (the authors sample μ's answers); "
            f"got {type(prover).__name__}: use measure='stream'"
        )

    cuts = prefixes(response, rule=rule, tokenizer=tokenizer)
    context = default_prompt(prover.lm, problem) if prompt is None else prompt
    if measure == "authors":
        requests = authors_requests(problem, context, cuts)
    else:
        requests = [ProverRequest(problem, context, c) for c in cuts]
    estimates = prover.estimate_batch(requests)
    success_probs = known_success_probs(estimates)
    # Counting each prefix (not each episode) gives the tokens the model actually sees. A
    # prefix can rarely tokenize shorter than a shorter prefix (a merge across the cut):
    # keep the counts cumulative.
    counts = np.maximum.accumulate([0, *(lm.count_tokens(p) for p in cuts[1:])])
    tokens = [int(t) for t in counts]
    regret = episode_regret(success_probs)
    costs: list[float] = []
    context_tokens: list[int] = []
    voting = majority is not None and bool(majority.p)
    if isinstance(prover, ForcedAnswerProver) and (measure == "authors" or voting):
        # What asking μ costs at each prefix: the forced context's tokens.
        forcing = prover.config.forcing_text
        context_tokens = [lm.count_tokens(r.context(forcing)) for r in requests]
    if measure == "authors":
        # The authors' x_j: the forced context's tokens plus μ's mean answer length.
        costs = [n + e.mean_answer_tokens for n, e in zip(context_tokens, estimates, strict=True)]
        normalized = authors_token_regret(costs, success_probs, list(budgets))
    else:
        normalized = token_regret(tokens, success_probs, list(budgets))
    verdict = grade(response, answer)
    row: dict[str, Any] = {
        "id": trace_id,
        "problem_id": problem.id,
        "gold_answer": answer,
        "blocks": len(cuts) - 1,
        "prefix_tokens": tokens,
        "success_probs": success_probs,
        "progress": [float(x) for x in progress(success_probs)],
        "regret_terms": [float(x) for x in regret.terms],
        "regret_cumulative": [float(x) for x in regret.cumulative],
        "regret": float(regret.total),
        "token_regret": {budget_key(b): float(r) for b, r in zip(budgets, normalized, strict=True)},
        "final_j": success_probs[-1],
        "correct": None if verdict.undecided else bool(verdict.correct),
        "answer": verdict.extracted,
        "measure": measure,
    }
    if costs:
        row["costs"] = [float(c) for c in costs]
    undecided = sum(e.undecided for e in estimates) + verdict.undecided
    if undecided:  # gradings without a verdict: left out of J and of the accuracy
        row["undecided"] = undecided
    if any(e.answers for e in estimates):
        row["prover_answers"] = [list(e.answers) for e in estimates]
        row["prover_answer_tokens"] = [list(e.answer_tokens) for e in estimates]
    if majority is not None and (majority.p or majority.direct):
        if not isinstance(prover, ForcedAnswerProver):
            raise ConfigError("[maj@p]_j votes among μ's sampled answers: use the forced prover")
        if majority.p:
            row |= majority_curves(estimates, context_tokens, majority.p, weights=majority.weights)
        if majority.direct:
            p = majority.p or (1,)
            row["direct"] = direct_curve(
                problem, context, prover, majority.direct, p, weights=majority.weights
            )
    if extrapolation is not None and extrapolation.extensions:
        if not isinstance(prover, ForcedAnswerProver):
            raise ConfigError("the extrapolation samples μ's continuations: use the forced prover")
        row["extrapolation"] = extrapolate(
            problem, context, response, prover=prover, settings=extrapolation, budgets=budgets
        )
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row
