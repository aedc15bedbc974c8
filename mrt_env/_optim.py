"""What the two training loops (``mrt-pretrain``, ``mrt-train``) share: the learning-rate
schedule and checkpoints that a kill cannot tear."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

from mrt_env._optional import require

__all__ = ["lr_factor", "save_atomic"]


def lr_factor(step: int, steps: int, warmup: int, *, floor: float = 0.1) -> float:
    """The learning rate at ``step`` as a fraction of the peak: linear warmup over
    ``warmup`` steps, then a cosine from 1 down to ``floor`` at ``steps``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return floor + (1.0 - floor) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def save_atomic(state: dict[str, Any], path: Path) -> None:
    """``torch.save`` to a temporary file, synced, then renamed over ``path``: a kill at
    any moment leaves either the previous checkpoint or the new one, whole."""
    torch = require("torch", extra="hf", feature="checkpoints")
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)
