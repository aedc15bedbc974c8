"""Key/value caches for :class:`~mrt_env.lm.transformers_lm.TransformersLM`'s decoding.

Three savings, none of which changes what is computed:

* :func:`with_room`: transformers' dynamic cache concatenates each new key onto the whole
  cache at every decoding step (a copy of rows x length per step, 15% of a batched
  prover call on the tiny model). The rows get buffers with room for the new tokens
  instead, filled in place.
* :class:`PrefixStore`: an env's context grows by one block per step, and every prover or
  agent call used to read the whole context again. The store keeps the keys and values of
  recent prompts; a new prompt that starts with a stored one reads only its new tokens
  (vLLM's prefix caching, in miniature). Entries are dropped when the model's weights
  change (a training step), so a policy being trained is never read through stale keys.
* :func:`shared_prefix_decoding`: the k answers a meta-prover samples after one context
  would each hold a copy of the context's keys, and every decoding step would read all k
  copies. The context's keys are kept once instead, and the k rows' queries of a step are
  packed into one attention over them (the idea of vLLM's and FlashInfer's cascade
  attention), each row also seeing only its own generated tokens.

Only caches made of transformers' full-attention layer objects take part; a model with
other layers (sliding windows, recurrent state), or a transformers whose caches have no
per-layer objects, keeps transformers' own cache.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import numpy as np

from mrt_env.errors import ConfigError, SharedPrefixError
from mrt_env.extras import require

__all__ = [
    "PrefixStore",
    "SharedPrefixPlan",
    "full_attention_layers",
    "shared_prefix_decoding",
    "weights_version",
    "with_room",
]


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


# Our cache layer classes, built at first use (transformers is imported lazily); None
# where transformers has no per-layer cache objects to derive from.
_LAYER_CLASSES: dict[str, Any] = {}


def _layer_class(make: Any) -> Any:
    if make.__name__ not in _LAYER_CLASSES:
        base = _dynamic_layer()
        _LAYER_CLASSES[make.__name__] = None if base is None else make(base)
    return _LAYER_CLASSES[make.__name__]


def _roomy_layer_class() -> Any:
    return _layer_class(_make_roomy_layer)


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


# ---------------------------------------------------------------------------------------
# Shared-prefix decoding

SHARED_PREFIX_ATTENTION = "mrt_shared_prefix"
"""The attention implementation a model runs under while it decodes with a shared prefix
(registered with transformers at first use; outside such a decode, in any thread, it
computes exactly what ``"sdpa"`` computes)."""

# Model families whose attention calls the registered function plainly (query, keys,
# values, mask, scale): no soft-capping, attention sinks, or position biases to carry.
_PLAIN_ATTENTION_MODELS = frozenset({"llama", "mistral", "qwen2", "qwen3"})

_ACTIVE: contextvars.ContextVar[SharedPrefixPlan | None] = contextvars.ContextVar(
    "mrt_shared_prefix_plan", default=None
)


class SharedPrefixPlan:
    """Where each row of one decoding call lives: prompt ``rows[r]``, in the r-th's
    *slot* among the rows of that prompt.

    The keys of a layer are one buffer ``[prompts, kv heads, P + room * G, dim]``: the
    prompt's ``P`` cached positions (left-padded, ``prompt_mask`` says which are real),
    then the generated tokens step by step, ``G`` per step (one per slot; ``G``: the most
    rows any prompt has). Step-major, so that after t steps the filled part is the first
    ``P + t * G`` positions and attention reads no empty room. ``mask`` ``[prompts, 1, G,
    length]`` lets slot s see the real prompt positions and its own tokens, nothing else.
    """

    def __init__(self, rows: list[int], prompt_mask: Any, room: int) -> None:
        torch = _torch()
        prompts, self.width = prompt_mask.shape  # P
        slots, seen = [], [0] * prompts
        for p in rows:
            slots.append(seen[p])
            seen[p] += 1
        self.slots = max(seen)  # G
        self.room = room
        device = prompt_mask.device
        self.prompt_of_row = torch.tensor(rows, device=device)
        self.slot = torch.tensor(slots, device=device)
        self.flat = self.prompt_of_row * self.slots + self.slot  # row -> packed query index
        # In the usual layout (every prompt's k rows, in order) packing is a reshape.
        self.in_order = len(rows) == prompts * self.slots and bool(
            (self.flat == torch.arange(len(rows), device=device)).all()
        )
        self.first = self.width + self.slot  # [rows]: where each row's first token goes
        length = self.width + room * self.slots
        self.mask = torch.zeros((prompts, 1, self.slots, length), dtype=torch.bool, device=device)
        self.mask[:, 0, :, : self.width] = prompt_mask.bool()[:, None, :]
        self._grouped: dict[tuple[int, int], Any] = {}

    def open(self, step: int) -> None:
        """Step ``step``'s token of every row becomes visible to the row itself."""
        if step >= self.room:
            raise SharedPrefixError(
                f"a shared-prefix decode has room for {self.room} new tokens per row; "
                f"step {step} asked for more"
            )
        self.mask[self.prompt_of_row, 0, self.slot, self.position(step)] = True
        self._grouped.clear()

    def position(self, step: int) -> Any:
        """Where each row's token of step ``step`` goes in the buffers (``[rows]``)."""
        return self.first + step * self.slots

    def mask_for(self, group: int, length: int) -> Any:
        """The mask of the first ``length`` positions, each slot's row repeated ``group``
        times (one per query head that shares a key head)."""
        mask = self.mask[..., :length]
        if group == 1:
            return mask
        if (group, length) not in self._grouped:
            self._grouped[(group, length)] = mask.repeat_interleave(group, dim=2)
        return self._grouped[(group, length)]


