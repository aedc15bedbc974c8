"""TransformersLM's cache savings (mrt_env.lm.kv_cache) change no sample.

The reference is transformers' own path (``share_prefill = False``): every row reads its
whole prompt, with transformers' concatenating cache.
"""

import pytest
import torch

from mrt_env.errors import ConfigError, MrtError
from mrt_env.lm import Sampling, TransformersLM
from mrt_env.lm.kv_cache import PrefixStore, with_room

PROBLEM = "Problem: what is 17 + 25?\nSolution:\n"
BLOCKS = ["We add the units: 7 + 5 = 12.\n\n", "Carry the 1: 1 + 2 + 1 = 4.\n\n", "So 42.\n\n"]


@pytest.fixture
def lm(tiny_model_dir):
    return TransformersLM.from_pretrained(tiny_model_dir)


def reference(lm, prompts, sampling):
    lm.share_prefill = False
    try:
        return lm.generate(prompts, sampling)
    finally:
        lm.share_prefill = True


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_a_growing_context_reads_only_its_new_tokens_and_samples_the_same(lm, temperature):
    # An env's context grows one block per step; each call starts from the previous one.
    sampling = Sampling(max_tokens=10, n=3, temperature=temperature, top_p=0.9, seed=5)
    others = ["Q: an unrelated prompt of its own length\nA:", "Q: short\nA:"]
    context = PROBLEM
    for step, block in enumerate(BLOCKS):
        context += block
        prompts = [context + "Final answer: ", *others[: step % 3]]
        before = lm.prefix_cache.hits
        got = lm.generate(prompts, sampling)
        assert got == reference(lm, prompts, sampling), f"step {step}"
        if step:  # all but the new block (and the forcing text) came from the store
            assert lm.prefix_cache.hits - before >= len(context) - len(block)


def test_a_prompt_already_held_whole_is_read_from_the_store(lm):
    sampling = Sampling(max_tokens=8, n=2, temperature=0.7, seed=1)
    prompts = [PROBLEM + BLOCKS[0], PROBLEM]  # the second is a start of the first
    first = lm.generate(prompts, sampling)
    again = lm.generate(prompts, sampling)
    assert first == again == reference(lm, prompts, sampling)


@pytest.mark.parametrize("fused", [False, True])
def test_a_training_step_empties_the_store(lm, fused):
    # A fused optimizer writes the weights without torch counting the write.
    sampling = Sampling(max_tokens=8, n=2, temperature=0.0)
    prompt = PROBLEM + BLOCKS[0]
    lm.generate([prompt], sampling)
    assert len(lm.prefix_cache) == 1
    optimizer = torch.optim.AdamW(lm.model.parameters(), lr=0.05, fused=fused)
    with torch.enable_grad():
        ids = lm.tokenizer(prompt, return_tensors="pt")["input_ids"]
        lm.model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    hits = lm.prefix_cache.hits
    changed = lm.generate([prompt + BLOCKS[1]], sampling)
    assert lm.prefix_cache.hits == hits  # nothing was read through the old weights
    assert changed == reference(lm, [prompt + BLOCKS[1]], sampling)


def test_the_store_keeps_its_token_budget_least_recently_used_first():
    def kv(n):
        return [(torch.arange(n).view(1, n, 1).float(), torch.zeros(1, n, 1))]

    a, b, c = list(range(40)), list(range(100, 140)), list(range(200, 220))
    store = PrefixStore(99)
    assert store.lookup(a, "v") == (0, [])  # entries belong to the weights last looked up
    store.add(a, kv(40))
    store.add(b, kv(40))
    found, layers = store.lookup([*a[:37], 999], "v")  # a is now the most recent
    assert found == 37 and torch.equal(layers[0][0], torch.arange(37).view(1, 37, 1).float())
    store.add(c, kv(20))  # 100 tokens: over budget, the least recently used goes
    assert store.lookup(b, "v")[0] == 0
    assert store.lookup([*a, 5], "v")[0] == 40
    assert store.lookup(a[:15], "v")[0] == 0  # under one block: not worth a second pass
    store.add([*a, 41, 42], kv(42))
    assert len(store) == 2  # the entry it extends was replaced
    assert store.lookup([*a, 41, 42, 43], "v")[0] == 42
    assert store.lookup(a, "other weights") == (0, [])
    assert len(store) == 0


def test_a_lone_prompt_with_nothing_stored_takes_transformers_own_path(lm):
    # One row, nothing to share, nothing stored: a separate prefill would be a second
    # pass for nothing. A later prompt that extends a stored one is read from the store.
    lone = Sampling(max_tokens=6, temperature=0.0)
    lm.generate([PROBLEM], lone)
    assert len(lm.prefix_cache) == 0
    lm.generate([PROBLEM], Sampling(max_tokens=6, n=2, temperature=0.0))
    hits = lm.prefix_cache.hits
    prompt = PROBLEM + BLOCKS[0]
    assert lm.generate([prompt], lone) == reference(lm, [prompt], lone)
    assert lm.prefix_cache.hits - hits == len(PROBLEM)  # BOS + the characters, less one


def test_a_bad_store_size_is_a_clear_error(tiny_model_dir):
    with pytest.raises(ConfigError, match="prefix cache size must be an int >= 0") as info:
        TransformersLM.from_pretrained(tiny_model_dir, prefix_cache_tokens=-1)
    assert isinstance(info.value, MrtError)


def test_an_off_store_keeps_nothing(tiny_model_dir):
    lm = TransformersLM.from_pretrained(tiny_model_dir, prefix_cache_tokens=0)
    sampling = Sampling(max_tokens=6, n=2, temperature=0.5, seed=2)
    prompts = [PROBLEM + BLOCKS[0]]
    assert lm.generate(prompts, sampling) == reference(lm, prompts, sampling)
    assert len(lm.prefix_cache) == 0


def test_room_is_filled_in_place_and_every_cache_operation_still_holds():
    transformers = pytest.importorskip("transformers")
    layer_keys = torch.randn(2, 3, 5, 4)  # 2 prompts, 3 heads, 5 positions, dim 4
    cache = transformers.DynamicCache([(layer_keys, layer_keys + 1)])
    rows = torch.tensor([0, 0, 1])
    roomy = with_room(cache, rows, room=4)
    expected = layer_keys[rows]
    assert torch.equal(roomy.layers[0].keys, expected)
    new = torch.randn(3, 3, 1, 4)
    buffer = roomy.layers[0].buffers[0]
    keys, values = roomy.update(new, new + 1, 0)
    assert torch.equal(keys, torch.cat([expected, new], dim=2))
    assert torch.equal(values, torch.cat([expected + 1, new + 1], dim=2))
    assert keys.data_ptr() == buffer.data_ptr()  # written into the room, not copied
    assert roomy.get_seq_length() == 6
    roomy.crop(-2)
    keys, _ = roomy.update(new, new, 0)
    assert torch.equal(keys, torch.cat([expected[:, :, :4], new], dim=2))
    roomy.reorder_cache(torch.tensor([2, 0]))  # replaces the views: concatenation again
    keys, _ = roomy.update(new[:2], new[:2], 0)
    assert keys.shape == (2, 3, 6, 4)
    assert torch.equal(keys[0, :, :4], expected[2, :, :4])
    for _ in range(3):  # past the room: concatenation
        keys, _ = roomy.update(new[:2], new[:2], 0)
    assert keys.shape == (2, 3, 9, 4)
