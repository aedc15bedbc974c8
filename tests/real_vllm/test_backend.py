"""VLLMLM against ``vllm.LLM`` itself: what the protocol promises, on the real engine."""

import subprocess
import sys
import textwrap
import threading
from dataclasses import replace

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")

from real_engine import ENGINE

from mrt_env.errors import BackendUnavailable, ContextLengthExceeded
from mrt_env.lm import VLLMLM, Sampling
from mrt_env.lm.loading import shipped_model_folder


def test_n_seed_and_token_ids(tiny, search_prompts):
    lm, _ = tiny
    sampling = Sampling(max_tokens=24, n=4, temperature=1.0, seed=7, stop="\n")
    first = lm.generate(search_prompts[:3], sampling)
    assert [len(per) for per in first] == [4, 4, 4]
    # Same seed and inputs, same texts; and a prompt's samples do not depend on the batch.
    assert lm.generate(search_prompts[:3], sampling) == first
    assert lm.generate(search_prompts[1:2], sampling) == first[1:2]
    # The n samples of a seeded call are distinct draws, not n copies of one.
    assert any(len({c.text for c in per}) > 1 for per in first)
    for per in first:
        for c in per:
            assert 1 <= c.num_tokens <= 24 and c.num_tokens == len(c.token_ids)
            decoded = lm.tokenizer.decode(list(c.token_ids))
            # The stop string is cut from the text; its token is still counted.
            assert decoded.startswith(c.text)
            if c.stop is not None:
                assert c.finish_reason == "stop" and "\n" not in c.text
                assert decoded[len(c.text) :].startswith("\n")


def test_another_seed_gives_other_samples_and_one_seed_per_prompt(tiny, search_prompts):
    lm, _ = tiny
    prompt = search_prompts[0]
    base = Sampling(max_tokens=24, n=8, temperature=1.0, stop="\n")
    a = [c.text for c in lm.generate([prompt], replace(base, seed=1))[0]]
    b = [c.text for c in lm.generate([prompt], replace(base, seed=2))[0]]
    assert a != b
    # One seed per prompt: equal prompts with their own seeds draw their own samples,
    # each equal to that prompt sampled alone with that seed.
    per = lm.generate([prompt, prompt], Sampling(max_tokens=24, temperature=1.0, seed=[1, 2]))
    alone = lm.generate([prompt], Sampling(max_tokens=24, temperature=1.0, seed=2))
    assert per[1] == alone[0]


def test_max_tokens_and_finish_reasons(tiny, search_prompts):
    lm, _ = tiny
    [[cut]] = lm.generate(search_prompts[:1], Sampling(max_tokens=3, temperature=0))
    assert cut.finish_reason == "length" and cut.num_tokens == 3 and cut.stop is None
    [[free]] = lm.generate(search_prompts[:1], Sampling(max_tokens=200, temperature=0))
    assert free.finish_reason == "stop" and free.num_tokens < 200  # the model ended (EOS)
    [[stopped]] = lm.generate(
        search_prompts[:1], Sampling(max_tokens=200, temperature=0, stop="\n")
    )
    assert stopped.stop == "\n" and free.text.startswith(stopped.text + "\n")


def test_greedy_texts_equal_transformers(tiny, recheck, search_prompts, recheck_prompts):
    for vllm_lm, hf_lm, prompts in ((*tiny, search_prompts), (*recheck, recheck_prompts)):
        sampling = Sampling(max_tokens=64, temperature=0)
        got = [c.text for [c] in vllm_lm.generate(prompts, sampling)]
        want = [c.text for [c] in hf_lm.generate(prompts, sampling)]
        assert got == want


def test_logprobs_agree_with_transformers_to_1e4(tiny, recheck, search_prompts, recheck_prompts):
    for (vllm_lm, hf_lm), prompts in ((tiny, search_prompts[:8]), (recheck, recheck_prompts[:8])):
        conts = [" 05+06=11 n\n", "a 05 13\n", " x", "99+99=198 y\nA \\boxed{13 11}"] * 2
        got, want = vllm_lm.score(prompts, conts), hf_lm.score(prompts, conts)
        assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-4


