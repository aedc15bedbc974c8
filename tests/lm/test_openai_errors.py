"""OpenAICompatibleLM's error paths against misbehaving local servers (127.0.0.1 only)."""

import json
import math
import socket
import struct
import threading
import time
import tracemalloc
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mrt_env.errors import BackendError, BackendTimeout, BackendUnavailable, ContextLengthExceeded
from mrt_env.lm import OpenAICompatibleLM, Sampling

OK_BODY = {
    "choices": [
        {"index": 0, "text": "ok", "finish_reason": "stop", "logprobs": {"tokens": ["o", "k"]}}
    ]
}


@pytest.fixture(autouse=True)
def no_proxies(monkeypatch):
    """Talk to 127.0.0.1 directly whatever the machine's proxy settings; the proxy tests set
    the ones they mean."""
    for name in ("http_proxy", "https_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


@contextmanager
def fake_server(behaviour):
    """A server whose POST (and CONNECT) handler is ``behaviour(handler, attempt)``.

    The behaviour returns ``(status, body)`` for a JSON reply, ``bytes`` to write to the
    socket as they are (status line and headers included; ``b""`` closes without a reply),
    or None when it wrote (or broke) the connection itself.
    """
    calls = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(time.monotonic())
            result = behaviour(self, len(calls))
            # The client may have given up (deadline) and closed: that is not a test failure.
            with suppress(OSError):
                if isinstance(result, bytes):
                    self.wfile.write(result)
                elif result is not None:
                    status, body = result
                    data = json.dumps(body).encode()
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)

        do_CONNECT = do_POST  # a proxy's tunnel request

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits up to one, at the end of every test.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", calls
    finally:
        server.shutdown()
        server.server_close()


def raw_reply(
    body: bytes, *, status=b"200 OK", content_type=b"application/json", length=None
) -> bytes:
    """A whole HTTP/1.1 reply as bytes; ``length`` may lie about the body's size."""
    length = len(body) if length is None else length
    head = (
        b"HTTP/1.1 "
        + status
        + b"\r\nContent-Type: "
        + content_type
        + b"\r\nContent-Length: "
        + str(length).encode()
        + b"\r\nConnection: close\r\n\r\n"
    )
    return head + body


def drip(handler, data: bytes, every: float = 0.5) -> None:
    """Write ``data`` one byte at a time, ``every`` seconds apart, until the client leaves."""
    with suppress(OSError):
        for i in range(len(data)):
            handler.wfile.write(data[i : i + 1])
            time.sleep(every)


def reset(handler) -> None:
    """Abort the connection with a TCP RST instead of a reply."""
    sock = handler.connection
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    # close() would wait for the handler's file objects; a fresh owner of the fd closes now.
    socket.socket(fileno=sock.detach()).close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_server_down_is_backend_unavailable_after_retries():
    lm = OpenAICompatibleLM(
        f"http://127.0.0.1:{_closed_port()}/v1", "m", max_retries=2, backoff=0.01
    )
    start = time.monotonic()
    with pytest.raises(
        BackendUnavailable, match=r"cannot reach .* after 3 attempts; is the server running"
    ):
        lm.generate(["hi"], Sampling(max_tokens=4))
    assert time.monotonic() - start < 5
    assert isinstance(BackendUnavailable("x"), ConnectionError)


def test_slow_server_is_backend_timeout():
    def slow(handler, attempt):
        time.sleep(1.0)
        return 200, OK_BODY

    with fake_server(slow) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", timeout=0.2, max_retries=1, backoff=0.01)
        with pytest.raises(BackendTimeout, match=r"no answer .* within 0\.2 s"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert len(calls) == 2  # first try + one retry


def test_http_500_is_retried_then_reported():
    with fake_server(lambda h, attempt: (500, {"error": "boom"})) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=2, backoff=0.01)
        with pytest.raises(BackendError, match=r"HTTP 500 .* after 3 attempts.*boom"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert len(calls) == 3


def test_transient_500_then_success_recovers():
    def flaky(handler, attempt):
        return (503, {"error": "warming up"}) if attempt == 1 else (200, OK_BODY)

    with fake_server(flaky) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=2, backoff=0.01)
        [[c]] = lm.generate(["hi"], Sampling(max_tokens=4))
        assert (c.text, c.num_tokens, c.finish_reason) == ("ok", 2, "stop")
        assert len(calls) == 2


