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
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

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

    @classmethod
    def from_dict(cls, values: Mapping[str, Any], *, where: str = "") -> Any:
        """The config these plain values describe (a JSON object, a verl config section):
        a nested config may be given as a mapping of its own fields.

        >>> from dataclasses import dataclass, field
        >>> @dataclass(frozen=True)
        ... class Inner(Config):
        ...     k: int = 1
        >>> @dataclass(frozen=True)
        ... class Outer(Config):
        ...     inner: Inner = field(default_factory=Inner)
        >>> Outer.from_dict({"inner": {"k": 2}})
        Outer(inner=Inner(k=2))
        >>> Outer.from_dict({"innr": {}})
        Traceback (most recent call last):
        ...
        mrt_env.errors.ConfigError: unknown setting innr; the settings are inner
        """
        if not isinstance(values, Mapping):
            raise ConfigError(f"{where or cls.__name__} must be a mapping, got {values!r:.80}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        names = list(fields)
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise ConfigError(
                f"unknown setting {', '.join(where + n for n in unknown)}; the settings are "
                f"{', '.join(where + n for n in names)}"
            )
        built = {}
        for name, value in values.items():
            nested = _nested_config(cls, fields[name]) if isinstance(value, Mapping) else None
            if nested is not None:
                value = nested.from_dict(value, where=f"{where}{name}.")
            built[name] = value
        return cls(**built)


def _nested_config(cls: type, field: dataclasses.Field) -> type[Config] | None:
    """The config class ``field`` holds: its default's, else the one its annotation names
    (``ModelConfig | None``); None for a field that holds no config."""
    if field.default_factory is not dataclasses.MISSING:
        default = field.default_factory()
    else:
        default = None if field.default is dataclasses.MISSING else field.default
    if isinstance(default, Config):
        return type(default)
    try:
        kind = typing.get_type_hints(cls)[field.name]
    except NameError:  # an annotation that does not resolve here names no config either
        return None
    found = [k for k in (kind, *typing.get_args(kind)) if isinstance(k, type)]
    return next((k for k in found if issubclass(k, Config)), None)


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
