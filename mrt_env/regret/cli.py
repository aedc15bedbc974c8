"""``mrt-regret``: build the prover, analyse a trace file resumably, write the report."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mrt_env.cli import exit_status, parse_command
from mrt_env.errors import ConfigError, ContextLengthExceeded, DataFormatError, RunStateError
from mrt_env.prover import MetaProver
from mrt_env.regret.analysis import analyse_trace, load_traces
from mrt_env.regret.config import PRESETS, RegretConfig
from mrt_env.regret.summary import (
    curve_sections,
    summarise,
    summary_table,
    write_plots,
    write_summary,
)
from mrt_env.report import model_title
from mrt_env.runfiles import append_row, check_settings, locked, read_rows

__all__ = [
    "ROWS_FILE",
    "build_lm",
    "build_prover",
    "main",
    "run",
]

ROWS_FILE = "rows.jsonl"

_CLI_DESCRIPTION = """\
Is this model minimising regret? For each trace of a JSONL file (fields: answer, response,
and problem_id/id and/or question), split the response into blocks (the paper's episodes),
force the model to answer after every block to estimate J (the meta-prover's success
probability), and report progress (J_j - J_{j-1} for block j), cumulative episode regret (sum
of 1 - J_j) and normalized token regret at the given budgets, plus the response's own
correctness. Writes rows.jsonl (resumable: rerun the same command after an interruption),
summary.md, summary.csv and PNG plots to --out. Exits 1 when every trace failed.

  mrt-regret traces.jsonl --model.name deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
  mrt-regret traces.jsonl --model.name NAME --model.backend openai \\
      --model.base-url http://host:8000/v1 --prover.k 4 --episodes.group-size 5
  mrt-regret traces.jsonl --model.name NAME --preset deepscaler
  mrt-regret traces.jsonl --model.name NAME --preset r1-omnimath --maj.p 1 2 4 8 --maj.direct 32
  mrt-regret traces.jsonl --model.name NAME --preset deepscaler --extrapolate.extensions 8
"""


# --------------------------------------------------------------------------------------------
# Backends and the run


def build_lm(config: RegretConfig) -> Any:
    """The language model of ``config`` (imports the backend's library only now)."""
    from mrt_env.lm import load_lm

    return load_lm(config.model, seed=config.prover.seed)


def build_prover(config: RegretConfig, lm: Any) -> MetaProver:
    """The meta-prover μ of ``config`` on ``lm`` (scoring its answers when the majority
    curves weigh votes by likelihood)."""
    score = bool(config.maj.p or config.maj.direct) and config.maj.weights == "likelihood"
    return config.prover.build(lm, score_answers=score)


def run(config: RegretConfig) -> Path:
    """Analyse every trace of ``config.traces`` into ``config.out``; returns the folder.

    Rows already in ``rows.jsonl`` are kept and their traces skipped (unless
    ``config.overwrite``); each new row is appended and flushed as soon as its trace is done.
    A trace longer than the model's context gets a row with an ``error`` instead (kept, left
    out of the summary, not retried on resume).
    Then ``summary.md``, ``summary.csv`` and the plots are (re)written over the traces of this
    run, the summary table is printed, and the paths of the files. When every trace failed
    that is :class:`~mrt_env.errors.ContextLengthExceeded` (after the files are written), so
    the command exits 1 instead of reporting a summary of nothing.

    The folder is locked for the run: a second ``mrt-regret`` on the same ``--out`` is
    refused (:class:`~mrt_env.errors.RunStateError`) instead of writing every row twice.
    """
    traces = load_traces(config.traces, limit=config.limit)  # fail on bad input before loading
    with locked(Path(config.out), "mrt-regret"):
        return _run_locked(config, traces)


def _run_locked(config: RegretConfig, traces: list[dict[str, Any]]) -> Path:
    from tqdm import tqdm

    out = Path(config.out)
    rows_path = out / ROWS_FILE
    if config.overwrite and rows_path.exists():
        rows_path.unlink()
    existing = read_rows(rows_path, key="id", tool="mrt-regret")
    check_settings(out, config.analysis_settings(), resuming=bool(existing))
    done = _done_rows(existing, traces, rows_path, Path(config.traces))
    todo = [t for t in traces if t["id"] not in done]

    if todo:
        lm = build_lm(config)
        prover = build_prover(config, lm)
        tokenizer = None
        if config.episodes.rule == "tokens":
            tokenizer = getattr(lm, "tokenizer", None)
            if tokenizer is None:
                raise ConfigError(
                    "--episodes.rule tokens needs a local tokenizer (openai: --model.tokenizer)"
                )
        with (
            rows_path.open("a", encoding="utf-8") as f,
            tqdm(
                total=len(traces), initial=len(traces) - len(todo), desc="mrt-regret", unit="trace"
            ) as bar,
        ):
            for trace in todo:
                try:
                    row = analyse_trace(
                        trace,
                        prover=prover,
                        lm=lm,
                        rule=config.episodes,
                        tokenizer=tokenizer,
                        budgets=config.budgets,
                        measure=config.effective_measure,
                        majority=config.maj,
                        extrapolation=config.extrapolate,
                    )
                # This trace, not the run, is at fault: too long for the model, or costs the
                # authors' token regret cannot measure.
                except (ContextLengthExceeded, DataFormatError) as exc:
                    row = {"id": trace["id"], "problem_id": trace["problem_id"], "error": str(exc)}
                row["trace_digest"] = trace["digest"]
                append_row(f, row)
                done[row["id"]] = row
                bar.update()
    else:
        print(f"all {len(traces)} traces already in {rows_path}; rewriting the summary")

    rows = [done[t["id"]] for t in traces]
    failed = [r for r in rows if "error" in r]
    stats = summarise(rows, config.budgets)
    md_path, csv_path = write_summary(out, stats, config, failed, rows)
    plots = write_plots(rows, out, title=model_title(config.model.name))

    print(f"\nmrt-regret: {config.model.name} on {config.traces}")
    print("\n".join(summary_table(stats)))
    if sections := curve_sections(rows):
        print("\n".join(sections))
    if failed:
        print(
            f"{len(failed)} trace(s) failed (see {md_path}): " + ", ".join(r["id"] for r in failed)
        )
    print("\nwrote:")
    for path in (rows_path, md_path, csv_path, *plots):
        print(f"  {path}")
    if failed and len(failed) == len(rows):
        # A summary of nothing but n/a is no result: the command must not exit 0 on it.
        raise ContextLengthExceeded(
            f"every trace failed ({len(failed)} of {len(rows)}), so no metric has a value; "
            f"the first: {failed[0]['error']}"
            + (
                " (μ's answer budget is --prover.max-answer-tokens)"
                if "max_tokens" in failed[0]["error"]
                else ""
            )
        )
    return out


def _done_rows(
    existing: list[dict[str, Any]], traces: list[dict[str, Any]], rows_path: Path, source: Path
) -> dict[str, dict[str, Any]]:
    """The rows of ``rows.jsonl`` by id, checked against this run's traces.

    A row whose ``trace_digest`` is not its trace's was computed from other content (the
    traces file was edited, or lines were added that shift the ids of repeats): resuming
    would report it as this trace's, so it is a :class:`RunStateError`. An id found twice
    (a file written by two runs at once, before runs were locked) keeps its last row, with
    a note; rows of ids not in this file stay in it and out of the summary."""
    done: dict[str, dict[str, Any]] = {}
    repeated: list[str] = []
    for row in existing:
        if row["id"] in done:
            repeated.append(str(row["id"]))
        done[row["id"]] = row
    if repeated:
        print(
            f"note: {rows_path} holds {len(repeated)} row(s) twice (ids "
            f"{', '.join(repeated[:5])}{', ...' if len(repeated) > 5 else ''}); "
            "the last of each is used",
            file=sys.stderr,
        )
    for trace in traces:
        row = done.get(trace["id"])
        if row is not None and row.get("trace_digest", trace["digest"]) != trace["digest"]:
            raise RunStateError(
                f"{rows_path} holds a row for trace {trace['id']!r} ({source}:{trace['line']}) "
                "computed from other content: the traces file changed since; pass --overwrite "
                "to start afresh or choose another --out"
            )
    return done


def main(argv: Sequence[str] | None = None) -> int:
    """The ``mrt-regret`` command. Returns the exit status (1 on a data or backend error)."""
    config = parse_command(
        RegretConfig, "mrt-regret", argv, description=_CLI_DESCRIPTION, presets=PRESETS
    )
    if config is None:
        return 2
    return exit_status("mrt-regret", lambda: run(config), Path(config.out) / ROWS_FILE)


if __name__ == "__main__":
    sys.exit(main())
