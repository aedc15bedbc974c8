"""Throughput of TransformersLM on the tiny local model, batch sizes side by side.

    python benchmarks/lm_bench.py               # needs the [hf] extra

For each batch size: generation tokens/s (temperature 1, our per-row reproducible sampler),
the same with transformers' own sampler (one global random stream, not reproducible per
row) for the cost of reproducibility, and scoring tokens/s. Every row generates exactly
--max-tokens tokens (the tiny model's EOS is made unreachable), so timings do not depend
on sampled lengths. Ratios are against batch 1, measured in the same run. Medians of
--repeats runs after one warm-up call.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import tyro
from _timing import median_seconds


@dataclass(frozen=True)
class BenchConfig:
    """Tokens per second of generate() and score() on the tiny model."""

    batch_sizes: tuple[int, ...] = (1, 8, 32)
    """Batch sizes to measure."""
    max_tokens: int = 64
    """Tokens generated per sequence."""
    score_chars: int = 256
    """Characters (= tokens, for the char tokenizer) scored per sequence."""
    repeats: int = 3
    """Timed runs per cell; the median is reported."""
    threads: int | None = None
    """torch.set_num_threads (default: torch's choice)."""


def main(cfg: BenchConfig) -> None:
    import torch

    from mrt_env.lm import Sampling, TransformersLM
    from mrt_env.lm.testing import tiny_lm

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    lm = TransformersLM.from_pretrained(
        tiny_lm(tempfile.mkdtemp()), max_batch_size=max(cfg.batch_sizes)
    )
    # Every row runs to max_tokens: the end-of-sequence token becomes one the model cannot
    # emit (an id past its vocabulary), so timings do not depend on sampled lengths.
    lm.tokenizer.add_special_tokens({"eos_token": "<never>"})
    params = sum(p.numel() for p in lm.model.parameters())
    print(f"tiny model: {params / 1e6:.2f}M parameters, {torch.get_num_threads()} torch threads")
    print()
    cols = ["batch", "generate tok/s", "x batch 1", "HF sampler tok/s", "ours / HF"]
    print("| " + " | ".join([*cols, "score tok/s", "x batch 1"]) + " |")
    print("|---|---|---|---|---|---|---|")
    base_gen = base_score = None
    sampling = Sampling(max_tokens=cfg.max_tokens, temperature=1.0, seed=0)
    for bs in cfg.batch_sizes:
        prompts = [f"Problem {i}: compute {i}+{i}.\n" for i in range(bs)]
        texts = [(f"Step {i}. " * 64)[: cfg.score_chars] for i in range(bs)]
        tokens = {}

        def gen(prompts=prompts, tokens=tokens):
            out = lm.generate(prompts, sampling)
            tokens["gen"] = sum(c.num_tokens for per in out for c in per)

        def hf_gen(prompts=prompts, tokens=tokens, bs=bs):
            tok = lm.tokenizer
            tok.padding_side = "left"
            enc = tok(prompts, return_tensors="pt", padding=True)
            with torch.inference_mode():
                out = lm.model.generate(
                    **enc,
                    do_sample=True,
                    temperature=1.0,
                    top_p=1.0,
                    top_k=0,
                    max_new_tokens=cfg.max_tokens,
                    pad_token_id=tok.pad_token_id,
                    eos_token_id=tok.eos_token_id,
                )
            tokens["hf"] = bs * (out.shape[1] - enc["input_ids"].shape[1])

        def score(texts=texts):
            lm.score([t[:8] for t in texts], [t[8:] for t in texts])

        t_gen = median_seconds(gen, cfg.repeats)
        t_hf = median_seconds(hf_gen, cfg.repeats)
        t_score = median_seconds(score, cfg.repeats)
        gen_rate, hf_rate = tokens["gen"] / t_gen, tokens["hf"] / t_hf
        score_rate = bs * cfg.score_chars / t_score
        base_gen = base_gen or gen_rate
        base_score = base_score or score_rate
        print(
            f"| {bs} | {gen_rate:,.0f} | {gen_rate / base_gen:.1f}x | {hf_rate:,.0f} "
            f"| {gen_rate / hf_rate:.2f} | {score_rate:,.0f} | {score_rate / base_score:.1f}x |"
        )


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
