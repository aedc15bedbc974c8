"""A :class:`~mrt_env.lm.base.LanguageModel` on vLLM's offline engine (GPU).

``vllm.LLM`` with prefix caching on, which is what makes the meta-prover affordable: every
prefix of a reasoning stream shares its start with the previous one, so forcing an answer
after each block re-reads almost nothing. Sampling goes through ``SamplingParams`` (stop
strings, ``n``, per-request ``seed``); scoring through prompt log-probabilities
(``prompt_logprobs=0``), summed over the continuation with the same rule as every backend.

Needs the ``vllm`` extra and a GPU. vLLM is imported only when a ``VLLMLM`` is built
without an ``engine``; tests pass a stand-in engine and ``SamplingParams`` class.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mrt_env.errors import ConfigError
from mrt_env.extras import require
from mrt_env.lm.base import (
    Completion,
    HFTokenizerMixin,
    SharedResource,
    TokenLogprobs,
    check_context,
    check_generate_args,
    cut_at_stop,
)
from mrt_env.lm.sampling import Sampling

__all__ = ["VLLMLM"]


class VLLMLM(SharedResource, HFTokenizerMixin):
    """vLLM's offline engine behind the :class:`LanguageModel` protocol.

    Args:
        model: hub id or local path, passed to ``vllm.LLM`` (ignored when ``engine`` given).
        engine: an existing ``vllm.LLM`` (or an object with the same ``generate`` and
            ``get_tokenizer`` methods).
        sampling_params_cls: the ``SamplingParams`` class (default: ``vllm.SamplingParams``).
        **engine_kwargs: passed to ``vllm.LLM`` (``dtype``, ``gpu_memory_utilization``,
            ``max_model_len``, ``tensor_parallel_size``, ...). ``enable_prefix_caching``
            defaults to True.
    """

    def __init__(
        self,
        model: str | None = None,
        *,
        engine: Any = None,
        sampling_params_cls: Any = None,
        **engine_kwargs: Any,
    ):
        if engine is None or sampling_params_cls is None:
            vllm = require("vllm", extra="vllm", feature="VLLMLM")
            sampling_params_cls = sampling_params_cls or vllm.SamplingParams
            if engine is None:
                if not model:
                    raise ConfigError("VLLMLM needs model= (a hub id or path) or engine=")
                engine_kwargs.setdefault("enable_prefix_caching", True)
                engine = vllm.LLM(model=model, **engine_kwargs)
        self.engine = engine
        self.sampling_params_cls = sampling_params_cls
        self.tokenizer = engine.get_tokenizer()
        self.name = model or type(engine).__name__
        config = getattr(getattr(engine, "llm_engine", None), "model_config", None)
        self.max_context = getattr(config, "max_model_len", None)

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        prompts = check_generate_args(prompts, sampling)
        stops = sampling.stop
        for i, p in enumerate(prompts):
            check_context(
                self.count_tokens(p),
                sampling.max_tokens,
                self.max_context,
                where=f"{self.name} generate[{i}]",
            )
        params = self.sampling_params_cls(
            n=sampling.n,
            temperature=sampling.temperature,
            top_p=sampling.top_p,
            max_tokens=sampling.max_tokens,
            stop=list(stops) or None,
            seed=sampling.seed,
            include_stop_str_in_output=False,
        )
        outputs = self.engine.generate(prompts, params, use_tqdm=False)
        results = []
        for request in outputs:
            completions = []
            for out in sorted(request.outputs, key=lambda o: o.index):
                text, fired = cut_at_stop(out.text, stops)
                if fired is None and isinstance(out.stop_reason, str) and out.stop_reason in stops:
                    fired = out.stop_reason
                finish = "length" if out.finish_reason == "length" else "stop"
                ids = tuple(out.token_ids)
                completions.append(Completion(text, len(ids), finish, fired, ids))
            results.append(completions)
        return results

    def token_logprobs(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Per-token log-probabilities of each text (vLLM prompt logprobs) with offsets."""
        params = self.sampling_params_cls(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        encs = [self.tokenizer(t, return_offsets_mapping=True) for t in texts]
        # Token ids, not text: the offsets must describe exactly the tokens vLLM scores.
        requests = [{"prompt_token_ids": list(e["input_ids"])} for e in encs]
        outputs = self.engine.generate(requests, params, use_tqdm=False)
        result = []
        for enc, request in zip(encs, outputs, strict=True):
            ids = list(enc["input_ids"])
            logprobs: list[float | None] = []
            for pos, entry in enumerate(request.prompt_logprobs):
                # Each entry maps token id -> Logprob for the actual token (and top-k);
                # the first position has none.
                logprobs.append(None if entry is None else float(entry[ids[pos]].logprob))
            offsets = enc["offset_mapping"]
            result.append(
                TokenLogprobs(
                    starts=tuple(int(a) for a, _ in offsets),
                    ends=tuple(int(b) for _, b in offsets),
                    logprobs=tuple(logprobs),
                )
            )
        return result
