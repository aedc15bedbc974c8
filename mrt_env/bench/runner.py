"""The benchmark loop: every (env, strategy, seed, sample, problem) once, one row each.

Rows go to ``results.jsonl`` as each batch of problems finishes (flushed and synced), keyed
by env, strategy, seed, sample and problem id; a rerun of the same command skips the rows
that are there, so a killed run resumes where it stopped with nothing lost or repeated.
A row holds the episode as the env saw it (an :class:`~mrt_env.types.EpisodeRecord`: blocks,
J after every block, tokens of every prefix, compute spent off the transcript, outcome);
every metric is computed from rows by :mod:`mrt_env.bench.report`, so summaries and plots
can be redrawn without rerunning.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from mrt_env.agents import EpisodeRecord, play
from mrt_env.bench.config import BenchConfig, ProblemSelection
from mrt_env.bench.specs import (
    AgentConfig,
    StrategySpec,
    agent_settings,
    build_agent,
    parse_strategy,
    resolve,
)
from mrt_env.envs.reasoning import ReasoningEnv, ReasoningEnvConfig
from mrt_env.errors import ConfigError
from mrt_env.metrics import episode_regret
from mrt_env.registration import with_prover
from mrt_env.runfiles import append_row, check_settings, read_rows

__all__ = [
    "MAX_ATTEMPTS",
    "RESULTS_FILE",
    "EnvPlan",
    "plan_envs",
    "row_key",
    "run_episodes",
    "sample_seed",
]

RESULTS_FILE = "results.jsonl"

MAX_ATTEMPTS = 10_000_000
"""The most attempts one run plans. The paper's protocol on all five sets is about 20,000
(1,000 problems x 20 samples); far more is a typo, such as a stray digit in ``--samples``,
which would otherwise hang while the plan is built."""


def row_key(env_id: str, strategy: str, seed: int, sample: int, problem_id: str) -> str:
    """The identity of a row: one attempt of one strategy at one problem."""
    return f"{env_id}|{strategy}|seed={seed}|sample={sample}|{problem_id}"


def sample_seed(seed: int, sample: int) -> int:
    """The agent's sampling seed for sample ``sample`` of run seed ``seed`` (independent
    streams for every pair, the same on every rerun)."""
    return int(np.random.SeedSequence([seed, sample]).generate_state(1)[0])


@dataclass
class EnvPlan:
    """One env of the run: how it is built, its problems, and its agents' settings."""

    env_id: str
    env_kwargs: dict[str, Any]
    """``gym.make_vec`` keyword arguments besides the prover."""
    problem_ids: list[str]
    picked: list[int]
    """Indices of the problems this run uses."""
    max_blocks: int
    settings: AgentConfig
    budgets: tuple[int, ...]
    """Token budgets C0 for this env's token regret and accuracy at budget."""
    todo: dict[tuple[str, int, int], list[int]] = field(default_factory=dict)
    """(strategy, seed, sample) -> problem indices without a row yet."""


def _env_kwargs(env_id: str, config: BenchConfig) -> dict[str, Any]:
    """The env's registered kwargs with the run's overrides (prover settings, budgets)."""
    registered = dict(gym.spec(env_id).kwargs)
    kwargs = with_prover(registered, config.prover)
    for name in ("max_blocks", "max_tokens", "data_path"):
        if getattr(config, name) is not None:
            kwargs[name] = getattr(config, name)
    kwargs.pop("prover", None)  # the run's model plays μ
    return kwargs


