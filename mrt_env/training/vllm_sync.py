"""Copy the trained policy's weights into the vLLM engine that samples the rollouts.

After every update the rollout engine must sample from the new policy. In one process
(vLLM "colocate", as in TRL) that means handing the engine's model the new tensors with
its own ``load_weights`` (which knows how to map a transformers checkpoint's names onto
vLLM's fused layers), then dropping the prefix cache: with prefix caching on (and the
meta-prover needs it), cached keys and values were computed by the *old* weights.

Where the model sits inside ``vllm.LLM`` has moved between vLLM versions; the places are
tried in order, and an engine that offers none is an error that says what was looked for.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from mrt_env.errors import BackendError

__all__ = ["sync_weights"]

# Where an in-process vLLM keeps its model, newest layouts last.
_MODEL_PATHS = (
    ("llm_engine", "model_executor", "driver_worker", "model_runner", "model"),  # V0
    ("llm_engine", "model_executor", "driver_worker", "worker", "model_runner", "model"),  # V1
)


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


def sync_weights(engine: Any, named_tensors: Iterable[tuple[str, Any]]) -> str:
    """Load ``named_tensors`` (e.g. ``model.named_parameters()``) into ``engine``.

    Returns which way was used (``"driver_worker"`` or ``"apply_model"``), for the log.
    The tensors are detached; casting them to the engine's dtype is left to vLLM's
    ``load_weights``.
    """
    weights = [(name, tensor.detach()) for name, tensor in named_tensors]
    model = _find_model(engine)
    if model is not None:
        model.load_weights(weights)
        how = "driver_worker"
    elif hasattr(engine, "apply_model"):  # vLLM >= 0.9: run a function on each worker's model
        engine.apply_model(lambda m: m.load_weights(weights))
        how = "apply_model"
    else:
        raise BackendError(
            f"cannot load weights into {type(engine).__name__}: it has no "
            "llm_engine.model_executor.driver_worker[.worker].model_runner.model and no "
            "apply_model(); use an in-process vllm.LLM (VLLM_ENABLE_V1_MULTIPROCESSING=0)"
        )
    if hasattr(engine, "reset_prefix_cache"):
        engine.reset_prefix_cache()  # cached KV was computed with the old weights
    return how
