"""MRT vs GRPO in miniature: outcome-only RL against progress credit, at equal sampled tokens.

    python examples/mrt_vs_grpo.py --env MRT-Recheck-v0 \
        --results docs/results/mrt_vs_grpo/MRT-Recheck-v0.json
    python examples/mrt_vs_grpo.py                       # MRT-Search-v0, 5 methods x 5 seeds
    python examples/mrt_vs_grpo.py --seeds 0 --token-budget 5000 --eval-problems 50  # a taste
    python examples/mrt_vs_grpo.py --env MRT-Checks-v0 --methods base grpo grpo-lp mrt \
        --length-penalty 0.002 0.006 0.02 --extra-temperatures 0.7   # against a frontier

Methods (``--methods``), each trained from the env's shipped model with the same sampled
tokens (``--token-budget``: equal compute), then evaluated by ``mrt-bench`` on held-out
problems (think-to-budget, one sample each):

* ``base``: the shipped model, untrained (``--base-temperature 0.7``: sampled colder, the
  row ``base-t0.7``);
* ``grpo``: outcome reward, group-normalised;
* ``grpo-lp``: GRPO on the outcome minus ``--length-penalty`` per token (the paper's
  length-penalty baseline); several values train one run each, a sweep;
* ``mrt``: our per-block credit (outcome advantage + α × the block's progress, group
  baseline per block index); ``mrt-oracle``: the same with the task's exact μ;
* ``mrt-prefix``: the paper's MRT-RL (continuations of a random prefix credited R − J_j);
  ``mrt-prefix-group``: the same continuations against each other;
* ``mrt-star``: progress-filtered fine-tuning.

Reported per method, mean ± sample std over seeds: accuracy, tokens per attempt, tokens per
solved problem, waste share (the task's idle blocks over all blocks), episode regret,
token regret, and μ's signal (mean progress of wasted and of productive blocks). The
table goes to ``summary.md`` and the figure to ``mrt_vs_grpo.png`` in ``--out``. With a
length-penalty sweep, also each method's accuracy above the frontier that GRPO and the
penalties draw (at its own tokens per attempt, with a paired bootstrap interval over seeds
and problems). ``--extra-temperatures`` and ``--extra-budget-factors`` evaluate every
model again, colder or with a larger block budget.

Resumable and kill-safe: every finished (method, seed) is written to ``--results`` (a JSON
of summarised scores, small enough to commit) before the next starts, and a rerun skips
what that file already holds; ``mrt-train --resume`` continues a half-trained run and
``mrt-bench`` a half-evaluated one. A later session, on another machine, continues from
the committed JSON alone.
"""

from __future__ import annotations

import csv
import json
import math
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrt_env.agents import BlockSamplingConfig
from mrt_env.bench import BenchConfig
from mrt_env.bench import run as bench_run
from mrt_env.cli import CommandConfig, exit_status, parse_command
from mrt_env.data.synthetic import EVAL_PROBLEMS, TASKS, RecheckTask, get_task
from mrt_env.data.synthetic.recheck import BLOCK_KINDS, block_kind
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import ModelConfig
from mrt_env.registration import ENV_IDS
from mrt_env.report import describe, figure, markdown_table
from mrt_env.runfiles import changed_settings, check_settings, write_text_atomic
from mrt_env.threads import set_threads
from mrt_env.training import TrainConfig, train
from mrt_env.training.bookkeeping import CHECKPOINT, OLD_CHECKPOINT, ROLLOUTS
from mrt_env.training.credit import CreditConfig
from mrt_env.types import EpisodeRecord

METHODS = (
    "base",
    "grpo",
    "grpo-lp",
    "mrt",
    "mrt-oracle",
    "mrt-prefix",
    "mrt-prefix-group",
    "mrt-star",
)
LP_DEFAULT = 0.002
"""grpo-lp's default penalty per token (0.1 for a 50-token attempt); other values are in
the method's label."""