def plan_envs(config: BenchConfig, done: set[str]) -> list[EnvPlan]:
    """Each env's problems, settings, budgets and the attempts still to run (no model)."""
    specs = [parse_strategy(s) for s in config.strategies]
    selection = ProblemSelection(config.problems)
    plans = []
    for env_id in config.envs:
        kwargs = _env_kwargs(env_id, config)
        env_config = ReasoningEnvConfig(**kwargs)
        problem_ids = [p.id for p in ReasoningEnv.problems_of(env_config)]
        picked = selection.pick(problem_ids)
        settings = agent_settings(
            kwargs,
            max_blocks=env_config.max_blocks,
            max_tokens=env_config.max_tokens,
            sampling=config.agent,
        )
        budget = settings.token_budget
        budgets = config.budgets or tuple(
            sorted({max(1, budget // 4), max(1, budget // 2), budget})
        )
        plan = EnvPlan(
            env_id, kwargs, problem_ids, picked, env_config.max_blocks, settings, tuple(budgets)
        )
        attempts = len(picked) * len(specs) * len(config.seeds) * config.samples
        if attempts > MAX_ATTEMPTS:  # before the plan is built: it holds one entry per attempt
            raise ConfigError(
                f"{env_id}: {len(picked)} problems x {len(specs)} strategies x "
                f"{len(config.seeds)} seeds x {config.samples} samples is {attempts:,} "
                f"attempts; one run makes at most {MAX_ATTEMPTS:,} (fewer --samples or "
                "--problems)"
            )
        for spec in specs:
            for seed in config.seeds:
                for sample in range(config.samples):
                    left = [
                        i
                        for i in picked
                        if row_key(env_id, spec.label, seed, sample, problem_ids[i]) not in done
                    ]
                    if left:
                        plan.todo[(spec.label, seed, sample)] = left
        plans.append(plan)
    return plans


def episode_row(
    record: EpisodeRecord,
    *,
    env_id: str,
    strategy: str,
    seed: int,
    sample: int,
    problem: int,
    seconds: float,
) -> dict[str, Any]:
    """One ``results.jsonl`` row: where the episode ran, the episode
    (:meth:`EpisodeRecord.to_row <mrt_env.types.EpisodeRecord.to_row>`; read it back with
    ``EpisodeRecord.from_row(row)``), and for readers of the file its ``compute_tokens``
    and ``regret`` (Δ_k)."""
    return {
        "key": row_key(env_id, strategy, seed, sample, record.problem_id),
        "env": env_id,
        "strategy": strategy,
        "seed": seed,
        "sample": sample,
        "problem": problem,
        **record.to_row(),
        "compute_tokens": list(record.compute_tokens),
        "regret": episode_regret(record.success_probs).total,
        "seconds": seconds,
    }


def _chunks(items: Sequence[int], size: int) -> Iterator[list[int]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


def run_episodes(
    config: BenchConfig, plans: Sequence[EnvPlan], lm: Any, rows_path: Path, bar: Any = None
) -> Iterator[dict[str, Any]]:
    """Play every attempt the plans still need; append each row to ``rows_path`` as its
    batch finishes and yield it."""
    specs: dict[str, StrategySpec] = {}
    for text in config.strategies:
        spec = parse_strategy(text)
        specs[spec.label] = spec
    targets = {label: resolve(spec) for label, spec in specs.items()}
    with rows_path.open("a", encoding="utf-8") as f:
        for plan in plans:
            if not plan.todo:
                continue
            width = min(config.batch, max(len(v) for v in plan.todo.values()))
            vec = gym.make_vec(plan.env_id, num_envs=width, prover=lm, **plan.env_kwargs)
            try:
                for (label, seed, sample), left in plan.todo.items():
                    agent_seed = sample_seed(seed, sample)
                    agent = build_agent(
                        specs[label], targets[label], lm, plan.settings, seed=agent_seed
                    )
                    if bar is not None:
                        bar.set_postfix_str(f"{plan.env_id} {label} seed={seed} sample={sample}")
                    for chunk in _chunks(left, width):
                        start = time.perf_counter()
                        records = play(vec, agent, chunk, seed=agent_seed)
                        seconds = (time.perf_counter() - start) / len(chunk)
                        for problem, record in zip(chunk, records, strict=True):
                            row = episode_row(
                                record,
                                env_id=plan.env_id,
                                strategy=label,
                                seed=seed,
                                sample=sample,
                                problem=problem,
                                seconds=seconds,
                            )
                            append_row(f, row)
                            yield row
                        if bar is not None:
                            bar.update(len(chunk))
            finally:
                vec.close()


def read_results(rows_path: Path) -> list[dict[str, Any]]:
    """The rows of a results file, one per attempt key (env, strategy, seed, sample,
    problem): a torn last line from a kill is dropped, and a row repeated (a file copied
    together, a line duplicated) counts once."""
    rows: dict[str, dict[str, Any]] = {}
    for row in read_rows(rows_path, key="key", tool="mrt-bench"):
        rows.setdefault(str(row["key"]), row)
    return list(rows.values())


def prepare_out(config: BenchConfig) -> tuple[Path, list[dict[str, Any]]]:
    """Create the output folder; the rows already there (none with ``--overwrite``), after
    checking they were made under this run's settings."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    rows_path = out / RESULTS_FILE
    if config.overwrite and rows_path.exists():
        rows_path.unlink()
    existing = read_results(rows_path)
    check_settings(out, config.row_settings(), resuming=bool(existing))
    return rows_path, existing
