"""Is this model minimising regret? The MRT analysis of any model's reasoning traces.

MRT (Qu et al., "Optimizing Test-Time Compute via Meta Reinforcement Fine-Tuning", ICML 2025)
asks whether a model spends its test-time compute well: does every episode of its thinking
bring it closer to a right answer, or does it keep thinking without getting anywhere? This
module answers that for a file of finished traces (DESIGN.md §2 has the definitions):

1. **Episodes.** The response z is cut into episodes z_0 … z_{k-1}
   (:func:`mrt_env.episodes.split_episodes`: the paper's marker rule by default — a new
   episode at a paragraph opening with "Wait", "Alternatively", …), giving the k + 1
   prefixes c_0 = "", c_1 = z_0, …, c_k = z (the empty prefix included).
2. **Meta-prover μ.** At every prefix the model is forced to stop thinking and answer
   (budget forcing with the authors' forcing text) and J_j = J(μ(·|c_j)) estimates how
   often that forced answer is right (:class:`~mrt_env.progress.ForcedAnswerProver`, k
   sampled answers, the paper's estimator; or the one-pass proxy
   :class:`~mrt_env.progress.LikelihoodProver`).
3. **Progress** (information gain) of episode j: r_prg(z_j; c_j) = J_{j+1} − J_j. A model
   that minimises regret makes progress episode after episode.
4. **Cumulative episode regret** Δ_k = Σ_{j=0}^{k-1} (J* − J_{j+1}) against the oracle
   J* = 1: what the stream loses, summed over episodes, relative to being right at once.
5. **Normalized (token) regret** at a budget C0: 1 − (1/C0)·∫_0^{C0} J(tokens) dt, the area
   above μ's pass@1-versus-tokens curve (from (0, 0) through (tokens_j, J_j), flat after
   the stream ends); the quantity in the authors' plots, comparable across lengths.
6. **Outcome.** J_k is μ's forced answer after the whole stream, not the response's own
   answer, so the response is also graded as written (:func:`mrt_env.grading.grade`).

Use it from the command line::

    mrt-regret traces.jsonl --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --device cuda
    mrt-regret traces.jsonl --backend vllm --model MODEL --max-steps 49 --group-size 5
    mrt-regret traces.jsonl --backend openai --base-url http://host:8000/v1 --model MODEL

or from Python: :func:`analyse_trace` computes one trace's row from a prover and a model
(no files); :func:`run` does a whole file, writing ``rows.jsonl`` (one row per trace,
appended as each finishes, so a killed run resumes where it stopped), ``summary.md``,
``summary.csv`` and the plots ``j_curve.png`` and ``regret.png``.

Input rows (JSONL, one trace a line): ``answer`` (the gold answer) and ``response`` (the
model's output) are required, and ``problem_id`` (or ``id``) and/or ``question``. Without a
question μ sees the response alone (no prompt); without an id the line number is the id.
Several traces of one problem are fine: a repeated id gets ``#2``, ``#3``, … in the order of
the file. Other fields (``tokens`` …) are ignored: token counts come from the analysing
model's tokenizer.

Importing this module imports no model library; backends are built inside :func:`run`.
"""

from __future__ import annotations

import csv
import json
import math
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
import tyro  # a core dependency; no model library comes with it

from mrt_env._optional import require
from mrt_env._runfiles import (
    CommandConfig,
    append_row,
    check_settings,
    exit_status,
    format_stat,
    held,
    mean_ci,
    model_title,
    parse_command,
    read_rows,
)
from mrt_env.episodes import prefixes
from mrt_env.errors import ContextLengthExceeded, DataFormatError, DependencyNotInstalled
from mrt_env.grading import grade
from mrt_env.metrics import episode_regret, progress, token_regret
from mrt_env.progress import (
    LIKELIHOOD_FORCING_TEXT,
    PAPER_FORCING_TEXT,
    MetaProver,
    make_prover,
)
from mrt_env.types import Problem

__all__ = [
    "DEFAULT_BUDGETS",
    "RegretConfig",
    "analyse_trace",
    "build_lm",
    "build_prover",
    "load_traces",
    "main",
    "run",
    "summarise",
    "write_plots",
]

DEFAULT_BUDGETS: tuple[int, ...] = (1024, 2048, 4096, 8192)
"""Token budgets C0 at which the normalized regret is reported by default."""

