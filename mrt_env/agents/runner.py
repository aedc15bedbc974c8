"""play: run an agent on an env's problems and record each episode (single or vector env)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mrt_env import info as keys
from mrt_env.agents.base import Agent, as_agent

__all__ = ["EpisodeRecord", "play"]


@dataclass
class EpisodeRecord:
    """One episode: the blocks written and what the env said about them."""

    problem_id: str
    prompt: str = ""
    blocks: list[str] = field(default_factory=list)
    success_probs: list[float] = field(default_factory=list)  # J_0 ... J_k
    rewards: list[float] = field(default_factory=list)
    prefix_tokens: list[int] = field(default_factory=lambda: [0])  # tokens of c_0 ... c_k
    hidden_tokens: list[int] = field(default_factory=list)  # per block, not in the transcript
    tokens: int = 0
    correct: bool = False
    outcome: str = ""
    answer: str | None = None

    @property
    def episode_return(self) -> float:
        return float(sum(self.rewards))

    @property
    def compute_tokens(self) -> list[int]:
        """Tokens spent by each prefix c_0 … c_k: the transcript's plus what the agent
        generated off it (:meth:`Agent.take_hidden_tokens`); the x-axis for comparing
        strategies at equal compute."""
        spent, out = 0, [0]
        for j, hidden in enumerate(self.hidden_tokens):
            spent += hidden
            out.append(self.prefix_tokens[j + 1] + spent)
        return out


def play(
    env: Any,
    agent: Any,
    problems: Sequence[int | str],
    *,
    seed: int | None = None,
    progress: Any = None,
) -> list[EpisodeRecord]:
    """Run ``agent`` on each of ``problems`` (indices or ids) of ``env``; one record each.

    ``env`` is a :class:`~mrt_env.envs.ReasoningEnv` (episodes one after another, agent
    called with :meth:`Agent.act`) or a :class:`~mrt_env.envs.ReasoningVectorEnv` (up to
    ``num_envs`` problems at a time, one :meth:`Agent.act_batch` call per step for the
    envs still running). ``progress``: an optional callable called with the number of
    episodes just finished (e.g. a tqdm bar's ``update``).
    """
    agent: Agent = as_agent(agent)
    agent.reset()
    problems = list(problems)
    vector = hasattr(env, "num_envs")
    width = env.num_envs if vector else 1
    records: list[EpisodeRecord] = []
    for start in range(0, len(problems), width):
        chunk = problems[start : start + width]
        records.extend(_play_batch(env, agent, chunk, seed, vector=vector))
        if progress is not None:
            progress(len(chunk))
    return records


def _env_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Sub-env ``i``'s info out of a vector env's batched infos (keys it has only)."""
    return {k: v[i] for k, v in infos.items() if not k.startswith("_") and infos["_" + k][i]}


def _play_batch(env, agent, chunk, seed, *, vector: bool) -> list[EpisodeRecord]:
    if vector:
        width = env.num_envs
        padded = chunk + [chunk[0]] * (width - len(chunk))  # spare sub-envs repeat the first
        obs, infos = env.reset(seed=seed, options={"problem": padded})
        obs = list(obs)
        per_env = [_env_info(infos, i) for i in range(width)]
    else:
        o, info = env.reset(seed=seed, options={"problem": chunk[0]})
        obs, per_env = [o], [info]
    records = [
        EpisodeRecord(
            str(per_env[i][keys.PROBLEM_ID]),
            prompt=obs[i],
            success_probs=[float(per_env[i][keys.SUCCESS_PROB])],
        )
        for i in range(len(chunk))
    ]
    active = list(range(len(chunk)))
    while active:
        views = [{**per_env[i], keys.SLOT: i} for i in active]
        blocks = agent.act_batch([obs[i] for i in active], views)
        hidden = {i: agent.take_hidden_tokens(i) for i in active}
        if vector:
            actions = [""] * env.num_envs
            for i, block in zip(active, blocks, strict=True):
                actions[i] = block
            obs, rewards, terminated, truncated, infos = env.step(actions)
            obs = list(obs)
            steps = {
                i: (rewards[i], terminated[i] or truncated[i], _env_info(infos, i)) for i in active
            }
        else:
            o, r, term, trunc, info = env.step(blocks[0])
            obs = [o]
            steps = {0: (r, term or trunc, info)}
        for i, block in zip(list(active), blocks, strict=True):
            reward, done, info = steps[i]
            record = records[i]
            record.blocks.append(block)
            record.rewards.append(float(reward))
            record.success_probs.append(float(info[keys.SUCCESS_PROB]))
            record.prefix_tokens.append(int(info[keys.TOKENS]))
            record.hidden_tokens.append(hidden[i])
            per_env[i] = info
            if done:
                record.tokens = int(info[keys.TOKENS])
                record.correct = bool(info[keys.CORRECT])
                record.outcome = str(info[keys.OUTCOME])
                record.answer = info[keys.ANSWER]
                active.remove(i)
    return records