def shared_prefix_decoding(
    model: Any, cache: Any, rows: list[int], prompt_mask: Any, room: int
) -> SharedPrefixPlan | None:
    """Lay ``cache`` (one entry per prompt, ``prompt_mask`` its real positions) out for a
    shared-prefix decode of ``rows`` (the prompt of each row) with ``room`` new tokens per
    row, and return the plan to decode under (:func:`decoding_with`). None, with ``cache``
    untouched, when ``model`` or ``cache`` cannot take part: then :func:`with_room`
    serves."""
    config = getattr(model, "config", None)
    if (
        getattr(config, "model_type", None) not in _PLAIN_ATTENTION_MODELS
        or getattr(config, "_attn_implementation", None) != "sdpa"
        or full_attention_layers(cache) is None
        or not _register_attention()
    ):
        return None
    plan = SharedPrefixPlan(rows, prompt_mask, room)
    shared = _shared_layer_class()
    for i, layer in enumerate(cache.layers):
        cache.layers[i] = shared.from_layer(layer, plan, first=i == 0)
    return plan


@contextlib.contextmanager
def decoding_with(model: Any, plan: SharedPrefixPlan) -> Iterator[None]:
    """Run ``model`` under the shared-prefix attention for ``plan`` in this thread.

    The model's attention implementation is switched for the duration; a call from
    another thread meanwhile sees no plan and gets plain ``"sdpa"`` attention and masks.
    """
    config = model.config
    before = config._attn_implementation
    token = _ACTIVE.set(plan)
    config._attn_implementation = SHARED_PREFIX_ATTENTION
    try:
        yield
    finally:
        config._attn_implementation = before
        _ACTIVE.reset(token)


_REGISTERED: list[bool] = []


def _register_attention() -> bool:
    """Register the attention and mask functions with transformers (once); False when this
    transformers has no registries to register with."""
    if not _REGISTERED:
        try:
            from transformers import AttentionInterface
            from transformers.integrations.sdpa_attention import sdpa_attention_forward
            from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
        except ImportError:
            _REGISTERED.append(False)
            return False

        def attention(module, query, key, value, attention_mask, *args, **kwargs):
            plan = _ACTIVE.get()
            if plan is None:
                return sdpa_attention_forward(
                    module, query, key, value, attention_mask, *args, **kwargs
                )
            return _packed_attention(plan, query, key, value, **kwargs)

        def mask(*args: Any, **kwargs: Any) -> Any:
            # The plan holds the decode's mask; transformers need not build one.
            return None if _ACTIVE.get() is not None else sdpa_mask(*args, **kwargs)

        AttentionInterface.register(SHARED_PREFIX_ATTENTION, attention)
        AttentionMaskInterface.register(SHARED_PREFIX_ATTENTION, mask)
        _REGISTERED.append(True)
    return _REGISTERED[0]


