"""A :class:`~mrt_env.lm.base.LanguageModel` over HTTP: any OpenAI-compatible completions server.

``vllm serve MODEL``, SGLang, llama.cpp's server and others speak the OpenAI *completions*
API (``POST /v1/completions``). This backend lets envs and agents run on one machine while
the model runs on GPU servers elsewhere. Only the standard library is used.

* ``generate``: one request per prompt (with ``n``, ``stop``, ``seed``), run concurrently.
  Token counts come from ``logprobs=0`` (the sampled tokens); the stop string that fired
  comes from vLLM's ``stop_reason`` field where the server sends it.
* ``score``: ``echo=True, logprobs=0`` returns the log-probability of every prompt token with
  its character offset; the continuation's tokens are summed with the same rule as every
  other backend (:func:`~mrt_env.lm.base.continuation_logprob`).
* Failures are retried with exponential backoff (connection refused, timeouts, 429, 5xx),
  then raised as :class:`~mrt_env.errors.BackendUnavailable`,
  :class:`~mrt_env.errors.BackendTimeout` or :class:`~mrt_env.errors.BackendError`; a
  prompt that does not fit the context is :class:`~mrt_env.errors.ContextLengthExceeded`.
"""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from mrt_env.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ContextLengthExceeded,
)
from mrt_env.lm.base import (
    Completion,
    HFTokenizerMixin,
    Messages,
    SharedResource,
    TokenLogprobs,
    check_generate_args,
    check_score_args,
    continuation_logprob,
    cut_at_stop,
)
from mrt_env.lm.sampling import Sampling

__all__ = ["OpenAICompatibleLM"]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# How servers word "does not fit": vLLM says "This model's maximum context length is ...".
_CONTEXT_HINT = re.compile(r"context (?:length|window|of \d+)|maximum context|too long", re.I)


