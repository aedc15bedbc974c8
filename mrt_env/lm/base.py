"""The language-model protocol every backend implements, and the pieces they share.

Agents (which write reasoning blocks) and the meta-prover μ (which forces answers and scores
them) both talk to a model through :class:`LanguageModel`: batched ``generate`` with stop
strings, ``score`` (log-probability of a continuation), ``count_tokens`` and the chat
template. Backends: :class:`~mrt_env.lm.transformers_lm.TransformersLM` (CPU/GPU),
:class:`~mrt_env.lm.vllm_lm.VLLMLM` (GPU), :class:`~mrt_env.lm.openai_lm.OpenAICompatibleLM`
(any server that speaks the OpenAI completions API). :func:`tokens_to_reach`, a
tokenizer's helper, is here rather than in a backend because MRT's credit uses it too.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

from mrt_env.errors import ArgumentTypeError, BackendError, ConfigError, ContextLengthExceeded
from mrt_env.lm.sampling import Sampling

__all__ = [
    "LOGPROB_TOLERANCE",
    "Completion",
    "HFTokenizerMixin",
    "LanguageModel",
    "Messages",
    "Sampling",
    "TokenLogprobs",
    "check_context",
    "check_generate_args",
    "check_logprob",
    "check_score_args",
    "continuation_logprob",
    "cut_at_stop",
    "to_messages",
    "tokens_to_reach",
]

FinishReason = Literal["stop", "length"]
Messages = list[dict[str, str]]


@dataclass(frozen=True)
class Completion:
    """One sampled continuation of a prompt.

    Attributes:
        text: the generated text, cut *before* the stop string that ended it (if any).
        num_tokens: tokens the model generated for it, including the one that ended it
            (the end-of-sequence token, or the token that completed the stop string).
        finish_reason: ``"stop"`` (a stop string or end-of-sequence) or ``"length"``
            (``max_tokens`` reached).
        stop: the stop string that fired; None when none did.
        token_ids: the generated token ids where the backend exposes them, else ``()``.
    """

    text: str
    num_tokens: int
    finish_reason: FinishReason
    stop: str | None = None
    token_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class TokenLogprobs:
    """Per-token log-probabilities of a text, with each token's character span.

    ``logprobs[i]`` is log p(token i | tokens before it); None for a token with no context
    (the first one). ``starts``/``ends`` are character offsets into the text; special
    tokens such as BOS have an empty span.
    """

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    logprobs: tuple[float | None, ...]


@runtime_checkable
class LanguageModel(Protocol):
    """What agents and meta-provers need from a model. Every method is batched."""

    name: str

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        """For each prompt, ``sampling.n`` completions. Same seed and inputs -> same texts."""
        ...

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        """Summed log p(continuation | prompt) for each pair (natural log)."""
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens in ``text`` (no special tokens added)."""
        ...

    def chat_prompt(self, messages: str | Messages) -> str | None:
        """``messages`` in the model's chat template, ready to continue; None if it has none."""
        ...


# ---------------------------------------------------------------------------------------
# Argument checks shared by every backend (same inputs, same errors).


def _check_prompts(prompts: Sequence[str], what: str = "prompts") -> list[str]:
    if isinstance(prompts, str):
        raise ArgumentTypeError(
            f"{what} must be a sequence of str, got a single str; wrap it: [{what[:-1]}]"
        )
    out = list(prompts)
    for i, p in enumerate(out):
        if not isinstance(p, str):
            raise ArgumentTypeError(f"{what}[{i}] must be a str, got {type(p).__name__}")
    return out


def check_generate_args(
    prompts: Sequence[str], sampling: Sampling, *, seed_per_prompt: bool = False
) -> list[str]:
    """Check ``generate``'s arguments (``sampling`` checked itself when it was built);
    returns the prompts as a list.

    ``seed_per_prompt``: the backend also takes one seed per prompt (``sampling.seed`` a
    tuple); other backends refuse such a seed."""
    prompts = _check_prompts(prompts)
    if not isinstance(sampling, Sampling):
        raise ArgumentTypeError(
            "generate takes the sampling settings as one value: "
            f"generate(prompts, Sampling(max_tokens=...)); got {type(sampling).__name__}"
        )
    seeds = sampling.seed
    if isinstance(seeds, tuple):
        if not seed_per_prompt:
            raise ConfigError(
                f"this backend takes one seed for all prompts, got {len(seeds)} (one per prompt)"
            )
        if len(seeds) != len(prompts):
            raise ConfigError(
                f"need one seed per prompt: {len(prompts)} prompts, {len(seeds)} seeds"
            )
    return prompts


def check_score_args(prompts: Sequence[str], continuations: Sequence[str]) -> list[tuple[str, str]]:
    """Validate ``score`` arguments; returns the (prompt, continuation) pairs."""
    prompts = _check_prompts(prompts)
    continuations = _check_prompts(continuations, "continuations")
    if len(prompts) != len(continuations):
        raise ConfigError(
            f"score needs one continuation per prompt, got {len(prompts)} prompts and "
            f"{len(continuations)} continuations"
        )
    for i, c in enumerate(continuations):
        if not c:
            raise ConfigError(f"continuations[{i}] is empty; there is nothing to score")
    return list(zip(prompts, continuations, strict=True))