@dataclass(frozen=True)
class Experiment(CommandConfig):
    """Outcome-only RL against progress credit at equal sampled tokens, several seeds."""

    env: str = "MRT-Search-v0"
    """An offline env id (MRT-Search-v0, MRT-Recheck-v0, MRT-Recheck-Tight-v0, ...)."""
    methods: tuple[str, ...] = ("base", "grpo", "grpo-lp", "mrt", "mrt-prefix")
    """What to compare: base, grpo, grpo-lp, mrt, mrt-oracle (mrt with the task's exact μ),
    mrt-prefix, mrt-prefix-group (the prefix scheme with the group baseline), mrt-star."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Training seeds per method (base is evaluated once)."""
    token_budget: int = 120_000
    """Tokens each run may sample (equal compute)."""
    length_penalty: tuple[float, ...] = (LP_DEFAULT,)
    """grpo-lp: reward per token subtracted from the outcome, one run per value (several
    draw the length-penalty frontier of accuracy against tokens; 0.002: 0.1 for 50
    tokens)."""
    alpha: float = 1.0
    """mrt: weight of a block's progress."""
    baseline: str = "group"
    """mrt: the progress baseline, group or termination (the authors' A = R − J)."""
    oracle_prover: bool = False
    """μ while training is the task's exact chance (the oracle), not the model itself."""
    max_blocks: int | None = None
    """Block budget in training and evaluation (default: the env's)."""
    steps: int | None = None
    """Train each run for this many steps instead of --token-budget tokens (an equal-steps
    run: the label gets -n<steps>)."""
    extra_temperatures: tuple[float, ...] = ()
    """Also evaluate every model with its blocks sampled at these temperatures."""
    extra_budget_factors: tuple[int, ...] = ()
    """Also evaluate every model with the block budget multiplied by these (2: twice the
    training budget, where the paper says progress credit keeps gaining)."""
    frontier_bootstrap: int = 2000
    """Resamples of the paired bootstrap (over seeds and problems) of each method's
    accuracy above the length-penalty frontier."""
    lr: float = 1e-4
    """Learning rate of every method."""
    problems_per_step: int = 4
    """Problems per step."""
    group_size: int = 8
    """Traces per problem (mrt-prefix: continuations per prefix)."""
    eval_problems: int = 500
    """Held-out problems each model is evaluated on (one sample each)."""
    base_temperature: float | None = None
    """base: sample its blocks at this temperature instead of the env's, as the row
    base-t<temperature> (sharpening without training: a baseline for RL's accuracy gain)."""
    out: Path = Path("runs/mrt-vs-grpo")
    """Where the trained models, evaluations, summary.md and the figure go."""
    results: Path | None = None
    """The summarised scores, one entry per finished (method, seed) (default:
    OUT/results.json); point it at a committed file to continue an experiment."""
    report_only: bool = False
    """Write the table and the figure from --results as they stand; train nothing."""
    retrain: bool = False
    """Where a kept (method, seed) lacks an evaluation asked for (--extra-temperatures,
    --extra-budget-factors) and its model is not in --out (the results file keeps scores,
    not models), train it again from its seed. The new model's main evaluation is kept
    beside the old (``retrained``), so the report shows whether the run reproduced."""

    def validate(self) -> None:
        if self.env not in ENV_IDS or ENV_IDS[self.env]["problems"] not in TASKS:
            offline = [i for i, kw in ENV_IDS.items() if kw["problems"] in TASKS]
            raise ConfigError(f"--env must be an offline env id {offline}, got {self.env!r}")
        if unknown := sorted(set(self.methods) - set(METHODS)):
            raise ConfigError(f"--methods must be some of {list(METHODS)}, got {unknown}")
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seeds must be distinct, got {list(self.seeds)}")
        if self.token_budget < 1 or self.eval_problems < 1:
            raise ConfigError("--token-budget and --eval-problems must be >= 1")
        if self.base_temperature is not None and not self.base_temperature > 0:
            raise ConfigError(f"--base-temperature must be > 0, got {self.base_temperature}")
        if not self.length_penalty or any(not v > 0 for v in self.length_penalty):
            raise ConfigError(f"--length-penalty must be > 0, got {list(self.length_penalty)}")
        if any(not t > 0 for t in self.extra_temperatures):
            raise ConfigError(f"--extra-temperatures must be > 0, got {self.extra_temperatures}")
        if any(f < 1 for f in self.extra_budget_factors):
            raise ConfigError(
                f"--extra-budget-factors must be >= 1, got {self.extra_budget_factors}"
            )
        if self.steps is not None and self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")

    @property
    def shared(self) -> dict[str, object]:
        """The settings every run of one results file shares (the others, such as --lr or
        --alpha, are in a method's label, so variants can sit side by side)."""
        return {
            "env": self.env,
            "token_budget": self.token_budget,
            "problems_per_step": self.problems_per_step,
            "group_size": self.group_size,
            "eval_problems": self.eval_problems,
        }

    @property
    def results_path(self) -> Path:
        return self.results or self.out / "results.json"

    @property
    def base_model(self) -> str:
        """The env's shipped model: every method starts from it."""
        return ENV_IDS[self.env]["prover"]


@dataclass(frozen=True)
class Arm:
    """One trained variant: a method, and the length penalty of a grpo-lp run."""

    method: str
    length_penalty: float = 0.0


def arms(exp: Experiment) -> list[Arm]:
    """The variants to train: one per method, one per penalty of a grpo-lp sweep."""
    out = []
    for method in exp.methods:
        if method == "grpo-lp":
            out += [Arm(method, lam) for lam in exp.length_penalty]
        elif method != "base":
            out.append(Arm(method))
    return out


def method_label(exp: Experiment, arm: Arm | str) -> str:
    """The method's name in the table: the method, then what differs from the defaults
    (``mrt-termination-a0.5-oracle``, ``grpo-lr3e-05``, ``-b20`` for a block budget,
    ``-n40`` for an equal-steps run)."""
    arm = Arm(arm) if isinstance(arm, str) else arm
    method = arm.method
    oracle = method == "mrt-oracle" or (method.startswith("mrt") and exp.oracle_prover)
    label = method.removesuffix("-oracle")
    if method == "base" and exp.base_temperature is not None:
        label += f"-t{exp.base_temperature:g}"
    if method in ("mrt", "mrt-oracle", "mrt-prefix") and exp.baseline != "group":
        label += f"-{exp.baseline}"
    if method in ("mrt", "mrt-oracle") and exp.alpha != Experiment.alpha:
        label += f"-a{exp.alpha:g}"
    if oracle:
        label += "-oracle"
    if method == "grpo-lp" and arm.length_penalty != LP_DEFAULT:
        label += f"{arm.length_penalty:g}"
    if method != "base" and exp.lr != Experiment.lr:
        label += f"-lr{exp.lr:g}"
    if method != "base" and exp.steps is not None:
        label += f"-n{exp.steps}"
    return label + (f"-b{exp.max_blocks}" if exp.max_blocks else "")


