"""A :class:`~mrt_env.lm.base.LanguageModel` on vLLM's offline engine (GPU, or vLLM's CPU build).

``vllm.LLM`` with prefix caching on, which is what makes the meta-prover affordable: every
prefix of a reasoning stream shares its start with the previous one, so forcing an answer
after each block re-reads almost nothing. Sampling goes through ``SamplingParams`` (stop
strings, ``n``, per-request ``seed``); scoring through prompt log-probabilities
(``prompt_logprobs=0``), summed over the continuation with the same rule as every backend.

Seeding. A seeded call sends each prompt's request with the seed
:func:`~mrt_env.lm.sampling.request_seed` of (seed, prompt); vLLM seeds the request's k-th
sample with that seed + k. vLLM's per-request seed fixes the random draws whatever the
prompt: passed on as it is, an agent seeded once per run drew the same quantile of its
next-token distribution at every block, and the env's accuracy on MRT-Search fell from 0.80
to 0.53. The server backend (:class:`~mrt_env.lm.openai_lm.OpenAICompatibleLM`) sends the
same seeds, so the engine in process and behind ``vllm serve`` draw the same samples. Texts
differ from the transformers backend's under the same seed (other kernels, other streams);
their distributions are the same (tested).

Needs the ``vllm`` extra (a GPU) or vLLM's CPU build (docs: Install). vLLM is imported only
when a ``VLLMLM`` is built without an ``engine``. vLLM starts its engine core in a spawned
process: a script that builds one guards its entry point (``if __name__ == "__main__":``),
and ends with :meth:`VLLMLM.close` (or uses the backend as a context manager).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

from mrt_env.errors import BackendError, BackendUnavailable, ConfigError
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
from mrt_env.lm.sampling import Sampling, request_seed

__all__ = ["VLLMLM"]


class VLLMLM(SharedResource, HFTokenizerMixin):
    """vLLM's offline engine behind the :class:`LanguageModel` protocol.

    Args:
        model: hub id or local path, passed to ``vllm.LLM`` (ignored when ``engine`` given).
        engine: an existing ``vllm.LLM`` (or an object with the same ``generate`` and
            ``get_tokenizer`` methods). The caller keeps ownership: :meth:`close` does not
            stop an engine it was given.
        sampling_params_cls: the ``SamplingParams`` class (default: ``vllm.SamplingParams``).
        **engine_kwargs: passed to ``vllm.LLM`` (``dtype``, ``gpu_memory_utilization``,
            ``max_model_len``, ``tensor_parallel_size``, ...). ``enable_prefix_caching``
            defaults to True.

    Example (a GPU, or vLLM's CPU build)::

        with VLLMLM("mrt_env/assets/tiny", dtype="float32") as lm:
            lm.generate(["12+7="], Sampling(max_tokens=4, temperature=0))
    """

    seed_per_prompt = True  # Sampling(seed=[...]) gives each prompt its own seed

    def __init__(
        self,
        model: str | None = None,
        *,
        engine: Any = None,
        sampling_params_cls: Any = None,
        **engine_kwargs: Any,
    ):
        owned = engine is None
        if engine is None or sampling_params_cls is None:
            vllm = require("vllm", extra="vllm", feature="VLLMLM")
            sampling_params_cls = sampling_params_cls or vllm.SamplingParams
            if engine is None:
                if not model:
                    raise ConfigError("VLLMLM needs model= (a hub id or path) or engine=")
                engine_kwargs.setdefault("enable_prefix_caching", True)
                if _on_cpu():
                    # A prompt split across engine steps rewinds its request's random
                    # generator, which CPU generators cannot do: a seeded request would
                    # kill the engine ("CPU Generator does not use offset").
                    engine_kwargs.setdefault("enable_chunked_prefill", False)
                engine = _start_engine(vllm, model, engine_kwargs)
        self.engine = engine
        self.sampling_params_cls = sampling_params_cls
        self.tokenizer = engine.get_tokenizer()
        self.name = model or type(engine).__name__
        config = getattr(getattr(engine, "llm_engine", None), "model_config", None)
        self.max_context = getattr(config, "max_model_len", None)
        # An engine left running at interpreter exit aborts the process (its core's threads
        # are torn down under it): stop the one we started, at close() or at exit.
        self._finalizer = weakref.finalize(self, _shutdown, engine) if owned else None

    def close(self) -> None:
        """Stop the engine this backend started (its engine-core process); idempotent."""
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> VLLMLM:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        """As the protocol's; ``sampling.seed`` may also be one seed per prompt."""
        prompts = check_generate_args(prompts, sampling, seed_per_prompt=True)
        for i, p in enumerate(prompts):
            check_context(
                self.count_tokens(p),
                sampling.max_tokens,
                self.max_context,
                where=f"{self.name} generate[{i}]",
            )
        seed = sampling.seed
        per_prompt = seed if isinstance(seed, tuple) else (seed,) * len(prompts)
        greedy = sampling.temperature == 0
        # vLLM refuses n > 1 under greedy decoding; its n samples are one text: ask once.
        n = 1 if greedy else sampling.n
        params = [
            self.sampling_params_cls(
                n=n,
                temperature=sampling.temperature,
                top_p=sampling.top_p,
                max_tokens=sampling.max_tokens,
                stop=list(sampling.stop) or None,
                # The prompt mixed into the seed (see the module's docstring).
                seed=None if s is None or greedy else request_seed(s, prompt),
                include_stop_str_in_output=False,
            )
            for prompt, s in zip(prompts, per_prompt, strict=True)
        ]
        outputs = self._run(prompts, params)
        return [
            [
                self._completion(out, sampling.stop)
                for out in sorted(r.outputs, key=lambda o: o.index)
            ]
            * (sampling.n // n)
            for r in outputs
        ]

    def _completion(self, out: Any, stops: tuple[str, ...]) -> Completion:
        if out.finish_reason not in ("stop", "length"):
            raise BackendError(
                f"{self.name}: vLLM ended a request with finish_reason={out.finish_reason!r} "
                "(aborted); the engine may be out of memory or shutting down"
            )
        text, fired = cut_at_stop(out.text, stops)
        if fired is None and isinstance(out.stop_reason, str) and out.stop_reason in stops:
            fired = out.stop_reason
        ids = tuple(out.token_ids)
        return Completion(text, len(ids), out.finish_reason, fired, ids)

    def _run(self, prompts: list[Any], params: Any) -> list[Any]:
        """``engine.generate``, with a dead engine turned into one clear error."""
        try:
            return self.engine.generate(prompts, params, use_tqdm=False)
        except Exception as exc:
            if type(exc).__name__ in ("EngineDeadError", "EngineGenerateError"):
                raise BackendUnavailable(
                    f"{self.name}: the vLLM engine died ({type(exc).__name__}); its log above "
                    "says why (often memory: set VLLM_CPU_KVCACHE_SPACE on CPU, or lower "
                    "gpu_memory_utilization); build a new VLLMLM to continue"
                ) from exc
            raise

    def token_logprobs(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Per-token log-probabilities of each text (vLLM prompt logprobs) with offsets."""
        # detokenize=False: only the numbers are read. Left on, vLLM decodes every prompt
        # token of every scored text, about a tenth of an env step with a small model.
        params = self.sampling_params_cls(
            max_tokens=1, temperature=0.0, prompt_logprobs=0, detokenize=False
        )
        encs = [self.tokenizer(t, return_offsets_mapping=True) for t in texts]
        for i, enc in enumerate(encs):
            # The scored text itself must fit (one more token is generated and dropped).
            check_context(
                len(enc["input_ids"]), 1, self.max_context, where=f"{self.name} score[{i}]"
            )
        # Token ids, not text: the offsets must describe exactly the tokens vLLM scores.
        requests = [{"prompt_token_ids": list(e["input_ids"])} for e in encs]
        outputs = self._run(requests, params)
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


def _start_engine(vllm: Any, model: str, engine_kwargs: dict[str, Any]) -> Any:
    """``vllm.LLM(model, ...)``, a failure to start said in one line naming what to do."""
    try:
        return vllm.LLM(model=model, **engine_kwargs)
    except Exception as exc:
        detail = str(exc).strip().splitlines()
        raise BackendUnavailable(
            f"vLLM could not load {model!r}: {type(exc).__name__}: "
            f"{detail[-1] if detail else ''} (is it a local folder with config.json and "
            "weights, or a hub id reachable from here? on CPU, is VLLM_CPU_KVCACHE_SPACE "
            "set to fit the memory free?)"
        ) from exc


def _on_cpu() -> bool:
    from vllm.platforms import current_platform

    return bool(current_platform.is_cpu())


def _shutdown(engine: Any) -> None:
    core = getattr(getattr(engine, "llm_engine", None), "engine_core", None)
    if core is not None and hasattr(core, "shutdown"):
        core.shutdown()
        # vLLM signals the thread that receives the engine's outputs to stop, but does not
        # wait for it. One still freeing its last outputs' tensors as Python exits aborts
        # the process ("terminate called without an active exception"; seen about once in
        # 18 runs of benchmarks/vllm_bench.py), so wait for it here.
        thread = getattr(core, "output_queue_thread", None)
        if thread is not None:
            thread.join(timeout=30)
