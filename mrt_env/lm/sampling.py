"""``Sampling``: how to sample from a model, one value every backend's ``generate`` takes.

Like vLLM's ``generate(prompts, sampling_params)``: the settings travel as one frozen value,
checked once when it is built, so no backend repeats the checks and a bad value fails where
it was written, not deep inside a batch.

>>> Sampling(max_tokens=32, temperature=0.6, top_p=0.95, stop="\\n")
Sampling(max_tokens=32, temperature=0.6, top_p=0.95, n=1, stop=('\\n',), seed=None)
>>> Sampling(max_tokens=8, seed=[1, 2]).seed  # one seed per prompt, where a backend takes it
(1, 2)
>>> Sampling(max_tokens=0)
Traceback (most recent call last):
...
mrt_env.errors.ConfigError: max_tokens must be a positive int, got 0
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from mrt_env.errors import ConfigError

__all__ = ["Sampling", "request_seed", "row_seed"]


@dataclass(frozen=True, kw_only=True)
class Sampling:
    """The sampling settings of one ``generate`` call.

    Attributes:
        max_tokens: most tokens generated per completion.
        temperature: 0 is greedy; higher is more random.
        top_p: nucleus sampling: sample from the smallest set of tokens whose probability
            reaches ``top_p`` (1: all of them).
        n: completions per prompt.
        stop: strings that end a completion (cut before them); a single str is one stop.
        seed: same seed and inputs, same texts; None: fresh randomness. A sequence gives
            one seed per prompt, for backends with ``seed_per_prompt = True``.
    """

    max_tokens: int
    temperature: float = 1.0
    top_p: float = 1.0
    n: int = 1
    stop: tuple[str, ...] = ()
    seed: int | tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("max_tokens", "n"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive int, got {value!r}")
        t = self.temperature
        if isinstance(t, bool) or not isinstance(t, int | float) or not math.isfinite(t) or t < 0:
            raise ConfigError(f"temperature must be a finite number >= 0, got {t!r}")
        p = self.top_p
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 < p <= 1:
            raise ConfigError(f"top_p must be in (0, 1], got {p!r}")
        # Normalised forms (frozen: set through object.__setattr__, once, here).
        object.__setattr__(self, "stop", _stops(self.stop))
        seed = self.seed
        if isinstance(seed, Sequence) and not isinstance(seed, str):
            seed = tuple(seed)
            object.__setattr__(self, "seed", seed)
        for one in seed if isinstance(seed, tuple) else (seed,):
            if one is not None and (isinstance(one, bool) or not isinstance(one, int) or one < 0):
                raise ConfigError(f"seed must be a non-negative int or None, got {one!r}")


def _stops(stop: Any) -> tuple[str, ...]:
    if stop is None:
        stops: tuple[Any, ...] = ()
    elif isinstance(stop, str):
        stops = (stop,)
    else:
        stops = tuple(stop)
    for s in stops:
        if not isinstance(s, str) or not s:
            raise ConfigError(f"stop strings must be non-empty str, got {s!r}")
    return stops


def row_seed(seed: int, sample: int, prompt: str) -> int:
    """The seed of sample ``sample`` of ``prompt`` in a call seeded with ``seed``.

    Every backend that seeds its own random streams derives them here, so that a sample is a
    pure function of (seed, sample, prompt). Mixing the prompt in matters: a backend that
    hands one seed to every request (vLLM's per-request ``seed``) draws the same random
    numbers for every prompt, so an agent seeded once per run would pick the same quantile
    of its next-token distribution at every block, a correlated policy unlike the model's.

    >>> row_seed(0, 0, "a") == row_seed(0, 0, "a") != row_seed(0, 0, "b")
    True
    """
    digest = hashlib.sha256(f"{seed}\0{sample}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


def request_seed(seed: int, prompt: str) -> int:
    """The seed sent with one request of ``n`` samples of ``prompt`` to an engine that seeds
    them itself (vLLM, in process or as a server, seeds sample k with ``seed + k``).

    The same value in process and over HTTP, so both draw the same samples from one engine;
    31 bits, the range every OpenAI-compatible server takes.
    """
    return row_seed(seed, 0, prompt) % 2**31