def check_context(prompt_tokens: int, max_tokens: int, context: int | None, *, where: str) -> None:
    """Raise :class:`ContextLengthExceeded` when the prompt and the output cannot fit."""
    if context is not None and prompt_tokens + max_tokens > context:
        raise ContextLengthExceeded(
            f"{where}: a prompt of {prompt_tokens} tokens plus max_tokens={max_tokens} exceeds "
            f"the model's context of {context} tokens; shorten the prompt, lower max_tokens "
            f"(or the env's token budget), or use a model with a longer context"
        )


def to_messages(messages: str | Messages) -> Messages:
    """A bare string is one user message."""
    if isinstance(messages, str):
        return [{"role": "user", "content": messages}]
    return list(messages)


# ---------------------------------------------------------------------------------------
# Output post-processing shared by every backend.


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, str | None]:
    """Cut ``text`` before the earliest stop string; (text, the stop that fired or None).

    When two stop strings start at the same place the longer one is reported.
    """
    best, fired = len(text), None
    for s in stops:
        i = text.find(s)
        if i != -1 and (i < best or (i == best and fired is not None and len(s) > len(fired))):
            best, fired = i, s
    return text[:best], fired


def tokens_to_reach(tokenizer: Any, ids: Sequence[int], chars: int) -> int:
    """The fewest leading tokens of ``ids`` whose decoded text (special tokens skipped) has
    at least ``chars`` characters (``len(ids)`` if none has), by bisection: decoded length
    grows with the prefix, and decoding one token at a time is not exact for every
    tokenizer (a character split across byte tokens)."""
    low, high = 0, len(ids)
    while low < high:
        mid = (low + high) // 2
        if len(tokenizer.decode(list(ids[:mid]), skip_special_tokens=True)) >= chars:
            high = mid
        else:
            low = mid + 1
    return low


LOGPROB_TOLERANCE = 1e-3
"""How far above 0 a log-probability may come back and still be read as 0.

log p <= 0 always; float32 rounding in a log-softmax can land a near-certain token a few
1e-6 above 0 (more at large logits), so values up to this are rounding and count as 0.
Anything higher, NaN or an infinity is a broken model or server: exp() of it would read
as certainty (J = 1) or overflow."""


def check_logprob(value: object, *, where: str) -> float:
    """``value`` as a log-probability: a finite number <= 0 (up to :data:`LOGPROB_TOLERANCE`
    above 0 is rounding, returned as 0.0); anything else is a :class:`BackendError` that
    names ``where`` (the backend) and the value.

    >>> check_logprob(-0.5, where="m"), check_logprob(1e-6, where="m")
    (-0.5, 0.0)
    """
    # numbers.Real takes numpy's floats too; a bool or a string is no log-probability.
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    lp = float(value) if number else math.nan  # type: ignore[arg-type]
    if not math.isfinite(lp) or lp > LOGPROB_TOLERANCE:
        raise BackendError(
            f"{where}: got the log-probability {value!r}, which is not a finite number <= 0; "
            "the model or server is broken (NaN or infinite logits, or a bad reply)"
        )
    return min(lp, 0.0)


def continuation_logprob(tokens: TokenLogprobs, boundary: int, *, where: str) -> float:
    """Sum the log-probabilities of the tokens that cover text at or after ``boundary``.

    ``boundary`` is ``len(prompt)`` in ``prompt + continuation``. The full text is
    tokenized as one string (as a server does with ``echo``), so a token that straddles the
    boundary is counted with the continuation. Every backend uses this same rule, which is
    what makes their scores comparable. Each summed value must be a log-probability
    (:func:`check_logprob`), so a NaN or a positive value never becomes a score.
    """
    total, counted = 0.0, 0
    for start, end, lp in zip(tokens.starts, tokens.ends, tokens.logprobs, strict=True):
        if end <= boundary or end == start:
            continue
        if lp is None:
            raise BackendError(
                f"{where}: the continuation starts at the first token, which has no context "
                "to be scored against; give a non-empty prompt (or a model that adds BOS)"
            )
        total += check_logprob(lp, where=f"{where} token {counted} of the continuation")
        counted += 1
    if counted == 0:
        raise BackendError(f"{where}: the continuation produced no tokens to score")
    return total


class SharedResource:
    """Deep copies of a backend are the backend itself.

    A loaded model is a resource to share, not a value to copy: Gymnasium deep-copies an
    env spec's kwargs (``check_env`` and ``make`` do), and a ``prover=lm`` passed to
    ``gym.make`` must reach every env as the same loaded model, not as a second copy of
    the weights (or a failure on its thread lock).
    """

    def __deepcopy__(self, memo: dict[int, Any]) -> Any:
        return self


class HFTokenizerMixin:
    """``count_tokens``, ``chat_prompt`` and ``score`` for backends with a HF tokenizer.

    The backend provides ``self.tokenizer``, ``self.name`` and ``token_logprobs(texts)``.
    """

    tokenizer: Any
    name: str

    def token_logprobs(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        raise NotImplementedError

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def chat_prompt(self, messages: str | Messages) -> str | None:
        if not getattr(self.tokenizer, "chat_template", None):
            return None
        return self.tokenizer.apply_chat_template(
            to_messages(messages), tokenize=False, add_generation_prompt=True
        )

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        pairs = check_score_args(prompts, continuations)
        tokens = self.token_logprobs([p + c for p, c in pairs])
        return [
            continuation_logprob(t, len(p), where=f"{self.name} score[{i}]")
            for i, (t, (p, _)) in enumerate(zip(tokens, pairs, strict=True))
        ]
