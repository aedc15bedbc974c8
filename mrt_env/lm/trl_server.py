"""TRLServerLM: a LanguageModel over TRL's vLLM server client (``trl vllm-serve``).

With it the meta-prover μ of :func:`mrt_env.integrations.trl.make_progress_reward` runs on the
server a TRL ``GRPOTrainer`` run already has, which holds the current policy's weights.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from mrt_env.errors import ArgumentTypeError, BackendError
from mrt_env.extras import require
from mrt_env.lm.base import (
    Completion,
    HFTokenizerMixin,
    SharedResource,
    TokenLogprobs,
    check_generate_args,
    cut_at_stop,
)
from mrt_env.lm.sampling import Sampling

__all__ = ["TRLServerLM"]


class TRLServerLM(HFTokenizerMixin, SharedResource):
    """:class:`~mrt_env.lm.base.LanguageModel` over TRL's ``VLLMClient`` (``trl vllm-serve``).

    In server mode TRL's trainer pushes its weights to the server after every update, so a
    meta-prover on this backend is μ = the current policy, as in the paper::

        from trl.generation.vllm_client import VLLMClient
        lm = TRLServerLM(VLLMClient(base_url="http://localhost:8000"), tokenizer)
        reward = make_progress_reward(make_prover(lm, "forced", k=8))

    Only generation is used (no weight-update communicator), so every training process may
    open its own client. ``generate`` sends the prompts as text in one request (``n``,
    ``temperature``, ``top_p``, ``max_tokens``; stop strings and seed as ``generation_kwargs``)
    and decodes the returned token ids with ``tokenizer``; a completion that used all
    ``max_tokens`` without a stop string is ``finish_reason="length"``. ``score`` (for the
    likelihood prover) uses the client's ``get_sequence_logprobs`` where it has one.

    Args:
        client: a ``trl`` ``VLLMClient`` (or anything with its ``generate`` signature).
        tokenizer: the served model's HF tokenizer (object, hub id or folder).
        name: shown in logs; default ``<model>@<base_url>``.
    """

    def __init__(self, client: Any, tokenizer: Any, *, name: str | None = None):
        if not callable(getattr(client, "generate", None)):
            raise ArgumentTypeError(
                f"client must be a trl VLLMClient (with generate), got {type(client).__name__}"
            )
        if isinstance(tokenizer, str | os.PathLike):
            tf = require("transformers", extra="hf", feature="TRLServerLM's tokenizer")
            tokenizer = tf.AutoTokenizer.from_pretrained(str(tokenizer))
        if not callable(getattr(tokenizer, "decode", None)):
            raise ArgumentTypeError(
                f"tokenizer must be a HF tokenizer, got {type(tokenizer).__name__}"
            )
        self.client = client
        self.tokenizer = tokenizer
        model = getattr(client, "model", None) or "vllm"
        self.name = name or f"{model}@{getattr(client, 'base_url', 'trl-server')}"

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        prompts = check_generate_args(prompts, sampling)
        if not prompts:
            return []
        stops, n, max_tokens = sampling.stop, sampling.n, sampling.max_tokens
        extra: dict[str, Any] = {}
        if stops:
            extra["stop"] = list(stops)
        if sampling.seed is not None:
            extra["seed"] = sampling.seed
        out = self.client.generate(
            prompts=prompts,
            n=n,
            temperature=float(sampling.temperature),
            top_p=float(sampling.top_p),
            max_tokens=max_tokens,
            generation_kwargs=extra or None,
        )
        # TRL >= 0.20 returns a dict; earlier ones the completion ids alone. Prompt-major:
        # the n completions of prompt i are entries i*n .. i*n + n - 1.
        ids = out["completion_ids"] if isinstance(out, Mapping) else out
        if len(ids) != len(prompts) * n:
            raise BackendError(
                f"{self.name}: expected {len(prompts)} x {n} completions, got {len(ids)}"
            )
        results = []
        for i in range(len(prompts)):
            row = []
            for seq in ids[i * n : (i + 1) * n]:
                tokens = tuple(int(t) for t in seq)
                # vLLM keeps a stop string's tokens in token_ids; the text is cut here.
                text, fired = cut_at_stop(
                    self.tokenizer.decode(list(tokens), skip_special_tokens=True), stops
                )
                finish = "length" if fired is None and len(tokens) >= max_tokens else "stop"
                row.append(Completion(text, len(tokens), finish, fired, tokens))
            results.append(row)
        return results

    def token_logprobs(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Per-token log-probabilities of each text from the server, with offsets."""
        score = getattr(self.client, "get_sequence_logprobs", None)
        if score is None:
            raise BackendError(
                f"{self.name}: this VLLMClient cannot score text (no get_sequence_logprobs, "
                "TRL too old); use the forced-answer prover"
            )
        encs = [self.tokenizer(t, return_offsets_mapping=True) for t in texts]
        seqs = [list(e["input_ids"]) for e in encs]
        # Logprobs from position 1 on (the first token has no context): [B][T-1][1].
        out = score(sequences=seqs, prompt_lengths=[1] * len(seqs), top_logprobs=1)
        result = []
        for enc, seq, actual in zip(encs, seqs, out["actual_logprobs"], strict=True):
            if len(actual) != len(seq) - 1:
                raise BackendError(
                    f"{self.name}: {len(actual)} logprobs for a {len(seq)}-token sequence"
                )
            logprobs = (None, *(float(a[0]) for a in actual))
            offsets = enc["offset_mapping"]
            result.append(
                TokenLogprobs(
                    starts=tuple(int(a) for a, _ in offsets),
                    ends=tuple(int(b) for _, b in offsets),
                    logprobs=logprobs,
                )
            )
        return result