def test_client_errors_are_not_retried():
    with fake_server(lambda h, a: (404, {"error": "no such model"})) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=3, backoff=0.01)
        with pytest.raises(BackendError, match=r"HTTP 404.*no such model"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert len(calls) == 1


def test_vllm_context_message_becomes_context_length_exceeded():
    msg = "This model's maximum context length is 2048 tokens. However, you requested 5000."
    with fake_server(lambda h, a: (400, {"error": {"message": msg}})) as (url, _):
        lm = OpenAICompatibleLM(url, "m", max_retries=0)
        with pytest.raises(ContextLengthExceeded, match="maximum context length is 2048"):
            lm.generate(["hi"], Sampling(max_tokens=4))


def test_wrong_number_of_choices_is_reported():
    with fake_server(lambda h, a: (200, OK_BODY)) as (url, _):
        lm = OpenAICompatibleLM(url, "m", max_retries=0)
        with pytest.raises(BackendError, match="asked for n=3 completions, got 1"):
            lm.generate(["hi"], Sampling(max_tokens=4, n=3))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="base_url must start with http"):
        OpenAICompatibleLM("localhost:8000", "m")
    with pytest.raises(ValueError, match="timeout > 0"):
        OpenAICompatibleLM("http://x", "m", timeout=0)


# -- malformed replies ---------------------------------------------------------------------


def _echo(logprobs) -> dict:
    return {"choices": [{"index": 0, "text": "ab", "logprobs": logprobs}]}


HTML = b"<html><body><h1>502 Bad Gateway</h1></body></html>"

