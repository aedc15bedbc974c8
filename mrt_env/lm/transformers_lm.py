"""A :class:`~mrt_env.lm.base.LanguageModel` on Hugging Face transformers (CPU or GPU).

Any causal LM that ``AutoModelForCausalLM.from_pretrained`` loads (a hub id or a local
folder, GGUF files included) works. Generation is left-padded and batched through
``model.generate`` with a generation config built from our arguments alone (the model's
own defaults such as ``top_k=50`` or a repetition penalty do not leak in, so sampling means
the same thing as on vLLM). Stop strings are honoured exactly: the text is cut before the
earliest stop. Scoring tokenizes ``prompt + continuation`` as one string, as a server does.

Needs the ``hf`` extra (``pip install 'mrt-env[hf]'``).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mrt_env._optional import require
from mrt_env.lm.base import (
    Completion,
    HFTokenizerMixin,
    TokenLogprobs,
    check_context,
    check_generate_args,
    cut_at_stop,
)

__all__ = ["TransformersLM"]

_DTYPES = ("auto", "float32", "bfloat16", "float16")
# Upper bound on the logits a scoring micro-batch materialises (batch * length * vocab).
_SCORE_LOGIT_BUDGET = 64 * 1024 * 1024


def _torch() -> Any:
    return require("torch", extra="hf", feature="TransformersLM")


def _transformers() -> Any:
    return require("transformers", extra="hf", feature="TransformersLM")


class TransformersLM(HFTokenizerMixin):
    """A transformers causal LM behind the :class:`LanguageModel` protocol.

    Args:
        model: a loaded ``PreTrainedModel`` (causal LM).
        tokenizer: its tokenizer (a fast tokenizer is needed for ``score``).
        max_batch_size: sequences generated or scored in one forward pass.
        name: how the model is named in logs and results (default: its name_or_path).

    Use :meth:`from_pretrained` to load by hub id or path. Thread-safe: calls are serialised.
    """

    def __init__(
        self, model: Any, tokenizer: Any, *, max_batch_size: int = 32, name: str | None = None
    ):
        if max_batch_size < 1:
            raise ValueError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.name = name or str(getattr(model.config, "name_or_path", "") or type(model).__name__)
        if tokenizer.pad_token_id is None:
            # Padding positions are masked out, so any token serves; EOS is the convention.
            tokenizer.pad_token = tokenizer.eos_token
        self._lock = threading.Lock()

    @classmethod
    def from_pretrained(
        cls,
        model: str | Path,
        *,
        tokenizer: str | Path | None = None,
        device: str = "cpu",
        dtype: str = "float32",
        gguf_file: str | None = None,
        trust_remote_code: bool = False,
        max_batch_size: int = 32,
        **model_kwargs: Any,
    ) -> TransformersLM:
        """Load a model and tokenizer by hub id or local path.

        Args:
            model: hub id (``"Qwen/Qwen2.5-0.5B-Instruct"``) or a local folder.
            tokenizer: where the tokenizer lives, if not with the model.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... .
            dtype: one of ``auto``, ``float32``, ``bfloat16``, ``float16``.
            gguf_file: a GGUF file inside ``model`` (dequantised on load; needs ``gguf``).
        """
        if dtype not in _DTYPES:
            raise ValueError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        torch, tf = _torch(), _transformers()
        torch_dtype = dtype if dtype == "auto" else getattr(torch, dtype)
        extra = {"gguf_file": gguf_file} if gguf_file else {}
        tok = tf.AutoTokenizer.from_pretrained(
            str(tokenizer or model), trust_remote_code=trust_remote_code, **extra
        )
        lm = tf.AutoModelForCausalLM.from_pretrained(
            str(model),
            dtype=torch_dtype,
            trust_remote_code=trust_remote_code,
            **extra,
            **model_kwargs,
        ).to(device)
        return cls(lm, tok, max_batch_size=max_batch_size, name=str(model))

    # -- properties --------------------------------------------------------------------

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def max_context(self) -> int | None:
        """The model's context window in tokens (None if the config does not say)."""
        return getattr(self.model.config, "max_position_embeddings", None)

    # -- protocol ----------------------------------------------------------------------

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int,
        stop: Sequence[str] | None = None,
        n: int = 1,
        temperature: float = 1.0,
        top_p: float = 1.0,
        seed: int | None = None,
    ) -> list[list[Completion]]:
        prompts, stops = check_generate_args(
            prompts,
            max_tokens=max_tokens,
            stop=stop,
            n=n,
            temperature=temperature,
            top_p=top_p,
            seed=seed,
        )
        torch = _torch()
        config = self._generation_config(max_tokens, stops)
        if seed is None and temperature > 0:
            seed = int(torch.randint(0, 2**62, ()).item())  # fresh randomness, same code path
        # Row (prompt i, sample j) gets its own random stream, a pure function of (seed, j,
        # prompt): a prompt's samples do not depend on what else is in the batch.
        rows = [(i, j) for i in range(len(prompts)) for j in range(n)]
        results: list[list[Completion]] = [[] for _ in prompts]
        with self._lock, torch.inference_mode():
            for start in range(0, len(rows), self.max_batch_size):
                chunk = rows[start : start + self.max_batch_size]
                sampler = None
                if temperature > 0:
                    seeds = [_row_seed(seed, j, prompts[i]) for i, j in chunk]
                    sampler = _RowSampler(seeds, temperature, top_p, self.device)
                done = self._generate_chunk([prompts[i] for i, _ in chunk], config, stops, sampler)
                for (i, _), completion in zip(chunk, done, strict=True):
                    results[i].append(completion)
        return results

    # -- beyond the protocol -----------------------------------------------------------

    def token_logprobs(self, texts: Sequence[str]) -> list[TokenLogprobs]:
        """Per-token log-probabilities of each text, with character offsets.

        This is what a server returns for ``echo=True, logprobs=0``; :meth:`score` and the
        OpenAI-compatible stand-in server are built on it.
        """
        torch = _torch()
        if not getattr(self.tokenizer, "is_fast", False):
            raise TypeError(
                f"scoring needs a fast tokenizer (character offsets); {self.name} has "
                f"{type(self.tokenizer).__name__}"
            )
        encs = [self.tokenizer(t, return_offsets_mapping=True) for t in texts]
        for i, enc in enumerate(encs):
            check_context(
                len(enc["input_ids"]), 0, self.max_context, where=f"{self.name} score[{i}]"
            )
        out: list[TokenLogprobs | None] = [None] * len(texts)
        order = sorted(range(len(texts)), key=lambda i: len(encs[i]["input_ids"]))
        vocab = self.model.config.vocab_size
        with self._lock, torch.inference_mode():
            start = 0
            while start < len(order):
                longest = len(
                    encs[order[min(start + self.max_batch_size, len(order)) - 1]]["input_ids"]
                )
                size = max(
                    1, min(self.max_batch_size, _SCORE_LOGIT_BUDGET // max(1, longest * vocab))
                )
                batch = order[start : start + size]
                for i, lps in zip(
                    batch, self._score_batch([encs[i]["input_ids"] for i in batch]), strict=True
                ):
                    offsets = encs[i]["offset_mapping"]
                    out[i] = TokenLogprobs(
                        starts=tuple(int(a) for a, _ in offsets),
                        ends=tuple(int(b) for _, b in offsets),
                        logprobs=(None, *lps),
                    )
                start += size
        return out  # type: ignore[return-value]

    # -- internals ---------------------------------------------------------------------

    def _generation_config(self, max_tokens: int, stops: tuple[str, ...]) -> Any:
        # Built from scratch so that the model's own defaults (top_k=50, a repetition
        # penalty, ...) do not leak in. Decoding is greedy: sampling, when asked for, is
        # done by _RowSampler (Gumbel-max), which makes it reproducible per row.
        return _transformers().GenerationConfig(
            max_new_tokens=max_tokens,
            do_sample=False,
            stop_strings=list(stops) or None,
            pad_token_id=self.tokenizer.pad_token_id,
            eos_token_id=self.tokenizer.eos_token_id,
            bos_token_id=self.tokenizer.bos_token_id,
        )

    def _generate_chunk(
        self, prompts: list[str], config: Any, stops: tuple[str, ...], sampler: Any
    ) -> list[Completion]:
        tok = self.tokenizer
        tok.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        enc = tok(prompts, return_tensors="pt", padding=True).to(self.device)
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        for i, length in enumerate(lengths):
            check_context(
                int(length),
                config.max_new_tokens,
                self.max_context,
                where=f"{self.name} generate[{i}]",
            )
        processors = _transformers().LogitsProcessorList([sampler] if sampler else [])
        out = self.model.generate(
            **enc, generation_config=config, logits_processor=processors, tokenizer=tok
        )
        new = out[:, enc["input_ids"].shape[1] :].tolist()  # [rows, new_tokens]
        return [self._finish(ids, stops, config.max_new_tokens) for ids in new]

    def _finish(self, ids: list[int], stops: tuple[str, ...], max_tokens: int) -> Completion:
        """Where a generated row really ended, and why.

        Rows that finished early are padded by ``generate``; rather than trust the padding
        (a random model can sample the pad token), the end is found again: the first EOS,
        or the token that completed the earliest stop string, whichever comes first.
        """
        tok = self.tokenizer
        eos = tok.eos_token_id
        length, ended = len(ids), False
        if eos is not None and eos in ids:
            length, ended = ids.index(eos) + 1, True
        text, fired = cut_at_stop(tok.decode(ids[:length], skip_special_tokens=True), stops)
        if fired is not None:
            # The shortest prefix whose text contains the whole stop string.
            stop_end = len(text) + len(fired)
            lo, hi = 1, length
            while lo < hi:
                mid = (lo + hi) // 2
                if len(tok.decode(ids[:mid], skip_special_tokens=True)) >= stop_end:
                    hi = mid
                else:
                    lo = mid + 1
            length, ended = lo, True
        ids = ids[:length]
        reason = "stop" if ended else "length" if length >= max_tokens else "stop"
        return Completion(text, len(ids), reason, fired, tuple(ids))

    def _score_batch(self, ids: list[list[int]]) -> list[list[float]]:
        torch = _torch()
        pad = self.tokenizer.pad_token_id
        width = max(len(x) for x in ids)
        input_ids = torch.full((len(ids), width), pad, dtype=torch.long)  # [B, T], right-padded
        mask = torch.zeros((len(ids), width), dtype=torch.long)
        for row, x in enumerate(ids):
            input_ids[row, : len(x)] = torch.tensor(x)
            mask[row, : len(x)] = 1
        input_ids, mask = input_ids.to(self.device), mask.to(self.device)
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits.float()  # [B, T, V]
        logits = logits[:, :-1]  # position t predicts token t+1          # [B, T-1, V]
        target = input_ids[:, 1:].unsqueeze(-1)  # [B, T-1, 1]
        picked = logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1)  # [B, T-1]
        return [picked[row, : len(x) - 1].tolist() for row, x in enumerate(ids)]


