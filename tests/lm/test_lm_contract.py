"""The behaviour every LanguageModel backend must show, run against each one that runs here:
TransformersLM in process, and OpenAICompatibleLM over loopback to a stand-in server."""

import pytest

from mrt_env.errors import ConfigError, ContextLengthExceeded
from mrt_env.lm import Completion, LanguageModel, Sampling
from mrt_env.lm.base import check_generate_args

PROMPTS = ["Question: 2+2?\nAnswer:", "Wait, let me think.", "x"]


def test_backend_satisfies_the_protocol(lm):
    assert isinstance(lm, LanguageModel)


def test_generate_returns_n_completions_per_prompt(lm):
    out = lm.generate(PROMPTS, Sampling(max_tokens=8, n=3, seed=0))
    assert len(out) == len(PROMPTS)
    for per_prompt in out:
        assert len(per_prompt) == 3
        for c in per_prompt:
            assert isinstance(c, Completion)
            assert 1 <= c.num_tokens <= 8
            assert c.finish_reason in ("stop", "length")
            assert c.stop is None


def test_same_seed_same_text_and_other_seed_other_text(lm):
    a = lm.generate(PROMPTS, Sampling(max_tokens=16, n=2, seed=7))
    b = lm.generate(PROMPTS, Sampling(max_tokens=16, n=2, seed=7))
    c = lm.generate(PROMPTS, Sampling(max_tokens=16, n=2, seed=8))
    assert [[x.text for x in p] for p in a] == [[x.text for x in p] for p in b]
    assert [[x.text for x in p] for p in a] != [[x.text for x in p] for p in c]
    # The n samples of one prompt differ from each other.
    assert a[0][0].text != a[0][1].text


def test_samples_of_a_prompt_do_not_depend_on_the_rest_of_the_batch(lm):
    batched = lm.generate(PROMPTS, Sampling(max_tokens=16, n=2, seed=11))
    alone = lm.generate([PROMPTS[1]], Sampling(max_tokens=16, n=2, seed=11))
    assert [c.text for c in alone[0]] == [c.text for c in batched[1]]


def test_stop_strings_cut_the_text_exactly(lm):
    free = lm.generate([PROMPTS[0]], Sampling(max_tokens=24, seed=3))[0][0].text
    assert len(free) >= 8
    stop = free[4:6]  # a stop string this sample is known to produce
    cut = lm.generate([PROMPTS[0]], Sampling(max_tokens=24, seed=3, stop=["#never#", stop]))[0][0]
    assert cut.text == free[: free.find(stop)]
    assert cut.stop == stop
    assert cut.finish_reason == "stop"
    assert stop not in cut.text
    assert cut.num_tokens < 24


def test_length_finish_when_the_budget_runs_out(lm):
    out = lm.generate(PROMPTS * 4, Sampling(max_tokens=6, n=2, seed=5))
    flat = [c for per_prompt in out for c in per_prompt]
    lengths = [c for c in flat if c.finish_reason == "length"]
    assert lengths, "some of 24 samples of 6 tokens must run out of budget"
    assert all(c.num_tokens == 6 for c in lengths)


def test_greedy_is_deterministic_and_ignores_the_seed(lm):
    a = lm.generate(PROMPTS, Sampling(max_tokens=10, n=2, temperature=0.0, seed=1))
    b = lm.generate(PROMPTS, Sampling(max_tokens=10, n=2, temperature=0.0, seed=2))
    assert a == b
    assert all(p[0].text == p[1].text for p in a)


def test_score_is_a_log_probability_and_obeys_the_chain_rule(lm):
    prompt, a, b = "Question: 2+2?\nAnswer:", " 4", " because 2+2=4."
    whole, first, second = lm.score([prompt, prompt, prompt + a], [a + b, a, b])
    assert whole < 0 and first < 0 and second < 0
    # log p(ab | x) = log p(a | x) + log p(b | x a)  (one token per character here)
    assert whole == pytest.approx(first + second, abs=1e-4)


