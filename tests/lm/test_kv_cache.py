"""TransformersLM's cache savings (mrt_env.lm.kv_cache) change no sample.

The reference is transformers' own path (``share_prefill = False``): every row reads its
whole prompt, with transformers' concatenating cache.
"""

import pytest
import torch

from mrt_env.errors import ConfigError, MrtError, SharedPrefixError
from mrt_env.lm import Sampling, TransformersLM
from mrt_env.lm.kv_cache import (
    SHARED_PREFIX_ATTENTION,
    PrefixStore,
    decoding_with,
    shared_prefix_decoding,
    with_room,
)

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


def test_a_lone_prompt_with_nothing_stored_takes_transformers_own_path(lm, plans):
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
    # Only the call whose rows share a prompt packed them; a lone row keeps its layout.
    assert len(plans) == 1 and plans[0].slots == 2


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


# -- shared-prefix decoding ---------------------------------------------------------------


@pytest.fixture
def plans(monkeypatch):
    """The shared-prefix plans TransformersLM decodes under (None: it could not)."""
    import mrt_env.lm.transformers_lm as transformers_lm

    seen = []

    def spy(*args, **kwargs):
        seen.append(shared_prefix_decoding(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(transformers_lm, "shared_prefix_decoding", spy)
    return seen


def tiny_model(kind, *, kv_heads=4, attention="sdpa"):
    transformers = pytest.importorskip("transformers")
    from mrt_env.lm.testing import tiny_tokenizer

    tokenizer = tiny_tokenizer()
    config = getattr(transformers, f"{kind}Config")(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=kv_heads,
        max_position_embeddings=2048,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(0)
    model = getattr(transformers, f"{kind}ForCausalLM")(config)
    model.config._attn_implementation = attention
    return TransformersLM(model, tokenizer)


@pytest.mark.parametrize("temperature", [0.0, 0.8])
def test_rows_of_a_shared_prompt_decode_over_one_copy_of_its_keys(lm, plans, temperature):
    # Three rows per prompt; the first prompt twice (six rows, out of the usual order);
    # prompts of different lengths (padding); and a second call that starts from stored keys.
    sampling = Sampling(max_tokens=12, n=3, temperature=temperature, top_p=0.95, seed=3)
    context = PROBLEM + BLOCKS[0]
    for prompts in (
        [context, "Q: short\nA:", context],
        [context + BLOCKS[1], "Q: another one, longer than the first\nA:"],
    ):
        assert lm.generate(prompts, sampling) == reference(lm, prompts, sampling)
    assert len(plans) == 2 and all(plans)
    assert [plan.in_order for plan in plans] == [False, True]
    assert [plan.slots for plan in plans] == [6, 3]


@pytest.mark.parametrize(("kind", "kv_heads"), [("Llama", 2), ("Qwen2", 2), ("Qwen2", 1)])
def test_shared_prefix_decoding_holds_for_grouped_query_heads(plans, kind, kv_heads):
    lm = tiny_model(kind, kv_heads=kv_heads)
    sampling = Sampling(max_tokens=10, n=4, temperature=0.7, seed=11)
    prompts = [PROBLEM + BLOCKS[0], "Q: short\nA:"]
    assert lm.generate(prompts, sampling) == reference(lm, prompts, sampling)
    assert plans and all(plans)


def test_a_batch_split_across_chunks_decodes_each_chunk_on_its_own(tiny_model_dir, plans):
    lm = TransformersLM.from_pretrained(tiny_model_dir, max_batch_size=5)
    sampling = Sampling(max_tokens=8, n=4, temperature=0.9, seed=2)
    prompts = [PROBLEM, PROBLEM + BLOCKS[0], PROBLEM + BLOCKS[1]]  # 12 rows: 5 + 5 + 2
    assert lm.generate(prompts, sampling) == reference(lm, prompts, sampling)
    assert [plan.slots for plan in plans if plan] == [4, 3, 2]


def test_a_model_outside_the_plain_attention_keeps_a_copy_per_row(plans):
    lm = tiny_model("Llama", attention="eager")
    sampling = Sampling(max_tokens=8, n=3, temperature=0.6, seed=4)
    prompts = [PROBLEM + BLOCKS[0]]
    assert lm.generate(prompts, sampling) == reference(lm, prompts, sampling)
    assert plans == [None]


def test_other_threads_see_plain_attention_during_a_shared_prefix_decode(lm):
    # The model's attention implementation is switched while a decode runs; a forward
    # pass from another thread meanwhile must compute what it computes outside of one.
    import threading

    batch = lm.tokenizer(["Q: short\nA:", PROBLEM], return_tensors="pt", padding=True)
    with torch.inference_mode():
        outside = lm.model(**batch).logits
        cache = lm.model(**batch, use_cache=True).past_key_values
        plan = shared_prefix_decoding(lm.model, cache, [0, 0, 1], batch["attention_mask"], 4)
        assert plan is not None
        got = {}
        with decoding_with(lm.model, plan):
            assert lm.model.config._attn_implementation == SHARED_PREFIX_ATTENTION
            thread = threading.Thread(target=lambda: got.update(x=lm.model(**batch).logits))
            thread.start()
            thread.join(timeout=60)
        assert lm.model.config._attn_implementation == "sdpa"
    assert torch.equal(got["x"], outside)


def test_a_shared_prefix_cache_refuses_what_it_cannot_do(lm):
    batch = lm.tokenizer([PROBLEM], return_tensors="pt")
    with torch.inference_mode():
        cache = lm.model(**batch, use_cache=True).past_key_values
        plan = shared_prefix_decoding(lm.model, cache, [0, 0], batch["attention_mask"], 2)
        for step in range(2):
            plan.open(step)
        with pytest.raises(SharedPrefixError, match="room for 2 new tokens") as info:
            plan.open(2)
        assert isinstance(info.value, MrtError)
        with pytest.raises(SharedPrefixError, match="cannot be reordered"):
            cache.reorder_cache(torch.tensor([1, 0]))
        with pytest.raises(SharedPrefixError, match="one token per step"):
            cache.update(torch.zeros(2, 4, 3, 16), torch.zeros(2, 4, 3, 16), 0)