def _row_seed(seed: int, sample: int, prompt: str) -> int:
    digest = hashlib.sha256(f"{seed}\0{sample}\0{prompt}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class _RowSampler:
    """Temperature + top-p sampling by the Gumbel-max trick, one random stream per row.

    Used as a logits processor under greedy decoding: the argmax of logits / T plus Gumbel
    noise, over the top-p nucleus, is an exact sample from the tempered nucleus
    distribution. Each row draws its noise from its own ``torch.Generator``, so a row's
    sample does not depend on the other rows of the batch (like vLLM's per-request seed;
    HF's own sampler draws from one global stream for the whole batch).
    """

    # Noise is drawn for this many steps at a time, per row: the Python loop over rows runs
    # once per block instead of once per token. A row's stream is still consumed in order.
    BLOCK = 16

    def __init__(self, seeds: list[int], temperature: float, top_p: float, device: Any):
        torch = _torch()
        self.temperature, self.top_p = temperature, top_p
        self.generators = [torch.Generator(device=device).manual_seed(s) for s in seeds]
        self._gumbel: Any = None  # [B, BLOCK, V]
        self._step = 0

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        torch = _torch()
        logits = scores.float() / self.temperature  # [B, V]
        if self.top_p < 1.0:
            sorted_logits, order = logits.sort(dim=-1, descending=True)  # [B, V]
            probs = sorted_logits.softmax(dim=-1)  # [B, V]
            # Drop a token when the tokens ranked above it already reach top_p.
            drop_sorted = (probs.cumsum(dim=-1) - probs) >= self.top_p  # [B, V]
            drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)  # [B, V]
            logits = logits.masked_fill(drop, float("-inf"))
        k = self._step % self.BLOCK
        if k == 0:
            shape = (self.BLOCK, logits.shape[-1])
            uniform = torch.stack(
                [torch.rand(shape, generator=g, device=logits.device) for g in self.generators]
            )  # [B, BLOCK, V]
            self._gumbel = -torch.log(-torch.log(uniform.clamp(1e-20, 1.0 - 1e-7)))
        self._step += 1
        return logits + self._gumbel[:, k]  # [B, V]
