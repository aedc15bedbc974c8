"""Reports of the analysis commands (``mrt-bench``, ``mrt-regret``), the model card and the
experiments: mean ± 95% CI statistics, curves held to one length, titles."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["format_stat", "held", "mean_ci", "model_title"]


def mean_ci(values: Iterable[float]) -> dict[str, Any]:
    """``{"mean", "ci95", "n"}``: the mean and its 95% half-width 1.96·std/√n (sample std).

    ``mean`` is NaN for no values, ``ci95`` NaN for fewer than two.
    """
    x = np.asarray(list(values), dtype=float)
    n = int(x.size)
    mean = float(x.mean()) if n else math.nan
    ci = float(1.96 * x.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
    return {"mean": mean, "ci95": ci, "n": n}


def format_stat(stat: Mapping[str, Any], digits: int = 4) -> str:
    """``mean ± ci`` as text (``n/a`` without values, the mean alone without a CI)."""
    if math.isnan(stat["mean"]):
        return "n/a"
    if math.isnan(stat["ci95"]):
        return f"{stat['mean']:.{digits}g}"
    return f"{stat['mean']:.{digits}g} ± {stat['ci95']:.2g}"


def held(curves: Sequence[Sequence[float]], width: int | None = None) -> np.ndarray:
    """Curves of different lengths as one array, each held at its last value to ``width``
    (default: the longest): a stream that ended keeps its last J."""
    width = max(len(c) for c in curves) if width is None else width
    return np.array([[*c[:width], *[c[-1]] * (width - len(c))] for c in curves], dtype=float)


def model_title(model: str) -> str:
    """A model's name in titles: a local folder by its last part, a hub id or server name
    as it is."""
    return Path(model).name if Path(model).exists() else model
