"""Copy the trained policy's weights into the vLLM engine that samples the rollouts.

After every update the rollout engine must sample from the new policy, and its prefix cache
must be dropped: with prefix caching on (and the meta-prover needs it), cached keys and
values were computed by the *old* weights.

The ways in, the first an engine offers:

* ``reload_weights`` (vLLM >= 0.12, every platform): vLLM puts each layer back in its
  checkpoint layout, loads the new tensors with the model's ``load_weights`` and processes
  them again as after a fresh load. vLLM's CPU backend needs it: after loading, it repacks
  every linear layer's weight for its GEMM kernels (oneDNN or its own) and leaves an empty
  ``weight`` without a ``weight_loader``, so a plain ``load_weights`` raises
  ``AttributeError: 'Parameter' object has no attribute 'weight_loader'``.
  One more step on the CPU backend: a tied output layer (``tie_word_embeddings``) keeps a
  packed copy of the embedding that ``reload_weights`` does not refresh (nothing is loaded
  into it by name), so the logits would come from the old embedding;
  :func:`repack_kept_weights` packs it again.
* ``load_weights`` on the engine's model (older vLLM): in this process, or on each worker
  through ``apply_model``.

An engine whose model lives in this process (``VLLM_ENABLE_V1_MULTIPROCESSING=0``, TRL's
colocate mode) gets the tensors themselves. An engine in another process (vLLM's default,
or a server) cannot be sent tensors through its RPC (they arrive as lists), so the weights
go through a safetensors file (:func:`write_handoff`) that the workers reload from, with
:class:`WeightSyncExtension`, which the engine must be started with
(``worker_extension_cls=WORKER_EXTENSION``; ``--worker-extension-cls`` for a server).

Where the model sits inside ``vllm.LLM`` has moved between vLLM versions; the places are
tried in order, and an engine that offers none is an error that says what was looked for.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import weakref
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from mrt_env.errors import BackendError

__all__ = [
    "HANDOFF_FILE",
    "WORKER_EXTENSION",
    "WeightSyncExtension",
    "repack_kept_weights",
    "sync_weights",
    "write_handoff",
]

HANDOFF_FILE = "model.safetensors"
"""The file :func:`write_handoff` writes; vLLM's loader reads every ``*.safetensors``."""

WORKER_EXTENSION = "mrt_env.training.vllm_sync.WeightSyncExtension"
"""What to pass as vLLM's ``worker_extension_cls`` for file syncs."""

RELOAD_METHOD = "mrt_reload_weights"
"""The workers' RPC method that :class:`WeightSyncExtension` adds."""

# Where an in-process vLLM keeps its model, newest layouts last.
_MODEL_PATHS = (
    ("llm_engine", "model_executor", "driver_worker", "model_runner", "model"),  # V0
    ("llm_engine", "model_executor", "driver_worker", "worker", "model_runner", "model"),  # V1
)

# One handoff folder per engine, removed with it (or at exit): after a reload from it the
# engine's config names the folder.
_HANDOFFS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def _find_model(engine: Any) -> Any:
    for path in _MODEL_PATHS:
        obj = engine
        for name in path:
            obj = getattr(obj, name, None)
            if obj is None:
                break
        if obj is not None and hasattr(obj, "load_weights"):
            return obj
    return None


def has_reload_weights() -> bool:
    """Whether the installed vLLM reloads weights in place (``reload_weights``)."""
    try:
        return importlib.util.find_spec("vllm.model_executor.model_loader.reload") is not None
    except (ImportError, ValueError):  # no vllm at all
        return False


def repack_kept_weights(model: Any) -> int:
    """Pack again, from their current weight, the layers that vLLM's CPU backend packed
    while keeping ``weight`` (embeddings and output layers); returns how many.

    Linear layers drop their ``weight`` when packed, and ``reload_weights`` repacks those
    it loads; a tied output layer shares the embedding's ``weight`` but is never loaded by
    name, so its packed copy would stay stale. Off the CPU backend no layer has a
    ``cpu_linear``, and this does nothing.
    """
    count = 0
    for module in model.modules():
        weight = getattr(module, "weight", None)
        method = getattr(module, "quant_method", None)
        kept = callable(getattr(weight, "numel", None)) and weight.numel() > 0
        if hasattr(module, "cpu_linear") and method is not None and kept:
            method.process_weights_after_loading(module)
            count += 1
    return count


