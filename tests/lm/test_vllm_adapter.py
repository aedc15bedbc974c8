"""VLLMLM maps our protocol onto vLLM's API: these tests use a STAND-IN vLLM engine and
SamplingParams class that record the calls, so they run in every environment and pin the
arguments we send and how vLLM's output objects are mapped back. The same backend on the real
engine (vLLM's CPU build) is tested in tests/real_vllm/, in vLLM's own environment."""

import sys
from types import SimpleNamespace

import pytest

from mrt_env.errors import DependencyNotInstalled
from mrt_env.lm import VLLMLM, Sampling
from mrt_env.lm.sampling import request_seed
from mrt_env.lm.testing import tiny_tokenizer


class FakeSamplingParams:
    """Stands in for vllm.SamplingParams: keeps the keyword arguments."""

    def __init__(self, **kwargs):
        self.kwargs = kwargs


class FakeEngine:
    """Stands in for vllm.LLM: records generate() calls and returns canned RequestOutputs."""

    def __init__(self, outputs):
        self.calls = []
        self._outputs = outputs
        self._tokenizer = tiny_tokenizer()
        self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=64))

    def get_tokenizer(self):
        return self._tokenizer

    def generate(self, prompts, params, use_tqdm=True):
        self.calls.append((prompts, params, use_tqdm))
        return self._outputs(prompts, params)


def _out(index, text, n_tokens, finish, stop_reason=None):
    return SimpleNamespace(
        index=index,
        text=text,
        token_ids=list(range(n_tokens)),
        finish_reason=finish,
        stop_reason=stop_reason,
    )


def test_vllm_adapter_with_fake_engine_sends_sampling_params_and_maps_outputs():
    def outputs(prompts, params):
        return [
            SimpleNamespace(
                outputs=[_out(1, "b text", 5, "length"), _out(0, "a", 2, "stop", "\n\n")]
            ),
            SimpleNamespace(outputs=[_out(0, "c", 1, "stop", None), _out(1, "d", 3, "stop", 2)]),
        ]

    engine = FakeEngine(outputs)
    lm = VLLMLM(engine=engine, sampling_params_cls=FakeSamplingParams)
    sampling = Sampling(max_tokens=7, stop=["\n\n", "Wait"], n=2, temperature=0.6, top_p=0.95)
    result = lm.generate(["p1", "p2"], sampling)

    prompts, params, use_tqdm = engine.calls[0]
    assert prompts == ["p1", "p2"] and use_tqdm is False
    assert [p.kwargs for p in params] == [
        {
            "n": 2,
            "temperature": 0.6,
            "top_p": 0.95,
            "max_tokens": 7,
            "stop": ["\n\n", "Wait"],
            "seed": None,
            "include_stop_str_in_output": False,
        }
    ] * 2
    # Outputs are put back in index order; stop_reason (a str) names the stop that fired;
    # an int stop_reason (a stop token id) or None is no stop string.
    first, second = result
    assert [(c.text, c.num_tokens, c.finish_reason, c.stop) for c in first] == [
        ("a", 2, "stop", "\n\n"),
        ("b text", 5, "length", None),
    ]
    assert [(c.text, c.stop) for c in second] == [("c", None), ("d", None)]
    assert first[0].token_ids == (0, 1)


def test_a_seeded_call_mixes_the_prompt_into_each_requests_seed():
    """vLLM's per-request seed fixes the random draws whatever the prompt; passed on as it
    is, every block of an episode would draw the same quantiles. Each prompt's request gets
    request_seed(seed, prompt) (vLLM seeds its k-th sample with that + k)."""

    def outputs(prompts, params):
        return [
            SimpleNamespace(outputs=[_out(0, "x", 1, "stop"), _out(1, "y", 1, "stop")])
            for _ in prompts
        ]

    engine = FakeEngine(outputs)
    lm = VLLMLM(engine=engine, sampling_params_cls=FakeSamplingParams)
    result = lm.generate(["p1", "p2"], Sampling(max_tokens=7, n=2, seed=3))
    prompts, params, _ = engine.calls[0]
    assert prompts == ["p1", "p2"]
    assert [(p.kwargs["n"], p.kwargs["seed"]) for p in params] == [
        (2, request_seed(3, "p1")),
        (2, request_seed(3, "p2")),
    ]
    assert request_seed(3, "p1") != request_seed(3, "p2")
    assert [[c.text for c in per] for per in result] == [["x", "y"], ["x", "y"]]
    # One seed per prompt, as the transformers backend takes it.
    lm.generate(["p1", "p1"], Sampling(max_tokens=7, n=2, seed=[4, 5]))
    seeds = [p.kwargs["seed"] for p in engine.calls[1][1]]
    assert seeds == [request_seed(4, "p1"), request_seed(5, "p1")]
    # Greedy: the seed changes nothing and is not sent; vLLM refuses n > 1 under greedy
    # decoding, so one sample is asked and copied.
    engine = FakeEngine(
        lambda prompts, params: [SimpleNamespace(outputs=[_out(0, "g", 1, "stop")])]
    )
    lm = VLLMLM(engine=engine, sampling_params_cls=FakeSamplingParams)
    [greedy] = lm.generate(["p1"], Sampling(max_tokens=7, n=3, temperature=0, seed=3))
    assert engine.calls[0][1][0].kwargs["seed"] is None and engine.calls[0][1][0].kwargs["n"] == 1
    assert [c.text for c in greedy] == ["g", "g", "g"]


def test_vllm_adapter_with_fake_engine_scores_from_prompt_logprobs():
    tok = tiny_tokenizer()

    def outputs(requests, params):
        assert params.kwargs == {
            "max_tokens": 1,
            "temperature": 0.0,
            "prompt_logprobs": 0,
            "detokenize": False,  # only the numbers are read
        }
        res = []
        for req in requests:
            ids = req["prompt_token_ids"]
            # vLLM: None for the first token, then {token_id: Logprob} for each position.
            entries = [None] + [
                {t: SimpleNamespace(logprob=-0.5 * (k + 1))} for k, t in enumerate(ids[1:])
            ]
            res.append(SimpleNamespace(prompt_logprobs=entries))
        return res

    engine = FakeEngine(outputs)
    lm = VLLMLM(engine=engine, sampling_params_cls=FakeSamplingParams)
    [score] = lm.score(["ab"], ["cd"])
    sent = engine.calls[0][0][0]["prompt_token_ids"]
    assert sent == tok("abcd")["input_ids"]  # token ids, with BOS: <s> a b c d
    # Positions 1..4 have logprobs -0.5, -1.0, -1.5, -2.0; the continuation is c, d.
    assert score == pytest.approx(-1.5 + -2.0)


def test_vllm_adapter_with_fake_engine_checks_the_context_window():
    lm = VLLMLM(engine=FakeEngine(lambda p, s: []), sampling_params_cls=FakeSamplingParams)
    with pytest.raises(ValueError, match="context of 64 tokens"):
        lm.generate(["x" * 60], Sampling(max_tokens=10))


def test_vllm_missing_names_the_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_vllm(name, *args, **kwargs):
        if name == "vllm" or name.startswith("vllm."):
            raise ModuleNotFoundError("No module named 'vllm'", name="vllm")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_vllm)
    # Where vLLM is installed and already imported (its own environment), importlib finds
    # it in sys.modules without calling __import__: hide it there too.
    monkeypatch.setitem(sys.modules, "vllm", None)
    with pytest.raises(DependencyNotInstalled, match=r"pip install 'mrt-env\[vllm\]'"):
        VLLMLM("some/model")
