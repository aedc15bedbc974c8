"""The learning-rate schedule both training loops (``mrt-pretrain``, ``mrt-train``) use."""

from __future__ import annotations

import math

__all__ = ["lr_factor"]


def lr_factor(step: int, steps: int, warmup: int, *, floor: float = 0.1) -> float:
    """The learning rate at ``step`` as a fraction of the peak: linear warmup over
    ``warmup`` steps, then a cosine from 1 down to ``floor`` at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return floor + (1.0 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