def train_config(exp: Experiment, arm: Arm | str, seed: int, run: Path) -> TrainConfig:
    """The ``mrt-train`` settings of one (method, seed): only the credit differs."""
    arm = Arm(arm, LP_DEFAULT) if arm == "grpo-lp" else Arm(arm) if isinstance(arm, str) else arm
    method = arm.method
    algorithm = "grpo" if method.startswith("grpo") else "mrt"
    algorithm = "mrt-star" if method == "mrt-star" else algorithm
    prefix = method.startswith("mrt-prefix")
    if method == "mrt-prefix-group":
        baseline = "group"  # the paper's variant: continuations against each other
    else:  # the prefix scheme's default is the authors' termination baseline, A = R − J_j
        baseline = "termination" if prefix and exp.baseline == "group" else exp.baseline
    return TrainConfig(
        env=exp.env,
        model=ModelConfig(exp.base_model, device="cpu", dtype="float32"),
        algorithm=algorithm,
        credit=CreditConfig(
            scheme="prefix" if prefix else "outcome" if algorithm != "mrt" else "block",
            baseline=baseline,
            length_penalty=arm.length_penalty,
            alpha=exp.alpha,
        ),
        oracle_prover=(exp.oracle_prover or method == "mrt-oracle") and algorithm != "grpo",
        seed=seed,
        lr=exp.lr,
        max_blocks=exp.max_blocks,
        problems_per_step=exp.problems_per_step,
        group_size=exp.group_size,
        steps=exp.steps or 100_000,
        token_budget=None if exp.steps else exp.token_budget,
        eval_problems=0,
        save_rollouts=True,
        out=run,
        # A run killed after its first checkpoint continues; one killed before it holds
        # nothing worth keeping, and starts afresh.
        resume=_checkpointed(run),
        overwrite=not _checkpointed(run),
    )


def _checkpointed(run: Path) -> bool:
    """Whether ``run`` holds a checkpoint (in either format mrt-train has written)."""
    return any((run / name).exists() for name in (CHECKPOINT, OLD_CHECKPOINT))


def evaluate(
    exp: Experiment,
    model: str,
    out: Path,
    *,
    temperature: float | None = None,
    max_blocks: int | None = None,
) -> dict[str, Any]:
    """mrt-bench's numbers for ``model`` on the held-out problems (its blocks sampled at
    ``temperature``, default the env's; ``max_blocks`` default --max-blocks or the env's),
    and the waste and μ diagnostics from its episodes."""
    max_blocks = max_blocks or exp.max_blocks
    config = BenchConfig(
        envs=(exp.env,),
        strategies=("think-to-budget",),
        model=ModelConfig(model),
        problems=f"0:{exp.eval_problems}",
        samples=1,
        out=out,
        plots=False,
        batch=100,
        max_blocks=max_blocks,
        agent=BlockSamplingConfig(temperature=temperature),
    )
    bench_run(config)
    with (out / "summary.csv").open() as f:
        scores = {r["metric"]: float(r["mean"]) for r in csv.DictReader(f) if r["mean"]}
    scores["tokens_per_solved"] = (
        scores["tokens"] / scores["accuracy"] if scores["accuracy"] > 0 else math.nan
    )
    budget = max_blocks or ENV_IDS[exp.env]["max_blocks"]
    return {**scores, **diagnostics(exp.env, out / "results.jsonl", budget)}


def diagnostics(env_id: str, results: Path, budget: int) -> dict[str, Any]:
    """Waste share (the task's idle blocks over all blocks) and μ's per-block signal: the
    mean progress J_j − J_{j−1} of wasted blocks j and of productive ones, which is what
    progress credit is made of. On search also the repeat rate after m distinct pairs.

    Also, for the statistics across runs: each problem's correctness and tokens
    (``per_problem``, in the held-out set's order) and the accuracy when the answer is
    forced after b = 1 … ``budget`` blocks (``accuracy_at_blocks``; an attempt that
    committed by then counts its answer, one that had not counts J_b: in expectation,
    the paper's accuracy at a budget), with the evaluation's μ and, where the task knows
    it, the exact μ. On the recheck tasks, the kinds of block written per attempt.
    """
    name = ENV_IDS[env_id]["problems"]
    task = get_task(name)
    order = {p.id: (i, p) for i, p in enumerate(task.problems(EVAL_PROBLEMS))}
    exact = getattr(task, "oracle_success", None)
    wasted, blocks, on_waste, on_work = 0, 0, [], []
    by_tried: dict[int, list[bool]] = {}  # search: m distinct pairs tried -> a repeat?
    episodes = [EpisodeRecord.from_row(json.loads(x)) for x in results.read_text().splitlines()]
    episodes.sort(key=lambda e: order[e.problem_id][0])
    at_blocks: dict[str, list[list[float]]] = {"model": [], "exact": []}
    kinds = {k: 0 for k in BLOCK_KINDS}
    for episode in episodes:
        bs, js = episode.blocks, episode.success_probs
        problem, k = order[episode.problem_id][1], len(episode.blocks)
        right = float(bool(episode.correct))
        at_blocks["model"].append([right if b >= k else js[b] for b in range(1, budget + 1)])
        if exact is not None:
            at_blocks["exact"].append(
                [right if b >= k else exact(problem, bs[:b]) for b in range(1, budget + 1)]
            )
        if isinstance(task, RecheckTask):
            for i in range(k):
                kinds[block_kind(task, problem, bs, i)] += 1
        blocks += len(bs)
        for i, block in enumerate(bs):
            idle = task.waste(bs[: i + 1]) > task.waste(bs[:i])
            wasted += idle
            if "boxed" not in block and i + 1 < len(js):
                (on_waste if idle else on_work).append(js[i + 1] - js[i])
            if name == "search" and task.tried([block]):
                m = len(task.tried(bs[:i]))
                by_tried.setdefault(m, []).append(len(task.tried(bs[: i + 1])) == m)
    out: dict[str, Any] = {
        "waste_share": wasted / max(1, blocks),
        # attempts stopped by the block budget (a larger one would change only these)
        "budget_reached": float(
            np.mean([e.outcome != "committed" and len(e.blocks) >= budget for e in episodes])
        ),
        "progress_wasted": float(np.mean(on_waste)) if on_waste else math.nan,
        "progress_productive": float(np.mean(on_work)) if on_work else math.nan,
        "per_problem": {
            "correct": "".join("1" if e.correct else "0" for e in episodes),
            "tokens": [int(e.compute_tokens[-1]) for e in episodes],
        },
        "accuracy_at_blocks": {
            mu: [float(v) for v in np.mean(rows, axis=0)] for mu, rows in at_blocks.items() if rows
        },
    }
    if isinstance(task, RecheckTask):
        n, columns = max(1, len(episodes)), max(1, kinds["column"] + kinds["slip"])
        out |= {f"{kind}_per_attempt": kinds[kind] / n for kind in ("wait", "ok", "fix", "slip")}
        out["check_rate"] = (kinds["ok"] + kinds["fix"]) / columns  # checks per column
        out["slips_fixed"] = kinds["fix"] / kinds["slip"] if kinds["slip"] else math.nan
    for m in REPEAT_AT if name == "search" else ():
        out[f"repeat_rate@{m}"] = float(np.mean(by_tried.get(m, [math.nan])))
    return out


