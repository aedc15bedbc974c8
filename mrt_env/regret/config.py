"""``RegretConfig``: the settings of one ``mrt-regret`` run (its fields are the ``--help``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro  # a core dependency; no model library comes with it

from mrt_env.cli import CommandConfig, Preset
from mrt_env.config import Config
from mrt_env.episodes import EpisodeConfig
from mrt_env.errors import ConfigError
from mrt_env.lm.loading import ModelConfig
from mrt_env.prover import (
    AUTHORS_ANSWER_TOKENS,
    LIKELIHOOD_FORCING_TEXT,
    PAPER_FORCING_TEXT,
    ProverConfig,
)

__all__ = [
    "AUTHORS_BUDGETS",
    "DEFAULT_BUDGETS",
    "PRESETS",
    "ExtrapolationConfig",
    "MajorityConfig",
    "RegretConfig",
    "budget_key",
]

DEFAULT_BUDGETS: tuple[int, ...] = (1024, 2048, 4096, 8192)
"""Token budgets C0 at which the normalized regret is reported by default."""

AUTHORS_BUDGETS: tuple[int, ...] = (4096, 8192, 12288, 16384)
"""The cutoffs C0 of the authors' regret plots."""


def budget_key(budget: float) -> str:
    """A budget as the key of a row's ``token_regret`` (``4096``, or ``4096.5``)."""
    return str(int(budget)) if float(budget).is_integer() else str(budget)


def _authors_flags(max_steps: int, group_size: int, temperature: float, top_p: float) -> tuple:
    # --budgets first: its list must end before the user's arguments (a positional TRACES).
    return (
        *("--budgets", *map(str, AUTHORS_BUDGETS)),
        *("--episodes.max-steps", str(max_steps), "--episodes.group-size", str(group_size)),
        *("--prover.k", "8", "--prover.temperature", str(temperature)),
        *("--prover.top-p", str(top_p), "--prover.max-answer-tokens", str(AUTHORS_ANSWER_TOKENS)),
    )


PRESETS: dict[str, Preset] = {
    "r1-aime24": Preset(
        "R1 traces on AIME 2024, as in the paper's R1 analysis: 45 episodes at most, grouped "
        "by 3; mu samples k=8 answers at temperature 0.7, top-p 1.0",
        _authors_flags(45, 3, 0.7, 1.0),
    ),
    "r1-omnimath": Preset(
        "R1 traces on Omni-MATH (the authors' r1 scripts): 49 episodes at most, grouped by 5; "
        "mu as in r1-aime24",
        _authors_flags(49, 5, 0.7, 1.0),
    ),
    "deepscaler": Preset(
        "the DeepScaleR-1.5B comparison (base, GRPO, MRT): 99 episodes at most, grouped by 10; "
        "mu samples k=8 answers at temperature 0.6, top-p 0.95",
        _authors_flags(99, 10, 0.6, 0.95),
    ),
}
"""``mrt-regret --preset NAME``: the segmentation and μ settings of the authors' analyses
(their ``break_into_meta_steps`` notebooks and ``pass_at_k_given_prefix`` scripts), with
4096-token answers and the cutoffs C0 of their plots. Each sets the same flags, so they
differ only in the values."""

# --------------------------------------------------------------------------------------------
# Configuration


@dataclass(frozen=True)
class MajorityConfig(Config):
    """[maj@p]_j, the paper's R1 analysis: a vote among p of μ's answers after each episode j
    (the ``--maj.*`` flags)."""

    p: tuple[int, ...] = ()
    """The p of [maj@p]_j at every episode j (the authors: 1 2 4 8; each at most --prover.k).
    Empty: no majority curves."""
    weights: Literal["likelihood", "count"] = "likelihood"
    """likelihood: each answer's vote weighs 2 ** its mean log-probability per token (the
    authors'; one more forward pass per answer). count: one vote each."""
    direct: int = 0
    """Answers sampled straight from the question (no thinking prefix, no forcing text) for
    the 'direct' curve: pass@p and maj@p of the model answering at once (the authors: 32).
    0: none."""

    def validate(self) -> None:
        if any(p < 1 for p in self.p) or len(set(self.p)) != len(self.p):
            raise ConfigError(f"--maj.p must be distinct positive integers, got {list(self.p)}")
        if self.direct < 0:
            raise ConfigError(f"--maj.direct must be >= 0, got {self.direct}")
        if self.direct and self.p and max(self.p) > self.direct:
            raise ConfigError(
                f"--maj.direct {self.direct} is fewer than the largest --maj.p {max(self.p)}"
            )


