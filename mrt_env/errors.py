"""Exceptions raised by mrt_env.

Everything the package raises on purpose derives from :class:`MrtError`, so a caller can
catch the package's failures without catching programming errors (``TypeError`` from a
wrong call, for example). Grading never raises: it converts failures into a
:class:`~mrt_env.types.GradeResult` at its boundary.
"""

from __future__ import annotations

__all__ = [
    "BackendError",
    "BackendTimeout",
    "BackendUnavailable",
    "ContextLengthExceeded",
    "DataFormatError",
    "DataNotFound",
    "DependencyNotInstalled",
    "GradingError",
    "MrtError",
]


class MrtError(Exception):
    """Root of every error mrt_env raises on purpose."""


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
    """A problem set could not be found in any of the places that were tried."""


class DataFormatError(MrtError, ValueError):
    """A data file or row does not have the expected shape; the message names the file and row."""


class BackendError(MrtError):
    """A language-model backend failed; the message says what to change."""


class ContextLengthExceeded(BackendError, ValueError):
    """A prompt plus the tokens to generate do not fit the model's context window."""


class BackendUnavailable(BackendError, ConnectionError):
    """A model server could not be reached (after retries)."""


class BackendTimeout(BackendError, TimeoutError):
    """A model server did not answer within the timeout (after retries)."""
