"""MRT vs GRPO in miniature: outcome-only RL against progress credit, at equal sampled tokens.

    python examples/mrt_vs_grpo.py --env MRT-Recheck-v0 \
        --results docs/results/mrt_vs_grpo/MRT-Recheck-v0.json
    python examples/mrt_vs_grpo.py                       # MRT-Search-v0, 5 methods x 5 seeds
    python examples/mrt_vs_grpo.py --seeds 0 --token-budget 5000 --eval-problems 50  # a taste

Methods (``--methods``), each trained from the env's shipped model with the same sampled
tokens (``--token-budget``: equal compute), then evaluated by ``mrt-bench`` on held-out
problems (think-to-budget, one sample each):

* ``base``: the shipped model, untrained (``--base-temperature 0.7``: sampled colder, the
  row ``base-t0.7``);
* ``grpo``: outcome reward, group-normalised;
* ``grpo-lp``: GRPO on the outcome minus ``--length-penalty`` per token (the paper's
  length-penalty baseline);
* ``mrt``: our per-block credit (outcome advantage + α × the block's progress, group
  baseline per block index);
* ``mrt-prefix``: the paper's MRT-RL (continuations of a random prefix credited R − J_j);
* ``mrt-star``: progress-filtered fine-tuning.

Reported per method, mean ± sample std over seeds: accuracy, tokens per episode, tokens per
solved problem, waste share (the task's idle blocks over all blocks), episode regret,
token regret, and μ's signal (mean progress of wasted and of productive blocks). The
table goes to ``summary.md`` and the figure to ``mrt_vs_grpo.png`` in ``--out``.

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
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrt_env.agents import BlockSampling
from mrt_env.bench import BenchConfig
from mrt_env.bench import run as bench_run
from mrt_env.cli import CommandConfig, exit_status, parse_command
from mrt_env.data.synthetic import TASKS, get_task
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import ModelSettings
from mrt_env.registration import ENV_IDS
from mrt_env.report import describe, figure, markdown_table
from mrt_env.runfiles import changed_settings, check_settings, write_text_atomic
from mrt_env.threads import set_threads
from mrt_env.training.train import CHECKPOINT, OLD_CHECKPOINT, TrainConfig, train
from mrt_env.types import EpisodeRecord

METHODS = ("base", "grpo", "grpo-lp", "mrt", "mrt-prefix", "mrt-star")


@dataclass(frozen=True)
class Experiment(CommandConfig):
    """Outcome-only RL against progress credit at equal sampled tokens, several seeds."""

    env: str = "MRT-Search-v0"
    """An offline env id (MRT-Search-v0, MRT-Recheck-v0, MRT-Recheck-Tight-v0, ...)."""
    methods: tuple[str, ...] = ("base", "grpo", "grpo-lp", "mrt", "mrt-prefix")
    """What to compare: base, grpo, grpo-lp, mrt, mrt-prefix, mrt-star."""
    seeds: tuple[int, ...] = (0, 1, 2, 3, 4)
    """Training seeds per method (base is evaluated once)."""
    token_budget: int = 120_000
    """Tokens each run may sample (equal compute)."""
    length_penalty: float = 0.002
    """grpo-lp: reward per token subtracted from the outcome (0.002: 0.1 for 50 tokens)."""
    alpha: float = 1.0
    """mrt: weight of a block's progress."""
    baseline: str = "group"
    """mrt: the progress baseline, group or termination (the authors' A = R − J)."""
    oracle_prover: bool = False
    """μ while training is the task's exact chance (the oracle), not the model itself."""
    max_blocks: int | None = None
    """Block budget in training and evaluation (default: the env's)."""
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


def method_label(exp: Experiment, method: str) -> str:
    """The method's name in the table: the method, then what differs from the defaults
    (``mrt-termination-a0.5-oracle``, ``grpo-lr3e-05``, ``-b20`` for a block budget)."""
    label = method
    if method == "base" and exp.base_temperature is not None:
        label += f"-t{exp.base_temperature:g}"
    if method in ("mrt", "mrt-prefix") and exp.baseline != "group":
        label += f"-{exp.baseline}"
    if method == "mrt" and exp.alpha != Experiment.alpha:
        label += f"-a{exp.alpha:g}"
    if method.startswith("mrt") and exp.oracle_prover:
        label += "-oracle"
    if method == "grpo-lp" and exp.length_penalty != Experiment.length_penalty:
        label += f"{exp.length_penalty:g}"
    if method != "base" and exp.lr != Experiment.lr:
        label += f"-lr{exp.lr:g}"
    return label + (f"-b{exp.max_blocks}" if exp.max_blocks else "")


