"""BenchConfig: what one ``mrt-bench`` run compares, on what, and where it writes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from mrt_env.agents import STRATEGIES
from mrt_env.bench.specs import parse_strategy, resolve
from mrt_env.cli import CommandConfig
from mrt_env.lm.loading import DEFAULT_MODEL
from mrt_env.registration import ENV_IDS

__all__ = ["BenchConfig", "ProblemSelection"]

_SLICE = re.compile(r"^(\d*):(\d*)$")


@dataclass(frozen=True)
class ProblemSelection:
    """``all``, a slice ``start:stop`` of the set, or a comma list of indices and ids."""

    text: str

    def parse(self) -> slice | list[int | str]:
        text = self.text.strip()
        if not text:
            raise ValueError("--problems must not be empty (all, start:stop or i,j,...)")
        if text == "all":
            return slice(None)
        if match := _SLICE.match(text):
            start, stop = (int(x) if x else None for x in match.groups())
            if start is not None and stop is not None and stop <= start:
                raise ValueError(f"--problems {text}: an empty slice (stop <= start)")
            return slice(start, stop)
        items = [x.strip() for x in text.split(",")]
        if any(not x for x in items):
            raise ValueError(f"--problems {text!r}: an empty item in the list")
        return [int(x) if x.isdigit() else x for x in items]

    def pick(self, ids: list[str]) -> list[int]:
        """Indices into a set whose problem ids are ``ids``, in the order asked."""
        chosen = self.parse()
        if isinstance(chosen, slice):
            picked = list(range(len(ids)))[chosen]
            if not picked:
                raise ValueError(f"--problems {self.text}: no problem in a set of {len(ids)}")
            return picked
        where = {pid: i for i, pid in enumerate(ids)}
        out = []
        for item in chosen:
            if isinstance(item, int):
                if not 0 <= item < len(ids):
                    raise ValueError(
                        f"--problems: index {item} is outside the set of {len(ids)} problems"
                    )
                out.append(item)
            elif item in where:
                out.append(where[item])
            else:
                raise ValueError(
                    f"--problems: no problem with id {item!r}; ids look like {ids[0]!r}"
                )
        return list(dict.fromkeys(out))  # a problem asked twice runs once


@dataclass(frozen=True)
class BenchConfig(CommandConfig):
    """Settings of one ``mrt-bench`` run."""

    envs: tuple[str, ...] = ("MRT-Search-v0", "MRT-Arithmetic-v0")
    """Env ids to benchmark on (MRT-Search-v0, MRT-Arithmetic-v0, MRT-AIME-v0, MRT-AIME24-v0,
    MRT-AIME25-v0, MRT-AMC23-v0, MRT-MATH500-v0)."""
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    """Strategies: shipped names (think-to-budget early-exit self-verify budget-forcing
    parallel-vote), your own as module:Class or file.py:Class (an Agent, or a function
    (observation, info) -> str), each optionally with arguments: 'parallel-vote(n=8)'."""
    model: str = DEFAULT_MODEL
    """The model that writes the blocks and plays the meta-prover: the shipped tiny model
    (mrt-env/tiny), a hub id or local path, or a server's model name (--backend openai)."""
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """How the model runs: transformers (CPU/GPU), vllm (GPU), openai (a completions server)."""
    device: str = "auto"
    """transformers: cpu, cuda, cuda:1, ...; auto picks cuda when available."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """transformers and vllm: weights dtype (auto: the checkpoint's own)."""
    base_url: str | None = None
    """openai: the API root, e.g. http://localhost:8000/v1."""
    problems: str = "0:50"
    """Which problems of each env: all, a slice start:stop (0:50 = the first 50), or a comma
    list of indices and ids (3,7,aime24-11)."""
    seeds: tuple[int, ...] = (0,)
    """Seeds; each one is a full repeat of the run with other samples."""
    samples: int = 2
    """Samples per problem and seed (pass@k and maj@k use them when there are 2 or more)."""
    max_blocks: int | None = None
    """Block budget per problem (default: the env's: 10 search, 8 arithmetic, 64 AIME)."""
    max_tokens: int | None = None
    """Token budget of a stream (default: the env's: 1024 synthetic, 16384 AIME)."""
    block_tokens: int | None = None
    """Most tokens per block (default: 48 synthetic, 2048 otherwise)."""
    temperature: float | None = None
    """Sampling temperature of the blocks (default: 1.0 synthetic, 0.6 otherwise)."""
    top_p: float | None = None
    """Nucleus sampling of the blocks (default: 1.0 synthetic, 0.95 otherwise)."""
    prover: Literal["forced", "likelihood"] | None = None
    """How J is estimated: forced (sample k forced answers, the paper's) or likelihood
    (p(gold | forced prefix)); default: the env's (likelihood synthetic, forced otherwise)."""
    k: int = 8
    """forced prover: answers sampled per prefix (the paper's K)."""
    forcing_text: str | None = None
    """Text that ends the thinking and asks for the answer (default: the env's; the paper's
    text for real problem sets)."""
    data_path: str | None = None
    """Where a real problem set's file lives (default: MRT_ENV_DATA_DIR, then the Hub)."""
    budgets: tuple[int, ...] = ()
    """Token budgets C0 for token regret and accuracy-at-budget (default: 1/4, 1/2 and all of
    each env's sequential budget min(max_tokens, max_blocks * block_tokens))."""
    batch: int = 50
    """Problems run together (sub-envs of one vector env; one model call per step)."""
    out: Path = Path("runs/bench")
    """Output folder: results.jsonl, summary.md, summary.csv and the PNG plots."""
    overwrite: bool = False
    """Start afresh: delete the rows already in --out instead of resuming after them."""
    plots: bool = True
    """Write the PNG plots (needs matplotlib: pip install 'mrt-env[plot]')."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting (what was given, what
        was expected)."""
        if not self.envs:
            raise ValueError("--envs needs at least one env id")
        known = _reasoning_env_ids()
        for env_id in self.envs:
            if env_id not in known:
                raise ValueError(f"unknown env id {env_id!r}; choose from {', '.join(known)}")
        if len(set(self.envs)) != len(self.envs):
            raise ValueError(f"--envs repeats an id: {list(self.envs)}")
        if not self.strategies:
            raise ValueError("--strategies needs at least one strategy")
        specs = [parse_strategy(s) for s in self.strategies]
        labels = [spec.label for spec in specs]
        if len(set(labels)) != len(labels):
            raise ValueError(f"--strategies repeats one: {labels}")
        for spec in specs:
            resolve(spec)  # imports a user's module now: fail before running
        if not self.model.strip():
            raise ValueError("--model must name a model")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        ProblemSelection(self.problems).parse()
        if not self.seeds:
            raise ValueError("--seeds needs at least one seed")
        if any(s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ValueError(f"--seeds must be distinct integers >= 0, got {list(self.seeds)}")
        for name in ("samples", "batch", "k", "max_blocks", "max_tokens", "block_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if any(b <= 0 for b in self.budgets):
            raise ValueError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError(f"--budgets must not repeat, got {list(self.budgets)}")
        if self.temperature is not None and not self.temperature >= 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if self.top_p is not None and not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.forcing_text is not None and not self.forcing_text:
            raise ValueError("--forcing-text must not be empty (omit it for the env's)")

    def row_settings(self) -> dict[str, Any]:
        """What a row's numbers depend on besides its key (env, strategy, seed, sample,
        problem): rows made under other settings are not resumed."""
        return {
            "model": self.model,
            "backend": self.backend,
            "dtype": self.dtype,
            "prover": self.prover,
            "k": self.k if self.prover != "likelihood" else None,
            "forcing_text": self.forcing_text,
            "max_blocks": self.max_blocks,
            "max_tokens": self.max_tokens,
            "block_tokens": self.block_tokens,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "data_path": self.data_path,
        }


def _reasoning_env_ids() -> list[str]:
    """The ids registered with mrt_env's ReasoningEnv (ours, and any a user registered)."""
    import gymnasium as gym

    import mrt_env  # noqa: F401  (registers the ids)

    return sorted(
        env_id
        for env_id, spec in gym.registry.items()
        if env_id in ENV_IDS or spec.entry_point == "mrt_env.envs.reasoning:ReasoningEnv"
    )
