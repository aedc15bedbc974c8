import runpy
from pathlib import Path

import pytest

# cases.py is a data table, loaded by path so that tests/ needs no __init__.py files.
CASES = runpy.run_path(str(Path(__file__).with_name("cases.py")))


@pytest.fixture(scope="session", autouse=True)
def warm_grading_pool():
    """Start the grading workers once, so no test pays their start-up inside a timing."""
    from mrt_env.grading import warmup

    warmup(2)