REPEAT_AT = (1, 2, 3, 4, 5, 6)
"""Search: distinct pairs tried, m, at which the repeat rate is reported."""

COLUMNS = (
    "accuracy",
    "tokens",
    "tokens_per_solved",
    "blocks",
    "waste_share",
    "regret",
    "token_regret",
    "progress_wasted",
    "progress_productive",
    "sampled_tokens",
)

KIND_COLUMNS = (
    "wait_per_attempt",
    "ok_per_attempt",
    "fix_per_attempt",
    "slip_per_attempt",
    "check_rate",
    "slips_fixed",
)
"""The recheck tasks: the kinds of block an attempt writes (see ``block_kind``)."""

_MEANINGS = {
    "wait_per_attempt": "idle `wait` lines per attempt",
    "ok_per_attempt": "checks that change nothing (`ok`) per attempt",
    "fix_per_attempt": "checks that change a written sum (`fix`) per attempt",
    "slip_per_attempt": "columns written wrong per attempt",
    "check_rate": "checks (`ok` or `fix`) per column written",
    "slips_fixed": "fixing checks per slip",
    "tokens_per_solved": "tokens per attempt over accuracy: compute per solved problem",
    "waste_share": "the task's idle blocks (changing nothing) over all blocks",
    "token_regret": "normalized token regret at the largest token budget of mrt-bench",
    "progress_wasted": "mean progress J_j − J_{j−1} of a wasted block j (μ of the evaluation)",
    "progress_productive": "mean progress of a productive block (μ of the evaluation)",
}


def load_results(path: Path, exp: Experiment) -> dict[str, dict[str, dict[str, float]]]:
    """``{method label: {seed: scores}}`` from ``path`` (empty if it does not exist); a file
    of another env, or of other shared settings, is refused: two experiments cannot mix."""
    if not path.exists():
        return {}
    saved = json.loads(path.read_text())
    if saved.get("env") != exp.env:
        raise ConfigError(f"{path} holds results of {saved.get('env')}, not {exp.env}")
    if what := changed_settings(saved["settings"], exp.shared):
        raise ConfigError(f"{path} holds results made with other settings ({what})")
    return saved["runs"]


