"""Split a reasoning stream into episodes (the docs' *blocks* $z_1, z_2, …, z_k$).

MRT (Qu et al., "Optimizing Test-Time Compute via Meta Reinforcement Fine-Tuning", ICML 2025)
views one long chain of thought as a sequence of episodes and measures, after each one, how
likely a meta-prover is to answer correctly if forced to stop there. Progress and regret are
therefore only as meaningful as the episode boundaries, so the rules below are the paper's,
implemented exactly (the docs' Concepts page has them too):

* **Open-ended setting** (``rule="markers"``). An R1-style model changes course in a new
  paragraph that opens with a discourse marker ("Wait", "Alternatively", ...), so the text is
  split on blank lines (``"\\n\\n"``) into paragraphs and a new episode starts at a paragraph
  that begins with one of :data:`EPISODE_MARKERS`. Models say "Wait" very often, sometimes in
  consecutive paragraphs; a marker is ignored when the previous boundary is fewer than
  ``min_paragraphs`` (3) paragraphs back, so that every episode (the first one too) holds at
  least three paragraphs of work rather than one hesitation. After ``max_steps`` boundaries the
  rest of the stream is one final episode, and ``group_size`` merges consecutive episodes into
  coarser ones (the authors used ``max_steps=49, group_size=5`` for their R1 analysis).
* **Backtracking setting** (``rule="backtrack"``). An episode is one attempt; a new attempt
  starts at a line ``Backtrack to Line <n>`` or ``Backtrack to beginning``.
* **Lines** (``rule="lines"``): every line is an episode, the unit the synthetic tasks
  (``MRT-Search-v0``, ``MRT-Recheck-v0``, ...) write one block of at a time; the newline
  ends its line's episode.
* **Token chunks** (``rule="tokens"``): fixed windows of ``chunk_tokens`` tokens, a
  model-agnostic baseline segmentation.

Every rule only *cuts* the text: ``"".join(split_episodes(text, ...)) == text`` always holds.
The blank line in front of a new episode stays at the end of the previous episode, so every
new episode begins with the paragraph (or line) that opened it, and ``text[:b]`` for a boundary
``b`` is exactly the context c_j the meta-prover is scored on.

Where the authors' notebook (``break_into_meta_steps``) and this module differ, the
difference is deliberate and only affects edge cases: a marker must be a whole word ("Waiting"
does not open an episode, "Wait," does) and may be preceded by whitespace; and episodes are not
``rstrip``-ed, so that they join back to the original text.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from mrt_env.config import Config
from mrt_env.errors import ArgumentTypeError, ConfigError

__all__ = [
    "EPISODE_MARKERS",
    "MARKER_STOP_STRINGS",
    "RULES",
    "EpisodeConfig",
    "episode_boundaries",
    "prefix_ends",
    "prefixes",
    "prefixes_at",
    "split_episodes",
]

EPISODE_MARKERS: tuple[str, ...] = (
    "Wait",
    "But wait",
    "Alternatively",
    "Is there another way to think about this?",
    "But let me double-check",
    "But hold on",
)
"""The paper's six paragraph openers that start a new episode in the open-ended setting."""

MARKER_STOP_STRINGS: tuple[str, ...] = tuple("\n\n" + m for m in EPISODE_MARKERS)
"""Stop strings that end a generated block right before the next episode would start.

They are a superset of the rule (``"\\n\\nWaiting"`` also matches ``"\\n\\nWait"``, and the
3-paragraph rule is not applied), so an agent that stops on them should re-check the continuation
with :func:`split_episodes` if it needs the exact boundaries.
"""

RULES: tuple[str, ...] = ("markers", "backtrack", "lines", "tokens")
"""The segmentation rules :func:`split_episodes` accepts."""

_PARAGRAPH_SEP = "\n\n"

# Line starts only; optional indentation is tolerated because models sometimes indent it.
_BACKTRACK_RE = re.compile(r"^[ \t]*(?:Backtrack to Line \d+|Backtrack to beginning)", re.M)


def _check_int(name: str, value: Any, minimum: int) -> None:
    # bool is an int subclass; True as a step count is always a mistake.
    if not isinstance(value, int) or isinstance(value, bool):
        raise ArgumentTypeError(f"{name} must be an int, got {type(value).__name__}: {value!r:.80}")
    if value < minimum:
        raise ConfigError(f"{name} must be >= {minimum}, got {value}")