def test_prefix_caching_is_on_and_changes_no_score(tiny, search_prompts):
    lm, hf_lm = tiny
    assert lm.engine.llm_engine.vllm_config.cache_config.enable_prefix_caching
    # The meta-prover's pattern: growing prefixes of one stream, scored twice.
    stream = search_prompts[0] + "05+06=11 n\n05+09=14 n\n06+09=15 n\n11+13=24 y\n"
    cuts = [
        stream[: stream.index("\n", k) + 1]
        for k in range(len(search_prompts[0]), len(stream) - 1, 11)
    ]
    answers = ["A \\boxed{11 13}"] * len(cuts)
    once, twice = lm.score(cuts, answers), lm.score(cuts, answers)
    assert once == twice
    assert max(abs(a - b) for a, b in zip(once, hf_lm.score(cuts, answers), strict=True)) < 1e-4


def test_long_contexts_are_refused_with_a_clear_error(tiny):
    lm, _ = tiny
    assert lm.max_context == 1024
    long_prompt = "Q " + "05 " * 600
    with pytest.raises(ContextLengthExceeded, match="exceeds the model's context of 1024"):
        lm.generate([long_prompt], Sampling(max_tokens=16))
    with pytest.raises(ContextLengthExceeded, match="context of 1024"):
        lm.score([long_prompt * 2], ["x"])


def test_a_model_vllm_cannot_load_is_one_clear_error(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(BackendUnavailable, match="vLLM could not load"):
        VLLMLM(str(tmp_path), dtype="float32", enforce_eager=True)


SCRIPT = textwrap.dedent(
    """
    import os, sys
    import psutil
    from mrt_env.lm import Sampling, load_lm

    if __name__ == "__main__":
        lm = load_lm("mrt-env/tiny", backend="vllm", dtype="float32", enforce_eager=True)
        lm.generate(["Q 01 02 03 sum 3\\n"], Sampling(max_tokens=4, temperature=0))
        kids = [p.pid for p in psutil.Process().children(recursive=True)]
        print("CHILDREN", *kids, flush=True)
        # No close(): the process ends with the engine still running, as a script would.
    """
)


def test_a_script_that_never_closes_the_engine_exits_cleanly(tmp_path):
    import psutil

    script = tmp_path / "use_vllm.py"
    script.write_text(SCRIPT)
    done = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "terminate called" not in done.stderr and "Aborted" not in done.stderr
    [line] = [x for x in done.stdout.splitlines() if x.startswith("CHILDREN")]  # vLLM logs too
    kids = [int(pid) for pid in line.split()[1:]]
    assert kids, "vLLM started no engine process?"
    leaked = []
    for pid in kids:
        try:
            proc = psutil.Process(pid)
            proc.wait(timeout=15)
        except psutil.NoSuchProcess:
            continue
        except psutil.TimeoutExpired:
            leaked.append(pid)
    assert not leaked, f"engine processes outlived the script: {leaked}"


def test_close_waits_for_the_thread_that_receives_the_engines_outputs():
    """vLLM signals that thread to stop without waiting for it; one still freeing its last
    outputs' tensors as Python exits aborts the process ("terminate called without an
    active exception": 1 run in 18 of benchmarks/vllm_bench.py before close() waited)."""
    before = set(threading.enumerate())
    lm = VLLMLM(shipped_model_folder("mrt-env/tiny"), **ENGINE)
    lm.token_logprobs(["Q 01 02 03 sum 3\n"])  # an output that carries tensors
    receivers = [
        t for t in set(threading.enumerate()) - before if t.name == "EngineCoreOutputQueueThread"
    ]
    assert receivers, "vLLM names its output thread otherwise now: update this test"
    lm.close()
    assert not [t for t in receivers if t.is_alive()]
