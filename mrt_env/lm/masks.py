"""Attention masks for several sequences packed into one row (shared by scoring and training).

A row holds segments one after another. Each segment's tokens may attend to the first
``prefix`` positions of a key/value cache of ``cache_length`` positions (the segment's own
prefix of a shared stream; 0 when there is no cache) and, causally, to the earlier tokens
of the same segment: nothing else. Used by ``TransformersLM.score_at_cuts`` (forced texts
after their prefixes of a stream) and by ``mrt-pretrain`` (training samples packed into rows).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mrt_env.extras import require

__all__ = ["packed_causal_mask"]


def packed_causal_mask(
    segments: Sequence[tuple[int, int, int]], *, cache_length: int, width: int, dtype: Any
) -> Any:
    """An additive ``[width, cache_length + width]`` mask (0 = may attend, else the dtype's min).

    Args:
        segments: ``(start, size, prefix)`` per segment: its first position in the row, its
            length, and how many cache positions it sees.
        cache_length: positions in the cache before the row.
        width: the row's length. Rows outside every segment (padding) see nothing.
        dtype: a torch floating dtype (the model's); additive masks work for both eager and
            SDPA attention.
    """
    torch = require("torch", extra="hf", feature="packed attention masks")
    # Built by slicing: masked_fill over a full boolean matrix costs more than the pass.
    mask = torch.full((width, cache_length + width), torch.finfo(dtype).min, dtype=dtype)
    for start, size, prefix in segments:
        end = start + size
        mask[start:end, :prefix] = 0.0
        own = mask[start:end, cache_length + start : cache_length + end]
        own.copy_(own.triu(1))  # 0 on and below the diagonal: causal within the segment
    return mask
