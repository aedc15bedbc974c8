"""ReasoningEnv overheads: (a) the env itself, (b) batching the meta-prover across envs.

    python benchmarks/env_bench.py          # needs the [hf] extra for (b)

(a) Steps per second of ``ReasoningEnv`` with no prover (outcome-only: token counting,
    commitment check, info, grading at the end) against a bare Gymnasium env with the same
    text spaces that only appends the block: the cost of the env's bookkeeping.
(b) 8 envs on the tiny model with the forced-answer prover: ``ReasoningVectorEnv`` (one
    prover call per step for all envs) against Gymnasium's ``SyncVectorEnv`` (one call per
    env), same seeds, same blocks, a fresh prover cache and prefix cache for each run.
    The four cells take turns in each of --repeats rounds; the speed-up is the median of
    the rounds' ratios (a machine whose speed drifts slows both envs of a round alike).
"""

from __future__ import annotations

import statistics
import tempfile
import warnings
from dataclasses import dataclass

import gymnasium as gym
import tyro
from _timing import interleaved_seconds, median_seconds

from mrt_env.envs import ReasoningEnv, ReasoningVectorEnv
from mrt_env.spaces import UnicodeText
from mrt_env.types import Problem


@dataclass(frozen=True)
class BenchConfig:
    """Env overhead and vectorised prover batching."""

    steps: int = 2000
    """(a) steps timed per run."""
    num_envs: int = 8
    """(b) sub-envs."""
    vector_steps: int = 4
    """(b) steps per run (after one reset)."""
    k: int = 4
    """(b) forced answers per prefix."""
    answer_tokens: int = 16
    """(b) tokens per forced answer."""
    repeats: int = 5
    """Timed rounds; medians are reported."""


class BareTextEnv(gym.Env[str, str]):
    """The floor: same spaces, appends the block, nothing else."""

    def __init__(self) -> None:
        self.observation_space = UnicodeText(10**7)
        self.action_space = UnicodeText(200_000)
        self.text = ""

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.text = "Problem: What is 2 + 2?\n\nSolution:\n"
        return self.text, {}

    def step(self, action):
        self.text += action
        return self.text, 0.0, False, len(self.text) > 10_000, {}


PROBLEMS = tuple(Problem(f"toy/{i}", f"What is {i} + {i}?", str(2 * i)) for i in range(16))
BLOCK = "We add the two numbers column by column and check the carry each time.\n\n"


def run_steps(env: gym.Env, steps: int) -> None:
    env.reset(seed=0)
    for _ in range(steps):
        _, _, terminated, truncated, _ = env.step(BLOCK)
        if terminated or truncated:
            env.reset()


def main(cfg: BenchConfig) -> None:
    print("(a) env overhead per step, no prover")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mrt = ReasoningEnv(problems=PROBLEMS, max_blocks=64)
    bare = BareTextEnv()
    t_bare = median_seconds(lambda: run_steps(bare, cfg.steps), cfg.repeats) / cfg.steps
    t_mrt = median_seconds(lambda: run_steps(mrt, cfg.steps), cfg.repeats) / cfg.steps
    print("| env | µs / step | ratio |")
    print("|---|---|---|")
    print(f"| bare Gymnasium text env | {t_bare * 1e6:.1f} | 1.0x |")
    print(f"| ReasoningEnv, no prover | {t_mrt * 1e6:.1f} | {t_mrt / t_bare:.1f}x |")
    print()

    from mrt_env.lm import TransformersLM
    from mrt_env.lm.testing import tiny_lm
    from mrt_env.prover import ForcedAnswerProver

    lm = TransformersLM.from_pretrained(tiny_lm(tempfile.mkdtemp()))
    settings = dict(problems=PROBLEMS, max_blocks=cfg.vector_steps + 1, forced_answer_tokens=8)

    def prover():  # fresh caches per run: every prefix reaches the model
        lm.prefix_cache.clear()
        return ForcedAnswerProver(lm, k=cfg.k, max_answer_tokens=cfg.answer_tokens)

    blocks = [f"Step {i}: " + BLOCK for i in range(cfg.vector_steps)]

    def run(vec) -> None:
        vec.reset(seed=0)
        for block in blocks:
            vec.step([block] * cfg.num_envs)

    def batched() -> None:
        run(ReasoningVectorEnv(cfg.num_envs, prover=prover(), **settings))

    def one_by_one() -> None:
        shared = prover()
        fns = [lambda: ReasoningEnv(prover=shared, **settings) for _ in range(cfg.num_envs)]
        run(gym.vector.SyncVectorEnv(fns))

    def reading(shared: bool, fn):
        def timed() -> None:
            lm.share_prefill = shared
            fn()

        return timed

    # Each context read whole once per sampled answer (transformers' own path), or once,
    # and only past what the prefix cache holds. The four cells take turns in each round.
    cells = {
        (shared, name): reading(shared, fn)
        for shared in (False, True)
        for name, fn in (("sync", one_by_one), ("batched", batched))
    }
    times = interleaved_seconds(cells, cfg.repeats)
    n = cfg.vector_steps + 1
    print(
        f"(b) {cfg.num_envs} envs, tiny model, forced prover k={cfg.k}: reset + "
        f"{cfg.vector_steps} steps ({n} prover rounds), medians of {cfg.repeats} rounds"
    )
    base = statistics.median(times[(False, "sync")])
    names = {
        "sync": "SyncVectorEnv (one prover call per env)",
        "batched": "ReasoningVectorEnv (one call per step)",
    }
    print("| vector env | reading of a context | s per run | speed-up |")
    print("|---|---|---|---|")
    for (shared, name), ts in times.items():
        how = "once, new tokens only" if shared else "whole, once per answer"
        t = statistics.median(ts)
        print(f"| {names[name]} | {how} | {t:.2f} | {base / t:.1f}x |")
    ratios = [s / b for s, b in zip(times[(True, "sync")], times[(True, "batched")], strict=True)]
    print(
        f"ReasoningVectorEnv against SyncVectorEnv, both sharing: "
        f"{statistics.median(ratios):.1f}x (median of the rounds' ratios; "
        f"{min(ratios):.1f}x to {max(ratios):.1f}x)"
    )


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
