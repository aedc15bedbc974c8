"""Load a problem set from the Hugging Face Hub with ``datasets.load_dataset``.

Downloads are cached the usual way (``HF_HOME`` / ``HF_DATASETS_CACHE``), so a set loaded
once with network loads again without it.

Failing fast without network: when the Hub cannot be reached, ``huggingface_hub`` retries
each request five times with back-off (about 25 s on a refused connection, minutes when
packets are dropped), for every file. So before loading, this module sends one request to
the Hub endpoint (``HF_ENDPOINT``) with a short timeout (``MRT_ENV_HUB_TIMEOUT`` seconds,
default 5). If that gets no answer, the load runs in ``datasets``' offline mode, which
serves a cached copy at once or fails at once. Offline mode is switched on by setting the
``HF_HUB_OFFLINE`` flags of ``datasets.config`` and ``huggingface_hub.constants`` for the
duration of that one call (under a lock; the previous values are restored). With
``HF_HUB_OFFLINE=1`` set by the user, no probe is sent.

Every failure of ``load_dataset`` becomes :class:`~mrt_env.errors.DataNotFound` chained to
the original exception (``raise ... from exc``), whose one-line message the caller lists
among the sources it tried.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from mrt_env.data.columns import to_problems
from mrt_env.data.files import Rows
from mrt_env.errors import ConfigError, DataFormatError, DataNotFound
from mrt_env.extras import require
from mrt_env.types import Problem

__all__ = ["PROBE_TIMEOUT_S", "HubSpec", "dataset_to_problems", "load_from_hub"]

PROBE_TIMEOUT_S = 5.0
"""Seconds the reachability probe waits; override with the environment variable
``MRT_ENV_HUB_TIMEOUT``."""

_OFFLINE_LOCK = threading.Lock()


@dataclass(frozen=True)
class HubSpec:
    """Where a problem set lives on the Hugging Face Hub.

    Attributes:
        repo: the dataset repository, ``"owner/name"``.
        split: the split holding the problems (``load_problems(split=...)`` overrides it).
        config: the dataset configuration (subset) name, if the repository has several.
        revision: a branch, tag or commit to pin; ``None`` is the default branch.
    """

    repo: str
    split: str = "train"
    config: str | None = None
    revision: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.repo, str) or self.repo.count("/") != 1 or " " in self.repo:
            raise ConfigError(f"HubSpec.repo must look like 'owner/name', got {self.repo!r}")
        if not isinstance(self.split, str) or not self.split:
            raise ConfigError(f"HubSpec.split must be a non-empty str, got {self.split!r}")
        for name in ("config", "revision"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, str) and value):
                raise ConfigError(f"HubSpec.{name} must be None or a non-empty str, got {value!r}")

    def describe(self, split: str | None = None) -> str:
        """``hub owner/name (split test)``: how error messages name this place."""
        extra = f", config {self.config}" if self.config else ""
        extra += f", revision {self.revision}" if self.revision else ""
        return f"hub {self.repo} (split {split or self.split}{extra})"


def dataset_to_problems(
    dataset: Any, *, source: str, origin: str, id_fields: Sequence[str] = ()
) -> list[Problem]:
    """Map the rows of a loaded ``datasets.Dataset`` (or any sequence of dicts) to Problems.

    Kept apart from the download so that the Hub's layouts can be tested offline on a
    ``Dataset.from_list(...)``; the column mapping is :func:`mrt_env.data.columns.to_problems`.
    """
    records = dataset.to_list() if hasattr(dataset, "to_list") else [dict(r) for r in dataset]
    if not records:
        raise DataFormatError(f"{origin}: the split holds no rows")
    return to_problems(Rows.indexed(origin, records), source=source, id_fields=id_fields)


def load_from_hub(
    spec: HubSpec, *, source: str, split: str | None = None, id_fields: Sequence[str] = ()
) -> list[Problem]:
    """Download (or read from cache) ``spec`` and map its rows to Problems of ``source``.

    Raises:
        DependencyNotInstalled: ``datasets`` is missing (``pip install 'mrt-env[hf]'``).
        DataNotFound: the dataset could not be loaded, for any reason; chained to the cause.
        DataFormatError: it loaded, but a row lacks a question or an answer.
    """
    datasets = require("datasets", extra="hf", feature="loading problem sets from the Hub")
    split = split or spec.split
    origin = spec.describe(split)
    unreachable = None if _offline_already(datasets) else _probe(_endpoint(datasets))
    offline = _offline_mode(datasets) if unreachable else contextlib.nullcontext()
    try:
        with offline:
            dataset = datasets.load_dataset(
                spec.repo, spec.config, split=split, revision=spec.revision
            )
    except Exception as exc:  # datasets raises many types; each is converted and chained
        if unreachable:
            why = f"no answer from {unreachable}, and no copy in the cache ({_one_line(exc)})"
        else:
            why = _one_line(exc)
        raise DataNotFound(f"{origin}: {why}") from exc
    return dataset_to_problems(dataset, source=source, origin=origin, id_fields=id_fields)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _offline_already(datasets: Any) -> bool:
    return bool(getattr(datasets.config, "HF_HUB_OFFLINE", False)) or bool(
        getattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    )


def _endpoint(datasets: Any) -> str:
    return str(getattr(datasets.config, "HF_ENDPOINT", "https://huggingface.co")).rstrip("/")


def _probe_timeout() -> float:
    raw = os.environ.get("MRT_ENV_HUB_TIMEOUT", "")
    try:
        value = float(raw) if raw else PROBE_TIMEOUT_S
    except ValueError:
        raise ConfigError(f"MRT_ENV_HUB_TIMEOUT must be a number of seconds, got {raw!r}") from None
    if not value > 0:
        raise ConfigError(f"MRT_ENV_HUB_TIMEOUT must be positive, got {raw!r}")
    return value


def _probe(endpoint: str) -> str | None:
    """One request to the Hub, no retries: None if anything answered, else why not.

    Uses huggingface_hub's own HTTP session so that proxies and custom clients apply.
    """
    session = require("huggingface_hub.utils", extra="hf").get_session()
    try:
        session.head(endpoint, timeout=_probe_timeout())
    except Exception as exc:  # noqa: BLE001  any failure to get an answer means "unreachable"
        return f"{endpoint} ({_one_line(exc, 160)})"
    return None


@contextlib.contextmanager
def _offline_mode(datasets: Any) -> Iterator[None]:
    """Switch datasets and huggingface_hub to offline mode for one call (see module doc)."""
    constants = require("huggingface_hub.constants", extra="hf")
    targets = [
        (module, flag)
        for module, flag in (
            (datasets.config, "HF_HUB_OFFLINE"),
            (datasets.config, "HF_DATASETS_OFFLINE"),
            (constants, "HF_HUB_OFFLINE"),
        )
        if hasattr(module, flag)
    ]
    with _OFFLINE_LOCK:
        saved = [getattr(module, flag) for module, flag in targets]
        for module, flag in targets:
            setattr(module, flag, True)
        try:
            yield
        finally:
            for (module, flag), value in zip(targets, saved, strict=True):
                setattr(module, flag, value)
