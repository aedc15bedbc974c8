"""Shared test fixtures: where the project's test data lives."""

import os
from pathlib import Path

import pytest

# ../shared/data beside the repository (see ../shared/data/README.md); CI lays it there too.
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
