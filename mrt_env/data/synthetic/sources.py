"""The synthetic families as problem sets: ``load_problems("search")`` and friends."""

from __future__ import annotations

from pathlib import Path

from mrt_env.data.synthetic import EVAL_PROBLEMS, TASKS, get_task
from mrt_env.errors import ConfigError
from mrt_env.types import Problem

__all__ = ["register_synthetic_sources"]


def _loader(name: str):
    def load(*, path: Path | None, split: str | None) -> list[Problem]:
        if path is not None:
            raise ConfigError(f"{name!r} is generated, not read from a file; drop path=")
        if split not in (None, "test"):
            raise ConfigError(
                f"{name!r} has one split, 'test' (seed 0, {EVAL_PROBLEMS} problems); for "
                f"others use mrt_env.data.synthetic.get_task({name!r}, seed=...)"
            )
        return get_task(name, seed=0).problems(EVAL_PROBLEMS)

    load.__doc__ = f"synthetic {name} problems, generated offline (held-out set, seed 0)"
    return load


def register_synthetic_sources() -> None:
    from mrt_env.data.sources import available_sources, register_source

    for name in TASKS:
        if name not in available_sources():
            register_source(name, _loader(name))
