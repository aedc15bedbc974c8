"""The env ids ``import mrt_env`` registers with Gymnasium (string entry points: cheap).

``gym.make("MRT-AIME-v0", prover=..., data_path=...)`` (after ``import mrt_env``) or
``gym.make("mrt_env:MRT-AIME-v0", ...)`` (no import needed) builds a
:class:`~mrt_env.envs.ReasoningEnv`; ``gym.make_vec(id, num_envs=n, ...)`` builds the batched
:class:`~mrt_env.envs.ReasoningVectorEnv`. Keyword arguments become config fields.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import gymnasium as gym

from mrt_env.data.synthetic import TASKS
from mrt_env.data.synthetic.arithmetic import ArithmeticTask
from mrt_env.data.synthetic.base import SyntheticTask
from mrt_env.data.synthetic.recheck import ChecksTask, RecheckTask
from mrt_env.data.synthetic.search import SearchTask
from mrt_env.episodes import MARKER_STOP_STRINGS
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import CHECKS_MODEL, DEFAULT_MODEL, RECHECK_MODEL, SHIPPED_MODELS
from mrt_env.prover import AUTHORS_ANSWER_TOKENS, ProverConfig

__all__ = [
    "ENV_IDS",
    "STRATEGY_ENV_IDS",
    "block_settings",
    "check_model_for",
    "register_envs",
    "with_prover",
]


def _synthetic(
    task: type[SyntheticTask], max_blocks: int, model: str = DEFAULT_MODEL
) -> dict[str, Any]:
    """An offline id: the task's text format, and a shipped model as μ by default.

    The shipped model's μ is the likelihood prover: J = p(gold answer | prefix + forcing text),
    which for an answer with one spelling is exactly the forced pass@1 at temperature 1.
    """
    return {
        "problems": task.name,
        "prover": model,
        "prover_config": {
            "kind": "likelihood",
            "forcing_text": task.forcing_text,
            "answer_template": "{answer}}}",
        },
        "prompt_template": task.prompt_template,
        "forcing_text": task.forcing_text,
        "max_blocks": max_blocks,
        "max_tokens": 1024,
        "forced_answer_tokens": 12,
    }


def _real(problems: str) -> dict[str, Any]:
    """A benchmark set's env: forced answers (μ's and the one at truncation) get the authors'
    answer budget, enough for a real model to reach its \\boxed{} after the stop text."""
    return {"problems": problems, "forced_answer_tokens": AUTHORS_ANSWER_TOKENS}


ENV_IDS: dict[str, dict[str, Any]] = {
    "MRT-AIME-v0": _real("aime"),  # AIME 2024 + 2025
    "MRT-AIME24-v0": _real("aime24"),
    "MRT-AIME25-v0": _real("aime25"),
    "MRT-AMC23-v0": _real("amc23"),
    "MRT-MATH500-v0": _real("math500"),
    "MRT-Minerva-v0": _real("minerva"),
    # Offline: generated problems, the shipped model as meta-prover (runs with no arguments).
    "MRT-Arithmetic-v0": _synthetic(ArithmeticTask, max_blocks=8),
    "MRT-Search-v0": _synthetic(SearchTask, max_blocks=10),
    # The waste-rich testbed, written by its own shipped model, at two block budgets:
    # generous (every careful trace fits: waste costs no outcome) and tight (a block per
    # column: every idle block leaves a column to be guessed).
    "MRT-Recheck-v0": _synthetic(RecheckTask, max_blocks=11, model=RECHECK_MODEL),
    "MRT-Recheck-Tight-v0": _synthetic(RecheckTask, max_blocks=3, model=RECHECK_MODEL),
    # The recheck variant where some extra blocks pay: a slip stays unless a check catches
    # it. 12 blocks: more than a careful trace needs (a wait, a column and a check per
    # column, then the answer: 10).
    "MRT-Checks-v0": _synthetic(ChecksTask, max_blocks=12, model=CHECKS_MODEL),
}
"""Registered id -> its default ``ReasoningEnvConfig`` fields (``gym.make`` kwargs override)."""


STRATEGY_ENV_IDS: dict[str, dict[str, Any]] = {
    "MRT-Strategy-Search-v0": {"env": "MRT-Search-v0"},
    "MRT-Strategy-Arithmetic-v0": {"env": "MRT-Arithmetic-v0"},
}
"""Registered id -> :func:`~mrt_env.strategy.make_strategy_env` kwargs: the meta-level
decision (continue or answer) over the LM's streams in a ReasoningEnv, for stable-baselines3;
``gym.make(id, table=path)`` replays a recorded table instead of running the LM."""


def register_envs() -> None:
    """Register every id of :data:`ENV_IDS` and :data:`STRATEGY_ENV_IDS` (ids already
    registered are left alone)."""
    for env_id, kwargs in ENV_IDS.items():
        if env_id in gym.registry:
            continue
        gym.register(
            id=env_id,
            entry_point="mrt_env.envs.reasoning:ReasoningEnv",
            vector_entry_point="mrt_env.envs.vector:ReasoningVectorEnv",
            kwargs=kwargs,
        )
    for env_id, kwargs in STRATEGY_ENV_IDS.items():
        if env_id not in gym.registry:
            gym.register(id=env_id, entry_point="mrt_env.strategy:make_strategy_env", kwargs=kwargs)


def block_settings(env_kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """How an LM agent writes blocks on an env of these kwargs (``LMAgent`` arguments).

    Synthetic tasks: one line per block, up to 48 tokens, sampled at temperature 1 (the
    tiny model's format and training temperature). Real problem sets: a block ends at the
    paper's episode markers, up to 2,048 tokens, sampled at 0.6 / top-p 0.95 (the paper's).
    """
    if env_kwargs.get("problems") in TASKS:
        return {
            "stop": ("\n",),
            "keep_stop": True,
            "max_block_tokens": 48,
            "temperature": 1.0,
            "top_p": 1.0,
        }
    return {
        "stop": tuple(MARKER_STOP_STRINGS),
        "keep_stop": False,
        "max_block_tokens": 2048,
        "temperature": 0.6,
        "top_p": 0.95,
    }


def check_model_for(env_id: str, model: str) -> None:
    """Refuse a shipped model on an offline env that another shipped model writes (the
    tiny model knows nothing of MRT-Recheck's format, and the other way round): a
    :class:`ConfigError` naming the model to pass instead. Any other model is the user's
    choice and passes."""
    spec = ENV_IDS.get(env_id, {})
    writer = spec.get("prover")
    if model in SHIPPED_MODELS and writer in SHIPPED_MODELS and model != writer:
        raise ConfigError(
            f"{env_id} is written by the shipped model {writer}, not {model}: pass "
            f"--model.name {writer}"
        )


def with_prover(registered: Mapping[str, Any], prover: ProverConfig) -> dict[str, Any]:
    """An env's registered kwargs with ``prover``'s settings over its μ: the kind (None
    keeps the env's), the forced prover's sampling, the answer budget (which the forced
    answer at truncation shares) and the forcing text (which the env's shares too). What
    ``mrt-bench`` and ``mrt-train`` hand ``gym.make`` as ``--prover.*``.

    >>> with_prover(ENV_IDS["MRT-AIME-v0"], ProverConfig(k=4))["prover_config"]["k"]
    4
    """
    settings = dict(registered.get("prover_config", {}))
    env_kind = settings.get("kind") or "forced"
    kind = prover.kind or env_kind
    if kind != env_kind:  # the other kind's settings do not carry over; its text does
        settings = {k: v for k, v in settings.items() if k == "forcing_text"}
    settings["kind"] = kind
    if kind == "forced":
        settings.update(prover.forced_settings())
    kwargs = {**registered, "prover_config": settings}
    if prover.max_answer_tokens is not None:  # one budget for every forced answer
        kwargs["forced_answer_tokens"] = prover.max_answer_tokens
    if prover.forcing_text is not None:
        kwargs["forcing_text"] = settings["forcing_text"] = prover.forcing_text
    return kwargs
