"""Fixtures: one tiny model, served two ways (in process, and over HTTP by a stand-in server)."""

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.lm import OpenAICompatibleLM, TransformersLM
from mrt_env.lm.testing import serve_openai_compatible, tiny_lm


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("tiny-lm"), seed=0)


@pytest.fixture(scope="session")
def hf_lm(tiny_model_dir):
    return TransformersLM.from_pretrained(tiny_model_dir)


@pytest.fixture(scope="session")
def served_lm(hf_lm):
    """OpenAICompatibleLM talking to a stand-in for `vllm serve` on 127.0.0.1."""
    with serve_openai_compatible(hf_lm, model_name="tiny") as url:
        yield OpenAICompatibleLM(url, "tiny", max_retries=0, tokenizer=hf_lm.tokenizer)


@pytest.fixture(params=["transformers", "openai-standin-server"])
def lm(request, hf_lm, served_lm):
    """Every backend that can run here; the contract tests run once per backend."""
    return hf_lm if request.param == "transformers" else served_lm
