"""Recording a strategy table: the LM's think-to-budget streams on a set of problems, with
the graded answer the model gives when forced at every prefix, so that a tabulated strategy
env can replay them without the LM."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import gymnasium as gym

from mrt_env.agents.runner import play
from mrt_env.errors import ArgumentTypeError, ConfigError, GradingError
from mrt_env.grading import grade_many
from mrt_env.strategy.agent import default_agent, forced_answers
from mrt_env.strategy.table import StrategyTable
from mrt_env.types import Problem

__all__ = ["tabulate"]

_CHUNK = 256
"""Prefixes per forced-answer call."""


def tabulate(
    env: str,
    problems: Sequence[Problem],
    *,
    samples: int = 4,
    seed: int = 0,
    batch: int = 64,
    agent: Any = None,
    answer_tokens: int = 12,
    progress: Callable[[int], Any] | bool = True,
    **env_kwargs: Any,
) -> StrategyTable:
    """Record the LM's think-to-budget streams on ``problems`` for a tabulated strategy env.

    Each problem gets ``samples`` streams (distinct samples, equal compute); for every
    prefix the model's greedy forced answer is recorded and graded, so that *answering
    there* can be replayed. ``env_kwargs`` go to ``gym.make_vec(env, ...)``; ``agent``
    defaults to think-to-budget on the env's prover model. ``progress``: a tqdm bar (True),
    none (False) or a callable given the episodes finished.
    """
    problems = list(problems)
    if not problems or not all(isinstance(p, Problem) for p in problems):
        kinds = sorted({type(p).__name__ for p in problems})
        raise ArgumentTypeError(f"problems must be a non-empty sequence of Problem, got {kinds}")
    if samples < 1 or batch < 1:
        raise ConfigError(f"samples and batch must be >= 1, got {samples}, {batch}")
    # A problem's copies must share a batch: equal texts in one batch get distinct samples.
    width = min(samples * max(1, batch // samples), samples * len(problems))
    vec = gym.make_vec(env, num_envs=width, problems=problems, **env_kwargs)
    try:
        first = vec.envs[0]
        if agent is None:
            agent = default_agent(env, env_kwargs, first)
            agent.seed = seed
        order = [i for i in range(len(problems)) for _ in range(samples)]
        bar = None
        if progress is True:
            from tqdm.auto import tqdm

            bar = tqdm(total=len(order), desc=f"tabulate {env}", unit="stream")
            progress = bar.update
        records = play(vec, agent, order, seed=seed, progress=progress or None)
        contexts = [(r, j) for r in records for j in range(len(r.blocks))]
        if bar is not None:
            bar.close()
            bar = tqdm(total=len(contexts), desc="forced answers", unit="prefix")
        answers: list[str | None] = []
        for start in range(0, len(contexts), _CHUNK):
            chunk = contexts[start : start + _CHUNK]
            answers += forced_answers(
                agent,
                first,
                [r.prompt for r, _ in chunk],
                ["".join(r.blocks[:j]) for r, j in chunk],
                answer_tokens,
            )
            if bar is not None:
                bar.update(len(chunk))
        if bar is not None:
            bar.close()
        gold = {p.id: p.answer for p in problems}
        graded = [
            (a, gold[r.problem_id])
            for (r, _), a in zip(contexts, answers, strict=True)
            if a is not None
        ]
        verdicts = iter(grade_many(graded))
        graded_at = [next(verdicts) if a is not None else None for a in answers]
        correct = [v is not None and v.correct for v in graded_at]
        traces, at, dropped = [], 0, 0
        for r in records:
            k = len(r.blocks)
            here = graded_at[at : at + k]
            # A table replays outcomes: a stream with any answer the grader reached no
            # verdict on cannot be replayed exactly, so it is left out (and counted).
            if r.correct is None or any(v is not None and v.undecided for v in here):
                dropped += 1
            else:
                traces.append(
                    replace(
                        r,
                        forced_answers=tuple(answers[at : at + k]),
                        forced_correct=tuple(correct[at : at + k]),
                    )
                )
            at += k
        if dropped:
            warnings.warn(
                f"tabulate: {dropped} of {len(records)} streams had an answer the grader "
                "reached no verdict on (a deadline passed); they are left out of the table",
                stacklevel=2,
            )
        if not traces:
            raise GradingError("tabulate: the grader reached no verdict on any stream")
        return StrategyTable(env, first.config.max_blocks, first.config.max_tokens, tuple(traces))
    finally:
        vec.close()