class OpenAICompatibleLM(SharedResource):
    """A model behind an OpenAI-compatible completions server.

    Args:
        base_url: the API root, e.g. ``"http://gpu-host:8000/v1"``.
        model: the model name the server knows (``vllm serve``'s model id).
        api_key: sent as a bearer token; default ``$OPENAI_API_KEY`` if set.
        timeout: seconds to wait for one HTTP response.
        max_retries: retries after the first attempt, for retryable failures.
        backoff: first retry delay in seconds; doubles each retry.
        concurrency: requests in flight at once for a batch.
        tokenizer: optional local HF tokenizer (object, hub id or path) for
            ``count_tokens`` and ``chat_prompt``; without it ``count_tokens`` asks the
            server's ``/tokenize`` (vLLM) and ``chat_prompt`` returns None.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout: float = 120.0,
        max_retries: int = 3,
        backoff: float = 0.5,
        concurrency: int = 8,
        tokenizer: Any = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0 or concurrency < 1:
            raise ConfigError(
                "need timeout > 0, max_retries >= 0, backoff >= 0, concurrency >= 1; got "
                f"{timeout=}, {max_retries=}, {backoff=}, {concurrency=}"
            )
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.name = f"{model}@{self.base_url}"
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.timeout = timeout
        self.max_retries = max_retries
        self.backoff = backoff
        self.concurrency = concurrency
        if isinstance(tokenizer, str | os.PathLike):
            from mrt_env.extras import require

            tf = require("transformers", extra="hf", feature="a local tokenizer")
            tokenizer = tf.AutoTokenizer.from_pretrained(str(tokenizer))
        self.tokenizer = tokenizer

    # -- HTTP --------------------------------------------------------------------------

    def _post(self, url: str, payload: dict) -> dict:
        data = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay, last = self.backoff, None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            request = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    return json.loads(response.read())
            except urllib.error.HTTPError as exc:
                body = exc.read().decode("utf-8", "replace")[:500]
                if exc.code == 400 and _CONTEXT_HINT.search(body):
                    raise ContextLengthExceeded(
                        f"{self.name}: the server says the request does not fit the context: "
                        f"{body}. Shorten the prompt or lower max_tokens."
                    ) from exc
                if exc.code not in _RETRY_STATUS:
                    raise BackendError(f"{self.name}: HTTP {exc.code} from {url}: {body}") from exc
                last = BackendError(
                    f"{self.name}: HTTP {exc.code} from {url} after {attempt + 1} attempts: {body}"
                )
            except TimeoutError as exc:
                last = self._timeout_error(url, attempt)
                last.__cause__ = exc
            except urllib.error.URLError as exc:
                if isinstance(exc.reason, TimeoutError):
                    last = self._timeout_error(url, attempt)
                else:
                    last = BackendUnavailable(
                        f"{self.name}: cannot reach {url} ({exc.reason}) after {attempt + 1} "
                        "attempts; is the server running (e.g. `vllm serve MODEL --port 8000`) "
                        "and is base_url right?"
                    )
                last.__cause__ = exc
            except ConnectionError as exc:  # reset mid-response
                last = BackendUnavailable(f"{self.name}: connection to {url} failed: {exc}")
                last.__cause__ = exc
        assert last is not None
        raise last

    def _timeout_error(self, url: str, attempt: int) -> BackendTimeout:
        return BackendTimeout(
            f"{self.name}: no answer from {url} within {self.timeout:g} s "
            f"({attempt + 1} attempts); raise timeout= or check the server's load"
        )

    def _map(self, fn: Any, items: list) -> list:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as ex:
            return list(ex.map(fn, items))

    # -- protocol ----------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        prompts = check_generate_args(prompts, sampling)
        stops, n = sampling.stop, sampling.n

        def one(prompt: str) -> list[Completion]:
            payload: dict[str, Any] = {
                "model": self.model,
                "prompt": prompt,
                "max_tokens": sampling.max_tokens,
                "n": n,
                "temperature": sampling.temperature,
                "top_p": sampling.top_p,
                "logprobs": 0,  # the sampled tokens, to count them
            }
            if stops:
                payload["stop"] = list(stops)
            if sampling.seed is not None:
                payload["seed"] = sampling.seed
            body = self._post(f"{self.base_url}/completions", payload)
            choices = sorted(body.get("choices", []), key=lambda c: c.get("index", 0))
            if len(choices) != n:
                raise BackendError(f"{self.name}: asked for n={n} completions, got {len(choices)}")
            return [self._completion(c, stops, n, body) for c in choices]

        return self._map(one, prompts)

    def _completion(self, choice: dict, stops: tuple[str, ...], n: int, body: dict) -> Completion:
        # Servers strip the stop string; cutting again is a no-op there and makes servers
        # that include it behave the same.
        text, fired = cut_at_stop(choice.get("text", ""), stops)
        reason = choice.get("stop_reason")
        if fired is None and isinstance(reason, str) and reason in stops:
            fired = reason
        logprobs = choice.get("logprobs") or {}
        if logprobs.get("tokens") is not None:
            num_tokens = len(logprobs["tokens"])
        elif n == 1 and "usage" in body:
            num_tokens = int(body["usage"]["completion_tokens"])
        else:
            num_tokens = self.count_tokens(text)
        finish = "length" if choice.get("finish_reason") == "length" else "stop"
        return Completion(text, num_tokens, finish, fired)

    def score(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[float]:
        pairs = check_score_args(prompts, continuations)

        def one(item: tuple[int, tuple[str, str]]) -> float:
            i, (prompt, continuation) = item
            full = prompt + continuation
            payload = {
                "model": self.model,
                "prompt": full,
                "max_tokens": 1,  # some servers refuse 0; the extra token is dropped below
                "temperature": 0.0,
                "echo": True,
                "logprobs": 0,
            }
            body = self._post(f"{self.base_url}/completions", payload)
            tokens = _echo_tokens(body, len(full), where=f"{self.name} score[{i}]")
            return continuation_logprob(tokens, len(prompt), where=f"{self.name} score[{i}]")

        return self._map(one, list(enumerate(pairs)))

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return HFTokenizerMixin.count_tokens(self, text)  # type: ignore[arg-type]
        root = self.base_url.removesuffix("/v1")
        payload = {"model": self.model, "prompt": text, "add_special_tokens": False}
        try:
            body = self._post(f"{root}/tokenize", payload)
        except BackendError as exc:
            raise BackendError(
                f"{self.name}: cannot count tokens: the server has no /tokenize ({exc}); "
                "pass tokenizer= (a hub id or path of the model's tokenizer)"
            ) from exc
        return int(body["count"]) if "count" in body else len(body["tokens"])

    def chat_prompt(self, messages: str | Messages) -> str | None:
        if self.tokenizer is None:
            return None
        return HFTokenizerMixin.chat_prompt(self, messages)  # type: ignore[arg-type]


def _echo_tokens(body: dict, text_len: int, *, where: str) -> TokenLogprobs:
    """The echoed prompt's tokens from an ``echo=True, logprobs=0`` completion."""
    try:
        lp = body["choices"][0]["logprobs"]
        offsets, logprobs = lp["text_offset"], lp["token_logprobs"]
    except (KeyError, IndexError, TypeError) as exc:
        raise BackendError(
            f"{where}: the server did not return echoed prompt logprobs (needs support for "
            "echo=True with logprobs, as vLLM has)"
        ) from exc
    # Keep the echoed prompt; drop the generated token(s) that start at its end.
    keep = [k for k, off in enumerate(offsets) if off < text_len]
    starts = [offsets[k] for k in keep]
    ends = [*starts[1:], text_len]
    return TokenLogprobs(tuple(starts), tuple(ends), tuple(logprobs[k] for k in keep))
