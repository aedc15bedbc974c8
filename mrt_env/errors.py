"""Exceptions raised by mrt_env.

Everything the package raises on purpose derives from :class:`MrtError`, so a command (or
any caller) can catch the package's failures with ``except MrtError`` and still let a bug
(an ``AttributeError`` in our code, say) end in a traceback. Each class also derives from
the builtin a caller would expect (``ConfigError`` is a ``ValueError``, ``DataNotFound`` a
``FileNotFoundError``, ...), so ``except ValueError`` around a call keeps working.

Grading never raises: it converts failures into a :class:`~mrt_env.types.GradeResult` at
its boundary.

>>> from mrt_env.errors import ConfigError, MrtError
>>> issubclass(ConfigError, MrtError) and issubclass(ConfigError, ValueError)
True
"""

from __future__ import annotations

# gymnasium is a core dependency and ``import mrt_env`` loads it already (registration),
# so deriving ResetNeeded from Gymnasium's own class costs nothing.
from gymnasium import error as gym_error

__all__ = [
    "AnswerParseError",
    "ArgumentTypeError",
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "ConfigError",
    "ContextLengthExceeded",
    "DataFormatError",
    "DataNotFound",
    "DependencyNotInstalled",
    "GradingError",
    "MrtError",
    "ResetNeeded",
    "RunStateError",
    "SharedPrefixError",
    "UnknownAttribute",
    "UnknownKey",
]


class MrtError(Exception):
    """Root of every error mrt_env raises on purpose."""


class ConfigError(MrtError, ValueError):
    """A setting or argument has a bad value; the message says what was expected and what came."""


class ArgumentTypeError(MrtError, TypeError):
    """An argument has the wrong type (or is not accepted at all); the message says which."""


class UnknownKey(MrtError, KeyError):
    """A name looked up in a registry or mapping is not there; the message lists known ones."""

    def __str__(self) -> str:  # KeyError's own __str__ would print the message in quotes
        return str(self.args[0]) if len(self.args) == 1 else super().__str__()


class UnknownAttribute(MrtError, AttributeError):
    """A module has no attribute of that name (raised by a module's lazy attributes, which
    import an extra's dependency only when asked for)."""


class RunStateError(MrtError, RuntimeError):
    """An object or a run folder is not in a state that allows the call (the message says
    what to do first: reset, pass --overwrite, run without --resume, ...)."""


class ResetNeeded(RunStateError, gym_error.ResetNeeded):
    """An env was stepped before ``reset()`` or after its episode ended; Gymnasium's
    ``except gym.error.ResetNeeded`` catches it too."""


class DependencyNotInstalled(MrtError, ImportError):
    """An optional dependency is missing; the message names the extra that provides it.

    Subclasses ``ImportError`` too, so ``except ImportError`` around an optional feature
    keeps working.
    """

    def __init__(self, module: str, extra: str, feature: str | None = None) -> None:
        self.module = module
        self.extra = extra
        what = f" for {feature}" if feature else ""
        super().__init__(
            f"{module!r} is needed{what} but is not installed. "
            f"Install it with: pip install 'mrt-env[{extra}]'"
        )


class GradingError(MrtError):
    """The grading worker pool could not be started or used (never raised by ``grade``)."""


class DataNotFound(MrtError, FileNotFoundError):
    """Data a call needs (a problem set, a traces file, a strategy table) is not in any of
    the places that were tried; the message lists them and how to provide the data."""


class DataFormatError(MrtError, ValueError):
    """A data file or row does not have the expected shape; the message names the file and row."""


class AnswerParseError(MrtError, ValueError):
    """An answer could not be parsed into a math value (grading turns this into a wrong
    verdict with the reason; ``grade`` never raises it)."""


class BackendError(MrtError):
    """A language-model backend failed; the message says what to change."""


class ContextLengthExceeded(BackendError, ValueError):
    """A prompt plus the tokens to generate do not fit the model's context window."""


class BackendUnavailable(BackendError, ConnectionError):
    """A model server could not be reached (after retries)."""


class BackendTimeout(BackendError, TimeoutError):
    """A model server did not answer within the timeout (after retries)."""


class SharedPrefixError(BackendError, RuntimeError):
    """A shared-prefix decoding cache was asked for an operation it does not support (a
    reorder, a crop, more tokens than its room); TransformersLM never asks for one."""
