"""Key/value caches for :class:`~mrt_env.lm.transformers_lm.TransformersLM`'s decoding.

Two savings, neither of which changes what is computed:

* :func:`with_room`: transformers' dynamic cache concatenates each new key onto the whole
  cache at every decoding step (a copy of rows x length per step, 15% of a batched
  prover call on the tiny model). The rows get buffers with room for the new tokens
  instead, filled in place.
* :class:`PrefixStore`: an env's context grows by one block per step, and every prover or
  agent call used to read the whole context again. The store keeps the keys and values of
  recent prompts; a new prompt that starts with a stored one reads only its new tokens
  (vLLM's prefix caching, in miniature). Entries are dropped when the model's weights
  change (a training step), so a policy being trained is never read through stale keys.

Only caches made of transformers' full-attention layer objects take part; a model with
other layers (sliding windows, recurrent state), or a transformers whose caches have no
per-layer objects, keeps transformers' own cache.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

import numpy as np

from mrt_env.errors import ConfigError
from mrt_env.extras import require

__all__ = ["PrefixStore", "full_attention_layers", "weights_version", "with_room"]


def _torch() -> Any:
    return require("torch", extra="hf", feature="TransformersLM")


def _dynamic_layer() -> Any:
    utils = require("transformers.cache_utils", extra="hf", feature="TransformersLM")
    return getattr(utils, "DynamicLayer", None)


def full_attention_layers(cache: Any) -> list[Any] | None:
    """The per-layer objects of ``cache`` when every one is a plain full-attention layer
    (what both savings need), else None."""
    base = _dynamic_layer()
    layers = getattr(cache, "layers", None)
    if base is None or not layers:
        return None
    kinds = (base, _roomy_layer_class())
    return list(layers) if all(type(layer) in kinds for layer in layers) else None


def with_room(cache: Any, rows: Any, room: int) -> Any:
    """``cache`` with row r holding cached prompt ``rows[r]``'s keys and values, and ``room``
    free positions after them that decoding fills in place.

    Values are those of ``cache.reorder_cache(rows)``, which is what a cache this module
    cannot handle gets.
    """
    if full_attention_layers(cache) is None:
        cache.reorder_cache(rows)  # index_select on the batch: row r gets its prompt's cache
        return cache
    roomy = _roomy_layer_class()
    for i, layer in enumerate(cache.layers):
        cache.layers[i] = roomy.from_layer(layer, rows, room)
    return cache


_ROOMY: list[Any] = []  # the class, built at first use (transformers is imported lazily)


def _roomy_layer_class() -> Any:
    if not _ROOMY:
        base = _dynamic_layer()
        _ROOMY.append(None if base is None else _make_roomy_layer(base))
    return _ROOMY[0]


def _make_roomy_layer(base: Any) -> Any:
    torch = _torch()

    class RoomyLayer(base):
        """A full-attention cache layer whose keys and values are views of larger buffers:
        an update writes the new positions into the buffers instead of concatenating.
        Anything that replaces the views (a reorder, a batch selection) or outgrows the
        buffers falls back to concatenation, so every cache operation stays valid."""

        @classmethod
        def from_layer(cls, layer: Any, rows: Any, room: int) -> Any:
            new = cls()
            new.lazy_initialization(layer.keys, layer.values)
            heads, length = layer.keys.shape[1:3]
            index = rows.to(layer.keys.device)
            new.buffers = []
            for name in ("keys", "values"):
                old = getattr(layer, name)  # [prompts, heads, length, dim]
                buffer = old.new_empty((len(index), heads, length + room, old.shape[-1]))
                torch.index_select(old, 0, index, out=buffer[:, :, :length])
                new.buffers.append(buffer)
                setattr(new, name, buffer[:, :, :length])
            return new

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            keys, values = self.buffers
            start = self.keys.shape[-2]
            stop = start + key_states.shape[-2]
            if (
                self.keys.data_ptr() != keys.data_ptr()
                or self.values.data_ptr() != values.data_ptr()
                or self.keys.shape[0] != keys.shape[0]
                or stop > keys.shape[-2]
            ):
                return super().update(key_states, value_states, *args, **kwargs)
            keys[:, :, start:stop] = key_states
            values[:, :, start:stop] = value_states
            self.keys, self.values = keys[:, :, :stop], values[:, :, :stop]
            return self.keys, self.values

    return RoomyLayer


_BLOCK = 16  # prompts are matched in whole blocks of this many tokens, then token by token


def _block_hashes(ids: np.ndarray) -> list[int]:
    """Chained hashes of the whole blocks of ``ids``: item b stands for ``ids[: 16 (b + 1)]``."""
    hashes, h = [], 0
    for b in range(len(ids) // _BLOCK):
        h = hash((h, ids[b * _BLOCK : (b + 1) * _BLOCK].tobytes()))
        hashes.append(h)
    return hashes


class PrefixStore:
    """The keys and values of recent prompts, to start a new prompt from the longest one
    it begins with.

    Args:
        max_tokens: tokens kept in all (least recently used prompts are dropped first);
            0 keeps nothing. Memory: ``max_tokens`` x layers x 2 x key/value width x the
            dtype's bytes (32K tokens of a 1.5B Qwen2 in bf16: about 0.9 GB).

    An entry is a prompt's token ids and, per layer, its keys and values ``[heads,
    tokens, dim]``. ``version`` identifies the weights the entries were computed with; a
    lookup under another version empties the store. Entries are found through the hashes
    of their whole 16-token blocks (as vLLM's prefix caching does), so a lookup costs a
    few hashes, not a scan of the store; starts shorter than one block are not reused.
    """

    def __init__(self, max_tokens: int) -> None:
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 0:
            raise ConfigError(f"prefix cache size must be an int >= 0 tokens, got {max_tokens!r}")
        self.max_tokens = max_tokens
        # key -> (token ids, block hashes, per-layer keys and values)
        self._entries: OrderedDict[int, tuple[np.ndarray, list[int], list[Any]]] = OrderedDict()
        self._index: dict[int, int] = {}  # block hash -> the latest entry that has it
        self._tokens = 0
        self._next = 0
        self._version: object = None
        self.hits = 0
        """Tokens read from the store instead of computed (its user counts them)."""

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()
        self._index.clear()
        self._tokens = 0

    def lookup(self, ids: list[int], version: object) -> tuple[int, list[tuple[Any, Any]]]:
        """The longest stored start of ``ids``: how many tokens, and per layer their keys
        and values (``(0, [])`` when none)."""
        if version != self._version:
            self.clear()
            self._version = version
        if not self._entries:
            return 0, []
        query = np.asarray(ids, dtype=np.int64)
        hashes = reversed(_block_hashes(query))  # the longest whole-block match first
        key = next((self._index[h] for h in hashes if h in self._index), None)
        if key is None:
            return 0, []
        stored, _, layers = self._entries[key]
        n = min(len(stored), len(query))
        differ = np.flatnonzero(stored[:n] != query[:n])  # a hash collision shows here
        best = int(differ[0]) if len(differ) else n
        if best < _BLOCK:
            return 0, []
        self._entries.move_to_end(key)
        return best, [(k[:, :best], v[:, :best]) for k, v in layers]

    def add(self, ids: list[int], layers: list[tuple[Any, Any]]) -> None:
        """Keep ``ids``' keys and values (an entry that ``ids`` extends is replaced)."""
        if len(ids) < _BLOCK or len(ids) > self.max_tokens:
            return
        query = np.asarray(ids, dtype=np.int64)
        hashes = _block_hashes(query)
        for key in {self._index[h] for h in hashes if h in self._index}:
            stored = self._entries[key][0]
            if len(stored) <= len(query) and np.array_equal(stored, query[: len(stored)]):
                self._drop(key)  # the new entry holds all of it
        key, self._next = self._next, self._next + 1
        self._entries[key] = (query, hashes, layers)
        self._index.update(dict.fromkeys(hashes, key))
        self._tokens += len(query)
        while self._tokens > self.max_tokens:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: int) -> None:
        stored, hashes, _ = self._entries.pop(key)
        for h in hashes:
            if self._index.get(h) == key:
                del self._index[h]
        self._tokens -= len(stored)


def weights_version(model: Any) -> tuple:
    """Changes whenever the weights change: torch counts in-place writes per tensor (an
    optimizer step, a loaded state dict), and a parameter replaced is another tensor. Fused
    optimizers (``AdamW(fused=True)``) write without counting, so a sum over a strided
    sample of every parameter (64 values each) is part of the version too."""
    torch = _torch()
    params = list(model.parameters())
    with torch.no_grad():
        sample = torch.stack(
            [p.detach().reshape(-1)[:: max(1, p.numel() // 64)].float().sum() for p in params]
        )
    return tuple((id(p), p._version) for p in params), tuple(sample.tolist())
