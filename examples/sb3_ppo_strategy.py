"""PPO (stable-baselines3) learns when to stop thinking: MRT's meta-level decision.

    pip install "mrt-env[sb3,plot]"
    python examples/sb3_ppo_strategy.py            # about 10 min on 2 cores, most of it recording
    python examples/sb3_ppo_strategy.py --features deployable   # no J in the observation

The shipped tiny model's think-to-budget streams on ``--env`` are recorded once
(:func:`mrt_env.strategy.tabulate`: J per block, and the answer the model gives when forced
at every prefix), on training problems and on held-out ones. PPO then trains on the
``TabulatedStrategyEnv`` (continue / answer now; the return is minus the anytime regret)
and is compared on the held-out streams with the fixed rules it can express: think to the
budget, early exit (answer once the forced answer agrees twice in a row), random
meta-actions, and the oracle stopper (the best stopping point of each stream, in hindsight).

The tables are cached in ``--out``: a rerun (or one with other PPO settings) skips the
recording.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import tyro

from mrt_env.cli import CommandConfig
from mrt_env.data.synthetic import get_task, training_problems
from mrt_env.registration import ENV_IDS
from mrt_env.report import format_stat, markdown_table, mean_ci
from mrt_env.strategy import (
    ANSWER,
    CONTINUE,
    StrategyTable,
    TabulatedStrategyEnv,
    anytime_return_bound,
    tabulate,
)
from mrt_env.threads import set_threads


@dataclass(frozen=True)
class Config(CommandConfig):
    """PPO on the tabulated strategy env vs fixed stopping rules, on held-out streams."""

    env: Literal["MRT-Search-v0", "MRT-Arithmetic-v0"] = "MRT-Search-v0"
    """The reasoning env whose streams are recorded."""
    train_problems: int = 200
    """Training problems recorded (never the held-out ones)."""
    samples: int = 4
    """Streams recorded per training problem."""
    eval_problems: int = 200
    """Held-out problems (one stream each) the policies are compared on."""
    timesteps: int = 50_000
    """PPO's environment steps."""
    features: Literal["all", "deployable"] = "all"
    """Observation: all features, or only those that need no gold answer (no J)."""
    seed: int = 0
    """Seed of the recording and of PPO."""
    out: Path = Path("runs/sb3-strategy")
    """Where the tables, the PPO model and the summary go."""


def table(config: Config, split: str) -> StrategyTable:
    """The recorded streams of ``split`` (cached in ``config.out``)."""
    task = ENV_IDS[config.env]["problems"]
    if split == "train":
        count, samples = config.train_problems, config.samples
        problems = training_problems(task, seed=config.seed, count=count)
    else:
        count, samples = config.eval_problems, 1
        problems = get_task(task, seed=0).problems(count)
    path = config.out / f"{split}-{config.env}-{count}x{samples}-seed{config.seed}.json.gz"
    if path.exists():
        return StrategyTable.load(path)
    print(
        f"recording {len(problems)} x {samples} streams of the tiny model on {config.env} ({split})"
    )
    recorded = tabulate(config.env, problems, samples=samples, seed=config.seed)
    recorded.save(path)
    return recorded


Policy = Callable[[np.ndarray, dict, np.random.Generator], int]


def evaluate(held_out: StrategyTable, policy: Policy, features: str) -> dict[str, list[float]]:
    """Each held-out stream once under ``policy``: per stream, whether it was right, its
    anytime regret, the blocks it thought and the tokens it used."""
    env = TabulatedStrategyEnv(held_out, features=features)
    rng = np.random.default_rng(0)
    rows = []
    for i in range(len(held_out.traces)):
        obs, info = env.reset(options={"trace": i})
        total, done = 0.0, False
        while not done:
            obs, reward, done, _, info = env.step(policy(obs, info, rng))
            total += reward
        rows.append((info["correct"], -total, info["blocks"], info["tokens"]))
    names = ("accuracy", "anytime_regret", "blocks", "tokens")
    return {name: [float(r[i]) for r in rows] for i, name in enumerate(names)}


def main(config: Config) -> None:
    set_threads(config.threads)  # every command's --threads, before any model loads
    from stable_baselines3 import PPO

    config.out.mkdir(parents=True, exist_ok=True)
    train, held_out = table(config, "train"), table(config, "eval")
    model = PPO(
        "MlpPolicy",
        TabulatedStrategyEnv(train, features=config.features),
        n_steps=1024,
        batch_size=128,
        learning_rate=1e-3,
        gamma=1.0,
        seed=config.seed,
        device="cpu",
        verbose=0,
    )
    model.learn(total_timesteps=config.timesteps, progress_bar=_has_rich())
    model.save(config.out / f"ppo-{config.env}-{config.features}")

    policies: dict[str, Policy] = {
        "ppo": lambda obs, info, rng: int(model.predict(obs, deterministic=True)[0]),
        "think-to-budget": lambda obs, info, rng: CONTINUE,
        "early-exit (m=2)": lambda obs, info, rng: ANSWER if info["agreement"] >= 2 else CONTINUE,
        "random": lambda obs, info, rng: int(rng.integers(2)),
    }
    results = {name: evaluate(held_out, p, config.features) for name, p in policies.items()}
    bound = -anytime_return_bound(held_out)
    base = np.array(results["think-to-budget"]["anytime_regret"])
    rows = []
    for name, r in results.items():
        stats = {m: format_stat(mean_ci(r[m]), 3) for m in r}
        paired = format_stat(mean_ci(np.array(r["anytime_regret"]) - base), 3)
        if name == "think-to-budget":
            paired = "0"
        rows.append([name, stats["accuracy"], stats["anytime_regret"], paired])
        rows[-1] += [stats["blocks"], stats["tokens"]]
    rows.append(["oracle stopper (hindsight)", "", f"{bound:.3f}", "", "", ""])
    paired_header = "anytime_regret − think-to-budget's (paired)"
    header = ["policy", "accuracy", "anytime_regret", paired_header, "blocks", "tokens"]
    lines = [
        f"{config.env}, tiny model, {len(held_out.traces)} held-out streams; PPO trained "
        f"{config.timesteps:,} steps on {len(train.traces)} recorded streams "
        f"(features: {config.features}). Mean ± 95% CI.",
        "",
        *markdown_table(header, rows),
    ]
    summary = "\n".join(lines)
    (config.out / f"summary-{config.env}-{config.features}.md").write_text(summary + "\n")
    print(summary)


def _has_rich() -> bool:
    """stable-baselines3 draws its progress bar with tqdm and rich (its [extra])."""
    try:
        import rich  # noqa: F401
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main(tyro.cli(Config))
    sys.exit(0)