# (id, call, what the server does, error class, HTTP status in the message, body snippet)
MISBEHAVIOURS = [
    ("html-200", "generate", raw_reply(HTML, content_type=b"text/html"), BackendError, 200,
     "<h1>502 Bad Gateway"),
    ("non-utf8-body", "generate", raw_reply(b'{"choices": "\xff\xfe"}'), BackendError, 200,
     r"\xff\xfe"),
    ("json-list", "generate", (200, [{"text": "ok"}]), BackendError, 200, '[{"text"'),
    ("json-string", "generate", (200, "ok"), BackendError, 200, '"ok"'),
    ("json-number", "generate", (200, 42), BackendError, 200, "42"),
    ("json-too-deep", "generate", raw_reply(b"[" * 100_000), BackendError, 200, "[[[["),
    ("choices-missing", "generate", (200, {"object": "text_completion"}), BackendError, 200,
     "text_completion"),
    ("choices-not-a-list", "generate", (200, {"choices": {"text": "ok"}}), BackendError, 200,
     '{"choices": {"text"'),
    ("choice-is-a-string", "generate", (200, {"choices": ["ok"]}), BackendError, 200,
     '{"choices": ["ok"]}'),
    ("text-null", "generate", (200, {"choices": [{"index": 0, "text": None}]}), BackendError,
     200, '"text": null'),
    ("logprobs-tokens-not-a-list", "generate",
     (200, {"choices": [{"text": "ok", "logprobs": {"tokens": "ok"}}]}), BackendError, 200,
     '"tokens": "ok"'),
    ("usage-tokens-not-an-int", "generate",
     (200, {"choices": [{"text": "ok"}], "usage": {"completion_tokens": "2"}}), BackendError,
     200, '"completion_tokens": "2"'),
    ("garbage-status-line", "generate", b"GARBAGE\r\n\r\n", BackendError, None, "GARBAGE"),
    ("short-body", "generate", raw_reply(b'{"choices": [', length=100), BackendError, 200,
     '{"choices": ['),
    ("bad-chunk-size", "generate",
     b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", BackendError,
     200, None),
    ("closed-without-reply", "generate", b"", BackendUnavailable, None, None),
    ("reset-without-reply", "generate", reset, BackendUnavailable, None, None),
    ("redirect", "generate", (302, {"moved": "elsewhere"}), BackendError, 302, "elsewhere"),
    ("tokenize-without-count-or-tokens", "count", (200, {"model": "m"}), BackendError, 200,
     '{"model": "m"}'),
    ("tokenize-count-not-an-int", "count", (200, {"count": "7"}), BackendError, 200,
     '{"count": "7"}'),
    ("tokenize-html", "count", raw_reply(HTML, content_type=b"text/html"), BackendError, 200,
     "<h1>502"),
    ("echo-without-logprobs", "score", (200, _echo(None)), BackendError, 200, '"text": "ab"'),
    ("echo-offsets-not-a-list", "score",
     (200, _echo({"text_offset": "0,1", "token_logprobs": [None, -1.0]})), BackendError, 200,
     '"text_offset": "0,1"'),
    ("echo-lengths-differ", "score",
     (200, _echo({"text_offset": [0, 1], "token_logprobs": [None]})), BackendError, 200,
     '"token_logprobs": [null]'),
    ("echo-logprob-a-string", "score",
     (200, _echo({"text_offset": [0, 1], "token_logprobs": [None, "-1"]})), BackendError, 200,
     '"-1"'),
    # Implausible replies: well-formed JSON that cannot be what was asked for.
    ("echo-logprob-nan", "score",
     (200, _echo({"text_offset": [0, 1], "token_logprobs": [None, math.nan]})), BackendError,
     200, "token_logprobs[1] is nan"),
    ("echo-logprob-infinite", "score",
     (200, _echo({"text_offset": [0, 1], "token_logprobs": [None, -math.inf]})), BackendError,
     200, "token_logprobs[1] is -inf"),
    ("echo-logprob-positive", "score",
     (200, _echo({"text_offset": [0, 1], "token_logprobs": [None, 1e308]})), BackendError, 200,
     "token_logprobs[1] is 1e+308"),
    ("echo-two-choices", "score",
     (200, {"choices": [_echo(None)["choices"][0]] * 2}), BackendError, 200,
     "asked for n=1 completions, got 2"),
    ("choice-index-twice", "generate n=2",
     (200, {"choices": [{"index": 0, "text": "a"}, {"index": 0, "text": "b"}]}), BackendError,
     200, "indices are [0, 0], not each of 0 to 1 once"),
    ("choice-index-missing", "generate n=2",
     (200, {"choices": [{"index": 0, "text": "a"}, {"index": 2, "text": "b"}]}), BackendError,
     200, "indices are [0, 2], not each of 0 to 1 once"),
    ("sampled-tokens-over-max-tokens", "generate",
     (200, {"choices": [{"text": "ok", "logprobs": {"tokens": ["o"] * 1000}}]}), BackendError,
     200, "reports 1000 generated tokens, but max_tokens was 4"),
    ("usage-tokens-over-max-tokens", "generate",
     (200, {"choices": [{"text": "ok"}], "usage": {"completion_tokens": 10**9}}), BackendError,
     200, "reports 1000000000 generated tokens"),
    ("text-with-a-lone-surrogate", "generate",
     (200, {"choices": [{"index": 0, "text": "ok\ud800"}]}), BackendError, 200,
     "choices[0].text holds a lone surrogate '\\ud800' at character 2"),
    ("tokenize-count-too-big", "count", (200, {"count": 10**9}), BackendError, 200,
     "1000000000 tokens for a text of 2 bytes"),
    ("tokenize-tokens-too-many", "count", (200, {"tokens": list(range(100))}), BackendError,
     200, "100 tokens for a text of 2 bytes"),
]  # fmt: skip


def _call(lm, call):
    if call == "generate":
        return lm.generate(["hi"], Sampling(max_tokens=4))
    if call == "generate n=2":
        return lm.generate(["hi"], Sampling(max_tokens=4, n=2))
    if call == "score":
        return lm.score(["a"], ["b"])
    return lm.count_tokens("hi")


@pytest.mark.parametrize(
    ("call", "misbehaviour", "error", "status", "snippet"),
    [pytest.param(*case[1:], id=case[0]) for case in MISBEHAVIOURS],
)
def test_misbehaving_server_is_a_backend_error(call, misbehaviour, error, status, snippet):
    def behaviour(handler, attempt):
        return misbehaviour(handler) if callable(misbehaviour) else misbehaviour

    with fake_server(behaviour) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=0)
        with pytest.raises(BackendError) as caught:
            _call(lm, call)
    message = str(caught.value)
    assert type(caught.value) is error, message
    endpoint = f"{url.removesuffix('/v1')}/tokenize" if call == "count" else f"{url}/completions"
    assert endpoint in message
    assert "\n" not in message  # one line
    if status is not None:
        assert f"HTTP {status}" in message
    if snippet is not None:
        assert snippet in message
    assert len(calls) == 1