def main(exp: Experiment) -> None:
    set_threads(exp.threads)  # every command's --threads, before any model loads
    exp.out.mkdir(parents=True, exist_ok=True)
    path = exp.results_path
    runs = load_results(path, exp)
    # The trained models and evaluations in --out are reused too: same rule.
    check_settings(exp.out, exp.shared, resuming=True)

    def keep(label: str, seed: int | str, scores: dict[str, float]) -> None:
        runs.setdefault(label, {})[str(seed)] = scores
        path.parent.mkdir(parents=True, exist_ok=True)
        saved = {"env": exp.env, "settings": exp.shared, "runs": runs}
        text = json.dumps(saved, indent=1, sort_keys=True) + "\n"
        write_text_atomic(path, text)

    budget = exp.max_blocks or ENV_IDS[exp.env]["max_blocks"]
    wanted = {f"t{t:g}": {"temperature": t} for t in exp.extra_temperatures}
    wanted |= {f"x{f}": {"max_blocks": f * budget} for f in exp.extra_budget_factors}

    def extra_evaluations(folder: str, model: str, scores: dict[str, Any]) -> bool:
        """Adds the evaluations at --extra-temperatures and --extra-budget-factors that
        ``scores`` lacks (under ``scores["at"]``, written to ``folder``-<key> in --out);
        whether any was added."""
        at = scores.setdefault("at", {})
        missing = [key for key in wanted if key not in at]
        for key in missing:
            if "max_blocks" in wanted[key] and not scores.get("budget_reached", 1.0):
                # No attempt used the whole budget: a larger one replays the same seeds to
                # the same episodes (checked on the base model of MRT-Checks: identical).
                at[key] = {"same_as_main": 1.0}
                continue
            at[key] = evaluate(exp, model, exp.out / f"{folder}-{key}", **wanted[key])
        return bool(missing)

    if exp.report_only:
        if not runs:
            raise ConfigError(f"--report-only: {path} holds no results yet")
    elif "base" in exp.methods:
        label = method_label(exp, "base")
        scores = runs.get(label, {}).get("base") or evaluate(
            exp, exp.base_model, exp.out / f"eval-{label}", temperature=exp.base_temperature
        )
        if extra_evaluations(f"eval-{label}", exp.base_model, scores) or "base" not in runs.get(
            label, {}
        ):
            keep(label, "base", scores)
    # Seed by seed, every method: a partial experiment is balanced across methods.
    for seed in () if exp.report_only else exp.seeds:
        for arm in arms(exp):
            label = method_label(exp, arm)
            run, folder = exp.out / f"{label}-s{seed}", f"eval-{label}-s{seed}"
            if str(seed) in runs.get(label, {}):
                scores = runs[label][str(seed)]
                # (the trained model may live on another machine: then only what is kept)
                model_here = (run / "model" / "config.json").exists()
                lacking = any(key not in scores.get("at", {}) for key in wanted)
                if not model_here and lacking and exp.retrain:
                    train(train_config(exp, arm, seed, run))
                    # its own folder: the old model's rows may still be in folder
                    again = evaluate(exp, str(run / "model"), exp.out / f"{folder}-retrained")
                    scores["retrained"] = {k: again[k] for k in ("accuracy", "tokens")}
                    model_here = True
                if model_here and extra_evaluations(folder, str(run / "model"), scores):
                    keep(label, seed, scores)
                continue
            if not (run / "model" / "config.json").exists():
                train(train_config(exp, arm, seed, run))
            scores = evaluate(exp, str(run / "model"), exp.out / folder)
            steps = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            scores["train_steps"] = float(len([s for s in steps if "eval" not in s]))
            scores["sampled_tokens"] = float(steps[-1]["sampled_tokens"])
            scores["train_log"] = train_log(exp.env, run)
            extra_evaluations(folder, str(run / "model"), scores)
            keep(label, seed, scores)
    table = summary_table(exp.env, runs)
    if any(label.startswith("grpo-lp") for label in runs):
        table += "\n\n" + frontier_report(exp, runs)
    (exp.out / "summary.md").write_text(table + "\n")
    print(table)
    plot(exp.env, runs, exp.out / "mrt_vs_grpo.png")


def train_log(env_id: str, run: Path) -> dict[str, list[float]]:
    """The run's training, step by step, summarised to commit: the batch's accuracy, the
    mean advantage over trained tokens, the loss, and from its rollouts the tokens per
    trace, the waste share and the prefixes μ was asked about (with their tokens: the
    meta-prover's own compute; the oracle's costs no model compute)."""
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    rows = [r for r in rows if "eval" not in r]
    task = get_task(ENV_IDS[env_id]["problems"])
    by_step: dict[int, list[EpisodeRecord]] = {}
    if (run / ROLLOUTS).exists():
        for line in (run / ROLLOUTS).read_text().splitlines():
            row = json.loads(line)
            by_step.setdefault(row.pop("step"), []).append(EpisodeRecord.from_row(row))
    log: dict[str, list[float]] = {
        "step": [],
        "accuracy": [],
        "mean_advantage": [],
        "loss": [],
        "tokens": [],
        "waste_share": [],
        "prover_prefixes": [],
        "prover_tokens": [],
    }
    for r in rows:
        traces = by_step.get(r["step"], [])
        blocks = sum(len(t.blocks) for t in traces)
        log["step"].append(r["step"])
        for key in ("accuracy", "mean_advantage", "loss"):
            log[key].append(r.get(key, math.nan))
        log["tokens"].append(
            float(np.mean([t.prefix_tokens[-1] for t in traces])) if traces else math.nan
        )
        log["waste_share"].append(
            sum(task.waste(t.blocks) for t in traces) / blocks if blocks else math.nan
        )
        # μ is asked at every prefix c_0 … c_k of every trace (GRPO's credit ignores J,
        # but the trainer's env computes it all the same).
        log["prover_prefixes"].append(sum(len(t.success_probs) for t in traces))
        log["prover_tokens"].append(sum(sum(t.prefix_tokens) for t in traces))
    return log


def _cell(scores: list[dict[str, float]], name: str) -> str:
    if name == "token_regret":  # the largest budget mrt-bench reported
        keys = sorted((k for k in scores[0] if k.startswith("token_regret@")), key=_budget)
        name = keys[-1] if keys else name
    values = np.array([s.get(name, math.nan) for s in scores], dtype=float)
    if np.all(np.isnan(values)):
        return ""
    digits = 0 if name in ("tokens", "tokens_per_solved", "sampled_tokens") else 3
    if len(values) > 1:
        return f"{np.nanmean(values):.{digits}f} ± {np.nanstd(values, ddof=1):.{digits}f}"
    return f"{np.nanmean(values):.{digits}f}"


def _budget(key: str) -> int:
    return int(key.split("@")[1])


