"""The real vLLM engine (its CPU build here, the same code on a GPU): shared engines.

These tests run in vLLM's own virtual environment (docs: Install; ``.ci/run`` builds it and
fails if any of them is skipped). In the main environment, without vLLM, they skip.
Each engine starts its core in a spawned process (15-30 s on 2 cores), so engines are shared
per session and closed at its end."""

import gc
import os

import pytest

# The CPU engine reserves most of the machine's memory for its KV cache by default and fails
# to start when other processes hold some; 1 GiB is plenty for these models.
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

from real_engine import ENGINE

from mrt_env.lm import VLLMLM, TransformersLM
from mrt_env.lm.loading import shipped_model_folder


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.vllm)


def _pair(name: str):
    folder = shipped_model_folder(name)
    return VLLMLM(folder, **ENGINE), TransformersLM.from_pretrained(folder, dtype="float32")


@pytest.fixture(scope="session")
def tiny():
    """(vLLM, transformers) on the shipped tiny model."""
    vllm_lm, hf_lm = _pair("mrt-env/tiny")
    yield vllm_lm, hf_lm
    vllm_lm.close()


@pytest.fixture(scope="session")
def recheck():
    """(vLLM, transformers) on the shipped recheck model."""
    vllm_lm, hf_lm = _pair("mrt-env/recheck")
    yield vllm_lm, hf_lm
    vllm_lm.close()


def first_observations(env_id: str, count: int = 16) -> list[str]:
    """The first observations of ``count`` problems of an env (what an agent continues)."""
    import gymnasium as gym

    import mrt_env  # noqa: F401 - registers the envs

    env = gym.make(env_id, prover=None)
    prompts = [env.reset(options={"problem": i})[0] for i in range(count)]
    env.close()
    return prompts


@pytest.fixture(scope="session")
def search_prompts():
    return first_observations("MRT-Search-v0")


@pytest.fixture(scope="session")
def recheck_prompts():
    return first_observations("MRT-Recheck-v0")


@pytest.fixture(autouse=True)
def _stop_engines_built_by_commands():
    """A command run in process (mrt-bench, mrt-regret) drops its engine when it returns; stop
    it now, while the test's output streams are still open for vLLM's shutdown log."""
    yield
    gc.collect()
