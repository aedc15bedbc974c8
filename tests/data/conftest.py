"""Fixtures for the data tests: no test here may reach the network or see the user's setup."""

import os
import socket

import pytest

from mrt_env.data import sources
from mrt_env.errors import DataNotFound


@pytest.fixture(autouse=True)
def isolated_sources(monkeypatch):
    """A private copy of the registry, no MRT_ENV_DATA_DIR, and no in-process Hub access.

    Tests that exercise the Hub path run it in a subprocess (see ``offline_env``), so an
    accidental fall-through to the Hub here fails at once instead of going online.
    """
    monkeypatch.setattr(sources, "_REGISTRY", dict(sources._REGISTRY))
    monkeypatch.delenv(sources.DATA_DIR_ENV, raising=False)

    def no_hub(spec, *, source, split=None, id_fields=()):
        raise DataNotFound(f"{spec.describe(split)}: the Hub is disabled in these tests")

    monkeypatch.setattr(sources, "load_from_hub", no_hub)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when the block ends


@pytest.fixture
def offline_env(tmp_path) -> dict[str, str]:
    """Environment for a subprocess with a dead Hub endpoint and empty caches."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k
        not in (
            "MRT_ENV_DATA_DIR",
            "HF_HUB_OFFLINE",
            "HF_DATASETS_OFFLINE",
            "TRANSFORMERS_OFFLINE",
            "HF_HUB_CACHE",
            "HUGGINGFACE_HUB_CACHE",
        )
    }
    env.update(
        HF_ENDPOINT=f"http://127.0.0.1:{_closed_port()}",
        HF_HOME=str(tmp_path / "hf_home"),
        HF_DATASETS_CACHE=str(tmp_path / "hf_datasets"),
    )
    return env
