"""Build a backend from :class:`ModelConfig` (a model name and how it runs: what CLIs and
``gym.make`` take)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

from mrt_env.config import Config
from mrt_env.errors import ArgumentTypeError, ConfigError
from mrt_env.extras import require
from mrt_env.lm.base import LanguageModel

__all__ = [
    "BACKENDS",
    "CHECKS_MODEL",
    "DEFAULT_MODEL",
    "DTYPES",
    "RECHECK_MODEL",
    "SHIPPED_MODELS",
    "ModelConfig",
    "check_device",
    "default_model_path",
    "load_default",
    "load_lm",
]

Backend = Literal["transformers", "vllm", "openai"]
BACKENDS: tuple[str, ...] = ("transformers", "vllm", "openai")
Dtype = Literal["auto", "float32", "bfloat16", "float16"]
DTYPES: tuple[str, ...] = ("auto", "float32", "bfloat16", "float16")


@dataclass(frozen=True)
class ModelConfig(Config):
    """Which model to load and how it runs (the commands' ``--model.*`` flags).

    >>> ModelConfig("mrt-env/tiny", device="cpu").backend
    'transformers'
    >>> ModelConfig("Qwen/Qwen2.5-0.5B", backend="openai")
    Traceback (most recent call last):
    ...
    mrt_env.errors.ConfigError: backend openai needs base_url (e.g. http://localhost:8000/v1)
    """

    name: str
    """The model: a shipped model (mrt-env/tiny, mrt-env/recheck), a hub id or local folder
    (transformers, vllm), or the server's model name (openai)."""
    backend: Backend = "transformers"
    """How the model runs: transformers (CPU/GPU, in process), vllm (GPU) or openai (any
    OpenAI-compatible completions server at base_url)."""
    device: str = "auto"
    """transformers: cpu, cuda, cuda:1, ...; auto picks cuda when available."""
    dtype: Dtype = "auto"
    """transformers and vllm: weights dtype (auto: the checkpoint's own)."""
    base_url: str | None = None
    """openai: the API root, e.g. http://localhost:8000/v1."""
    tokenizer: str | None = None
    """Hub id or path of the model's tokenizer, if not with the model. openai: for token
    counts and the chat template (without it, tokens are counted by the server's /tokenize
    and no chat template is applied)."""

    def validate(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(
                f"name must be a hub id, a local folder or a server's model name, got {self.name!r}"
            )
        if self.backend not in BACKENDS:
            raise ConfigError(f"backend must be one of {BACKENDS}, got {self.backend!r}")
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        if not isinstance(self.device, str) or not self.device.strip():
            raise ConfigError(f"device must be auto, cpu, cuda, cuda:1, ..., got {self.device!r}")
        if self.backend == "openai" and not self.base_url:
            raise ConfigError("backend openai needs base_url (e.g. http://localhost:8000/v1)")
        if self.base_url is not None and not self.base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {self.base_url}")


_SETTINGS = frozenset(f.name for f in fields(ModelConfig)) - {"name"}


def load_lm(model: str | ModelConfig, *, seed: int = 0, **kwargs: Any) -> LanguageModel:
    """Load a model on its backend (imports that backend's library only now).

    Args:
        model: the :class:`ModelConfig`; or the model's name, with the other settings as
            keywords: ``load_lm("mrt-env/tiny", device="cpu")`` is
            ``load_lm(ModelConfig("mrt-env/tiny", device="cpu"))``.
            :data:`DEFAULT_MODEL` is the shipped tiny model's folder.
        seed: vllm: the engine seed.
        **kwargs: passed on to the backend's constructor.
    """
    if isinstance(model, ModelConfig):
        if clash := sorted(_SETTINGS & kwargs.keys()):
            raise ArgumentTypeError(f"give {clash} in the ModelConfig, not as keywords too")
        settings = model
    else:
        settings = ModelConfig(model, **{k: kwargs.pop(k) for k in _SETTINGS if k in kwargs})
    backend, path = settings.backend, settings.name
    shipped = path in SHIPPED_MODELS and backend != "openai"
    if shipped:  # a shipped model: its folder, through the same loaders as any model
        path = shipped_model_folder(settings.name)
        if backend == "transformers":
            kwargs.setdefault("name", settings.name)
            kwargs.setdefault("max_batch_size", 64)
    if backend == "openai":
        from mrt_env.lm.openai_lm import OpenAICompatibleLM

        assert settings.base_url is not None  # ModelConfig checked it
        return OpenAICompatibleLM(settings.base_url, path, tokenizer=settings.tokenizer, **kwargs)
    if settings.tokenizer is not None:
        kwargs.setdefault("tokenizer", settings.tokenizer)
    if backend == "vllm":
        from mrt_env.lm.vllm_lm import VLLMLM

        lm = VLLMLM(path, dtype=settings.dtype, seed=seed, **kwargs)
        if shipped:
            lm.name = settings.name
        return lm
    from mrt_env.lm.transformers_lm import TransformersLM

    device = settings.device
    check_device(device)  # one line naming the devices there are, not torch's traceback
    if device == "auto":
        torch = require("torch", extra="hf", feature="the transformers backend")
        device = "cuda" if torch.cuda.is_available() else "cpu"
    return TransformersLM.from_pretrained(path, device=device, dtype=settings.dtype, **kwargs)


def check_device(device: str, *, flag: str = "device") -> None:
    """Raise a :class:`ConfigError` unless torch can use ``device`` on this machine (``auto``
    always can), naming the devices there are.

    Not part of :meth:`ModelConfig.validate`: settings may be written on one machine
    (a preset for a GPU, say) and run on another; this is asked where the model loads.
    """
    if device == "auto":
        return
    torch = require("torch", extra="hf", feature="the transformers backend")
    here = ["cpu"]
    if torch.cuda.is_available():
        here += [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    if torch.backends.mps.is_available():
        here.append("mps")
    xpu = getattr(torch, "xpu", None)
    if xpu is not None and xpu.is_available():
        here += [f"xpu:{i}" for i in range(xpu.device_count())]
    try:
        wanted = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise ConfigError(
            f"{flag} {device!r} is not a device torch knows; devices here: {', '.join(here)}"
        ) from None
    # cpu and mps are one device each; a numbered one (cuda:1) must be among those here.
    kinds = {name.split(":")[0] for name in here}
    fits = wanted.type == "cpu" or (
        wanted.type in kinds
        and (wanted.index is None or wanted.type == "mps" or str(wanted) in here)
    )
    if not fits:
        raise ConfigError(
            f"{flag} {device!r} is not available on this machine; devices here: {', '.join(here)}"
        )


DEFAULT_MODEL = "mrt-env/tiny"
"""The name that loads the tiny model shipped in ``mrt_env/assets/tiny`` (see its README)."""

RECHECK_MODEL = "mrt-env/recheck"
"""The shipped model that writes MRT-Recheck (``mrt_env/assets/recheck``, see its README)."""

CHECKS_MODEL = "mrt-env/checks"
"""The shipped model that writes MRT-Checks (``mrt_env/assets/checks``, see its README)."""

SHIPPED_MODELS: dict[str, str] = {
    DEFAULT_MODEL: "tiny",
    RECHECK_MODEL: "recheck",
    CHECKS_MODEL: "checks",
}
"""The models in the package (name -> folder of ``mrt_env/assets``), each with its model
card: ``tiny`` writes MRT-Arithmetic and MRT-Search, ``recheck`` writes MRT-Recheck,
``checks`` writes MRT-Checks."""


def default_model_path(name: str = DEFAULT_MODEL) -> Any:
    """Where the shipped model ``name`` lives in the installed package."""
    from importlib.resources import files

    if name not in SHIPPED_MODELS:
        raise ConfigError(f"the shipped models are {sorted(SHIPPED_MODELS)}, got {name!r}")
    return files("mrt_env.assets") / SHIPPED_MODELS[name]


def shipped_model_folder(name: str = DEFAULT_MODEL) -> str:
    """The shipped model's folder, or :class:`BackendUnavailable` if it is missing."""
    from mrt_env.errors import BackendUnavailable

    path = default_model_path(name)
    if not (path / "config.json").is_file():
        raise BackendUnavailable(
            f"the shipped model {name} is missing at {path}; reinstall mrt-env, or train one "
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