def _starts_with_marker(paragraph: str) -> bool:
    """Whether a paragraph opens with a marker as a whole word (after optional whitespace)."""
    stripped = paragraph.lstrip()
    for marker in EPISODE_MARKERS:
        # "Wait," "Wait..." "Wait " and a bare "Wait" count; "Waiting" does not.
        if stripped.startswith(marker) and not stripped[len(marker) : len(marker) + 1].isalpha():
            return True
    return False


def _marker_boundaries(text: str, min_paragraphs: int) -> list[int]:
    # str.split gives the leftmost, non-overlapping blank lines, as in the authors' code; the
    # offsets are rebuilt from the pieces so that a boundary is the first char of a paragraph.
    boundaries = [0]
    last_start_index = 0  # paragraph index of the latest boundary
    start = 0
    for index, paragraph in enumerate(text.split(_PARAGRAPH_SEP)):
        if index - last_start_index >= min_paragraphs and _starts_with_marker(paragraph):
            boundaries.append(start)
            last_start_index = index
        start += len(paragraph) + len(_PARAGRAPH_SEP)
    return boundaries


def _backtrack_boundaries(text: str) -> list[int]:
    boundaries = [0]
    for match in _BACKTRACK_RE.finditer(text):
        if match.start() > 0:  # a backtrack on the very first line does not make an empty attempt
            boundaries.append(match.start())
    return boundaries


def _line_boundaries(text: str) -> list[int]:
    return [0, *(i + 1 for i, char in enumerate(text[:-1]) if char == "\n")]


def _token_boundaries(text: str, tokenizer: Any, chunk_tokens: int) -> list[int]:
    try:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    except NotImplementedError as exc:  # HF slow tokenizers cannot give offsets
        raise ConfigError(
            "rule='tokens' needs a tokenizer that returns offsets (a fast HF tokenizer); "
            f"{type(tokenizer).__name__} does not: {exc}"
        ) from exc
    offsets: Sequence[Sequence[int]] = encoding["offset_mapping"]
    boundaries = [0]
    for i in range(chunk_tokens, len(offsets), chunk_tokens):
        cut = int(offsets[i][0])
        # Byte-level tokens of one character share an offset; never cut twice at one place, and
        # never outside the text, so that the pieces stay exact, non-empty substrings.
        if boundaries[-1] < cut < len(text):
            boundaries.append(cut)
    return boundaries


@dataclass(frozen=True)
class EpisodeConfig(Config):
    """How a reasoning stream is cut into episodes: one value, checked once when built (the
    ``--episodes.*`` flags of ``mrt-regret``).

    >>> split_episodes("a\\nBacktrack to Line 1\\nb", rule=EpisodeConfig("backtrack"))
    ['a\\n', 'Backtrack to Line 1\\nb']
    >>> EpisodeConfig("tokens")
    Traceback (most recent call last):
    ...
    mrt_env.errors.ConfigError: rule 'tokens' needs chunk_tokens (tokens per episode)
    """

    rule: Literal["markers", "backtrack", "lines", "tokens"] = "markers"
    """markers (open-ended setting: blank-line paragraphs, a new episode at a paragraph
    opening with Wait, Alternatively, ...), backtrack (a new episode at each 'Backtrack to
    ...' line), lines (every line an episode: the synthetic tasks' blocks) or tokens
    (chunks of chunk_tokens tokens; needs a tokenizer)."""
    max_steps: int | None = None
    """At most this many boundaries; the rest of the text is one final episode, so at most
    max_steps + 1 episodes before grouping (None: no limit; the authors: 49)."""
    group_size: int = 1
    """Merge every group_size consecutive episodes into one, after max_steps (the
    authors: 5)."""
    min_paragraphs: int = 3
    """markers: a marker is ignored when the previous boundary (or the start) is fewer than
    this many paragraphs back, so every episode but the last has at least this many."""
    chunk_tokens: int | None = None
    """tokens: tokens per episode; a cut falls at the start of a token, and text between
    tokens stays with the earlier chunk (ignored by the other rules)."""

    def validate(self) -> None:
        if self.rule not in RULES:
            raise ConfigError(
                f"unknown rule {self.rule!r}; expected one of {', '.join(map(repr, RULES))}"
            )
        if self.max_steps is not None:
            _check_int("max_steps", self.max_steps, 0)
        _check_int("group_size", self.group_size, 1)
        _check_int("min_paragraphs", self.min_paragraphs, 1)
        if self.chunk_tokens is not None:
            _check_int("chunk_tokens", self.chunk_tokens, 1)
        if self.rule == "tokens" and self.chunk_tokens is None:
            raise ConfigError("rule 'tokens' needs chunk_tokens (tokens per episode)")


