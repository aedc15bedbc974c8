"""The tiny local model: built and saved, then loaded through the real from_pretrained path."""

import pytest
import torch

from mrt_env.lm import TransformersLM
from mrt_env.lm.testing import CHAR_VOCAB, tiny_lm


def test_tiny_lm_weights_are_a_function_of_the_seed(tmp_path):
    a = TransformersLM.from_pretrained(tiny_lm(tmp_path / "a", seed=1))
    b = TransformersLM.from_pretrained(tiny_lm(tmp_path / "b", seed=1))
    c = TransformersLM.from_pretrained(tiny_lm(tmp_path / "c", seed=2))
    sa, sb, sc = (m.model.state_dict() for m in (a, b, c))
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_tiny_tokenizer_is_character_level_and_round_trips(hf_lm):
    tok = hf_lm.tokenizer
    text = "Wait, 2+2=4.\n\nAlternatively: (x^2)"
    ids = tok(text, add_special_tokens=False)["input_ids"]
    assert len(ids) == len(text)
    assert tok.decode(ids) == text
    assert tok.vocab_size == len(CHAR_VOCAB)
    assert tok(text)["input_ids"][0] == tok.bos_token_id


def test_from_pretrained_validates_dtype(tiny_model_dir):
    import pytest

    with pytest.raises(ValueError, match="dtype must be one of"):
        TransformersLM.from_pretrained(tiny_model_dir, dtype="float8")


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_a_shared_prompt_is_read_once_without_changing_any_sample(hf_lm, temperature):
    # Rows that repeat a prompt (n samples of one context, as μ asks) share one prefill of
    # it; the samples must be those of reading the prompt once per row.
    from mrt_env.lm import Sampling

    prompts = ["Problem: 2 + 2?\nSolution:", "Q: a much longer prompt, of another length\nA:"]
    sampling = Sampling(max_tokens=12, n=4, temperature=temperature, top_p=0.9, seed=3)
    shared = hf_lm.generate(prompts, sampling)
    hf_lm.share_prefill = False
    try:
        reference = hf_lm.generate(prompts, sampling)
    finally:
        hf_lm.share_prefill = True
    assert shared == reference
    assert len({c.text for c in shared[0]}) > 1 or temperature == 0.0
