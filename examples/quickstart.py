"""Quickstart: make an MRT env, let a model write one problem's reasoning block by block,
and print the transcript with the meta-prover's J and the progress of every block.

    python examples/quickstart.py                      # offline: the shipped tiny model
    python examples/quickstart.py --env-id MRT-Arithmetic-v0
    python examples/quickstart.py --model Qwen/Qwen2.5-0.5B-Instruct --env-id MRT-AIME24-v0

Without --model the env's own model runs: the tiny model the package ships, which writes
the blocks and plays the meta-prover on the synthetic tasks (no download). With a real model
the J curve is the paper's measurement for that model on that problem.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import tyro

import mrt_env  # noqa: F401  (registers the MRT-* ids)
from mrt_env import info as keys
from mrt_env.agents import LMAgent
from mrt_env.lm import load_lm
from mrt_env.registration import ENV_IDS, block_settings


@dataclass(frozen=True)
class Args:
    """Run one problem through an MRT env."""

    env_id: str = "MRT-Search-v0"
    """A registered id: MRT-Search-v0 and MRT-Arithmetic-v0 run offline; MRT-AIME24-v0 ...
    need --model and their problem file (--data-path) or the Hub."""
    model: str | None = None
    """A hub id or local folder; default: the env's own (the shipped tiny model offline)."""
    data_path: str | None = None
    """Where the env id's problem file lives (default: MRT_ENV_DATA_DIR or the Hub)."""
    max_blocks: int = 6
    """Blocks (MRT episodes) before the answer is forced."""
    block_tokens: int | None = None
    """Most tokens per block (default: the env's: 48 synthetic, 2048 otherwise)."""
    k: int = 4
    """Forced answers the meta-prover samples per prefix (with --model)."""


def main(args: Args) -> None:
    settings: dict[str, Any] = {"max_blocks": args.max_blocks, "render_mode": "ansi"}
    if args.data_path:
        settings["data_path"] = args.data_path
    if args.model:
        # One model for both: the agent writes, the meta-prover forces answers.
        settings |= {
            "prover": load_lm(args.model),
            "prover_config": {"kind": "forced", "k": args.k, "max_answer_tokens": 32},
            "forced_answer_tokens": 32,
        }
    env = gym.make(args.env_id, **settings)
    block = block_settings(ENV_IDS.get(args.env_id, {}))
    if args.block_tokens is not None:
        block["max_block_tokens"] = args.block_tokens
    agent = LMAgent(env.unwrapped.prover.lm, **block)

    obs, info = env.reset(seed=0)
    done = False
    while not done:
        obs, reward, terminated, truncated, info = env.step(agent.act(obs, info))
        done = terminated or truncated
        print(
            f"block {info[keys.EPISODE]}: J = {info[keys.SUCCESS_PROB]:.2f}, reward {reward:+.2f}"
        )
    print()
    print(env.render())
    print()
    verdict = "correct" if info[keys.CORRECT] else "wrong"
    print(f"regret {info[keys.REGRET]:.2f} over {info[keys.EPISODE]} blocks; ", end="")
    print(f"answer {info[keys.ANSWER]!r} ({verdict})")


if __name__ == "__main__":
    main(tyro.cli(Args))
