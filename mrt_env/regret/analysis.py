"""One trace through the MRT analysis: episodes, J at every prefix, progress and regret; and
the trace files it reads."""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.data.files import json_value, lone_surrogate
from mrt_env.episodes import EpisodeConfig, episode_boundaries, prefix_ends
from mrt_env.errors import ArgumentTypeError, ConfigError, DataFormatError, DataNotFound
from mrt_env.grading import grade
from mrt_env.lm.base import check_context
from mrt_env.metrics import authors_token_regret, episode_regret, progress, token_regret
from mrt_env.prover import (
    AUTHORS_FINAL_TEXT,
    PAPER_FORCING_TEXT,
    FinishedText,
    ForcedAnswerProver,
    LikelihoodProver,
    MetaProver,
    ProverRequest,
    default_prompt,
    forcing_text_of,
    score_finished,
)
from mrt_env.regret.config import (
    DEFAULT_BUDGETS,
    ExtrapolationConfig,
    MajorityConfig,
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
    r"""Read and check a traces file; each trace gets a unique ``id``, its ``line`` and a
    ``digest`` of its content.

    Returns one dict per trace (blank lines skipped) with ``id``, ``problem_id``,
    ``question`` (None when absent), ``answer``, ``response``, ``line`` and ``digest``.
    The id is ``problem_id``, else ``id``, else the line number; the n-th trace of one such
    key is ``key#n``, or the next free ``key#m`` when the file uses ``key#n`` as a key
    itself (``a``, ``a``, ``a#2`` are ``a``, ``a#3``, ``a#2``). Ids depend on the whole file
    and never on ``limit``, so a run resumed without ``--limit`` finds its rows; every line
    is checked, those past ``limit`` too.

    Raises:
        DataNotFound: (a ``FileNotFoundError``) no such file, or a folder.
        DataFormatError: a line that is not UTF-8, not a JSON object (or nested too deeply to
            read), lacks ``answer`` or ``response``, has a field of the wrong type or a lone
            surrogate escape (``"\ud800"``, not text), or has neither an id nor a
            question; or no trace at all. The message names the file and the line.
    """
    path = Path(path)
    if path.is_dir():
        raise DataNotFound(f"traces file {path} is a folder, not a file")
    if not path.is_file():
        raise DataNotFound(f"traces file {path} not found")
    traces: list[dict[str, Any]] = []
    keys: list[str] = []
    with path.open("rb") as f:
        for number, raw in enumerate(f, start=1):
            where = f"{path}:{number}"
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                raise DataFormatError(
                    f"{where}: not UTF-8 text (byte {exc.start} of the line is "
                    f"{raw[exc.start : exc.start + 1]!r}); save the file as UTF-8"
                ) from None
            if not line.strip():
                continue
            try:
                row = json_value(line, where)
            except json.JSONDecodeError as exc:
                raise DataFormatError(f"{where}: not valid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise DataFormatError(f"{where}: expected a JSON object, got {type(row).__name__}")
            trace = _check_trace(row, where, number)
            keys.append(trace["problem_id"])
            if limit is None or len(traces) < limit:
                trace["digest"] = _digest(trace)
                traces.append(trace)
    if not keys:
        raise DataFormatError(f"{path}: no traces (the file is empty)")
    for trace, trace_id in zip(traces, _unique_ids(keys), strict=False):
        trace["id"] = trace_id
    return traces


def _unique_ids(keys: Sequence[str]) -> list[str]:
    """One id per key, in order: a key's first trace keeps it, its n-th gets ``#n``, or the
    next number whose name is not a key anywhere in ``keys`` (nor given already)."""
    taken = set(keys)
    used: set[str] = set()
    count: dict[str, int] = {}
    ids = []
    for key in keys:
        if key in used:  # a repeat (a name made below is never a key: see `taken`)
            n = count[key]
            while f"{key}#{n}" in taken or f"{key}#{n}" in used:
                n += 1
            count[key] = n + 1
            key = f"{key}#{n}"
        else:
            count[key] = 2
        used.add(key)
        ids.append(key)
    return ids


def _digest(trace: Mapping[str, Any]) -> str:
    """A short fingerprint of what a trace's row is computed from: a resumed run compares
    it, so that a row of an edited file's trace is not taken for another's."""
    text = json.dumps([trace["answer"], trace["question"], trace["response"]], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _text_field(row: Mapping[str, Any], name: str, where: str, *, numbers: bool) -> str | None:
    value = row.get(name)
    if value is None:
        return None
    if numbers and isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, float) and not math.isfinite(value):
            raise DataFormatError(f"{where}: {name!r} must be a finite number, got {value}")
        return str(value)  # gold answers are often stored as numbers
    if not isinstance(value, str):
        raise DataFormatError(f"{where}: {name!r} must be a string, got {type(value).__name__}")
    if lone_surrogate(value) is not None:  # a tokenizer or a UTF-8 write would fail on it
        raise DataFormatError(
            f"{where}: {name!r} holds a lone surrogate escape (such as \\ud800), which is "
            "not text; fix or drop that escape"
        )
    return value


def _check_trace(row: dict, where: str, number: int) -> dict[str, Any]:
    """The fields of one trace, checked; ``problem_id`` is its key (see
    :func:`load_traces`), the id comes later."""
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
    return {
        "id": None,
        "problem_id": problem_id if problem_id is not None else str(number),
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
    rule: EpisodeConfig | str = "markers",
    tokenizer: Any = None,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
    measure: str | None = None,
    majority: MajorityConfig | None = None,
    extrapolation: ExtrapolationConfig | None = None,
) -> dict[str, Any]:
    """The regret analysis of one trace, as a JSON-serialisable row.

    Two ways to measure (``measure``; default :func:`default_measure`):

    * ``authors``: as the authors' analysis code does. μ's contexts are theirs, byte for
      byte (:func:`~mrt_env.prover.prover_request` with the paper's forcing text: one
      blank line before the stop text, none for the empty prefix; the full trace closed by
      ``"\\n</think>"`` alone), and the token regret is
      :func:`~mrt_env.metrics.authors_token_regret` over ``costs``: each context's tokens
      plus the mean length of μ's answers. Needs a forced prover with the authors' forcing
      text.
    * ``stream``: μ asked as the env asks it (the same layout, the full trace asked as the
      other prefixes), and the token regret over the stream's own tokens
      (:func:`~mrt_env.metrics.token_regret`), as ``mrt-bench`` measures.

    Args:
        trace: ``answer`` and ``response``, plus ``id``/``problem_id`` and/or ``question``
            (a row of :func:`load_traces`, or any dict with those keys).
        prover: the meta-prover μ (:class:`~mrt_env.prover.ForcedAnswerProver` or
            :class:`~mrt_env.prover.LikelihoodProver`), usually on ``lm``.
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
        A dict with ``id``, ``problem_id``, ``gold_answer``, ``blocks`` (k, the paper's
        episodes), ``prefix_tokens`` (tokens of the prefixes $c_0 … c_k$, the first 0),
        ``success_probs`` ($J_0 … J_k$), ``progress`` (k terms $J_j − J_{j-1}$, j = 1 … k),
        ``regret_terms``, ``regret_cumulative`` ($Δ_1 … Δ_k$), ``regret`` ($Δ_k$),
        ``token_regret`` (budget as a string → normalized regret),
        ``final_j`` ($J_k$), ``correct`` and ``answer`` (the response graded as written: its
        answer),
        ``measure``, ``costs`` (``authors``: $x_0 … x_k$ of the token regret),
        ``prover_answers`` and ``prover_answer_tokens`` (forced prover: the graded answers at
        each prefix, and their lengths) and ``seconds``; with ``majority``: ``maj_at_p``
        and ``maj_tokens`` (p → a value per prefix) and ``direct``; with ``extrapolation``:
        ``extrapolation``.

    Raises:
        ContextLengthExceeded: the trace does not fit the model: checked on the whole trace
            first where the model's window is known (``max_context``), else by the backend
            at its first call, which gets the longest prefixes. Memory stays linear in the
            response's length: prefixes are built a batch at a time.
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
    if measure == "authors" and default_measure(prover) != "authors":
        raise ConfigError(
            "measure='authors' needs the authors' forcing text (PAPER_FORCING_TEXT), "
            "their contexts are built from it: use measure='stream' with a text of your own"
        )

    # Prefix c_j is response[:ends[j]]: offsets, not strings. All k + 1 prefixes at once
    # would take memory quadratic in the response's length; each is built when it is scored
    # or counted, and dropped after.
    boundaries = episode_boundaries(response, rule=rule, tokenizer=tokenizer)
    context = default_prompt(prover.lm, problem) if prompt is None else prompt
    finished = FinishedText(problem, context, response, prefix_ends(response, boundaries))
    ends = finished.ends
    close = AUTHORS_FINAL_TEXT if measure == "authors" else None
    forcing = forcing_text_of(prover)

    def request(j: int) -> ProverRequest:  # what score_finished sends μ at c_j
        return finished.request(j, forcing_text=forcing, close=close)

    _check_fits(prover, request(len(ends) - 1), f"trace {trace_id!r}")
    (estimates,) = score_finished(prover, [finished], close=close, max_chars=_BATCH_CHARS)
    success_probs = [e.success_prob for e in estimates]
    # Counting each prefix (not each episode) gives the tokens the model actually sees. A
    # prefix can rarely tokenize shorter than a shorter prefix (a merge across the cut):
    # keep the counts cumulative.
    counts = np.maximum.accumulate([0, *(lm.count_tokens(response[:e]) for e in ends[1:])])
    tokens = [int(t) for t in counts]
    regret = episode_regret(success_probs)
    costs: list[float] = []
    context_tokens: list[int] = []
    voting = majority is not None and bool(majority.p)
    if isinstance(prover, ForcedAnswerProver) and (measure == "authors" or voting):
        # What asking μ costs at each prefix: the forced context's tokens.
        own = prover.config.forcing_text
        context_tokens = [lm.count_tokens(request(j).context(own)) for j in range(len(ends))]
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
        "blocks": len(ends) - 1,
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


# Characters of context (prompt and prefix) sent to μ in one call at most: a response's
# prefixes add up to about k/2 copies of it, so a long response with many episodes is
# scored a batch at a time. An ordinary trace is one batch, as if there were no limit.
_BATCH_CHARS = 1 << 25


def _check_fits(prover: MetaProver, longest: ProverRequest, where: str) -> None:
    """Raise the backend's :class:`~mrt_env.errors.ContextLengthExceeded` before any prefix
    is built or scored when the whole trace cannot fit the model's window (one string
    counted; the backend counts the same tokens or more, BOS included, so this never
    refuses a trace it would take). Only where the window is known (``max_context``) and μ
    is one of ours; otherwise the backend's own check at the first call decides."""
    lm = getattr(prover, "lm", None)
    window = getattr(lm, "max_context", None)
    if not isinstance(window, int) or isinstance(window, bool) or window < 1:
        return
    if isinstance(prover, ForcedAnswerProver):  # μ's context, then its answer's tokens
        text, room = longest.context(prover.config.forcing_text), prover.config.max_answer_tokens
    elif isinstance(prover, LikelihoodProver):  # the stream it reads; forcing and answer follow
        text, room = longest.prompt + longest.prefix, 0
    else:
        return
    check_context(lm.count_tokens(text), room, window, where=f"{lm.name} on {where}")
