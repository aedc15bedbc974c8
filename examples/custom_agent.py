"""Write your own agent in 15 lines and benchmark it against the shipped model, by regret.

    python examples/custom_agent.py            # offline, about a minute on 2 CPU cores

The agent below solves MRT-Search-v0 (find the pair that hits the target) by trying the
pairs in order and never repeating one: the systematic search a good explorer would do.
Any function (observation, info) -> str is an agent; a class with act/act_batch is too.
"""

import itertools
import re

import gymnasium as gym
import numpy as np

import mrt_env  # noqa: F401  (registers the env ids)
from mrt_env.agents import LMAgent, play
from mrt_env.metrics import episode_regret


def systematic_search(observation: str, info: dict) -> str:
    """Try the next untried pair; box it when it hits."""
    numbers, target = re.match(r"Q ([\d ]+) sum (\d+)", observation).groups()
    numbers, target = [int(x) for x in numbers.split()], int(target)
    tried = set(re.findall(r"^(\d+)\+(\d+)=", observation, re.M))
    for a, b in itertools.combinations(numbers, 2):
        if (f"{a:02d}", f"{b:02d}") not in tried:
            verdict = f"y \\boxed{{{a},{b}}}" if a + b == target else "n"
            return f"{a:02d}+{b:02d}={a + b:02d}/{target:02d} {verdict}\n"
    return "\\boxed{}\n"


def report(name: str, records) -> None:
    accuracy = np.mean([r.correct for r in records])
    blocks = np.mean([len(r.blocks) for r in records])
    regret = np.mean([episode_regret(r.success_probs).total for r in records])
    print(f"{name:>20}: accuracy {accuracy:.2f}, blocks {blocks:.2f}, episode regret {regret:.2f}")


def main(problems: int = 40) -> None:
    env = gym.make_vec("MRT-Search-v0", num_envs=20)  # the shipped model is the meta-prover
    lm = env.unwrapped.prover.lm  # ... and can write blocks too
    model = LMAgent(lm, stop=("\n",), keep_stop=True, max_block_tokens=48, temperature=1.0)
    report("shipped model", play(env, model, range(problems), seed=0))
    report("systematic_search", play(env, systematic_search, range(problems), seed=0))


if __name__ == "__main__":
    main()