def train_config(exp: Experiment, method: str, seed: int, run: Path) -> TrainConfig:
    """The ``mrt-train`` settings of one (method, seed): only the credit differs."""
    algorithm = {"grpo-lp": "grpo", "mrt-prefix": "mrt"}.get(method, method)
    prefix = method == "mrt-prefix"
    return TrainConfig(
        env=exp.env,
        model=ModelSettings(exp.base_model, device="cpu", dtype="float32"),
        algorithm=algorithm,
        scheme="prefix" if prefix else "block",
        baseline="termination" if prefix and exp.baseline == "group" else exp.baseline,
        length_penalty=exp.length_penalty if method == "grpo-lp" else 0.0,
        alpha=exp.alpha,
        oracle_prover=exp.oracle_prover and algorithm != "grpo",
        seed=seed,
        lr=exp.lr,
        max_blocks=exp.max_blocks,
        problems_per_step=exp.problems_per_step,
        group_size=exp.group_size,
        steps=100_000,
        token_budget=exp.token_budget,
        eval_problems=0,
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
    exp: Experiment, model: str, out: Path, *, temperature: float | None = None
) -> dict[str, float]:
    """mrt-bench's numbers for ``model`` on the held-out problems (its blocks sampled at
    ``temperature``, default the env's), and the waste and μ diagnostics from its episodes."""
    config = BenchConfig(
        envs=(exp.env,),
        strategies=("think-to-budget",),
        model=ModelSettings(model),
        problems=f"0:{exp.eval_problems}",
        samples=1,
        out=out,
        plots=False,
        batch=100,
        max_blocks=exp.max_blocks,
        agent=BlockSampling(temperature=temperature),
    )
    bench_run(config)
    with (out / "summary.csv").open() as f:
        scores = {r["metric"]: float(r["mean"]) for r in csv.DictReader(f) if r["mean"]}
    scores["tokens_per_solved"] = (
        scores["tokens"] / scores["accuracy"] if scores["accuracy"] > 0 else math.nan
    )
    return {**scores, **diagnostics(exp.env, out / "results.jsonl")}


def diagnostics(env_id: str, results: Path) -> dict[str, float]:
    """Waste share (the task's idle blocks over all blocks) and μ's per-block signal: the
    mean progress J_{i+1} − J_i of wasted blocks and of productive ones, which is what
    progress credit is made of. On search also the repeat rate after m distinct pairs."""
    name = ENV_IDS[env_id]["problems"]
    task = get_task(name)
    wasted, blocks, on_waste, on_work = 0, 0, [], []
    by_tried: dict[int, list[bool]] = {}  # search: m distinct pairs tried -> a repeat?
    for line in results.read_text().splitlines():
        episode = EpisodeRecord.from_row(json.loads(line))
        bs, js = episode.blocks, episode.success_probs
        blocks += len(bs)
        for i, block in enumerate(bs):
            idle = task.waste(bs[: i + 1]) > task.waste(bs[:i])
            wasted += idle
            if "boxed" not in block and i + 1 < len(js):
                (on_waste if idle else on_work).append(js[i + 1] - js[i])
            if name == "search" and task.tried([block]):
                m = len(task.tried(bs[:i]))
                by_tried.setdefault(m, []).append(len(task.tried(bs[: i + 1])) == m)
    out = {
        "waste_share": wasted / max(1, blocks),
        "progress_wasted": float(np.mean(on_waste)) if on_waste else math.nan,
        "progress_productive": float(np.mean(on_work)) if on_work else math.nan,
    }
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

