"""mrt_env.training.vllm_sync on the real engine (the CPU build here), as ``mrt-train``
uses it: an engine in its own process (vLLM's default), started with the worker extension,
takes new weights and then scores text as transformers does with those weights; one
started without the extension is a one-line error that names it, sent nothing."""

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")

from real_engine import ENGINE

from mrt_env.errors import BackendError
from mrt_env.lm import VLLMLM, TransformersLM
from mrt_env.lm.loading import shipped_model_folder
from mrt_env.training.vllm_sync import WORKER_EXTENSION, sync_weights

TEXT = "Find 7 in: 3 9 7 1\n7+7+1=15\n7+1+1=09\nanswer: 7}"


def _logprobs(lm, text=TEXT):
    return lm.token_logprobs([text])[0].logprobs[1:]


def test_an_engine_in_its_own_process_takes_new_weights_through_a_file():
    import torch

    folder = shipped_model_folder()
    hf = TransformersLM.from_pretrained(folder, dtype="float32")
    with VLLMLM(str(folder), worker_extension_cls=WORKER_EXTENSION, **ENGINE) as engine:
        before = _logprobs(engine)
        torch.manual_seed(0)
        with torch.no_grad():
            for param in hf.model.parameters():  # every tensor, the tied embedding too
                param.add_(0.02 * torch.randn_like(param))
        assert sync_weights(engine.engine, hf.model.named_parameters()) == "reload_weights_file"
        after = _logprobs(engine)
        assert after == pytest.approx(_logprobs(hf), abs=1e-4)
        assert max(abs(a - b) for a, b in zip(after, before, strict=True)) > 0.1


def test_an_engine_without_the_extension_is_a_clear_error(tiny):
    vllm_lm, hf = tiny
    with pytest.raises(BackendError, match="worker_extension_cls"):
        sync_weights(vllm_lm.engine, hf.model.named_parameters())
    assert _logprobs(vllm_lm) == pytest.approx(_logprobs(hf), abs=1e-4)  # untouched
