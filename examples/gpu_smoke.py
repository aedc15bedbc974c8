"""GPU smoke test of the vLLM backend: run as is on a machine with a CUDA GPU.

    pip install torch==2.13.0 && pip install -e '.[hf,vllm]'
    python examples/gpu_smoke.py                       # Qwen/Qwen2.5-0.5B-Instruct
    python examples/gpu_smoke.py --model agentica-org/DeepScaleR-1.5B-Preview

Checks, on the real engine, what tests/lm/test_vllm_adapter.py checks on a fake one:
generation with n, stop strings and seeds (same seed -> same text), the finish reasons,
and scoring through prompt log-probabilities, compared with TransformersLM on the same GPU.
Exits 1 if a check fails.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass

import tyro

from mrt_env.lm import VLLMLM, Sampling, TransformersLM

FORCING = "\n\nTime is up.\n\nGiven the time I've spent and the approaches I've tried"


@dataclass(frozen=True)
class SmokeConfig:
    """vLLM backend smoke test."""

    model: str = "Qwen/Qwen2.5-0.5B-Instruct"
    """Hub id or local path of a causal LM."""
    gpu_memory_utilization: float = 0.5
    """Fraction of GPU memory vLLM may take (TransformersLM shares the GPU)."""
    max_model_len: int = 4096
    """vLLM context length."""
    score_tolerance: float = 0.1
    """Largest |vLLM - transformers| log-probability allowed (bf16 kernels differ)."""


def main(cfg: SmokeConfig) -> int:
    failures = []

    def check(ok: bool, what: str) -> None:
        print(("ok   " if ok else "FAIL ") + what)
        if not ok:
            failures.append(what)

    start = time.perf_counter()
    lm = VLLMLM(
        cfg.model,
        gpu_memory_utilization=cfg.gpu_memory_utilization,
        max_model_len=cfg.max_model_len,
        dtype="bfloat16",
    )
    print(f"vLLM engine up in {time.perf_counter() - start:.1f} s")
    prompt = lm.chat_prompt("What is 17 * 23? Think step by step.") or "17 * 23 ="
    stops = ["\n\n", "Wait"]

    start = time.perf_counter()
    sampling = Sampling(max_tokens=256, n=4, temperature=0.9, seed=7, stop=stops)
    a = lm.generate([prompt] * 4, sampling)
    took = time.perf_counter() - start
    b = lm.generate([prompt], sampling)
    tokens = sum(c.num_tokens for per in a for c in per)
    print(f"generated {tokens} tokens in {took:.2f} s ({tokens / took:,.0f} tok/s)")
    check(len(a) == 4 and all(len(p) == 4 for p in a), "n=4 completions for each of 4 prompts")
    check([c.text for c in a[0]] == [c.text for c in b[0]], "same seed -> same texts")
    check(all(not any(s in c.text for s in stops) for p in a for c in p), "stop strings cut")
    check(any(c.stop in stops for p in a for c in p), "the fired stop string is reported")
    long = lm.generate([prompt], Sampling(max_tokens=8, temperature=0.9, seed=1))[0][0]
    check(long.finish_reason == "length" and long.num_tokens == 8, "length finish at max_tokens")

    conts = [" 391", FORCING]
    vllm_scores = lm.score([prompt] * 2, conts)
    del lm
    hf = TransformersLM.from_pretrained(cfg.model, device="cuda", dtype="bfloat16")
    hf_scores = hf.score([prompt] * 2, conts)
    diff = max(abs(x - y) for x, y in zip(vllm_scores, hf_scores, strict=True))
    print(f"scores vLLM {vllm_scores} vs transformers {hf_scores}: max |diff| {diff:.4f}")
    check(diff < cfg.score_tolerance, f"scores agree within {cfg.score_tolerance}")

    print("PASSED" if not failures else f"FAILED: {failures}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(tyro.cli(SmokeConfig)))
