"""BenchConfig: what one ``mrt-bench`` run compares, on what, and where it writes."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrt_env.agents import STRATEGIES, BlockSamplingConfig
from mrt_env.bench.specs import check_argument_types, parse_strategy, resolve
from mrt_env.cli import CommandConfig
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import DEFAULT_MODEL, ModelConfig
from mrt_env.prover import ProverConfig
from mrt_env.registration import ENV_IDS, check_model_for

__all__ = ["BenchConfig", "ProblemSelection"]

_SLICE = re.compile(r"^(\d*):(\d*)$")
_DEFAULTS = ProverConfig().forced_settings()


@dataclass(frozen=True)
class ProblemSelection:
    """``all``, a slice ``start:stop`` of the set, or a comma list of indices and ids."""

    text: str

    def parse(self) -> slice | list[int | str]:
        text = self.text.strip()
        if not text:
            raise ConfigError("--problems must not be empty (all, start:stop or i,j,...)")
        if text == "all":
            return slice(None)
        if match := _SLICE.match(text):
            start, stop = (int(x) if x else None for x in match.groups())
            if start is not None and stop is not None and stop <= start:
                raise ConfigError(f"--problems {text}: an empty slice (stop <= start)")
            return slice(start, stop)
        items = [x.strip() for x in text.split(",")]
        if any(not x for x in items):
            raise ConfigError(f"--problems {text!r}: an empty item in the list")
        return [int(x) if x.isdigit() else x for x in items]

    def pick(self, ids: list[str]) -> list[int]:
        """Indices into a set whose problem ids are ``ids``, in the order asked."""
        chosen = self.parse()
        if isinstance(chosen, slice):
            picked = list(range(len(ids)))[chosen]
            if not picked:
                raise ConfigError(f"--problems {self.text}: no problem in a set of {len(ids)}")
            return picked
        where = {pid: i for i, pid in enumerate(ids)}
        out = []
        for item in chosen:
            if isinstance(item, int):
                if not 0 <= item < len(ids):
                    raise ConfigError(
                        f"--problems: index {item} is outside the set of {len(ids)} problems"
                    )
                out.append(item)
            elif item in where:
                out.append(where[item])
            else:
                raise ConfigError(
                    f"--problems: no problem with id {item!r}; ids look like {ids[0]!r}"
                )
        return list(dict.fromkeys(out))  # a problem asked twice runs once


@dataclass(frozen=True)
class BenchConfig(CommandConfig):
    """Settings of one ``mrt-bench`` run."""

    envs: tuple[str, ...] = ("MRT-Search-v0", "MRT-Arithmetic-v0")
    """Env ids to benchmark on (MRT-Search-v0, MRT-Arithmetic-v0, MRT-AIME-v0, MRT-AIME24-v0,
    MRT-AIME25-v0, MRT-AMC23-v0, MRT-MATH500-v0, MRT-Minerva-v0)."""
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    """Strategies: shipped names (think-to-budget early-exit self-verify budget-forcing
    parallel-vote), your own as module:Class or file.py:Class (an Agent, or a function
    (observation, info) -> str), each optionally with arguments: 'parallel-vote(n=8)'."""
    model: ModelConfig = field(default_factory=lambda: ModelConfig(DEFAULT_MODEL))
    """The model that writes the blocks and plays the meta-prover."""
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
    agent: BlockSamplingConfig = field(default_factory=BlockSamplingConfig)
    """How the strategies' model samples its blocks (default: each env's)."""
    prover: ProverConfig = field(default_factory=ProverConfig)
    """The meta-prover μ: how J is estimated after every block (default: each env's,
    likelihood for the synthetic tasks and forced otherwise)."""
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
            raise ConfigError("--envs needs at least one env id")
        known = _reasoning_env_ids()
        for env_id in self.envs:
            if env_id not in known:
                raise ConfigError(f"unknown env id {env_id!r}; choose from {', '.join(known)}")
        if len(set(self.envs)) != len(self.envs):
            raise ConfigError(f"--envs repeats an id: {list(self.envs)}")
        for env_id in self.envs:
            check_model_for(env_id, self.model.name)
        if not self.strategies:
            raise ConfigError("--strategies needs at least one strategy")
        specs = [parse_strategy(s) for s in self.strategies]
        labels = [spec.label for spec in specs]
        if len(set(labels)) != len(labels):
            raise ConfigError(f"--strategies repeats one: {labels}")
        for spec in specs:  # imports a user's module now: fail before running
            check_argument_types(spec, resolve(spec))
        ProblemSelection(self.problems).parse()
        if not self.seeds:
            raise ConfigError("--seeds needs at least one seed")
        if any(s < 0 for s in self.seeds) or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"--seeds must be distinct integers >= 0, got {list(self.seeds)}")
        for name in ("samples", "batch", "max_blocks", "max_tokens"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ConfigError(f"--{name.replace('_', '-')} must be >= 1, got {value}")
        if any(b <= 0 for b in self.budgets):
            raise ConfigError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ConfigError(f"--budgets must not repeat, got {list(self.budgets)}")

    def row_settings(self) -> dict[str, Any]:
        """What a row's numbers depend on besides its key (env, strategy, seed, sample,
        problem): rows made under other settings are not resumed."""
        prover, forced = self.prover, self.prover.kind != "likelihood"
        # The forced answers' settings that are not the defaults (absent: all defaults, as in
        # folders written before they could be set).
        answers = {
            k: v for k, v in prover.forced_settings().items() if k != "k" and v != _DEFAULTS.get(k)
        }
        return {
            "model": self.model.name,
            "backend": self.model.backend,
            "dtype": self.model.dtype,
            "prover": prover.kind,
            "k": prover.k if forced else None,
            "forcing_text": prover.forcing_text,
            "max_blocks": self.max_blocks,
            "max_tokens": self.max_tokens,
            "block_tokens": self.agent.block_tokens,
            "temperature": self.agent.temperature,
            "top_p": self.agent.top_p,
            "data_path": self.data_path,
            **({"prover_answers": answers} if forced and answers else {}),
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