def _as_rule(rule: EpisodeConfig | str) -> EpisodeConfig:
    if isinstance(rule, EpisodeConfig):
        return rule
    if isinstance(rule, str):  # a rule's name alone: its default settings
        return EpisodeConfig(rule)  # type: ignore[arg-type]
    raise ArgumentTypeError(f"rule must be an EpisodeConfig or a rule's name, got {rule!r:.80}")


def episode_boundaries(
    text: str, *, rule: EpisodeConfig | str = "markers", tokenizer: Any = None
) -> list[int]:
    """Character offsets where the episodes of ``text`` start: ``[b[0] = 0, b[1], …, b[k-1]]``.

    ``text[b[j]:b[j+1]]`` is block j + 1 and ``text[:b[j]]`` the stream before it. Empty text has
    no episodes and gives ``[]``. The arguments are those of :func:`split_episodes`.
    """
    if not isinstance(text, str):
        raise ArgumentTypeError(f"text must be a str, got {type(text).__name__}")
    rule = _as_rule(rule)
    if rule.rule == "tokens" and tokenizer is None:
        raise ConfigError("rule 'tokens' needs tokenizer= (HF-style, with offsets), got None")

    if not text:
        return []
    if rule.rule == "markers":
        boundaries = _marker_boundaries(text, rule.min_paragraphs)
    elif rule.rule == "backtrack":
        boundaries = _backtrack_boundaries(text)
    elif rule.rule == "lines":
        boundaries = _line_boundaries(text)
    else:
        assert rule.chunk_tokens is not None  # EpisodeConfig checked it; narrows the type
        boundaries = _token_boundaries(text, tokenizer, rule.chunk_tokens)

    # Boundaries are found in order and none depends on a later one, so keeping the first
    # max_steps of them is the authors' "stop after max_steps, the rest is one episode".
    if rule.max_steps is not None:
        boundaries = boundaries[: rule.max_steps + 1]
    # Merging every group_size consecutive episodes keeps the start of each group's first one.
    return boundaries[:: rule.group_size]


def split_episodes(
    text: str, *, rule: EpisodeConfig | str = "markers", tokenizer: Any = None
) -> list[str]:
    """Split a reasoning stream into episodes; ``"".join(result) == text`` always.

    Args:
        text: the model's thinking text (the stream z, without the prompt).
        rule: an :class:`EpisodeConfig` (its fields say where episodes start, how many
            boundaries there may be and how episodes are merged), or a rule's name alone
            (``"markers"``, ``"backtrack"``) for its defaults.
        tokenizer: ``"tokens"`` rule only: an HF-style tokenizer that supports
            ``tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)``.

    Returns:
        The episodes, in order, each non-empty; ``[]`` for empty text.

    Raises:
        TypeError: ``text`` is not a str, or ``rule`` is neither a rule nor a name.
        ValueError: a bad rule (see :class:`EpisodeConfig`), or ``"tokens"`` without a
            tokenizer.
    """
    boundaries = episode_boundaries(text, rule=rule, tokenizer=tokenizer)
    if not boundaries:
        return []
    ends = [*boundaries[1:], len(text)]
    return [text[start:end] for start, end in zip(boundaries, ends, strict=True)]


def prefixes(
    text: str, *, rule: EpisodeConfig | str = "markers", tokenizer: Any = None
) -> list[str]:
    """The stream cut at every episode end: ``["", z_1, z_1 + z_2, ..., text]``.

    These are the contexts the meta-prover is scored on (the empty prefix, j = 0, included):
    k + 1 strings for k episodes, so ``[""]`` for empty text. Arguments as in
    :func:`split_episodes`.
    """
    return prefixes_at(text, episode_boundaries(text, rule=rule, tokenizer=tokenizer))


def prefixes_at(text: str, boundaries: Sequence[int]) -> list[str]:
    """:func:`prefixes` for boundaries already found with :func:`episode_boundaries`."""
    return [text[:end] for end in prefix_ends(text, boundaries)]


def prefix_ends(text: str, boundaries: Sequence[int]) -> list[int]:
    """Where the prefixes of :func:`prefixes_at` end in ``text``: 0, each later boundary, and
    ``len(text)`` (``[0]`` for no boundaries: an empty text). Offsets, not strings: a long
    text's k + 1 prefixes as strings take memory quadratic in its length."""
    return [0, *boundaries[1:], len(text)] if boundaries else [0]
