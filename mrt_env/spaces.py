"""A text space for real model output.

Gymnasium's :class:`gymnasium.spaces.Text` checks every character against a charset, by
default ASCII letters and digits only: a reasoning block with a space, a backslash, a brace
or a non-ASCII symbol (``\\boxed{x}``, ``π``, ``≤``) is not a member, and ``check_env``
fails on the first real observation. :class:`UnicodeText` accepts any ``str`` up to a length
bound (the empty string included) and samples short printable strings, so random agents and
``check_env`` have something sensible to send.

It subclasses ``Text`` so that Gymnasium's vector utilities (``batch_space``,
``concatenate``, ``create_empty_array``) treat it as the text space it is.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np
from gymnasium import spaces

from mrt_env.errors import ConfigError

__all__ = ["UnicodeText"]

# What ``sample`` draws from: printable ASCII with whitespace, no control characters.
_SAMPLE_CHARSET = string.ascii_letters + string.digits + string.punctuation + " \n"


class UnicodeText(spaces.Text):
    """Any ``str`` of at most ``max_length`` characters (any Unicode, empty allowed).

    Args:
        max_length: the longest member, in characters.
        sample_length: the longest string :meth:`sample` draws (default ``min(max_length, 64)``).
        seed: seeds the sampler.

    Example:
        >>> space = UnicodeText(100)
        >>> space.contains("Wait, \\\\boxed{π/2} ≤ 2")
        True
        >>> space.contains("x" * 101)
        False
    """

    def __init__(
        self, max_length: int, *, sample_length: int | None = None, seed: Any = None
    ) -> None:
        if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 0:
            raise ConfigError(f"max_length must be an int >= 0, got {max_length!r}")
        sample_length = min(max_length, 64) if sample_length is None else sample_length
        if not 0 <= sample_length <= max_length:
            raise ConfigError(
                f"sample_length must lie in [0, max_length={max_length}], got {sample_length}"
            )
        super().__init__(max_length, min_length=0, charset=_SAMPLE_CHARSET, seed=seed)
        self.sample_length = sample_length

    def contains(self, x: Any) -> bool:
        return isinstance(x, str) and len(x) <= self.max_length

    def sample(self, mask: Any = None, probability: Any = None) -> str:
        """A printable ASCII string of 0 to ``sample_length`` characters."""
        if mask is not None or probability is not None:
            raise NotImplementedError("UnicodeText.sample takes no mask or probability")
        length = int(self.np_random.integers(0, self.sample_length + 1))
        chars = self.np_random.choice(np.array(list(_SAMPLE_CHARSET)), size=length)
        return "".join(chars.tolist())

    def __repr__(self) -> str:
        return f"UnicodeText(max_length={self.max_length})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UnicodeText) and other.max_length == self.max_length