def summary_table(env_id: str, runs: dict[str, dict[str, dict[str, Any]]]) -> str:
    kept = [s for by_seed in runs.values() for s in by_seed.values()]
    columns = (*COLUMNS, *(c for c in KIND_COLUMNS if any(c in s for s in kept)))
    rows = []
    for label, by_seed in runs.items():
        scores = list(by_seed.values())
        rows.append([label, len(scores), *[_cell(scores, c) for c in columns]])
    lines = [f"{env_id}: each method from the shipped model at equal sampled tokens.", ""]
    lines += markdown_table(["method", "seeds", *columns], rows)
    lines += [
        "",
        "Mean ± sample std over training seeds; every model evaluated on the same held-out "
        "problems, one sample each (think-to-budget).",
        "",
        *markdown_table(
            ["metric", "meaning"], [(c, _MEANINGS.get(c) or describe(c)) for c in columns]
        ),
    ]
    if extra := sorted({key for s in kept for key in s.get("at", {})}):
        lines += ["", *extra_table(runs, extra)]
    if any("retrained" in s for s in kept):
        lines += ["", *retrained_table(runs)]
    if ENV_IDS[env_id]["problems"] == "search":
        lines += ["", *repeat_table(runs)]
    return "\n".join(lines)


def retrained_table(runs: dict[str, dict[str, dict[str, Any]]]) -> list[str]:
    """Runs trained again from their seeds (``--retrain``): the kept main evaluation
    beside the new model's, so a reader sees whether the extra evaluations describe the
    same models."""
    rows = []
    for label, by_seed in runs.items():
        pairs = [(s, s["retrained"]) for s in by_seed.values() if "retrained" in s]
        if not pairs:
            continue
        old, new = ([p[i] for p in pairs] for i in (0, 1))
        differ = max(abs(a["accuracy"] - b["accuracy"]) for a, b in pairs)
        row = [label, len(pairs), _cell(old, "accuracy"), _cell(new, "accuracy"), f"{differ:.3f}"]
        rows.append([*row, _cell(old, "tokens"), _cell(new, "tokens")])
    header = ["method", "seeds", "accuracy, kept", "retrained", "largest seed difference"]
    note = (
        "Models trained again from their seeds (`--retrain`) to add evaluations the results "
        "file lacked: the kept main evaluation and the new model's. Equal: the runs reproduced."
    )
    return [*markdown_table([*header, "tokens, kept", "retrained"], rows), "", note]


def extra_table(runs: dict[str, dict[str, dict[str, Any]]], keys: list[str]) -> list[str]:
    """The evaluations at other temperatures (``t0.7``) and budgets (``x2``: twice the
    block budget), method by method."""
    names = ("accuracy", "tokens", "tokens_per_solved", "waste_share", "blocks")
    rows = []
    for label, by_seed in runs.items():
        for key in keys:
            scores = [s["at"][key] for s in by_seed.values() if key in s.get("at", {})]
            same = [s for s in scores if "same_as_main" in s]
            if same:  # no attempt of these runs reached the budget: as the main evaluation
                main = [s for s in by_seed.values() if "same_as_main" in s["at"].get(key, {})]
                rows.append([label, f"{key} (= main)", len(same), *[_cell(main, n) for n in names]])
            if scores := [s for s in scores if "same_as_main" not in s]:
                rows.append([label, key, len(scores), *[_cell(scores, n) for n in names]])
    note = (
        "Other evaluations of the same models: `t<T>` samples the blocks at temperature T, "
        "`x<f>` multiplies the block budget by f (`= main`: no attempt of the main "
        "evaluation used the whole budget, so a larger one gives the same episodes)."
    )
    return [*markdown_table(["method", "evaluation", "seeds", *names], rows), "", note]


def _per_problem(scores: dict[str, Any], key: str | None) -> tuple[np.ndarray, np.ndarray] | None:
    """(correct, tokens) per held-out problem of one run's evaluation ``key`` (None: the
    main one), or None if it was not kept."""
    at = scores.get("at", {}).get(key, {}) if key is not None else scores
    scores = scores if "same_as_main" in at else at
    if "per_problem" not in scores:
        return None
    kept = scores["per_problem"]
    return np.array([c == "1" for c in kept["correct"]], float), np.array(kept["tokens"], float)


STEPS_TOLERANCE = 0.2
"""An arm whose optimizer steps are within this share of an equal-steps run's stands for
itself at those steps (the experiment's rule: an equal-steps run only where the step
counts differ by more than 20%)."""


def _equal_steps(label: str) -> int | None:
    """The steps of an equal-steps run's label (``mrt-n31`` -> 31), None for any other."""
    found = re.search(r"-n(\d+)(?:-b\d+)?$", label)
    return int(found[1]) if found else None


def _arm(label: str) -> str:
    """The main run's label of an equal-steps run (``mrt-n31`` -> ``mrt``); any other
    label as it is."""
    steps = _equal_steps(label)
    return label if steps is None else label.replace(f"-n{steps}", "", 1)


def _step_counts(labels: Iterable[str]) -> list[int]:
    """The step counts of the equal-steps runs among ``labels``, in order."""
    return sorted({n for label in labels if (n := _equal_steps(label)) is not None})


def is_frontier(label: str) -> bool:
    """GRPO and the length-penalty sweep: the frontier of accuracy against tokens that
    a signal blind to progress reaches (equal-steps runs, ``-n<steps>``, are not on it)."""
    return _equal_steps(label) is None and (label == "grpo" or label.startswith("grpo-lp"))


