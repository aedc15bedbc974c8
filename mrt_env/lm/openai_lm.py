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
* ``timeout`` bounds each whole HTTP request, from connecting to the last byte of the reply,
  so a server that drips its reply out cannot hold a call past it.
* Failures are retried with exponential backoff (connection refused or reset, timeouts,
  replies that are not valid HTTP, 408, 429, 5xx), then raised as
  :class:`~mrt_env.errors.BackendUnavailable`, :class:`~mrt_env.errors.BackendTimeout` or
  :class:`~mrt_env.errors.BackendError`; a prompt that does not fit the context is
  :class:`~mrt_env.errors.ContextLengthExceeded`. A 2xx reply that is not the JSON expected
  is a :class:`~mrt_env.errors.BackendError` at once (asking again would get the same),
  quoting the URL, the status and the start of the body.
* Replies are bounded and checked before they are believed: a body is read only up to
  what the request can need (``max_reply_bytes``), there is exactly one choice per sample
  asked for, token counts fit ``max_tokens`` (and ``/tokenize`` counts the text's bytes),
  log-probabilities are finite numbers <= 0, and texts are valid Unicode (no lone
  surrogates). A reply that breaks one is a :class:`~mrt_env.errors.BackendError` naming
  the URL and what was wrong.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import http.client
import json
import math
import os
import re
import socket
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from mrt_env.errors import (
    BackendError,
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ContextLengthExceeded,
)
from mrt_env.lm.base import (
    LOGPROB_TOLERANCE,
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
from mrt_env.lm.sampling import Sampling, request_seed

__all__ = ["OpenAICompatibleLM"]

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# How servers word "does not fit": vLLM says "This model's maximum context length is ...".
_CONTEXT_HINT = re.compile(r"context (?:length|window|of \d+)|maximum context|too long", re.I)
# How much of an error reply (the server's own message, meant to be read) to quote.
_ERROR_SNIPPET = 500
# The default bound on a reply's body: what a request can need, from what it asks for. A
# token in a reply with logprobs=0 takes ~50-150 bytes of JSON (its text, log-probability,
# top_logprobs entry, offset), so 1 KiB per token leaves ~10x room; 1 MiB covers the rest
# (ids, usage, an error page). Never above _REPLY_CEILING, whatever is asked.
_REPLY_FLOOR = 1 << 20
_REPLY_BYTES_PER_TOKEN = 1 << 10
_REPLY_CEILING = 64 << 20
_READ_CHUNK = 1 << 16  # a body of unknown length is read this much at a time
# Tokens a completion may report beyond max_tokens: the end-of-sequence or stop token,
# which some servers count on top. More is not a count but a broken reply.
_TOKEN_SLACK = 2
# Tokens /tokenize may report beyond the text's UTF-8 length (each token covers at least
# one byte): special tokens (BOS, EOS) a server may add despite add_special_tokens=False.
_TOKENIZE_SLACK = 4


class OpenAICompatibleLM(SharedResource):
    """A model behind an OpenAI-compatible completions server.

    Args:
        base_url: the API root, e.g. ``"http://gpu-host:8000/v1"``.
        model: the model name the server knows (``vllm serve``'s model id).
        api_key: sent as a bearer token; default ``$OPENAI_API_KEY`` if set.
        timeout: seconds one HTTP request may take, from connecting to the last byte of
            the reply (each attempt; retries get their own).
        max_retries: retries after the first attempt, for retryable failures.
        backoff: first retry delay in seconds; doubles each retry.
        concurrency: requests in flight at once for a batch.
        max_reply_bytes: the most bytes of a reply's body that are read; a bigger reply
            is a BackendError, not read further. None (default): what the request can
            need, 1 MiB plus 1 KiB per token it asks for, at most 64 MiB.
        tokenizer: optional local HF tokenizer (object, hub id or path) for
            ``count_tokens`` and ``chat_prompt``; without it ``count_tokens`` asks the
            server's ``/tokenize`` (vLLM) and ``chat_prompt`` returns None.
    """

    seed_per_prompt = True  # Sampling(seed=[...]): each prompt its own seed

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
        max_reply_bytes: int | None = None,
        tokenizer: Any = None,
    ):
        if not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base_url must start with http:// or https://, got {base_url!r}")
        _check_host_and_port(base_url, f"base_url {base_url!r}")
        if timeout <= 0 or max_retries < 0 or backoff < 0 or concurrency < 1:
            raise ConfigError(
                "need timeout > 0, max_retries >= 0, backoff >= 0, concurrency >= 1; got "
                f"{timeout=}, {max_retries=}, {backoff=}, {concurrency=}"
            )
        if max_reply_bytes is not None and (
            isinstance(max_reply_bytes, bool)
            or not isinstance(max_reply_bytes, int)
            or max_reply_bytes < 1
        ):
            raise ConfigError(
                f"max_reply_bytes must be an int >= 1 or None, got {max_reply_bytes!r}"
            )
        self.max_reply_bytes = max_reply_bytes
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

    def _reply_limit(self, tokens: int) -> int:
        """The most bytes a reply's body may have when the request asks for ``tokens``."""
        if self.max_reply_bytes is not None:
            return self.max_reply_bytes
        return min(_REPLY_CEILING, _REPLY_FLOOR + _REPLY_BYTES_PER_TOKEN * tokens)

    def _post(self, url: str, payload: dict, *, tokens: int) -> _Reply:
        """POST ``payload`` as JSON and return the reply's JSON object, retrying transient
        failures; every failure, whatever the server sent, is a :class:`BackendError`.

        ``tokens``: how many tokens the reply may hold (generated or echoed), which bounds
        the bytes read of it (:meth:`_reply_limit`)."""
        limit = self._reply_limit(tokens)
        data = json.dumps(payload).encode()
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "Connection": "close",  # one request per connection, as urllib did
        }
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        delay, last = self.backoff, None
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(delay)
                delay *= 2
            try:
                exchange = self._send_once(url, data, headers, limit, tries=attempt + 1)
            except BackendError as exc:  # a transport failure: worth another try
                last = exc
                continue
            status, body = exchange.status, exchange.body
            if exchange.over_limit is not None:  # asking again would get the same
                size = exchange.over_limit
                seen = f"it announced {size}" if exchange.announced else f"{size} came"
                raise BackendError(
                    f"{self.name}: the reply from {url} (HTTP {status}) is over {limit} bytes "
                    f"({seen}), more than this request can need, and was not read further; "
                    "set max_reply_bytes= if the server is right"
                )
            if status in _RETRY_STATUS:
                last = BackendError(
                    f"{self.name}: HTTP {status} from {url} after {_attempts(attempt + 1)}: "
                    f"{_snippet(body, _ERROR_SNIPPET)}"
                )
                continue
            return self._reply(url, status, body)
        assert last is not None
        raise last

    def _send_once(
        self, url: str, data: bytes, headers: dict[str, str], limit: int, *, tries: int
    ) -> _Exchange:
        """One attempt, done: its status and body (or how far over ``limit`` the body
        went), or the transport failure as a BackendError (BackendUnavailable,
        BackendTimeout) to be retried."""
        exchange = _Exchange(url, data, headers, self.timeout, limit)
        try:
            exchange.run()
        except (OSError, http.client.HTTPException) as exc:
            raise self._transport_error(exchange, exc, tries) from exc
        if exchange.timed_out:  # a body without a length, cut short by the abort, reads whole
            raise self._timeout_error(url, tries, exchange.status)
        return exchange

    def _transport_error(self, exchange: _Exchange, exc: BaseException, tries: int) -> BackendError:
        """What went wrong on the wire, in words; the checks go from most to least specific."""
        url = exchange.url
        if exchange.timed_out or isinstance(exc, TimeoutError):
            return self._timeout_error(url, tries, exchange.status)
        if not exchange.connected:
            return BackendUnavailable(
                f"{self.name}: cannot reach {url} ({exc}) after {_attempts(tries)}; is the "
                "server running (e.g. `vllm serve MODEL --port 8000`) and is base_url right?"
            )
        got = f"HTTP {exchange.status}, " if exchange.status is not None else ""
        if isinstance(exc, http.client.IncompleteRead):  # closed early, or bad chunking
            due = f", {exc.expected} more were due" if exc.expected is not None else ""
            return BackendError(
                f"{self.name}: the reply from {url} broke off ({got}{len(exc.partial)} bytes "
                f"of the body came{due}) after {_attempts(tries)}; the body starts "
                f"{_snippet(exc.partial)}"
            )
        if isinstance(exc, ConnectionError):  # reset, or closed before any reply
            return BackendUnavailable(
                f"{self.name}: the connection to {url} failed ({got}{type(exc).__name__}: "
                f"{exc}) after {_attempts(tries)}; is the server restarting or overloaded?"
            )
        if isinstance(exc, http.client.HTTPException):  # bad status line, header too long
            return BackendError(
                f"{self.name}: {url} did not send a valid HTTP reply ({got}"
                f"{type(exc).__name__}: {_snippet(str(exc))}) after {_attempts(tries)}; is "
                "base_url an OpenAI-compatible server?"
            )
        return BackendUnavailable(
            f"{self.name}: talking to {url} failed ({got}{exc}) after {_attempts(tries)}"
        )

    def _reply(self, url: str, status: int, body: bytes) -> _Reply:
        """A final (non-retried) HTTP reply: its JSON object if 2xx, else the error it means."""
        if 200 <= status < 300:
            return _Reply.parse(self.name, url, status, body)
        text = body.decode("utf-8", "replace")
        if status == 400 and _CONTEXT_HINT.search(text):
            raise ContextLengthExceeded(
                f"{self.name}: the server says the request does not fit the context: "
                f"{_snippet(body, _ERROR_SNIPPET)}. Shorten the prompt or lower max_tokens."
            )
        hint = ""
        if 300 <= status < 400:  # urllib turned a redirected POST into a GET: useless here
            hint = " (redirects are not followed; set base_url to the address it names)"
        raise BackendError(
            f"{self.name}: HTTP {status} from {url}: {_snippet(body, _ERROR_SNIPPET)}{hint}"
        )

    def _timeout_error(self, url: str, tries: int, status: int | None) -> BackendTimeout:
        got = f"; HTTP {status} came but not the whole body" if status is not None else ""
        return BackendTimeout(
            f"{self.name}: no answer from {url} within {self.timeout:g} s "
            f"({_attempts(tries)}{got}); raise timeout= or check the server's load"
        )

    def _map(self, fn: Any, items: list) -> list:
        if len(items) <= 1 or self.concurrency == 1:
            return [fn(x) for x in items]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(items))) as ex:
            return list(ex.map(fn, items))

    # -- protocol ----------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        prompts = check_generate_args(prompts, sampling, seed_per_prompt=True)
        # Greedy samples are one text (and vLLM's server refuses n > 1 under greedy): ask once.
        stops, n = sampling.stop, 1 if sampling.temperature == 0 else sampling.n
        seeds = (
            sampling.seed if isinstance(sampling.seed, tuple) else [sampling.seed] * len(prompts)
        )

        def one(job: tuple[str, int | None]) -> list[Completion]:
            prompt, seed = job
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
            if seed is not None:
                # The prompt mixed into the seed, as every backend does (lm/sampling.py):
                # a server's per-request seed fixes the random draws whatever the prompt.
                payload["seed"] = request_seed(seed, prompt)
            tokens = n * (sampling.max_tokens + _TOKEN_SLACK)
            reply = self._post(f"{self.base_url}/completions", payload, tokens=tokens)
            choices = _choices(reply, n)
            return [
                self._completion(reply, c, k, stops, n, sampling.max_tokens)
                for k, c in enumerate(choices)
            ] * (sampling.n // n)

        return self._map(one, list(zip(prompts, seeds, strict=True)))

    def _completion(
        self, reply: _Reply, choice: dict, k: int, stops: tuple[str, ...], n: int, max_tokens: int
    ) -> Completion:
        text = choice.get("text")
        if not isinstance(text, str):
            raise reply.malformed(f"choices[{k}].text is {_kind(text)}, not a string")
        _check_unicode(reply, text, f"choices[{k}].text")
        # Servers strip the stop string; cutting again is a no-op there and makes servers
        # that include it behave the same.
        text, fired = cut_at_stop(text, stops)
        reason = choice.get("stop_reason")
        if fired is None and isinstance(reason, str) and reason in stops:
            fired = reason
        tokens = _sampled_tokens(reply, choice, k)
        usage = reply.data.get("usage")
        if tokens is not None:
            num_tokens = len(tokens)
        elif n == 1 and usage is not None:
            num_tokens = _completion_tokens(reply, usage)
        else:
            return Completion(text, self.count_tokens(text), _finish(choice), fired)
        if num_tokens > max_tokens + _TOKEN_SLACK:  # the server's own count: check it
            raise reply.malformed(
                f"choices[{k}] reports {num_tokens} generated tokens, but max_tokens was "
                f"{max_tokens}"
            )
        return Completion(text, num_tokens, _finish(choice), fired)

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
            # Each echoed token covers at least one byte of the text (plus BOS and the one
            # generated token).
            size = len(full.encode("utf-8", "surrogatepass")) + _TOKENIZE_SLACK
            reply = self._post(f"{self.base_url}/completions", payload, tokens=size)
            tokens = _echo_tokens(reply, len(full))
            return continuation_logprob(tokens, len(prompt), where=f"{self.name} score[{i}]")

        return self._map(one, list(enumerate(pairs)))

    def count_tokens(self, text: str) -> int:
        if self.tokenizer is not None:
            return HFTokenizerMixin.count_tokens(self, text)  # type: ignore[arg-type]
        root = self.base_url.removesuffix("/v1")
        payload = {"model": self.model, "prompt": text, "add_special_tokens": False}
        most = len(text.encode("utf-8", "surrogatepass")) + _TOKENIZE_SLACK
        try:
            reply = self._post(f"{root}/tokenize", payload, tokens=most)
        except (BackendUnavailable, BackendTimeout):
            raise  # the server is down or slow, not missing a route
        except BackendError as exc:
            raise BackendError(
                f"{self.name}: cannot count tokens: the server has no /tokenize ({exc}); "
                "pass tokenizer= (a hub id or path of the model's tokenizer)"
            ) from exc
        count = _token_count(reply)
        if count > most:
            raise reply.malformed(
                f"{count} tokens for a text of {most - _TOKENIZE_SLACK} bytes (a token covers "
                "at least one byte)"
            )
        return count

    def chat_prompt(self, messages: str | Messages) -> str | None:
        if self.tokenizer is None:
            return None
        return HFTokenizerMixin.chat_prompt(self, messages)  # type: ignore[arg-type]


# -- replies -----------------------------------------------------------------------------

_ABSENT = object()  # a key the reply does not have, told apart from a JSON null
_JSON_KINDS = {
    dict: "an object",
    list: "a list",
    str: "a string",
    bool: "a boolean",
    int: "a number",
    float: "a number",
}


@dataclass(frozen=True)
class _Reply:
    """A 2xx reply's JSON object, with what an error about its shape has to quote."""

    who: str
    url: str
    status: int
    body: bytes
    data: dict

    @classmethod
    def parse(cls, who: str, url: str, status: int, body: bytes) -> _Reply:
        reply = cls(who, url, status, body, {})
        try:
            value = json.loads(body.decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise reply.malformed("the body is not UTF-8 text") from exc
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly deep nesting
            raise reply.malformed("the body is not JSON") from exc
        if not isinstance(value, dict):
            raise reply.malformed(f"the body is {_kind(value)}, not a JSON object")
        return dataclasses.replace(reply, data=value)

    def malformed(self, what: str) -> BackendError:
        return BackendError(
            f"{self.who}: malformed reply from {self.url} (HTTP {self.status}): {what}; "
            f"the body starts {_snippet(self.body)}"
        )


def _snippet(body: bytes | str, limit: int = 200) -> str:
    """The start of what the server sent, quoted so odd bytes and blank text stay visible."""
    head = body[:limit]
    if isinstance(head, bytes):
        # Text reads best as text; bytes that are not UTF-8 stay bytes, shown as \xNN.
        with contextlib.suppress(UnicodeDecodeError):
            head = head.decode("utf-8")
    return repr(head) + ("..." if len(body) > limit else "")


def _kind(value: Any) -> str:
    """A JSON value's kind, for messages: "missing", "null", "a string", ..."""
    if value is _ABSENT:
        return "missing"
    if value is None:
        return "null"
    return _JSON_KINDS.get(type(value), type(value).__name__)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _choices(reply: _Reply, n: int) -> list[dict]:
    """The reply's ``n`` choices, each checked to be an object, in ``index`` order: exactly
    one per index 0 … n−1 (a choice without an index is at its place in the list)."""
    choices = reply.data.get("choices", _ABSENT)
    if not isinstance(choices, list):
        raise reply.malformed(f"'choices' is {_kind(choices)}, not a list")
    if len(choices) != n:
        raise reply.malformed(f"asked for n={n} completions, got {len(choices)}")
    indices = []
    for k, choice in enumerate(choices):
        if not isinstance(choice, dict):
            raise reply.malformed(f"choices[{k}] is {_kind(choice)}, not an object")
        index = choice.get("index", k)
        if not _is_count(index):
            raise reply.malformed(f"choices[{k}].index is not a non-negative integer")
        indices.append(index)
    if sorted(indices) != list(range(n)):
        # Two samples under one index, or one missing: which text is which is unknown.
        raise reply.malformed(f"the choices' indices are {indices}, not each of 0 to {n - 1} once")
    return [c for _, c in sorted(zip(indices, choices, strict=True), key=lambda x: x[0])]


def _check_unicode(reply: _Reply, text: str, what: str) -> None:
    """JSON's \\u escapes can spell lone surrogates: not text, and writing one out (a
    report, a JSON line) fails later, far from the reply that brought it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise reply.malformed(
            f"{what} holds a lone surrogate {text[exc.start]!r} at character {exc.start}, "
            "which is not valid Unicode text"
        ) from None


def _finish(choice: dict) -> str:
    return "length" if choice.get("finish_reason") == "length" else "stop"


def _sampled_tokens(reply: _Reply, choice: dict, k: int) -> list | None:
    """The sampled tokens that ``logprobs=0`` returns, or None if the server sent none."""
    logprobs = choice.get("logprobs")
    if logprobs is None:
        return None
    if not isinstance(logprobs, dict):
        raise reply.malformed(f"choices[{k}].logprobs is {_kind(logprobs)}, not an object")
    tokens = logprobs.get("tokens")
    if tokens is not None and not isinstance(tokens, list):
        raise reply.malformed(f"choices[{k}].logprobs.tokens is {_kind(tokens)}, not a list")
    return tokens


def _completion_tokens(reply: _Reply, usage: Any) -> int:
    if not isinstance(usage, dict):
        raise reply.malformed(f"'usage' is {_kind(usage)}, not an object")
    count = usage.get("completion_tokens", _ABSENT)
    if not _is_count(count):
        raise reply.malformed(
            f"usage.completion_tokens is {_kind(count)}, not a non-negative integer"
        )
    return count


def _token_count(reply: _Reply) -> int:
    """The count from a ``/tokenize`` reply (vLLM sends ``count`` and ``tokens``)."""
    if "count" in reply.data:
        count = reply.data["count"]
        if not _is_count(count):
            raise reply.malformed(f"'count' is {_kind(count)}, not a non-negative integer")
        return count
    tokens = reply.data.get("tokens", _ABSENT)
    if not isinstance(tokens, list):
        raise reply.malformed("it has neither an integer 'count' nor a 'tokens' list")
    return len(tokens)


def _echo_tokens(reply: _Reply, text_len: int) -> TokenLogprobs:
    """The echoed prompt's tokens from an ``echo=True, logprobs=0`` completion."""
    choices = _choices(reply, 1)
    lp = choices[0].get("logprobs")
    offsets = lp.get("text_offset") if isinstance(lp, dict) else None
    logprobs = lp.get("token_logprobs") if isinstance(lp, dict) else None
    if not (isinstance(offsets, list) and isinstance(logprobs, list)):
        raise reply.malformed(
            "no echoed prompt logprobs (choices[0].logprobs.text_offset and token_logprobs "
            "lists); the server needs support for echo=True with logprobs, as vLLM has"
        )
    if len(offsets) != len(logprobs) or not all(map(_is_count, offsets)):
        raise reply.malformed("text_offset is not one character offset per token")
    if offsets != sorted(offsets):
        raise reply.malformed("text_offset is not in increasing order")
    if not all(x is None or _is_number(x) for x in logprobs):
        raise reply.malformed("token_logprobs holds something other than numbers and nulls")
    for k, x in enumerate(logprobs):
        # JSON from Python's parser may hold NaN and Infinity; exp() of a positive or NaN
        # log-probability would read as certainty downstream.
        if x is not None and not (math.isfinite(x) and x <= LOGPROB_TOLERANCE):
            raise reply.malformed(f"token_logprobs[{k}] is {x!r}, not a finite number <= 0")
    offsets = _without_special_prefix(offsets, lp.get("tokens"), reply)
    # Keep the echoed prompt; drop the generated token(s) that start at its end.
    keep = [k for k, off in enumerate(offsets) if off < text_len]
    starts = [offsets[k] for k in keep]
    ends = [*starts[1:], text_len]
    return TokenLogprobs(tuple(starts), tuple(ends), tuple(logprobs[k] for k in keep))


def _without_special_prefix(offsets: list[int], tokens: Any, reply: _Reply) -> list[int]:
    """Offsets into the echoed text, where a server counted leading special tokens in them.

    vLLM's server measures ``text_offset`` over the token strings, BOS included (``<s>``
    puts the first real token at offset 3), while the text it echoes leaves BOS out: every
    offset is then shifted by the special tokens' length, and the continuation's boundary
    falls on the wrong tokens. The first token whose string starts the echoed text marks
    where the text begins; the tokens before it get empty spans at 0.
    """
    text = _choices(reply, 1)[0].get("text")
    if not (isinstance(tokens, list) and len(tokens) == len(offsets) and isinstance(text, str)):
        return offsets
    for k, token in enumerate(tokens):
        if isinstance(token, str) and token and text.startswith(token):
            shift = offsets[k]
            if shift == 0 or k == 0:
                return offsets
            return [0] * k + [off - shift for off in offsets[k:]]
    return offsets


# -- the wire ----------------------------------------------------------------------------


class _Deadline:
    """Aborts a connection's socket when its time is up.

    A socket timeout bounds each read, so a server that drips a byte at a time never trips
    it. Shutting the socket down from a timer ends whatever read or write is blocked on it;
    the attempt then sees ``stop()`` return True and reports a timeout.
    """

    def __init__(self, seconds: float):
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._stopped = False
        self._fired = False
        self._timer = threading.Timer(seconds, self._abort)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: socket.socket | None) -> None:
        """Abort ``sock`` at the deadline (at once if it has passed). Held here because
        http.client drops its own reference once the reply's headers are in."""
        with self._lock:
            self._sock = sock
            if self._fired:
                self._shutdown()

    def _abort(self) -> None:
        with self._lock:  # so that stop() and the attempt's close wait for the shutdown
            if not self._stopped:
                self._fired = True
                self._shutdown()

    def _shutdown(self) -> None:
        if self._sock is None:  # still connecting: the connect timeout (the same) ends that
            return
        # The plain socket's shutdown even for TLS: SSLSocket's own would also drop its TLS
        # state under the thread that is reading. OSError: the socket is closed already.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def stop(self) -> bool:
        """Disarm; True if the deadline had fired."""
        with self._lock:
            self._stopped = True
        self._timer.cancel()
        return self._fired


class _Exchange:
    """One POST under one deadline, from connecting to the last byte of the reply.

    http.client rather than urllib: urllib's ``timeout`` bounds each socket operation, not
    the request, and gives no handle on the socket to abort a reply that a server drips
    out. It records how far it got, so that a failure can be described.
    """

    def __init__(self, url: str, data: bytes, headers: dict[str, str], timeout: float, limit: int):
        self.url = url
        self.data = data
        self.headers = headers
        self.timeout = timeout
        self.limit = limit
        self.connected = False
        self.status: int | None = None
        self.body = b""
        self.timed_out = False
        self.over_limit: int | None = None
        """Bytes the body was announced to have, or had come when it passed ``limit``
        (None: it fit); the body is then not read further."""
        self.announced = False

    def run(self) -> None:
        route = _route(self.url, self.timeout)
        deadline = _Deadline(self.timeout)
        try:
            route.conn.connect()
            self.connected = True
            deadline.watch(route.conn.sock)
            headers = {**self.headers, **route.headers}
            route.conn.request("POST", route.path, body=self.data, headers=headers)
            response = route.conn.getresponse()
            self.status = response.status
            self.body = self._read(response)
        finally:
            self.timed_out = deadline.stop()
            route.conn.close()

    def _read(self, response: http.client.HTTPResponse) -> bytes:
        """The body, read no further than ``limit``: a body announced bigger is not read
        at all, one of unknown length (chunked, or until the connection closes) a piece
        at a time, so memory holds at most ``limit`` bytes of it."""
        if response.length is not None:  # Content-Length, which http.client holds it to
            if response.length > self.limit:
                self.over_limit, self.announced = response.length, True
                return b""
            return response.read()  # IncompleteRead if it breaks off
        body = bytearray()
        while piece := response.read(_READ_CHUNK):
            body += piece
            if len(body) > self.limit:
                self.over_limit = len(body)
                return b""
        return bytes(body)


@dataclass(frozen=True)
class _Route:
    """Where to connect for a URL and what to send there, after the proxy rules."""

    conn: http.client.HTTPConnection
    path: str  # the request line's target
    headers: dict[str, str]  # extra headers for a forwarding proxy


def _route(url: str, timeout: float) -> _Route:
    """Connect directly, or through the environment's proxy as urllib does: plain HTTP is
    sent to the proxy with the full URL, HTTPS goes through a CONNECT tunnel."""
    target = urllib.parse.urlsplit(url)
    path = urllib.parse.urlunsplit(("", "", target.path or "/", target.query, ""))
    proxy = _proxy_for(target)
    if proxy is None:
        return _Route(_connection(target.scheme, target.hostname, target.port, timeout), path, {})
    auth = _proxy_auth(proxy)
    if target.scheme == "https":
        conn = _connection("https", proxy.hostname, proxy.port, timeout)
        conn.set_tunnel(target.hostname or "", target.port, headers=auth)
        return _Route(conn, path, {})
    return _Route(_connection(proxy.scheme, proxy.hostname, proxy.port, timeout), url, auth)


def _proxy_for(target: urllib.parse.SplitResult) -> urllib.parse.SplitResult | None:
    """The proxy that ``$http_proxy``/``$https_proxy`` name for a URL, unless ``$no_proxy``
    (or the platform's settings) exempt its host."""
    proxy = urllib.request.getproxies().get(target.scheme)
    host = f"{target.hostname}:{target.port}" if target.port else target.hostname or ""
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    return _check_host_and_port(
        proxy if "://" in proxy else f"http://{proxy}", f"the {target.scheme} proxy {proxy!r}"
    )


def _proxy_auth(proxy: urllib.parse.SplitResult) -> dict[str, str]:
    """``Proxy-Authorization`` for a proxy URL with credentials (``http://user:pw@host``)."""
    if proxy.username is None:
        return {}
    user = urllib.parse.unquote(proxy.username)
    password = urllib.parse.unquote(proxy.password or "")
    token = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return {"Proxy-Authorization": f"Basic {token}"}


def _connection(
    scheme: str, host: str | None, port: int | None, timeout: float
) -> http.client.HTTPConnection:
    # The socket timeout bounds connecting; _Deadline bounds the rest.
    cls = http.client.HTTPSConnection if scheme == "https" else http.client.HTTPConnection
    return cls(host or "", port, timeout=timeout)


def _check_host_and_port(url: str, what: str) -> urllib.parse.SplitResult:
    """``url`` split, once it is known to name a host and a valid port (or none)."""
    parts = urllib.parse.urlsplit(url)
    try:
        parts.port  # noqa: B018 -- raises ValueError on a bad port
    except ValueError as exc:
        raise ConfigError(f"{what} has a bad port") from exc
    if not parts.hostname:
        raise ConfigError(f"{what} names no host")
    return parts


def _attempts(n: int) -> str:
    return "1 attempt" if n == 1 else f"{n} attempts"
