"""Build a backend from a model name and a backend kind (what CLIs and ``gym.make`` take)."""

from __future__ import annotations

from typing import Any, Literal

from mrt_env.extras import require
from mrt_env.lm.base import LanguageModel

__all__ = ["BACKENDS", "DEFAULT_MODEL", "default_model_path", "load_default", "load_lm"]

Backend = Literal["transformers", "vllm", "openai"]
BACKENDS: tuple[str, ...] = ("transformers", "vllm", "openai")


def load_lm(
    model: str,
    *,
    backend: Backend = "transformers",
    device: str = "auto",
    dtype: str = "auto",
    base_url: str | None = None,
    tokenizer: str | None = None,
    seed: int = 0,
    **kwargs: Any,
) -> LanguageModel:
    """Load ``model`` on ``backend`` (imports that backend's library only now).

    Args:
        model: hub id or local folder (transformers, vllm), or the server's model name
            (openai); :data:`DEFAULT_MODEL` is the shipped tiny model's folder.
        backend: ``transformers`` (CPU/GPU, in process), ``vllm`` (GPU) or ``openai`` (any
            OpenAI-compatible completions server at ``base_url``).
        device: transformers: ``cpu``, ``cuda``, ``cuda:1``, ...; ``auto`` picks CUDA if present.
        dtype: transformers and vllm: ``auto`` (the checkpoint's), ``float32``, ``bfloat16``, ...
        base_url: openai: the API root, e.g. ``http://localhost:8000/v1``.
        tokenizer: openai: the tokenizer's hub id or path (token counts, chat template).
        seed: vllm: the engine seed.
        **kwargs: passed on to the backend's constructor.
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    if not isinstance(model, str) or not model:
        raise ValueError(f"model must be a non-empty hub id, path or model name, got {model!r}")
    shipped = model == DEFAULT_MODEL and backend != "openai"
    if shipped:  # the shipped tiny model: its folder, through the same loaders as any model
        model = shipped_model_folder()
        if backend == "transformers":
            kwargs.setdefault("name", DEFAULT_MODEL)
            kwargs.setdefault("max_batch_size", 64)
    if backend == "openai":
        from mrt_env.lm.openai_lm import OpenAICompatibleLM

        if not base_url:
            raise ValueError("the openai backend needs base_url (e.g. http://localhost:8000/v1)")
        return OpenAICompatibleLM(base_url, model, tokenizer=tokenizer, **kwargs)
    if backend == "vllm":
        from mrt_env.lm.vllm_lm import VLLMLM

        lm = VLLMLM(model, dtype=dtype, seed=seed, **kwargs)
        if shipped:
            lm.name = DEFAULT_MODEL
        return lm
    from mrt_env.lm.transformers_lm import TransformersLM

    if device == "auto":
        torch = require("torch", extra="hf", feature="the transformers backend")
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return TransformersLM.from_pretrained(model, device=device, dtype=dtype, **kwargs)


DEFAULT_MODEL = "mrt-env/tiny"
"""The name that loads the tiny model shipped in ``mrt_env/assets/tiny`` (see its README)."""


def default_model_path() -> Any:
    """Where the shipped tiny model lives in the installed package."""
    from importlib.resources import files

    return files("mrt_env.assets") / "tiny"


def shipped_model_folder() -> str:
    """The shipped tiny model's folder, or :class:`BackendUnavailable` if it is missing."""
    from mrt_env.errors import BackendUnavailable

    path = default_model_path()
    if not (path / "config.json").is_file():
        raise BackendUnavailable(
            f"the shipped tiny model is missing at {path}; reinstall mrt-env, or train one "
            "with `mrt-pretrain --out DIR` and pass prover=DIR"
        )
    return str(path)


def load_default(*, device: str = "cpu", max_batch_size: int = 64) -> LanguageModel:
    """The tiny model this project trains and ships, on transformers (runs offline on CPU).

    It writes the synthetic tasks' reasoning (``MRT-Arithmetic-v0``, ``MRT-Search-v0``) and
    serves as their meta-prover. Needs the ``hf`` extra. The same as
    ``load_lm(DEFAULT_MODEL, device=device, dtype="float32")``.
    """
    return load_lm(DEFAULT_MODEL, device=device, dtype="float32", max_batch_size=max_batch_size)