def test_malformed_json_is_not_retried():
    with fake_server(lambda h, a: raw_reply(HTML, content_type=b"text/html")) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=2, backoff=0.01)
        with pytest.raises(BackendError, match="not JSON"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert len(calls) == 1


def test_broken_http_is_retried_then_reported():
    with fake_server(lambda h, a: b"GARBAGE\r\n\r\n") as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=2, backoff=0.01)
        with pytest.raises(BackendError, match=r"not send a valid HTTP reply .* after 3 attempts"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert len(calls) == 3


def test_broken_http_then_a_good_reply_recovers():
    def flaky(handler, attempt):
        return raw_reply(b'{"choices": [', length=100) if attempt == 1 else (200, OK_BODY)

    with fake_server(flaky) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=1, backoff=0.01)
        [[c]] = lm.generate(["hi"], Sampling(max_tokens=4))
        assert (c.text, c.num_tokens) == ("ok", 2)
        assert len(calls) == 2


# -- the deadline covers the whole request -------------------------------------------------

OK_REPLY = raw_reply(json.dumps(OK_BODY).encode())
HEAD_END = OK_REPLY.index(b"\r\n\r\n") + 4


def _drip_head(handler, attempt):
    drip(handler, OK_REPLY)


def _drip_body(handler, attempt):
    handler.wfile.write(OK_REPLY[:HEAD_END])
    drip(handler, OK_REPLY[HEAD_END:])