def at_equal_steps(
    runs: dict[str, dict[str, dict[str, Any]]], steps: int
) -> tuple[dict[str, dict[str, dict[str, Any]]], dict[str, str]]:
    """Every trained arm as trained for about ``steps`` optimizer steps: its equal-steps
    run (``-n<steps>``) where there is one, else its main run if that run's mean steps
    are within ``STEPS_TOLERANCE`` of ``steps``; arms with neither are left out.

    Keyed by the arm's main label (so the frontier is found as in the main comparison),
    with a second dict naming the run each arm's scores came from."""
    view: dict[str, dict[str, dict[str, Any]]] = {}
    source: dict[str, str] = {}
    for label, by_seed in runs.items():
        if _equal_steps(label) == steps:
            arm = _arm(label)
            view[arm], source[arm] = by_seed, label
    for label, by_seed in runs.items():
        trained = [s["train_steps"] for s in by_seed.values() if "train_steps" in s]
        if label in view or _equal_steps(label) is not None or not trained:
            continue
        if abs(np.mean(trained) / steps - 1) <= STEPS_TOLERANCE:
            view[label], source[label] = by_seed, label
    return view, source


def frontier_gaps(
    runs: dict[str, dict[str, dict[str, Any]]], *, key: str | None = None, resamples: int = 2000
) -> list[dict[str, Any]]:
    """Each other method's accuracy above the length-penalty frontier at its own tokens per
    attempt, with a paired bootstrap interval over seeds and problems.

    The frontier joins the (tokens, accuracy) means of GRPO and the grpo-lp runs, sorted
    by tokens, with straight lines (held flat beyond its ends: ``inside`` says whether the
    method's tokens fall within it). A resample draws seeds (the same seed indices for
    every method: same problems drawn, same initial model) and held-out problems (the same
    for every method) with replacement, and recomputes every mean, the frontier and the gap.
    """
    frontier = [label for label in runs if is_frontier(label)]
    out = []
    for label in (x for x in runs if x.startswith("mrt") and _equal_steps(x) is None):
        seeds = sorted(set.intersection(*(set(runs[x]) for x in [*frontier, label])), key=int)
        data = {x: [_per_problem(runs[x][seed], key) for seed in seeds] for x in [*frontier, label]}
        if len(frontier) < 2 or not seeds or any(v is None for d in data.values() for v in d):
            continue
        correct = {x: np.stack([c for c, _ in d]) for x, d in data.items()}  # [S, N]
        tokens = {x: np.stack([t for _, t in d]) for x, d in data.items()}

        every = np.arange(len(seeds)), np.arange(correct[label].shape[1])
        point, tok, acc, level, above_best = _gap(tokens, correct, frontier, label, *every)
        rng = np.random.default_rng(0)
        draws = [
            _gap(
                tokens,
                correct,
                frontier,
                label,
                rng.integers(len(seeds), size=len(seeds)),
                rng.integers(len(every[1]), size=len(every[1])),
            )
            for _ in range(resamples)
        ]
        gaps, best_gaps = [d[0] for d in draws], [d[4] for d in draws]
        sweep = [tokens[x].mean() for x in frontier]
        out.append(
            {
                "method": label,
                "seeds": len(seeds),
                "tokens": tok,
                "accuracy": acc,
                "frontier": level,
                "gap": point,
                "low": float(np.percentile(gaps, 2.5)),
                "high": float(np.percentile(gaps, 97.5)),
                "above_envelope": above_best,
                "envelope_low": float(np.nanpercentile(best_gaps, 2.5)),
                "envelope_high": float(np.nanpercentile(best_gaps, 97.5)),
                "inside": min(sweep) <= tok <= max(sweep),
            }
        )
    return out


def _gap(
    tokens: dict[str, np.ndarray],
    correct: dict[str, np.ndarray],
    frontier: list[str],
    label: str,
    si: np.ndarray,
    pi: np.ndarray,
) -> tuple[float, float, float, float, float]:
    """``label``'s accuracy above the frontier on seeds ``si`` and problems ``pi``: (gap,
    its tokens, its accuracy, the frontier's accuracy at those tokens, the gap to the
    envelope: the best frontier run that spends at most those tokens, NaN if none)."""
    at = {x: (tokens[x][np.ix_(si, pi)].mean(), correct[x][np.ix_(si, pi)].mean()) for x in tokens}
    line = sorted(at[x] for x in frontier)
    tok, acc = at[label]
    level = float(np.interp(tok, [t for t, _ in line], [a for _, a in line]))
    best = max((a for t, a in line if t <= tok), default=math.nan)
    return acc - level, tok, acc, level, acc - best


def frontier_report(exp: Experiment, runs: dict[str, dict[str, dict[str, Any]]]) -> str:
    """The primary measure: accuracy above the length-penalty frontier at matched tokens,
    for the main evaluation and each extra one."""
    keys = [
        None,
        *sorted({k for by in runs.values() for s in by.values() for k in s.get("at", {})}),
    ]
    lines = [
        "Accuracy above the length-penalty frontier (GRPO and the grpo-lp sweep joined by "
        "straight lines), at each method's tokens per attempt; 95% paired bootstrap "
        f"interval over seeds and problems ({exp.frontier_bootstrap} resamples). Where the "
        "sweep is not monotone, the line can pass below a run that spends fewer tokens: "
        "`above envelope` compares with the most accurate frontier run that spends at most "
        "the method's tokens (n/a: none does). `main, ≈n steps`: every arm as trained for "
        "about n optimizer steps (its `-n<n>` run, or its main run where that took within "
        f"{STEPS_TOLERANCE:.0%} of n steps), against the frontier those runs draw.",
        "",
    ]
    # Equal steps separate what a credit adds from what extra optimizer steps add; on the
    # main evaluation only, the primary measure.
    comparisons = [(key, runs, {label: label for label in runs}, key or "main") for key in keys]
    for steps in _step_counts(runs):
        view, source = at_equal_steps(runs, steps)
        comparisons.append((None, view, source, f"main, ≈{steps} steps"))
    rows = []
    for key, compared, source, name in comparisons:
        for g in frontier_gaps(compared, key=key, resamples=exp.frontier_bootstrap):
            rows.append(
                [
                    source[g["method"]],
                    name,
                    g["seeds"],
                    f"{g['tokens']:.1f}",
                    f"{g['accuracy']:.3f}",
                    f"{g['frontier']:.3f}",
                    f"{g['gap']:+.3f} [{g['low']:+.3f}, {g['high']:+.3f}]",
                    "yes" if g["inside"] else "no (held flat)",
                    "n/a"
                    if math.isnan(g["above_envelope"])
                    else f"{g['above_envelope']:+.3f} "
                    f"[{g['envelope_low']:+.3f}, {g['envelope_high']:+.3f}]",
                ]
            )
    header = ["method", "evaluation", "seeds", "tokens", "accuracy", "frontier", "above", "inside"]
    header.append("above envelope")
    return "\n".join([*lines, *markdown_table(header, rows)])