def _packed_attention(
    plan: SharedPrefixPlan, query: Any, key: Any, value: Any, **kwargs: Any
) -> tuple[Any, None]:
    """One decoding step's attention for all rows: ``query`` ``[rows, heads, 1, dim]``
    against the per-prompt buffers ``key``/``value`` ``[prompts, kv heads, length, dim]``.
    Returns ``[rows, 1, heads, dim]``, the layout transformers' attention functions
    return."""
    torch = _torch()
    for name in ("softcap", "sliding_window", "s_aux", "position_bias"):
        if kwargs.get(name) is not None:
            raise SharedPrefixError(f"shared-prefix attention does not support {name}")
    rows, heads, steps, dim = query.shape
    if steps != 1:
        raise SharedPrefixError(f"shared-prefix attention decodes one token a step, got {steps}")
    prompts, kv_heads = key.shape[:2]
    group, slots = heads // kv_heads, plan.slots
    q = query[:, :, 0]  # [rows, heads, dim]
    if not plan.in_order:
        q = q.new_zeros((prompts * slots, heads, dim)).index_copy_(0, plan.flat, q)
    # [prompts, slots, kv heads, group, dim] -> [prompts, kv heads, slots * group, dim]:
    # the queries of a prompt's rows (and of the heads that share a key head) attend
    # together, over one copy of the prompt's keys.
    q = q.view(prompts, slots, kv_heads, group, dim).permute(0, 2, 1, 3, 4)
    q = q.reshape(prompts, kv_heads, slots * group, dim)
    out = torch.nn.functional.scaled_dot_product_attention(
        q, key, value, attn_mask=plan.mask_for(group, key.shape[2]), scale=kwargs.get("scaling")
    )  # [prompts, kv heads, slots * group, dim]
    out = out.view(prompts, kv_heads, slots, group, dim).permute(0, 2, 1, 3, 4)
    out = out.reshape(prompts * slots, heads, dim)
    if not plan.in_order:
        out = out.index_select(0, plan.flat)
    return out.view(rows, 1, heads, dim), None


def _shared_layer_class() -> Any:
    return _layer_class(_make_shared_layer)


def _make_shared_layer(base: Any) -> Any:
    class SharedPrefixLayer(base):
        """A full-attention cache layer laid out by a :class:`SharedPrefixPlan`: each
        prompt's keys once, then the tokens its rows generate. Seen from transformers, it
        holds ``P + t`` positions per row after ``t`` steps."""

        @classmethod
        def from_layer(cls, layer: Any, plan: SharedPrefixPlan, *, first: bool) -> Any:
            new = cls()
            new.lazy_initialization(layer.keys, layer.values)
            new.plan, new.first, new.step = plan, first, 0
            new.buffers = []
            for name in ("keys", "values"):
                old = getattr(layer, name)  # [prompts, kv heads, P, dim]
                length = plan.width + plan.room * plan.slots
                # Zeros, not empty: a masked position still enters the product with the
                # query, and NaN garbage there would survive the mask.
                buffer = old.new_zeros((*old.shape[:2], length, old.shape[-1]))
                buffer[:, :, : plan.width] = old
                new.buffers.append(buffer)
                setattr(new, name, buffer[:, :, : plan.width])
            return new

        def update(self, key_states: Any, value_states: Any, *args: Any, **kwargs: Any) -> Any:
            plan = self.plan
            if key_states.shape[-2] != 1:
                raise SharedPrefixError(
                    f"a shared-prefix cache takes one token per step, got {key_states.shape[-2]}"
                )
            if self.first:
                plan.open(self.step)
            keys, values = self.buffers
            where = plan.position(self.step)
            keys[plan.prompt_of_row, :, where] = key_states[:, :, 0]
            values[plan.prompt_of_row, :, where] = value_states[:, :, 0]
            self.step += 1
            filled = plan.width + self.step * plan.slots
            self.keys, self.values = keys[:, :, :filled], values[:, :, :filled]
            return self.keys, self.values

        def get_seq_length(self, *args: Any, **kwargs: Any) -> int:
            return self.plan.width + self.step

        def _unsupported(self, *args: Any, **kwargs: Any) -> None:
            raise SharedPrefixError(
                "a shared-prefix decoding cache cannot be reordered, cropped or re-batched"
            )

        reorder_cache = crop = batch_repeat_interleave = batch_select_indices = _unsupported

    return SharedPrefixLayer


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
