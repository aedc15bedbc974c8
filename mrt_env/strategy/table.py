"""The strategy table: an LM's recorded streams that a tabulated strategy env replays, its
file format, and the best return it allows (an oracle stopper's)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mrt_env.errors import ConfigError, DataFormatError, DataNotFound
from mrt_env.metrics import anytime_regret
from mrt_env.runfiles import sibling_tmp
from mrt_env.types import EpisodeRecord

__all__ = ["TABLE_FORMAT", "StrategyTable", "anytime_return_bound"]

TABLE_FORMAT = "mrt-strategy-table/2"
"""The ``format`` of a saved :class:`StrategyTable` (/2: each trace an EpisodeRecord row)."""


@dataclass(frozen=True)
class StrategyTable:
    """Recorded streams of one env, with the budgets they ran under.

    Each stream is an :class:`~mrt_env.types.EpisodeRecord` of k blocks that ended at c_k
    by the model's own commitment or by the block/token budget (the env then forced the
    answer), with the model's greedy answer when forced at $c_0 … c_{k-1}$ and whether each
    is right (``forced_answers``, ``forced_correct``): the outcome of answering there.
    """

    env_id: str
    horizon: int
    """The block budget H: regret is counted over H blocks."""
    max_tokens: int
    """The token budget (the scale of ``token_fraction``)."""
    traces: tuple[EpisodeRecord, ...]

    def __post_init__(self) -> None:
        if not self.traces:
            raise ConfigError("a StrategyTable needs at least one trace")
        if self.horizon < 1 or self.max_tokens < 1:
            raise ConfigError(
                f"horizon and max_tokens must be >= 1, got {self.horizon}, {self.max_tokens}"
            )
        unforced = [
            t.problem_id
            for t in self.traces
            if t.forced_answers is None or t.forced_correct is None
        ]
        if unforced:
            raise ConfigError(
                "a StrategyTable replays answering at every prefix: traces without "
                f"forced_answers and forced_correct: {unforced[:3]}"
            )
        long = [t.problem_id for t in self.traces if len(t.blocks) > self.horizon]
        if long:
            raise ConfigError(f"traces longer than the horizon {self.horizon}: {long[:3]}")

    def save(self, path: str | Path) -> Path:
        """Write the table as JSON (gzipped if ``path`` ends in ``.gz``); returns the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        text = json.dumps(
            {
                "format": TABLE_FORMAT,
                "env_id": self.env_id,
                "horizon": self.horizon,
                "max_tokens": self.max_tokens,
                "traces": [t.to_row() for t in self.traces],
            }
        )
        tmp = sibling_tmp(path)
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(tmp, "wt", encoding="utf-8") as f:
            f.write(text)
        tmp.replace(path)  # atomic: a killed run leaves the old table or none
        return path

    @classmethod
    def load(cls, path: str | Path) -> StrategyTable:
        path = Path(path)
        if not path.is_file():
            raise DataNotFound(
                f"no strategy table at {path}; record one with "
                "mrt_env.strategy.tabulate(...).save(path)"
            )
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as f:
            data = json.load(f)
        found = data.get("format") if isinstance(data, dict) else None
        if found != TABLE_FORMAT:
            again = (
                "; it was written by an older mrt_env: record it again with tabulate(...)"
                if isinstance(found, str) and found.startswith("mrt-strategy-table/")
                else ""
            )
            raise DataFormatError(f"{path} is not a strategy table (format {TABLE_FORMAT}){again}")
        traces = tuple(EpisodeRecord.from_row(t) for t in data["traces"])
        return cls(data["env_id"], data["horizon"], data["max_tokens"], traces)


def anytime_return_bound(table: StrategyTable) -> float:
    """The best mean return on ``table`` (an oracle stopper): per trace, the least anytime
    regret over every choice of where to stop, answering at one of its prefixes or thinking
    to its end."""
    best = []
    for trace in table.traces:
        js, horizon = list(trace.success_probs), table.horizon
        # Answering at c_t writes block t + 1, whose J is never used (the outcome replaces
        # it in the anytime success): 0.0 stands in for it.
        regrets = [
            anytime_regret([*js[: t + 1], 0.0], trace.forced_correct[t], horizon)
            for t in range(len(trace.blocks))
        ]
        regrets.append(anytime_regret(js, trace.correct, horizon))
        best.append(-min(regrets))
    return float(np.mean(best))
