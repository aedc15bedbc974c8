"""``RegretConfig``: the settings of one ``mrt-regret`` run (its fields are the ``--help``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import tyro  # a core dependency; no model library comes with it

from mrt_env.cli import CommandConfig
from mrt_env.progress import (
    LIKELIHOOD_FORCING_TEXT,
    PAPER_FORCING_TEXT,
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
    model: str
    """The model that plays the meta-prover: a hub id or local path (transformers, vllm), or
    the server's model name (openai). Normally the model that wrote the traces."""
    out: Path = Path("runs/regret")
    """Output folder for rows.jsonl, summary.md, summary.csv, j_curve.png and regret.png."""
    backend: Literal["transformers", "vllm", "openai"] = "transformers"
    """How the model runs: transformers (CPU/GPU, in process), vllm (GPU), openai (any
    OpenAI-compatible completions server, see --base-url)."""
    base_url: str | None = None
    """openai backend: the API root, e.g. http://localhost:8000/v1."""
    tokenizer: str | None = None
    """openai backend: hub id or path of the model's tokenizer, for token counts and the chat
    template (without it, tokens are counted by the server's /tokenize and no chat template
    is applied to the question)."""
    device: str = "auto"
    """transformers backend: cpu, cuda, cuda:1, ...; auto picks cuda when available."""
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    """transformers and vllm backends: weights dtype (auto: the checkpoint's own)."""
    prover: Literal["forced", "likelihood"] = "forced"
    """How J is estimated: forced (the paper's: sample K forced answers, grade them) or
    likelihood (the probability of the gold answer after forcing; one pass, deterministic)."""
    k: int = 8
    """forced prover: answers sampled per prefix (the paper's K)."""
    temperature: float = 0.6
    """forced prover: sampling temperature of the forced answers."""
    top_p: float = 0.95
    """forced prover: nucleus sampling of the forced answers."""
    max_answer_tokens: int = 256
    """forced prover: tokens each forced answer may use."""
    forcing_text: str | None = None
    """Text appended after a prefix to end the thinking and ask for the answer (default: the
    prover's own: the authors' text for forced, the same ending in '\\boxed{' for
    likelihood)."""
    seed: int = 0
    """Seed of the forced answers (same seed and inputs, same J)."""
    rule: Literal["markers", "backtrack", "tokens"] = "markers"
    """Episode rule: markers (paragraphs opening with Wait, Alternatively, ...), backtrack
    ('Backtrack to Line N' lines) or tokens (chunks of --chunk-tokens tokens)."""
    max_steps: int | None = None
    """At most this many episode boundaries; the rest is one final episode (authors: 49)."""
    group_size: int = 1
    """Merge every GROUP_SIZE consecutive episodes into one (authors: 5)."""
    chunk_tokens: int | None = None
    """rule=tokens: tokens per episode."""
    budgets: tuple[int, ...] = DEFAULT_BUDGETS
    """Token budgets C0 for the normalized regret."""
    limit: int | None = None
    """Analyse only the first LIMIT traces of the file."""
    overwrite: bool = False
    """Start afresh: delete the rows already in --out instead of resuming after them."""

    def validate(self) -> None:
        """Raise a :class:`ValueError` naming the first bad setting."""
        if not self.model.strip():
            raise ValueError("--model must name a model (hub id, path or server model name)")
        if self.backend == "openai" and not self.base_url:
            raise ValueError("--backend openai needs --base-url (e.g. http://localhost:8000/v1)")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"--base-url must start with http:// or https://, got {self.base_url}")
        if self.k < 1:
            raise ValueError(f"--k must be at least 1, got {self.k}")
        if self.max_answer_tokens < 1:
            raise ValueError(
                f"--max-answer-tokens must be at least 1, got {self.max_answer_tokens}"
            )
        if not self.temperature >= 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        if self.forcing_text is not None and not self.forcing_text:
            raise ValueError("--forcing-text must not be empty (omit it for the default)")
        if self.max_steps is not None and self.max_steps < 0:
            raise ValueError(f"--max-steps must be >= 0, got {self.max_steps}")
        if self.group_size < 1:
            raise ValueError(f"--group-size must be at least 1, got {self.group_size}")
        if self.rule == "tokens" and self.chunk_tokens is None:
            raise ValueError("--rule tokens needs --chunk-tokens")
        if self.chunk_tokens is not None and self.chunk_tokens < 1:
            raise ValueError(f"--chunk-tokens must be at least 1, got {self.chunk_tokens}")
        if not self.budgets:
            raise ValueError("--budgets needs at least one token budget")
        if any(b <= 0 for b in self.budgets):
            raise ValueError(f"--budgets must be positive token counts, got {list(self.budgets)}")
        if len(set(self.budgets)) != len(self.budgets):
            raise ValueError(f"--budgets must not repeat, got {list(self.budgets)}")
        if self.limit is not None and self.limit < 1:
            raise ValueError(f"--limit must be a positive integer, got {self.limit}")

    @property
    def episode_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`~mrt_env.episodes.prefixes` (without a tokenizer)."""
        kwargs: dict[str, Any] = {
            "rule": self.rule,
            "max_steps": self.max_steps,
            "group_size": self.group_size,
        }
        if self.rule == "tokens":
            kwargs["chunk_tokens"] = self.chunk_tokens
        return kwargs

    def analysis_settings(self) -> dict[str, Any]:
        """What a row's numbers depend on; rows of other settings are not resumed."""
        settings: dict[str, Any] = {"model": self.model, "prover": self.prover}
        if self.prover == "forced":
            settings.update(
                k=self.k,
                temperature=self.temperature,
                top_p=self.top_p,
                max_answer_tokens=self.max_answer_tokens,
                seed=self.seed,
                forcing_text=self.forcing_text or PAPER_FORCING_TEXT,
            )
        else:
            settings["forcing_text"] = self.forcing_text or LIKELIHOOD_FORCING_TEXT
        settings.update(self.episode_kwargs, budgets=list(self.budgets))
        return settings
