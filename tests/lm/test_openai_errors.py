"""OpenAICompatibleLM's error paths against misbehaving local servers (127.0.0.1 only)."""

import json
import socket
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mrt_env.errors import BackendError, BackendTimeout, BackendUnavailable, ContextLengthExceeded
from mrt_env.lm import OpenAICompatibleLM, Sampling

OK_BODY = {
    "choices": [
        {"index": 0, "text": "ok", "finish_reason": "stop", "logprobs": {"tokens": ["o", "k"]}}
    ]
}


@contextmanager
def fake_server(behaviour):
    """A server whose POST handler is ``behaviour(handler, attempt) -> (status, body)``."""
    calls = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            calls.append(time.monotonic())
            status, body = behaviour(self, len(calls))
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", calls
    finally:
        server.shutdown()
        server.server_close()


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