class WeightSyncExtension:
    """Mixed into vLLM's workers (``worker_extension_cls=WORKER_EXTENSION``): reload the
    weights from a folder and repack the kept weights, in one RPC that a string names (an
    engine in another process, or ``POST /collective_rpc`` on a server in dev mode)."""

    def mrt_reload_weights(self, weights_path: str) -> int:
        self.reload_weights(weights_path=weights_path, is_checkpoint_format=True)  # type: ignore[attr-defined]
        return repack_kept_weights(self.get_model())  # type: ignore[attr-defined]


def write_handoff(named_tensors: Iterable[tuple[str, Any]], folder: str | os.PathLike) -> Path:
    """Write ``named_tensors`` as one safetensors file in ``folder`` (made if missing), for
    an engine in another process to reload from.

    Written to a temporary name and renamed, so a reader never sees half a file.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    # safetensors refuses views and shared storage; tied weights come once from
    # named_parameters(), so a contiguous copy per tensor is enough.
    tensors = {name: t.detach().to("cpu").contiguous() for name, t in named_tensors}
    partial = folder / f".{HANDOFF_FILE}.partial"
    save_file(tensors, str(partial))
    target = folder / HANDOFF_FILE
    partial.replace(target)
    return target


def _handoff_folder(engine: Any) -> str:
    folder = _HANDOFFS.get(engine)
    if folder is None:
        folder = tempfile.mkdtemp(prefix="mrt-vllm-sync-")
        _HANDOFFS[engine] = folder
        weakref.finalize(engine, shutil.rmtree, folder, True)
    return folder


def _extension_of(engine: Any) -> str:
    config = getattr(getattr(engine, "llm_engine", None), "vllm_config", None)
    return str(getattr(getattr(config, "parallel_config", None), "worker_extension_cls", ""))


def sync_weights(engine: Any, named_tensors: Iterable[tuple[str, Any]]) -> str:
    """Load ``named_tensors`` (e.g. ``model.named_parameters()``) into ``engine``.

    Returns which way was used, for the log: ``"reload_weights"`` (in process),
    ``"reload_weights_file"`` (through a safetensors file), ``"driver_worker"`` or
    ``"apply_model"`` (``load_weights``, older vLLM). The tensors are detached; casting
    them to the engine's dtype is left to vLLM's loaders.
    """
    model = _find_model(engine)
    if callable(getattr(engine, "collective_rpc", None)) and has_reload_weights():
        if model is not None:
            weights = ((name, tensor.detach()) for name, tensor in named_tensors)
            engine.collective_rpc(
                "reload_weights",
                kwargs={"weights_iterator": weights, "is_checkpoint_format": True},
            )
            repack_kept_weights(model)
            how = "reload_weights"
        elif _extension_of(engine) == WORKER_EXTENSION:
            folder = _handoff_folder(engine)
            write_handoff(named_tensors, folder)
            engine.collective_rpc(RELOAD_METHOD, kwargs={"weights_path": folder})
            how = "reload_weights_file"
        else:
            raise BackendError(
                f"cannot load weights into this {type(engine).__name__}: its model runs in "
                "another process, which takes new weights only through a file, with "
                f"worker_extension_cls={WORKER_EXTENSION!r} given to vllm.LLM (or "
                "VLLM_ENABLE_V1_MULTIPROCESSING=0, to keep the model in this process)"
            )
    elif model is not None:
        model.load_weights([(name, tensor.detach()) for name, tensor in named_tensors])
        how = "driver_worker"
    elif hasattr(engine, "apply_model"):  # vLLM >= 0.9: run a function on each worker's model
        weights = [(name, tensor.detach()) for name, tensor in named_tensors]
        engine.apply_model(lambda m: m.load_weights(weights))
        how = "apply_model"
    else:
        raise BackendError(
            f"cannot load weights into {type(engine).__name__}: it has no collective_rpc "
            "(vLLM's reload_weights), no llm_engine.model_executor.driver_worker[.worker]"
            ".model_runner.model and no apply_model()"
        )
    if hasattr(engine, "reset_prefix_cache"):
        engine.reset_prefix_cache()  # cached KV was computed with the old weights
    return how