def test_count_tokens_and_chat_prompt(lm):
    assert lm.count_tokens("abc\n\nd") == 6  # one token per character
    prompt = lm.chat_prompt("What is 2+2?")
    assert prompt is not None and "What is 2+2?" in prompt and prompt.endswith("assistant: ")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"max_tokens": 0}, "max_tokens must be a positive int"),
        ({"max_tokens": 4, "n": 0}, "n must be a positive int"),
        ({"max_tokens": 4, "top_p": 0.0}, r"top_p must be in \(0, 1\]"),
        ({"max_tokens": 4, "temperature": -1}, "temperature must be"),
        ({"max_tokens": 4, "temperature": float("nan")}, "temperature must be"),
        ({"max_tokens": 4, "stop": [""]}, "stop strings must be non-empty"),
        ({"max_tokens": 4, "seed": -3}, "seed must be a non-negative int"),
        ({"max_tokens": 4, "seed": [1, -3]}, "seed must be a non-negative int"),
    ],
)
def test_bad_sampling_settings_fail_where_they_are_written(kwargs, match):
    # Checked once, when the Sampling is built: no backend sees a bad value.
    with pytest.raises(ConfigError, match=match):
        Sampling(**kwargs)


def test_sampling_normalises_stop_strings_and_per_prompt_seeds():
    assert Sampling(max_tokens=4, stop="\n").stop == ("\n",)
    assert Sampling(max_tokens=4, stop=None).stop == ()
    assert Sampling(max_tokens=4, seed=[3, 4]).seed == (3, 4)
    with pytest.raises(TypeError):
        Sampling(4)  # type: ignore[misc]  # keyword-only: the order is a trap


def test_generate_takes_one_sampling_value(lm):
    with pytest.raises(TypeError, match="max_tokens"):
        lm.generate(["x"], max_tokens=4)  # type: ignore[call-arg]
    with pytest.raises(TypeError, match=r"generate\(prompts, Sampling\(max_tokens=...\)\)"):
        lm.generate(["x"], {"max_tokens": 4})  # type: ignore[arg-type]


def test_per_prompt_seeds_where_the_backend_takes_them(lm):
    prompts = [PROMPTS[0], PROMPTS[0]]
    two = lm.generate(prompts, Sampling(max_tokens=8, seed=[1, 2]))
    one = lm.generate(prompts[:1], Sampling(max_tokens=8, seed=2))
    assert two[1][0].text == one[0][0].text  # the second prompt got seed 2
    with pytest.raises(ValueError, match="one seed per prompt: 2 prompts, 3 seeds"):
        lm.generate(prompts, Sampling(max_tokens=8, seed=[1, 2, 3]))
    # A backend that cannot seed each prompt refuses such a seed.
    with pytest.raises(ValueError, match="takes one seed for all prompts"):
        check_generate_args(prompts, Sampling(max_tokens=8, seed=[1, 2]))


def test_a_single_string_is_not_a_batch(lm):
    with pytest.raises(TypeError, match="wrap it"):
        lm.generate("hello", Sampling(max_tokens=4))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="one continuation per prompt"):
        lm.score(["a", "b"], ["c"])


def test_prompt_longer_than_the_context_is_a_clear_error(lm):
    with pytest.raises(ContextLengthExceeded, match="context"):
        lm.generate(["y" * 1100], Sampling(max_tokens=4))


def test_scores_agree_between_backends(hf_lm, served_lm):
    prompts = ["Question: 2+2?\nAnswer:", "Wait, ", "\n\n"]
    conts = [" 4", "let me double-check.\n\nYes.", "Alternatively"]
    local, remote = hf_lm.score(prompts, conts), served_lm.score(prompts, conts)
    assert max(abs(a - b) for a, b in zip(local, remote, strict=True)) < 1e-3
