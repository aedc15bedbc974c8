"""play: run an agent on an env's problems and record each episode (single or vector env)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from mrt_env import info as keys
from mrt_env.agents.base import Agent, as_agent
from mrt_env.errors import ConfigError
from mrt_env.types import EpisodeRecord

__all__ = ["play"]


@dataclass
class _Recording:
    """An episode while it runs; :meth:`record` freezes it once the env has ended it."""

    problem_id: str
    prompt: str
    success_probs: list[float]
    blocks: list[str] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    prefix_tokens: list[int] = field(default_factory=lambda: [0])
    hidden_tokens: list[int] = field(default_factory=list)
    start_tokens: int = 0

    def record(self, info: dict[str, Any]) -> EpisodeRecord:
        return EpisodeRecord(
            self.problem_id,
            tuple(self.blocks),
            tuple(self.success_probs),
            tuple(self.prefix_tokens),
            None if info[keys.CORRECT] is None else bool(info[keys.CORRECT]),
            outcome=str(info[keys.OUTCOME]),
            answer=info[keys.ANSWER],
            prompt=self.prompt,
            rewards=tuple(self.rewards),
            hidden_tokens=tuple(self.hidden_tokens),
        )


def play(
    env: Any,
    agent: Any,
    problems: Sequence[int | str],
    *,
    seed: int | None = None,
    progress: Any = None,
    prefixes: Sequence[Sequence[str]] | None = None,
) -> list[EpisodeRecord]:
    """Run ``agent`` on each of ``problems`` (indices or ids) of ``env``; one record each.

    ``env`` is a :class:`~mrt_env.envs.ReasoningEnv` (episodes one after another, agent
    called with :meth:`Agent.act`) or a :class:`~mrt_env.envs.ReasoningVectorEnv` (up to
    ``num_envs`` problems at a time, one :meth:`Agent.act_batch` call per step for the
    envs still running). ``progress``: an optional callable called with the number of
    episodes just finished (e.g. a tqdm bar's ``update``).

    ``prefixes`` (one list of blocks per problem): each episode continues after its
    prefix (the env's ``options["blocks"]``). Its record holds the continuation only: the
    prompt includes the prefix, ``success_probs`` start at J of the prefix, and
    ``prefix_tokens`` count from it.
    """
    agent: Agent = as_agent(agent)
    agent.reset()
    problems = list(problems)
    if prefixes is not None and len(prefixes) != len(problems):
        raise ConfigError(f"need one prefix per problem ({len(problems)}), got {len(prefixes)}")
    vector = hasattr(env, "num_envs")
    width = env.num_envs if vector else 1
    records: list[EpisodeRecord] = []
    for start in range(0, len(problems), width):
        chunk = problems[start : start + width]
        blocks = None if prefixes is None else list(prefixes[start : start + width])
        records.extend(_play_batch(env, agent, chunk, seed, blocks, vector=vector))
        if progress is not None:
            progress(len(chunk))
    return records


def _env_info(infos: dict[str, Any], i: int) -> dict[str, Any]:
    """Sub-env ``i``'s info out of a vector env's batched infos (keys it has only)."""
    return {k: v[i] for k, v in infos.items() if not k.startswith("_") and infos["_" + k][i]}


def _play_batch(env, agent, chunk, seed, blocks, *, vector: bool) -> list[EpisodeRecord]:
    if vector:
        width = env.num_envs
        padded = chunk + [chunk[0]] * (width - len(chunk))  # spare sub-envs repeat the first
        options: dict[str, Any] = {"problem": padded}
        if blocks is not None:
            options["blocks"] = blocks + [blocks[0]] * (width - len(blocks))
        obs, infos = env.reset(seed=seed, options=options)
        obs = list(obs)
        per_env = [_env_info(infos, i) for i in range(width)]
    else:
        options = {"problem": chunk[0]}
        if blocks is not None:
            options["blocks"] = blocks[0]
        o, info = env.reset(seed=seed, options=options)
        obs, per_env = [o], [info]
    running = [
        _Recording(
            str(per_env[i][keys.PROBLEM_ID]),
            prompt=obs[i],
            success_probs=[float(per_env[i][keys.SUCCESS_PROB])],
            start_tokens=int(per_env[i][keys.TOKENS]),  # a prefix's tokens are not counted
        )
        for i in range(len(chunk))
    ]
    records: list[EpisodeRecord | None] = [None] * len(chunk)
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
            episode = running[i]
            episode.blocks.append(block)
            episode.rewards.append(float(reward))
            episode.success_probs.append(float(info[keys.SUCCESS_PROB]))
            episode.prefix_tokens.append(int(info[keys.TOKENS]) - episode.start_tokens)
            episode.hidden_tokens.append(hidden[i])
            per_env[i] = info
            if done:
                records[i] = episode.record(info)
                active.remove(i)
    return [r for r in records if r is not None]  # every one: all episodes have ended