@dataclass(frozen=True)
class ExtrapolationConfig(Config):
    """Budget forcing past the end of each trace's thinking, the authors' extrapolation (the
    ``--extrapolate.*`` flags): the thought is extended with "Wait", "But wait",
    "Alternatively", "But hold on" in turn, and μ continues it freely every few extensions."""

    extensions: int = 0
    """Extensions of each thought (the authors: 8). 0: no extrapolation."""
    tokens: int = 2048
    """Tokens each extension may write (it ends earlier at the model's </think>)."""
    every: int = 2
    """Measure J after every this many extensions (and before the first)."""

    def validate(self) -> None:
        if self.extensions < 0:
            raise ConfigError(f"--extrapolate.extensions must be >= 0, got {self.extensions}")
        if self.tokens < 1 or self.every < 1:
            raise ConfigError(
                "--extrapolate.tokens and --extrapolate.every must be >= 1, got "
                f"{self.tokens} and {self.every}"
            )

    @property
    def checkpoints(self) -> list[int]:
        """The extension counts at which J is measured: 0, every, 2·every, … ≤ extensions."""
        return list(range(0, self.extensions + 1, self.every))


@dataclass(frozen=True)
class RegretConfig(CommandConfig):
    """Settings of one ``mrt-regret`` run."""

    traces: tyro.conf.Positional[Annotated[Path, tyro.conf.arg(metavar="TRACES")]]
    """JSONL file of traces, one per line: answer, response, and problem_id (or id) and/or
    question."""
    model: ModelConfig
    """The model that plays the meta-prover (normally the model that wrote the traces):
    --model.name is required."""
    out: Path = Path("runs/regret")
    """Output folder for rows.jsonl, summary.md, summary.csv, j_curve.png and regret.png."""
    prover: ProverConfig = field(
        default_factory=lambda: ProverConfig(kind="forced", max_answer_tokens=AUTHORS_ANSWER_TOKENS)
    )
    """The meta-prover μ: how J is estimated at every episode boundary (answers get the
    authors' 4096 tokens by default)."""
    episodes: EpisodeConfig = field(default_factory=EpisodeConfig)
    """How a response is cut into episodes."""
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    """Token budgets C0 for the normalized regret."""
    limit: int | None = None
    """Analyse only the first LIMIT traces of the file."""
    overwrite: bool = False
    """Start afresh: delete the rows already in --out instead of resuming after them."""
    measure: Literal["authors", "stream"] | None = None
    """authors: μ's contexts byte for byte as the authors' analysis builds them, and their
    token-regret curve (J_0 on it; x = context tokens + μ's mean answer length). stream: the
    forcing text appended to each prefix, and the token regret over the stream's tokens (as
    mrt-bench). Default: authors with the forced prover and its default forcing text, else
    stream."""

    maj: MajorityConfig = field(default_factory=MajorityConfig)
    """[maj@p]_j curves (off unless --maj.p is given)."""
    extrapolate: ExtrapolationConfig = field(default_factory=ExtrapolationConfig)
    """Budget-forcing extrapolation (off unless --extrapolate.extensions is given)."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting."""
        forced = (self.prover.kind or "forced") == "forced"
        if (self.maj.p or self.maj.direct or self.extrapolate.extensions) and not forced:
            raise ConfigError(
                "--maj.* and --extrapolate.* vote and grade μ's sampled answers: they need "
                "the forced prover, not --prover.kind likelihood"
            )
        if self.maj.p and max(self.maj.p) > self.prover.k:
            raise ConfigError(
                f"--maj.p {max(self.maj.p)} exceeds --prover.k {self.prover.k}: a vote among "
                "p answers needs at least p of them"
            )
        if not self.budgets:
            raise ConfigError("--budgets needs at least one token budget")
        if any(b <= 0 for b in self.budgets):
            raise ConfigError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ConfigError(f"--budgets must not repeat, got {list(self.budgets)}")
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"--limit must be a positive integer, got {self.limit}")
        if self.measure == "authors" and (
            (self.prover.kind or "forced") != "forced" or self.prover.forcing_text is not None
        ):
            raise ConfigError(
                "--measure authors uses the authors' forced prover and forcing texts; drop "
                "--prover.kind likelihood / --prover.forcing-text, or pass --measure stream"
            )

    @property
    def effective_measure(self) -> str:
        """The measure this run uses (``measure``, or its default)."""
        if self.measure is not None:
            return self.measure
        forced = (self.prover.kind or "forced") == "forced"
        return "authors" if forced and self.prover.forcing_text is None else "stream"

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
        settings["measure"] = self.effective_measure
        if self.maj.p or self.maj.direct:  # absent when off: older runs resume unchanged
            settings["maj"] = {"p": list(self.maj.p), "weights": self.maj.weights}
            settings["maj"]["direct"] = self.maj.direct
        if self.extrapolate.extensions:
            settings["extrapolate"] = asdict(self.extrapolate)
        return settings
