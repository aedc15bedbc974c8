"""Lazy imports of optional dependencies, with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from mrt_env.errors import DependencyNotInstalled

__all__ = ["require"]


def require(module: str, *, extra: str, feature: str | None = None) -> ModuleType:
    """Import ``module`` or raise :class:`DependencyNotInstalled` naming ``mrt-env[extra]``.

    Only a missing top-level package is translated; an ImportError raised *inside* an
    installed package (a broken install) propagates unchanged so its cause stays visible.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        missing = (exc.name or "").split(".")[0]
        if missing != module.split(".")[0]:
            raise
        raise DependencyNotInstalled(module, extra, feature) from exc
