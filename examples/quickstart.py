"""Quickstart: make an MRT env, let a model write one problem's reasoning block by block,
and print the transcript with the meta-prover's J and the progress of every block.

    python examples/quickstart.py                                   # tiny offline model
    python examples/quickstart.py --model Qwen/Qwen2.5-0.5B-Instruct --env-id MRT-AIME24-v0

Without --model a tiny random model is built on the spot (no download), so the text is
noise and J stays near 0: it shows the mechanics. With a real model the J curve is the
paper's measurement for that model on that problem.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import gymnasium as gym
import tyro

import mrt_env  # noqa: F401  (registers the MRT-* ids)
from mrt_env import info as keys
from mrt_env.episodes import MARKER_STOP_STRINGS
from mrt_env.lm import TransformersLM
from mrt_env.types import Problem


@dataclass(frozen=True)
class Args:
    """Run one problem through an MRT env."""

    model: str | None = None
    """A hub id or local folder; default: a tiny random model built locally."""
    env_id: str | None = None
    """A registered id (MRT-AIME24-v0 ...); default: a built-in toy problem."""
    data_path: str | None = None
    """Where the env id's problem file lives (default: MRT_ENV_DATA_DIR or the Hub)."""
    max_blocks: int = 4
    """Blocks (MRT episodes) before the answer is forced."""
    block_tokens: int = 48
    """Tokens the model may write per block (a block also ends at 'Wait', ...)."""
    k: int = 4
    """Forced answers the meta-prover samples per prefix."""


def main(args: Args) -> None:
    if args.model:
        lm = TransformersLM.from_pretrained(args.model)
    else:
        from mrt_env.lm.testing import tiny_lm

        lm = TransformersLM.from_pretrained(tiny_lm(tempfile.mkdtemp()))
    settings = dict(
        prover=lm,  # one model for both: the agent writes, the meta-prover forces answers
        prover_kwargs={"k": args.k, "max_answer_tokens": 32},
        max_blocks=args.max_blocks,
        forced_answer_tokens=32,
        render_mode="ansi",
    )
    if args.env_id:
        env = gym.make(args.env_id, data_path=args.data_path, **settings)
    else:
        toy = (Problem("toy/1", "What is 17 + 25?", "42"),)
        env = gym.make("mrt_env:MRT-AIME-v0", problems=toy, **settings)

    obs, info = env.reset(seed=0)
    done = False
    while not done:
        # The agent: continue the text up to the next episode marker or the block cap.
        (completion,) = lm.generate(
            [obs],
            max_tokens=args.block_tokens,
            stop=MARKER_STOP_STRINGS,
            temperature=0.7,
            seed=info[keys.EPISODE],
        )[0]
        obs, reward, terminated, truncated, info = env.step(completion.text + "\n\n")
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