ROWS_FILE = "rows.jsonl"
SUMMARY_MD = "summary.md"
SUMMARY_CSV = "summary.csv"
J_CURVE_PNG = "j_curve.png"
REGRET_PNG = "regret.png"

_CLI_DESCRIPTION = """\
Is this model minimising regret? For each trace of a JSONL file (fields: answer, response,
and problem_id/id and/or question), split the response into episodes, force the model to
answer after every episode to estimate J (the meta-prover's success probability), and report
progress (J_{j+1} - J_j), cumulative episode regret (sum of 1 - J_{j+1}) and normalized token
regret at the given budgets, plus the response's own correctness. Writes rows.jsonl (resumable:
rerun the same command after an interruption), summary.md, summary.csv and PNG plots to --out.

  mrt-regret traces.jsonl --model deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B --device cuda
  mrt-regret traces.jsonl --backend openai --base-url http://host:8000/v1 --model NAME
"""


# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class RegretConfig(CommandConfig):
    """Settings of one ``mrt-regret`` run."""

    traces: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="TRACES")]]
    """JSONL file of traces, one per line: answer, response, and problem_id (or id) and/or
    question."""
    model: str
    """The model that plays the meta-prover: a hub id or local path (transformers, vllm), or
    the server's model name (openai). Normally the model that wrote the traces."""
    out: Path = Path("runs/regret")
    """Output folder for rows.jsonl, summary.md, summary.csv, j_curve.png and regret.png."""
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """How the model runs: transformers (CPU/GPU, in process), vllm (GPU), openai (any
    OpenAI-compatible completions server, see --base-url)."""
    base_url: str | None = None
    """openai backend: the API root, e.g. http://localhost:8000/v1."""
    tokenizer: str | None = None
    """openai backend: hub id or path of the model's tokenizer, for token counts and the chat
    template (without it, tokens are counted by the server's /tokenize and no chat template
    is applied to the question)."""
    device: str = "auto"
    """transformers backend: cpu, cuda, cuda:1, ...; auto picks cuda when available."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """transformers and vllm backends: weights dtype (auto: the checkpoint's own)."""
    prover: Literal["forced", "likelihood"] = "forced"
    """How J is estimated: forced (the paper's: sample K forced answers, grade them) or
    likelihood (the probability of the gold answer after forcing; one pass, deterministic)."""
    k: int = 8
    """forced prover: answers sampled per prefix (the paper's K)."""
    temperature: float = 0.6
    """forced prover: sampling temperature of the forced answers."""
    top_p: float = 0.95
    """forced prover: nucleus sampling of the forced answers."""
    max_answer_tokens: int = 256
    """forced prover: tokens each forced answer may use."""
    forcing_text: str | None = None
    """Text appended after a prefix to end the thinking and ask for the answer (default: the
    prover's own: the authors' text for forced, the same ending in '\\boxed{' for
    likelihood)."""
    seed: int = 0
    """Seed of the forced answers (same seed and inputs, same J)."""
    rule: Literal["markers", "backtrack", "tokens"] = "markers"
    """Episode rule: markers (paragraphs opening with Wait, Alternatively, ...), backtrack
    ('Backtrack to Line N' lines) or tokens (chunks of --chunk-tokens tokens)."""
    max_steps: int | None = None
    """At most this many episode boundaries; the rest is one final episode (authors: 49)."""
    group_size: int = 1
    """Merge every GROUP_SIZE consecutive episodes into one (authors: 5)."""
    chunk_tokens: int | None = None
    """rule=tokens: tokens per episode."""
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    """Token budgets C0 for the normalized regret."""
    limit: int | None = None
    """Analyse only the first LIMIT traces of the file."""
    overwrite: bool = False
    """Start afresh: delete the rows already in --out instead of resuming after them."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting."""
        if not self.model.strip():
            raise ValueError("--model must name a model (hub id, path or server model name)")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"--base-url must start with http:// or https://, got {self.base_url}")
        if self.k < 1:
            raise ValueError(f"--k must be at least 1, got {self.k}")
        if self.max_answer_tokens < 1:
            raise ValueError(
                f"--max-answer-tokens must be at least 1, got {self.max_answer_tokens}"
            )
        if not self.temperature >= 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.forcing_text is not None and not self.forcing_text:
            raise ValueError("--forcing-text must not be empty (omit it for the default)")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"--max-steps must be >= 0, got {self.max_steps}")
        if self.group_size < 1:
            raise ValueError(f"--group-size must be at least 1, got {self.group_size}")
        if self.rule == "tokens" and self.chunk_tokens is None:
            raise ValueError("--rule tokens needs --chunk-tokens")
        if self.chunk_tokens is not None and self.chunk_tokens < 1:
            raise ValueError(f"--chunk-tokens must be at least 1, got {self.chunk_tokens}")
        if not self.budgets:
            raise ValueError("--budgets needs at least one token budget")
        if any(b <= 0 for b in self.budgets):
            raise ValueError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError(f"--budgets must not repeat, got {list(self.budgets)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be a positive integer, got {self.limit}")

    @property
    def episode_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~mrt_env.episodes.prefixes` (without a tokenizer)."""
        kwargs: dict[str, Any] = {
            "rule": self.rule,
            "max_steps": self.max_steps,
            "group_size": self.group_size,
        }
        if self.rule == "tokens":
            kwargs["chunk_tokens"] = self.chunk_tokens
        return kwargs

    def analysis_settings(self) -> dict[str, Any]:
        """What a row's numbers depend on; rows of other settings are not resumed."""
        settings: dict[str, Any] = {"model": self.model, "prover": self.prover}
        if self.prover == "forced":
            settings.update(
                k=self.k,
                temperature=self.temperature,
                top_p=self.top_p,
                max_answer_tokens=self.max_answer_tokens,
                seed=self.seed,
                forcing_text=self.forcing_text or PAPER_FORCING_TEXT,
            )
        else:
            settings["forcing_text"] = self.forcing_text or LIKELIHOOD_FORCING_TEXT
        settings.update(self.episode_kwargs, budgets=list(self.budgets))
        return settings


# --------------------------------------------------------------------------------------------
# Input


def load_traces(path: str | Path, *, limit: int | None = None) -> list[dict[str, Any]]:
    """Read and check a traces file; each trace gets a unique ``id`` and its ``line``.

    Returns one dict per trace (blank lines skipped) with ``id`` (``problem_id``, else
    ``id``, else the line number; a repeat gets ``#2``, ``#3`` …), ``problem_id``,
    ``question`` (None when absent), ``answer``, ``response`` and ``line``.

    Raises:
        FileNotFoundError: no such file.
        DataFormatError: a line that is not a JSON object, lacks ``answer`` or ``response``,
            or has neither an id nor a question; the message names the file and the line.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"traces file {path} not found")
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
    episode_kwargs: Mapping[str, Any] | None = None,
    budgets: Sequence[float] = DEFAULT_BUDGETS,
) -> dict[str, Any]:
    """The regret analysis of one trace, as a JSON-serialisable row.

    Args:
        trace: ``answer`` and ``response``, plus ``id``/``problem_id`` and/or ``question``
            (a row of :func:`load_traces`, or any dict with those keys).
        prover: the meta-prover μ (:class:`~mrt_env.progress.ForcedAnswerProver` or
            :class:`~mrt_env.progress.LikelihoodProver`), usually on ``lm``.
        lm: the model whose ``count_tokens`` measures the prefixes.
        episode_kwargs: keyword arguments of :func:`~mrt_env.episodes.prefixes` (``rule``,
            ``max_steps``, ``group_size``, ...); default: the paper's marker rule.
        budgets: token budgets C0 for the normalized regret (each > 0).

    Returns:
        A dict with ``id``, ``problem_id``, ``answer``, ``episodes`` (k), ``tokens`` (k + 1
        cumulative token counts, the first 0), ``success_probs`` (J_0 … J_k), ``progress``
        (k terms J_{j+1} − J_j), ``regret_terms``, ``regret_cumulative`` (Δ_1 … Δ_k),
        ``regret_total`` (Δ_k), ``token_regret`` (budget as a string → normalized regret),
        ``final_j`` (J_k), ``correct`` and ``extracted`` (the response graded as written),
        ``prover_answers`` (forced prover: the graded answers at each prefix) and ``seconds``.
    """
    started = time.perf_counter()
    answer = str(trace["answer"])
    response = trace["response"]
    if not isinstance(response, str):
        raise TypeError(f"trace['response'] must be a str, got {type(response).__name__}")
    question = trace.get("question")
    problem_id = str(trace.get("problem_id", trace.get("id", "")))
    trace_id = str(trace.get("id", problem_id))
    # Without a question μ sees the response alone; Problem still needs a question string.
    problem = Problem(problem_id or trace_id, question or f"(problem {trace_id})", answer)
    prompt = None if question else ""

    cuts = prefixes(response, **dict(episode_kwargs or {}))
    estimates = prover.estimate(problem, cuts, prompt=prompt)
    success_probs = [float(e.success_prob) for e in estimates]
    # Counting each prefix (not each episode) gives the tokens the model actually sees. A
    # prefix can rarely tokenize shorter than a shorter prefix (a merge across the cut):
    # keep the counts cumulative.
    counts = np.maximum.accumulate([0, *(lm.count_tokens(p) for p in cuts[1:])])
    tokens = [int(t) for t in counts]
    regret = episode_regret(success_probs)
    normalized = token_regret(tokens, success_probs, list(budgets))
    verdict = grade(response, answer)
    row: dict[str, Any] = {
        "id": trace_id,
        "problem_id": problem.id,
        "answer": answer,
        "episodes": len(cuts) - 1,
        "tokens": tokens,
        "success_probs": success_probs,
        "progress": [float(x) for x in progress(success_probs)],
        "regret_terms": [float(x) for x in regret.terms],
        "regret_cumulative": [float(x) for x in regret.cumulative],
        "regret_total": float(regret.total),
        "token_regret": {
            _budget_key(b): float(r) for b, r in zip(budgets, normalized, strict=True)
        },
        "final_j": success_probs[-1],
        "correct": bool(verdict.correct),
        "extracted": verdict.extracted,
    }
    if any(e.answers for e in estimates):
        row["prover_answers"] = [list(e.answers) for e in estimates]
    row["seconds"] = round(time.perf_counter() - started, 3)
    return row


def _budget_key(budget: float) -> str:
    return str(int(budget)) if float(budget).is_integer() else str(budget)


# --------------------------------------------------------------------------------------------
# Summary


_METRIC_DOCS = {
    "episodes": "episodes per trace (k)",
    "tokens": "tokens per response",
    "final_j": "J_k: meta-prover success after the whole response",
    "accuracy": "the response's own answer is correct",
    "regret_total": "cumulative episode regret Δ_k = Σ_j (1 − J_{j+1})",
}


def summarise(rows: Sequence[Mapping[str, Any]], budgets: Sequence[float]) -> list[dict[str, Any]]:
    """Mean, 95% confidence half-width (1.96·std/√n, sample std) and n of each metric.

    Metrics: ``episodes``, ``tokens``, ``final_j``, ``accuracy``, ``regret_total`` and
    ``token_regret@C0`` for each budget; rows with an ``error`` are left out. ``ci95`` is
    NaN when n < 2.
    """
    ok = [r for r in rows if "error" not in r]
    columns: dict[str, list[float]] = {
        "episodes": [r["episodes"] for r in ok],
        "tokens": [r["tokens"][-1] for r in ok],
        "final_j": [r["final_j"] for r in ok],
        "accuracy": [float(r["correct"]) for r in ok],
        "regret_total": [r["regret_total"] for r in ok],
    }
    for b in budgets:
        columns[f"token_regret@{_budget_key(b)}"] = [r["token_regret"][_budget_key(b)] for r in ok]
    return [{"metric": name, **mean_ci(values)} for name, values in columns.items()]


def _describe(name: str) -> str:
    if name.startswith("token_regret@"):
        return f"normalized token regret at C0 = {name.partition('@')[2]} tokens"
    return _METRIC_DOCS.get(name, "")


def _table(stats: Sequence[Mapping[str, Any]]) -> list[str]:
    lines = ["| metric | mean ± 95% CI | n | meaning |", "|---|---|---|---|"]
    for s in stats:
        lines.append(f"| {s['metric']} | {format_stat(s)} | {s['n']} | {_describe(s['metric'])} |")
    return lines


def _write_summary(
    out: Path, stats: Sequence[Mapping[str, Any]], config: RegretConfig, failed: Sequence[dict]
) -> tuple[Path, Path]:
    settings = config.analysis_settings()
    shown = {k: v for k, v in settings.items() if k not in ("model", "forcing_text")}
    md = [
        f"# mrt-regret: {config.model}",
        "",
        f"Traces: `{config.traces}` ({stats[0]['n']} analysed"
        + (f", {len(failed)} failed" if failed else "")
        + f"). Backend: {config.backend}.",
        "",
        "Settings: " + ", ".join(f"{k}={v}" for k, v in shown.items()),
        "",
        *_table(stats),
        "",
        "CI = 1.96 · std / √n over traces. J_j is the meta-prover's success probability when"
        " forced to answer after episode j (J* = 1 is the oracle comparator).",
    ]
    if failed:
        md += ["", "Failed traces:", ""]
        md += [f"* `{r['id']}`: {r['error']}" for r in failed]
    md_path, csv_path = out / SUMMARY_MD, out / SUMMARY_CSV
    md_path.write_text("\n".join(md) + "\n", encoding="utf-8")
    with csv_path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["metric", "mean", "ci95", "n"])
        for s in stats:
            ci = "" if math.isnan(s["ci95"]) else repr(s["ci95"])
            mean = "" if math.isnan(s["mean"]) else repr(s["mean"])
            writer.writerow([s["metric"], mean, ci, s["n"]])
    return md_path, csv_path


# --------------------------------------------------------------------------------------------
# Plots


def write_plots(rows: Sequence[Mapping[str, Any]], out: str | Path, *, title: str) -> list[Path]:
    """``j_curve.png`` and ``regret.png`` in ``out``; ``[]`` (and one line) without matplotlib.

    A trace that ended holds its final J (and its final Δ) at later episode indices, as the
    normalized regret holds the curve flat after the stream ends.
    """
    try:
        require("matplotlib", extra="plot", feature="the plots")
        from matplotlib.figure import Figure  # Agg canvas; no pyplot, no global backend
        from matplotlib.ticker import MaxNLocator
    except DependencyNotInstalled as exc:
        print(f"skipping plots: {exc}")
        return []
    ok = [r for r in rows if "error" not in r]
    if not ok:
        return []
    out = Path(out)
    n = len(ok)
    held_note = "traces that ended hold their last value"

    def new_axes() -> tuple[Any, Any]:
        fig = Figure(figsize=(7, 4.5), layout="constrained")
        ax = fig.add_subplot()
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        return fig, ax

    j = held([r["success_probs"] for r in ok])
    x = np.arange(j.shape[1])
    mean = j.mean(axis=0)
    ci = 1.96 * j.std(axis=0, ddof=1) / math.sqrt(n) if n > 1 else np.zeros_like(mean)
    fig, ax = new_axes()
    ax.plot(x, mean, marker="o", ms=3, label=f"mean over {n} traces ({held_note})")
    ax.fill_between(x, np.clip(mean - ci, 0, 1), np.clip(mean + ci, 0, 1), alpha=0.25,
                    label="95% CI")  # fmt: skip
    ax.set_xlabel(r"episode index $j$ (prefix $c_j$ = the first $j$ episodes)")
    ax.set_ylabel(r"$J(\mu(\cdot|c_j))$: forced answer correct")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"Meta-prover success after each episode: {title}")
    ax.legend(loc="best")
    j_path = out / J_CURVE_PNG
    fig.savefig(j_path, dpi=120)

    cum = held([[0.0, *r["regret_cumulative"]] for r in ok])
    x = np.arange(cum.shape[1])
    fig, ax = new_axes()
    for curve in cum:
        ax.plot(x, curve, color="tab:gray", lw=0.6, alpha=0.5)
    ax.plot([], [], color="tab:gray", lw=0.6, label="one trace")
    ax.plot(x, cum.mean(axis=0), color="tab:red", lw=2.2, label=f"mean over {n} traces")
    ax.set_xlabel(f"episodes $k$ ({held_note})")
    ax.set_ylabel(r"cumulative regret $\Delta_k = \sum_{j<k}\,(1 - J_{j+1})$")
    ax.set_title(f"Cumulative episode regret: {title}")
    ax.legend(loc="upper left")
    regret_path = out / REGRET_PNG
    fig.savefig(regret_path, dpi=120)
    return [j_path, regret_path]


# --------------------------------------------------------------------------------------------
# Backends and the run


def build_lm(config: RegretConfig) -> Any:
    """The language model of ``config`` (imports the backend's library only now)."""
    from mrt_env.lm import load_lm

    return load_lm(
        config.model,
        backend=config.backend,
        device=config.device,
        dtype=config.dtype,
        base_url=config.base_url,
        tokenizer=config.tokenizer,
        seed=config.seed,
    )


def build_prover(config: RegretConfig, lm: Any) -> MetaProver:
    """The meta-prover μ of ``config`` on ``lm``."""
    if config.prover == "likelihood":
        return make_prover(lm, "likelihood", forcing_text=config.forcing_text)
    return make_prover(
        lm,
        "forced",
        k=config.k,
        temperature=config.temperature,
        top_p=config.top_p,
        max_answer_tokens=config.max_answer_tokens,
        forcing_text=config.forcing_text,
        seed=config.seed,
    )


def run(config: RegretConfig) -> Path:
    """Analyse every trace of ``config.traces`` into ``config.out``; returns the folder.

    Rows already in ``rows.jsonl`` are kept and their traces skipped (unless
    ``config.overwrite``); each new row is appended and flushed as soon as its trace is done.
    A trace longer than the model's context gets a row with an ``error`` instead (kept, left
    out of the summary, not retried on resume).
    Then ``summary.md``, ``summary.csv`` and the plots are (re)written over the traces of this
    run, the summary table is printed, and the paths of the files.
    """
    from tqdm import tqdm

    traces = load_traces(config.traces, limit=config.limit)  # fail on bad input before loading
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / ROWS_FILE
    if config.overwrite and rows_path.exists():
        rows_path.unlink()
    existing = read_rows(rows_path, key="id", tool="mrt-regret")
    check_settings(out, config.analysis_settings(), resuming=bool(existing))
    done = {r["id"]: r for r in existing}
    todo = [t for t in traces if t["id"] not in done]

    if todo:
        lm = build_lm(config)
        prover = build_prover(config, lm)
        episode_kwargs = config.episode_kwargs
        if config.rule == "tokens":
            episode_kwargs["tokenizer"] = getattr(lm, "tokenizer", None)
            if episode_kwargs["tokenizer"] is None:
                raise ValueError("--rule tokens needs a local tokenizer (openai: --tokenizer)")
        with (
            rows_path.open("a", encoding="utf-8") as f,
            tqdm(
                total=len(traces), initial=len(traces) - len(todo), desc="mrt-regret", unit="trace"
            ) as bar,
        ):
            for trace in todo:
                try:
                    row = analyse_trace(
                        trace, prover=prover, lm=lm, episode_kwargs=episode_kwargs,
                        budgets=config.budgets,
                    )  # fmt: skip
                except ContextLengthExceeded as exc:  # this trace, not the run, is at fault
                    row = {"id": trace["id"], "problem_id": trace["problem_id"], "error": str(exc)}
                append_row(f, row)
                done[row["id"]] = row
                bar.update()
    else:
        print(f"all {len(traces)} traces already in {rows_path}; rewriting the summary")

    rows = [done[t["id"]] for t in traces]
    failed = [r for r in rows if "error" in r]
    stats = summarise(rows, config.budgets)
    md_path, csv_path = _write_summary(out, stats, config, failed)
    plots = write_plots(rows, out, title=model_title(config.model))

    print(f"\nmrt-regret: {config.model} on {config.traces}")
    print("\n".join(_table(stats)))
    if failed:
        print(
            f"{len(failed)} trace(s) failed (see {md_path}): " + ", ".join(r["id"] for r in failed)
        )
    print("\nwrote:")
    for path in (rows_path, md_path, csv_path, *plots):
        print(f"  {path}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mrt-regret`` command. Returns the exit status (1 on a data or backend error)."""
    config = parse_command(RegretConfig, "mrt-regret", argv, description=_CLI_DESCRIPTION)
    if config is None:
        return 2
    return exit_status("mrt-regret", lambda: run(config), Path(config.out) / ROWS_FILE)


if __name__ == "__main__":
    sys.exit(main())