_MEANINGS = {
    "tokens_per_solved": "tokens per episode over accuracy: compute per solved problem",
    "waste_share": "the task's idle blocks (changing nothing) over all blocks",
    "token_regret": "normalized token regret at the largest token budget of mrt-bench",
    "progress_wasted": "mean progress J_{i+1} − J_i of a wasted block (μ of the evaluation)",
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

    if exp.report_only:
        if not runs:
            raise ConfigError(f"--report-only: {path} holds no results yet")
    elif "base" in exp.methods and "base" not in runs.get(method_label(exp, "base"), {}):
        label = method_label(exp, "base")
        scores = evaluate(
            exp, exp.base_model, exp.out / f"eval-{label}", temperature=exp.base_temperature
        )
        keep(label, "base", scores)
    # Seed by seed, every method: a partial experiment is balanced across methods.
    for seed in () if exp.report_only else exp.seeds:
        for method in (m for m in exp.methods if m != "base"):
            label = method_label(exp, method)
            if str(seed) in runs.get(label, {}):
                continue
            run = exp.out / f"{label}-s{seed}"
            if not (run / "model" / "config.json").exists():
                train(train_config(exp, method, seed, run))
            scores = evaluate(exp, str(run / "model"), exp.out / f"eval-{label}-s{seed}")
            steps = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
            scores["train_steps"] = float(len([s for s in steps if "eval" not in s]))
            scores["sampled_tokens"] = float(steps[-1]["sampled_tokens"])
            keep(label, seed, scores)
    table = summary_table(exp.env, runs)
    (exp.out / "summary.md").write_text(table + "\n")
    print(table)
    plot(exp.env, runs, exp.out / "mrt_vs_grpo.png")


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


def summary_table(env_id: str, runs: dict[str, dict[str, dict[str, float]]]) -> str:
    rows = []
    for label, by_seed in runs.items():
        scores = list(by_seed.values())
        rows.append([label, len(scores), *[_cell(scores, c) for c in COLUMNS]])
    lines = [f"{env_id}: each method from the shipped model at equal sampled tokens.", ""]
    lines += markdown_table(["method", "seeds", *COLUMNS], rows)
    lines += [
        "",
        "Mean ± sample std over training seeds; every model evaluated on the same held-out "
        "problems, one sample each (think-to-budget).",
        "",
        *markdown_table(
            ["metric", "meaning"], [(c, _MEANINGS.get(c) or describe(c)) for c in COLUMNS]
        ),
    ]
    if ENV_IDS[env_id]["problems"] == "search":
        lines += ["", *repeat_table(runs)]
    return "\n".join(lines)


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


def plot(env_id: str, runs: dict[str, dict[str, dict[str, float]]], path: Path) -> None:
    """Left: accuracy against tokens per episode, one point per method (mean ± std over
    seeds). Right: the waste share of each method."""
    fig = figure(figsize=(11, 4.2), layout="constrained")  # checks that matplotlib is there
    from matplotlib import colormaps

    acc, waste = fig.subplots(1, 2)
    colors = colormaps["tab10"].colors
    labels = list(runs)
    for i, label in enumerate(labels):
        scores = list(runs[label].values())
        x = np.array([s["tokens"] for s in scores])
        y = np.array([s["accuracy"] for s in scores])
        w = np.array([s["waste_share"] for s in scores])
        spread = (lambda v: v.std(ddof=1)) if len(scores) > 1 else (lambda v: 0.0)
        color = colors[i % 10]
        acc.errorbar(
            x.mean(),
            y.mean(),
            xerr=spread(x),
            yerr=spread(y),
            marker="o",
            capsize=3,
            color=color,
            label=f"{label} ({len(scores)})",
        )
        waste.bar(i, w.mean(), yerr=spread(w), capsize=3, color=color)
    acc.set_xlabel("tokens per episode")
    acc.set_ylabel("accuracy")
    acc.set_title("accuracy against compute (mean ± std over seeds)")
    waste.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    waste.set_ylabel("waste share (idle blocks / blocks)")
    waste.set_title("how much of the thinking changes nothing")
    for ax in (acc, waste):
        ax.grid(alpha=0.3)
    fig.legend(loc="outside right center", fontsize="small", title="method (seeds)")
    fig.suptitle(f"{env_id}: outcome-only RL against progress credit, equal sampled tokens")
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