def repeat_table(runs: dict[str, dict[str, dict[str, float]]]) -> list[str]:
    """Search: how often an attempt repeats a pair after m distinct pairs were tried,
    against a sampler blind to its own history (m/10 of the 10 pairs)."""
    rows = [["history-blind sampler", *[f"{m / 10:.2f}" for m in REPEAT_AT]]]
    for label, by_seed in runs.items():
        rates = [[s.get(f"repeat_rate@{m}", math.nan) for s in by_seed.values()] for m in REPEAT_AT]
        rows.append([label, *[f"{np.nanmean(r):.2f}" for r in rates]])
    lines = markdown_table(["method", *[f"m={m}" for m in REPEAT_AT]], rows)
    note = "Share of attempts that repeat a pair already tried, after m distinct pairs."
    return [*lines, "", note]


def plot(env_id: str, runs: dict[str, dict[str, dict[str, Any]]], path: Path) -> None:
    """Left: accuracy against tokens per attempt, one point per method (mean ± std over
    seeds; with a length-penalty sweep, every seed as a dot and the frontier as a line).
    Right: the waste share of each method."""
    # (figure checks that matplotlib is there)
    fig = figure(figsize=(max(11, 5 + 0.5 * len(runs)), 4.2), layout="constrained")
    from matplotlib import colormaps

    acc, waste = fig.subplots(1, 2)
    colors = colormaps["tab10"].colors
    labels = list(runs)
    sweep = sum(map(is_frontier, labels)) > 1
    # An equal-steps run (-n<steps>) takes its arm's colour, drawn hollow.
    arms = [label for label in labels if _equal_steps(label) is None]
    for i, label in enumerate(labels):
        scores = list(runs[label].values())
        x = np.array([s["tokens"] for s in scores])
        y = np.array([s["accuracy"] for s in scores])
        w = np.array([s["waste_share"] for s in scores])
        spread = (lambda v: v.std(ddof=1)) if len(scores) > 1 else (lambda v: 0.0)
        steps, arm = _equal_steps(label), _arm(label)
        color = colors[arms.index(arm) % 10 if arm in arms else i % 10]
        face = color if steps is None else "none"
        if sweep:
            acc.scatter(x, y, s=10, alpha=0.5, color=color, marker="o" if steps is None else "s")
        acc.errorbar(
            x.mean(),
            y.mean(),
            xerr=spread(x),
            yerr=spread(y),
            marker="o" if steps is None else "s",
            mfc=face,
            capsize=3,
            color=color,
            label=f"{label} ({len(scores)})",
        )
        waste.bar(
            i,
            w.mean(),
            yerr=spread(w),
            capsize=3,
            color=color,
            hatch=None if steps is None else "//",
            fill=steps is None,
            edgecolor=color,
        )
    frontiers = [(runs, "--", "length-penalty frontier")] if sweep else []
    step_counts = _step_counts(labels)
    for steps in step_counts:
        view, _ = at_equal_steps(runs, steps)
        frontiers.append((view, ":", f"the frontier at ≈{steps} steps"))
    for drawn, style, name in frontiers:
        line = sorted(
            (
                np.mean([s["tokens"] for s in by.values()]),
                np.mean([s["accuracy"] for s in by.values()]),
            )
            for label, by in drawn.items()
            if is_frontier(label)
        )
        if len(line) > 1:
            acc.plot(*zip(*line, strict=True), color="grey", ls=style, label=name)
    acc.set_xlabel("tokens per attempt")
    acc.set_ylabel("accuracy")
    acc.set_title("accuracy against compute (mean ± std over seeds)")
    waste.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    waste.set_ylabel("waste share (idle blocks / blocks)")
    waste.set_title("how much of the thinking changes nothing")
    for ax in (acc, waste):
        ax.grid(alpha=0.3)
    fig.legend(loc="outside right center", fontsize="small", title="method (seeds)")
    hollow = ", hollow: equal optimizer steps" if step_counts else ""
    fig.suptitle(f"{env_id}: outcome-only RL against progress credit, equal sampled tokens{hollow}")
    fig.savefig(path, dpi=110)


if __name__ == "__main__":
    experiment = parse_command(Experiment, "mrt_vs_grpo.py", description=__doc__)
    if experiment is None:
        sys.exit(2)
    sys.exit(
        exit_status(
            "mrt_vs_grpo.py",
            lambda: main(experiment),
            experiment.results_path,
            resume="Run the same command again to continue.",
        )
    )
