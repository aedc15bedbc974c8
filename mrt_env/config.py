"""Frozen settings that check themselves: the base of every value object a command nests.

A :class:`Config` is validated once, when it is built (``__post_init__`` calls
:meth:`Config.validate`). The one exception is a command line: while
:func:`mrt_env.cli.parse_command` builds a config tree, validation waits, because tyro would
print a failure inside its boxed usage message; the command validates the whole tree right
after parsing (:func:`validate_tree`) and prints one line naming the flag group instead.

>>> from dataclasses import dataclass
>>> @dataclass(frozen=True)
... class Budget(Config):
...     tokens: int = 1
...     def validate(self) -> None:
...         if self.tokens < 1:
...             raise ConfigError(f"tokens must be >= 1, got {self.tokens}")
>>> Budget(tokens=0)
Traceback (most recent call last):
...
mrt_env.errors.ConfigError: tokens must be >= 1, got 0
"""

from __future__ import annotations

import contextvars
import dataclasses
import re
from collections.abc import Iterator
from contextlib import contextmanager

from mrt_env.errors import ConfigError

__all__ = ["Config", "ConfigError", "deferred_validation", "validate_tree"]

_validate_on_init = contextvars.ContextVar("mrt_env_validate_on_init", default=True)


class Config:
    """Base of frozen config dataclasses: ``validate()`` runs when one is built."""

    def __post_init__(self) -> None:
        if _validate_on_init.get():
            self.validate()

    def validate(self) -> None:
        """Raise a :class:`~mrt_env.errors.ConfigError` naming the first bad setting (what
        was given, what was expected)."""


@contextmanager
def deferred_validation() -> Iterator[None]:
    """Configs built inside this block skip ``validate()`` (call :func:`validate_tree` after)."""
    token = _validate_on_init.set(False)
    try:
        yield
    finally:
        _validate_on_init.reset(token)


def validate_tree(config: Config, *, group: str = "--") -> None:
    """Validate the configs nested in ``config`` (depth first), then ``config`` itself.

    A nested config names its fields in its errors (``base_url must ...``); on the way out
    each name becomes the flag a command-line user types (``--model.base-url must ...``).
    The top config's own errors name their flags already.
    """
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        value = getattr(config, field.name)
        if isinstance(value, Config):
            inner = f"{group}{_flag(field.name)}."
            try:
                validate_tree(value, group=inner)
            except ConfigError as exc:
                raise ConfigError(_as_flags(str(exc), value, inner)) from None
    config.validate()


def _flag(name: str) -> str:
    return name.replace("_", "-")


def _as_flags(message: str, config: Config, group: str) -> str:
    """``message`` with the first mention of each of ``config``'s fields as its flag."""
    if message.startswith("--"):  # from a config nested deeper: flags already
        return message
    named = message
    for field in dataclasses.fields(config):  # type: ignore[arg-type]
        pattern = rf"(?<![\w.-]){re.escape(field.name)}(?![\w-])"
        named = re.sub(pattern, group + _flag(field.name), named, count=1)
    return named if named != message else f"{group}*: {message}"