def _drip_body_without_length(handler, attempt):
    # No Content-Length: the body ends when the connection does, so a cut-short read looks
    # complete to http.client; only the deadline can tell.
    handler.wfile.write(b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n")
    drip(handler, OK_REPLY[HEAD_END:])


@pytest.mark.parametrize(
    "behaviour",
    [_drip_head, _drip_body, _drip_body_without_length],
    ids=["head", "body", "body-without-length"],
)
def test_a_dripping_reply_ends_at_the_deadline(behaviour):
    with fake_server(behaviour) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", timeout=2, max_retries=0)
        start = time.monotonic()
        with pytest.raises(BackendTimeout, match=r"no answer from .* within 2 s"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        assert time.monotonic() - start < 6
        assert len(calls) == 1


# -- proxies from the environment, as urllib honours them ----------------------------------


def test_http_goes_through_the_environment_proxy(monkeypatch):
    seen = []

    def proxy(handler, attempt):
        seen.append((handler.path, handler.headers.get("Proxy-Authorization")))
        return 200, OK_BODY

    with fake_server(proxy) as (proxy_url, _):
        monkeypatch.setenv("http_proxy", proxy_url.replace("http://", "http://user:pw@"))
        lm = OpenAICompatibleLM("http://model-host.invalid:8000/v1", "m", max_retries=0)
        [[c]] = lm.generate(["hi"], Sampling(max_tokens=4))
    assert c.text == "ok"
    assert seen == [("http://model-host.invalid:8000/v1/completions", "Basic dXNlcjpwdw==")]


def test_no_proxy_is_honoured(monkeypatch):
    monkeypatch.setenv("http_proxy", f"http://127.0.0.1:{_closed_port()}")
    monkeypatch.setenv("no_proxy", "127.0.0.1")
    with fake_server(lambda h, a: (200, OK_BODY)) as (url, calls):
        [[c]] = OpenAICompatibleLM(url, "m", max_retries=0).generate(["hi"], Sampling(max_tokens=4))
    assert c.text == "ok"
    assert len(calls) == 1


def test_https_goes_through_a_connect_tunnel(monkeypatch):
    seen = []

    def proxy(handler, attempt):
        seen.append((handler.command, handler.path))
        return 403, {"error": "no tunnels here"}

    with fake_server(proxy) as (proxy_url, _):
        monkeypatch.setenv("https_proxy", proxy_url.removesuffix("/v1"))
        lm = OpenAICompatibleLM("https://model-host.invalid:8443/v1", "m", max_retries=0)
        with pytest.raises(BackendUnavailable, match=r"cannot reach .*Tunnel connection failed"):
            lm.generate(["hi"], Sampling(max_tokens=4))
    assert seen == [("CONNECT", "model-host.invalid:8443")]


# -- a reply is read no further than the request can need ----------------------------------

PIECE = b" " * (1 << 20)
SENT_AT_MOST = 64 << 20  # what each streaming server below sends at most, then it hangs up


def _stream(head: bytes, frame, sent: list[int]):
    """A behaviour: ``head``, then ``frame(PIECE)`` over and over (up to SENT_AT_MOST bytes,
    so a client that reads on stays cheap), counting in ``sent`` what got out."""

    def behaviour(handler, attempt):
        with suppress(OSError):  # the client hung up: what it should do
            handler.wfile.write(head)
            while sent[0] < SENT_AT_MOST:
                handler.wfile.write(frame(PIECE))
                sent[0] += len(PIECE)

    return behaviour


HEADS = {
    "announced": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 800000000\r\n\r\n",
        lambda piece: piece,
        "it announced 800000000",
    ),
    "until-close": (
        b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n",
        lambda piece: piece,
        "came",
    ),
    "chunked": (
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
        lambda piece: b"%x\r\n%s\r\n" % (len(piece), piece),
        "came",
    ),
}


@pytest.mark.parametrize("kind", list(HEADS))
def test_an_endless_reply_is_cut_off_without_holding_it(kind):
    head, frame, seen = HEADS[kind]
    sent = [0]
    with fake_server(_stream(head, frame, sent)) as (url, calls):
        lm = OpenAICompatibleLM(url, "m", max_retries=2, timeout=30)
        tracemalloc.start()
        try:
            with pytest.raises(BackendError) as caught:
                lm.generate(["hi"], Sampling(max_tokens=4))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    message = str(caught.value)
    # The default bound for 4 tokens: 1 MiB plus 1 KiB a token (and the stop token's slack).
    limit = (1 << 20) + 1024 * (4 + 2)
    assert f"the reply from {url}/completions (HTTP 200) is over {limit} bytes" in message
    assert seen in message and "max_reply_bytes=" in message
    assert peak < 3 * limit  # the body is never held whole
    assert sent[0] < SENT_AT_MOST / 2  # and not read on: the client hung up
    assert len(calls) == 1  # asking again would get the same


def test_the_bound_scales_with_what_is_asked_and_can_be_set():
    text = "x" * (3 << 20)  # a 3 MB completion: too much for 4 tokens, fine for 4096
    body = {"choices": [{"index": 0, "text": text, "logprobs": {"tokens": ["x"]}}]}
    with fake_server(lambda h, a: (200, body)) as (url, _):
        lm = OpenAICompatibleLM(url, "m", max_retries=0)
        with pytest.raises(BackendError, match=r"is over 1054720 bytes \(it announced 3145"):
            lm.generate(["hi"], Sampling(max_tokens=4))
        [[c]] = lm.generate(["hi"], Sampling(max_tokens=4096))
        assert c.text == text
        roomy = OpenAICompatibleLM(url, "m", max_retries=0, max_reply_bytes=4 << 20)
        assert roomy.generate(["hi"], Sampling(max_tokens=4))[0][0].text == text
        tight = OpenAICompatibleLM(url, "m", max_retries=0, max_reply_bytes=1000)
        with pytest.raises(BackendError, match="is over 1000 bytes"):
            tight.generate(["hi"], Sampling(max_tokens=4096))
    with pytest.raises(ValueError, match="max_reply_bytes must be an int >= 1 or None"):
        OpenAICompatibleLM("http://x", "m", max_reply_bytes=0)


def test_echo_offsets_that_count_bos_are_realigned():
    """vLLM's server measures text_offset over the token strings with BOS ('<s>': the text's
    first token at offset 3) but echoes the text without it; read as they are, the scored
    tokens would be shifted by three characters. (Seen on the real server: tests/real_vllm.)"""
    reply = {
        "choices": [
            {
                "index": 0,
                "text": "Q a+",
                "logprobs": {
                    "tokens": ["<s>", "Q", " ", "a", "+"],
                    "text_offset": [0, 3, 4, 5, 6],
                    "token_logprobs": [None, -1.0, -2.0, -4.0, -8.0],
                },
            }
        ]
    }
    with fake_server(lambda handler, attempt: (200, reply)) as (url, _):
        lm = OpenAICompatibleLM(url, "m", max_retries=0)
        assert lm.score(["Q "], ["a"]) == [-4.0]
        assert lm.score(["Q"], [" a"]) == [-6.0]
