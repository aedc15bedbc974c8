"""Shared test fixtures: where the project's test data lives."""

import os
from pathlib import Path

import pytest

# The test data: $MRT_ENV_TEST_DATA, else the team's data folder beside the repository.
SHARED_DATA = Path(
    os.environ.get(
        "MRT_ENV_TEST_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"
    )
)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"test data folder {SHARED_DATA} not found (set MRT_ENV_TEST_DATA)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """A tiny random Llama with a local character tokenizer, saved with save_pretrained."""
    pytest.importorskip("transformers")
    from mrt_env.lm.testing import tiny_lm

    return Path(tiny_lm(tmp_path_factory.mktemp("tiny"), max_positions=4096))


@pytest.fixture(scope="session")
def tiny_backend(tiny_model_dir):
    """The tiny model loaded through the real from_pretrained path (one per test session)."""
    from mrt_env.lm import TransformersLM

    return TransformersLM.from_pretrained(tiny_model_dir)
