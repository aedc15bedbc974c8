"""``RegretConfig``: the settings of one ``mrt-regret`` run (its fields are the ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import tyro  # a core dependency; no model library comes with it

from mrt_env.cli import CommandConfig
from mrt_env.episodes import EpisodeRule
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import ModelSettings
from mrt_env.progress import (
    LIKELIHOOD_FORCING_TEXT,
    PAPER_FORCING_TEXT,
    ProverSettings,
)

__all__ = [
    "DEFAULT_BUDGETS",
    "RegretConfig",
]

DEFAULT_BUDGETS: tuple[int, ...] = (1024, 2048, 4096, 8192)
"""Token budgets C0 at which the normalized regret is reported by default."""

# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class RegretConfig(CommandConfig):
    """Settings of one ``mrt-regret`` run."""

    traces: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="TRACES")]]
    """JSONL file of traces, one per line: answer, response, and problem_id (or id) and/or
    question."""
    model: ModelSettings
    """The model that plays the meta-prover (normally the model that wrote the traces):
    --model.name is required."""
    out: Path = Path("runs/regret")
    """Output folder for rows.jsonl, summary.md, summary.csv, j_curve.png and regret.png."""
    prover: ProverSettings = field(default_factory=lambda: ProverSettings(kind="forced"))
    """The meta-prover μ: how J is estimated at every episode boundary."""
    episodes: EpisodeRule = field(default_factory=EpisodeRule)
    """How a response is cut into episodes."""
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    """Token budgets C0 for the normalized regret."""
    limit: int | None = None
    """Analyse only the first LIMIT traces of the file."""
    overwrite: bool = False
    """Start afresh: delete the rows already in --out instead of resuming after them."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting."""
        if not self.budgets:
            raise ConfigError("--budgets needs at least one token budget")
        if any(b <= 0 for b in self.budgets):
            raise ConfigError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ConfigError(f"--budgets must not repeat, got {list(self.budgets)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be a positive integer, got {self.limit}")

    def analysis_settings(self) -> dict[str, Any]:
        """What a row's numbers depend on; rows of other settings are not resumed."""
        prover, rule = self.prover, self.episodes
        kind = prover.kind or "forced"
        settings: dict[str, Any] = {"model": self.model.name, "prover": kind}
        if kind == "forced":
            settings.update(
                prover.forced_settings(), forcing_text=prover.forcing_text or PAPER_FORCING_TEXT
            )
        else:
            settings["forcing_text"] = prover.forcing_text or LIKELIHOOD_FORCING_TEXT
        settings.update(rule=rule.rule, max_steps=rule.max_steps, group_size=rule.group_size)
        if rule.rule == "markers":
            settings["min_paragraphs"] = rule.min_paragraphs
        if rule.rule == "tokens":
            settings["chunk_tokens"] = rule.chunk_tokens
        settings["budgets"] = list(self.budgets)
        return settings
