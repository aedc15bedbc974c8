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

import bisect
import contextlib
import inspect
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mrt_env.errors import ArgumentTypeError, ConfigError
from mrt_env.extras import require
from mrt_env.lm.base import (
    Completion,
    HFTokenizerMixin,
    SharedResource,
    TokenLogprobs,
    check_context,
    check_generate_args,
    check_logprob,
    cut_at_stop,
    tokens_to_reach,
)
from mrt_env.lm.kv_cache import (
    PrefixStore,
    decoding_with,
    full_attention_layers,
    shared_prefix_decoding,
    weights_version,
    with_room,
)
from mrt_env.lm.masks import packed_causal_mask
from mrt_env.lm.sampling import Sampling, row_seed

__all__ = ["TransformersLM"]

_DTYPES = ("auto", "float32", "bfloat16", "float16")
# score_at_cuts packs forced segments into one row of at most this many tokens per pass
# (its attention mask is [tokens, stream + tokens]).
_PACK_TOKENS = 2048
_PACKS = 4
_MIN_PACK_TOKENS = 256
# Upper bound on the logits a scoring micro-batch materialises (batch * length * vocab).
_SCORE_LOGIT_BUDGET = 64 * 1024 * 1024


def _torch() -> Any:
    return require("torch", extra="hf", feature="TransformersLM")


def _transformers() -> Any:
    return require("transformers", extra="hf", feature="TransformersLM")


class TransformersLM(SharedResource, HFTokenizerMixin):
    """A transformers causal LM behind the :class:`LanguageModel` protocol.

    Args:
        model: a loaded ``PreTrainedModel`` (causal LM).
        tokenizer: its tokenizer (a fast tokenizer is needed for ``score``).
        max_batch_size: sequences generated or scored in one forward pass.
        name: how the model is named in logs and results (default: its name_or_path).
        prefix_cache_tokens: tokens of recent prompts whose keys and values are kept, so
            that a prompt extending one of them reads only its new tokens (0: off). Kept
            entries are dropped when the weights change.

    Use :meth:`from_pretrained` to load by hub id or path. Thread-safe: calls are serialised.
    """

    seed_per_prompt = True  # Sampling(seed=[...]) gives each prompt its own seed

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        max_batch_size: int = 32,
        name: str | None = None,
        prefix_cache_tokens: int = 32_768,
    ):
        if max_batch_size < 1:
            raise ConfigError(f"max_batch_size must be >= 1, got {max_batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.max_batch_size = max_batch_size
        self.name = name or str(getattr(model.config, "name_or_path", "") or type(model).__name__)
        if tokenizer.pad_token_id is None:
            # Padding positions are masked out, so any token serves; EOS is the convention.
            tokenizer.pad_token = tokenizer.eos_token
        self._lock = threading.Lock()
        self.prefix_cache = PrefixStore(prefix_cache_tokens)
        """Keys and values of recent prompts: a prompt that starts with one of them reads
        only its new tokens (see :mod:`mrt_env.lm.kv_cache`)."""
        self.share_prefill = True
        """generate reads a prompt shared by several rows once, and what the prefix cache
        holds not at all (False: every row reads its whole prompt, transformers' own path:
        the reference the tests compare with)."""
        # transformers renamed forward's `past_key_values` to `cache`; use what this one takes.
        params = inspect.signature(self.model.forward).parameters
        self._cache_kwarg = "cache" if "cache" in params else "past_key_values"
        self._keeps_logits = "logits_to_keep" in params
        # score_at_cuts packs segments under a 4D additive mask, which eager and SDPA
        # attention take as given; flash/flex kernels do not, so they get one per pass.
        attention = getattr(self.model.config, "_attn_implementation", None)
        self._takes_custom_masks = attention in ("eager", "sdpa")

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
        name: str | None = None,
        prefix_cache_tokens: int = 32_768,
        **model_kwargs: Any,
    ) -> TransformersLM:
        """Load a model and tokenizer by hub id or local path.

        Args:
            model: hub id (``"Qwen/Qwen2.5-0.5B-Instruct"``) or a local folder.
            tokenizer: where the tokenizer lives, if not with the model.
            device: ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ... .
            dtype: one of ``auto``, ``float32``, ``bfloat16``, ``float16``.
            gguf_file: a GGUF file inside ``model`` (dequantised on load; needs ``gguf``).
            name: how the model is named in results (default: ``model``).
            prefix_cache_tokens: as the constructor's.
        """
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype must be one of {_DTYPES}, got {dtype!r}")
        PrefixStore(prefix_cache_tokens)  # a bad size fails before the model loads
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
        return cls(
            lm,
            tok,
            max_batch_size=max_batch_size,
            name=name or str(model),
            prefix_cache_tokens=prefix_cache_tokens,
        )

    # -- properties --------------------------------------------------------------------

    @property
    def device(self) -> Any:
        return next(self.model.parameters()).device

    @property
    def max_context(self) -> int | None:
        """The model's context window in tokens (None if the config does not say)."""
        return getattr(self.model.config, "max_position_embeddings", None)

    # -- protocol ----------------------------------------------------------------------

    def generate(self, prompts: Sequence[str], sampling: Sampling) -> list[list[Completion]]:
        """As the protocol's; ``sampling.seed`` may also be one seed per prompt (so that
        equal prompts of one batch can get different samples, see
        ``LMAgent.sample_distinct``)."""
        prompts = check_generate_args(prompts, sampling, seed_per_prompt=True)
        torch = _torch()
        stops, temperature = sampling.stop, sampling.temperature
        config = self._generation_config(sampling.max_tokens, stops)
        seed = sampling.seed
        if seed is None and temperature > 0:
            seed = int(torch.randint(0, 2**62, ()).item())  # fresh randomness, same code path
        per_prompt = list(seed) if isinstance(seed, tuple) else [seed] * len(prompts)
        # Row (prompt i, sample j) gets its own random stream, a pure function of (seed, j,
        # prompt): a prompt's samples do not depend on what else is in the batch.
        rows = [(i, j) for i in range(len(prompts)) for j in range(sampling.n)]
        results: list[list[Completion]] = [[] for _ in prompts]
        with self._lock, torch.inference_mode():
            for start in range(0, len(rows), self.max_batch_size):
                chunk = rows[start : start + self.max_batch_size]
                sampler = None
                if temperature > 0:
                    seeds = [row_seed(per_prompt[i], j, prompts[i]) for i, j in chunk]
                    sampler = _RowSampler(seeds, temperature, sampling.top_p, self.device)
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
            raise ArgumentTypeError(
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

    def score_at_cuts(
        self, text: str, cuts: Sequence[int], suffix: str, continuation: str
    ) -> list[float]:
        """``log p(continuation | text[:cut] + suffix)`` for every cut, sharing the prefix work.

        Reads ``text`` once: one forward pass over the text fills a key/value cache, then
        every forced ``suffix + continuation`` runs in one batched pass that attends to its
        own prefix of the cache only. Cost: about one pass over the text plus the short
        suffixes, instead of re-reading a prefix per cut. This is the meta-prover's hot path
        (one cut per episode boundary).

        Tokenization: the text's own tokens up to the cut are kept and the suffix is
        tokenized after them, which is what happens when a forcing text is appended to
        tokens a model generated. ``score`` on the joined strings tokenizes them as one
        string instead; with a character tokenizer the two agree exactly, with BPE they can
        differ where a merge would cross the cut (by ~0.1 nats in SmolLM2's tests).
        """
        torch = _torch()
        cuts = [int(c) for c in cuts]
        if not cuts:
            return []
        if any(not 0 <= c <= len(text) for c in cuts):
            raise ConfigError(f"cuts must lie in [0, {len(text)}], got {cuts}")
        if not continuation:
            raise ConfigError("continuation is empty; there is nothing to score")
        tok = self.tokenizer
        enc = tok(text, return_offsets_mapping=True)
        ids, offsets = list(enc["input_ids"]), enc["offset_mapping"]
        # Cut j keeps the stream tokens that end at or before the cut; any text between
        # that token and the cut is re-tokenized with the suffix, so a cut inside a token
        # gives the same text as the naive path.
        ends = [int(e) for _, e in offsets]  # non-decreasing; BOS has end 0
        keep = [max(bisect.bisect_right(ends, c), 1) for c in cuts]  # >= 1: BOS as context
        tails = [text[ends[n - 1] : c] for n, c in zip(keep, cuts, strict=True)]
        results: list[float] = [0.0] * len(cuts)
        # Packed segments: cut j's forced text (its tail + suffix + continuation), with
        # flags for which of its tokens belong to the continuation (tokens ending after the
        # suffix, the boundary rule score() uses).
        forced = [tail + suffix for tail in tails]
        enc = tok(
            [sfx + continuation for sfx in forced],
            add_special_tokens=False,
            return_offsets_mapping=True,
        )
        segments = [
            (list(seg), [end > len(sfx) for _, end in offsets])
            for seg, offsets, sfx in zip(
                enc["input_ids"], enc["offset_mapping"], forced, strict=True
            )
        ]
        with self._lock, torch.inference_mode():
            stream = torch.tensor([ids[: max(keep)]], device=self.device)  # [1, L]
            check_context(stream.shape[1], 0, self.max_context, where=f"{self.name} score_at_cuts")
            # Only the logits that predict a segment's first token are needed ([L, V] for a
            # real vocabulary would be gigabytes): keep the rows at each cut.
            needed = sorted({n - 1 for n in keep})
            kwargs = {}
            if self._keeps_logits:
                kwargs["logits_to_keep"] = torch.tensor(needed, device=self.device)
            first = self.model(input_ids=stream, use_cache=True, **kwargs)
            prefix_logits = first.logits[0].float()  # [cuts or L, V]
            prefix_lse = torch.logsumexp(prefix_logits, dim=-1)
            row_of = {pos: (i if self._keeps_logits else pos) for i, pos in enumerate(needed)}
            for j, (seg, is_answer) in enumerate(segments):
                if is_answer[0]:  # the first forced token is predicted by the last kept one
                    row = row_of[keep[j] - 1]
                    results[j] += float(prefix_logits[row, seg[0]] - prefix_lse[row])
            cache = _cache_of(first)
            # Longest prefixes first: each pack attends to the cache cropped to its longest
            # prefix, and cropping only ever shortens it, so the cache is never copied.
            order = sorted(range(len(cuts)), key=lambda j: -keep[j])
            # A few packs, not one: a pack's rows attend over its longest prefix, so
            # splitting the sorted segments saves attention, while each extra pass costs a
            # fixed overhead (packs below _MIN_PACK_TOKENS are not worth it).
            total = sum(len(seg) for seg, _ in segments)
            packs = max(1, min(_PACKS, total // _MIN_PACK_TOKENS))
            pack_tokens = min(_PACK_TOKENS, -(-total // packs))
            if not self._takes_custom_masks:
                pack_tokens = 1  # one segment per pass: the plain causal mask is then exact
            pack: list[int] = []
            width = 0
            for j in order:
                if pack and width + len(segments[j][0]) > pack_tokens:
                    self._score_pack(cache, pack, keep, segments, results)
                    pack, width = [], 0
                pack.append(j)
                width += len(segments[j][0])
            self._score_pack(cache, pack, keep, segments, results)
        # NaN logits (diverged or corrupt weights) would sum to a NaN score, and a NaN
        # log-probability reads as J = 1 downstream: refuse it here, naming the model.
        return [
            check_logprob(r, where=f"{self.name} score_at_cuts[{j}]") for j, r in enumerate(results)
        ]

    def _score_pack(
        self,
        cache: Any,
        pack: list[int],
        keep: list[int],
        segments: list[tuple[list[int], list[bool]]],
        results: list[float],
    ) -> None:
        """One forward pass for several forced segments packed in one row.

        Segment j sits after the cached stream with positions ``keep[j], keep[j] + 1, ...``
        and a 4D mask lets its tokens see the first ``keep[j]`` cached tokens and the
        earlier tokens of their own segment, nothing else: the result is what ``keep[j]``
        stream tokens followed by the segment would give, for all segments at once.
        """
        torch = _torch()
        length = keep[pack[0]]  # L: the longest prefix in this pack (packs go longest first)
        surplus = cache.get_seq_length() - length
        if surplus > 0:
            cache.crop(-surplus)  # (this transformers takes the number of tokens to drop)
        ids: list[int] = []
        positions: list[int] = []
        starts: list[int] = []
        for j in pack:
            starts.append(len(ids))
            ids += segments[j][0]
            positions += range(keep[j], keep[j] + len(segments[j][0]))
        width = len(ids)  # S
        if len(pack) == 1:
            mask = None  # one segment right after its own prefix: the causal mask is exact
        else:
            mask = packed_causal_mask(
                [
                    (start, len(segments[j][0]), keep[j])
                    for j, start in zip(pack, starts, strict=True)
                ],
                cache_length=length,
                width=width,
                dtype=self.model.dtype,
            )[None, None]  # [1, 1, S, L + S]
        # Logits only where they predict a continuation token (position t - 1 predicts t).
        wanted = [
            start + t - 1
            for j, start in zip(pack, starts, strict=True)
            for t, flag in enumerate(segments[j][1])
            if flag and t > 0
        ]
        if not wanted:
            return
        dev = self.device
        kwargs = {}
        if self._keeps_logits:
            kwargs["logits_to_keep"] = torch.tensor(wanted, device=dev)
        out = self.model(
            input_ids=torch.tensor([ids], device=dev),
            attention_mask=None if mask is None else mask.to(dev),
            position_ids=torch.tensor([positions], device=dev),
            use_cache=True,
            **{self._cache_kwarg: cache},
            **kwargs,
        )
        logits = out.logits[0].float()  # [len(wanted) or S, V]
        if not self._keeps_logits:
            logits = logits[torch.tensor(wanted)]
        lse = torch.logsumexp(logits, dim=-1)  # [len(wanted)]
        targets = torch.tensor([ids[p + 1] for p in wanted])
        per_token = (logits.gather(-1, targets[:, None].to(logits.device))[:, 0] - lse).tolist()
        owner = {}
        for j, start in zip(pack, starts, strict=True):
            for t in range(len(segments[j][0])):
                owner[start + t] = j
        for p, value in zip(wanted, per_token, strict=True):
            results[owner[p]] += value

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
        torch = _torch()
        tok = self.tokenizer
        tok.padding_side = "left"  # decoder-only: new tokens must follow the prompt directly
        # Rows often repeat a prompt (n samples of one context): tokenize and prefill each
        # distinct prompt once, then give every row a copy of its prompt's cache.
        distinct = list(dict.fromkeys(prompts))
        which = {p: i for i, p in enumerate(distinct)}
        rows = torch.tensor([which[p] for p in prompts], device=self.device)
        once = tok(distinct, return_tensors="pt", padding=True).to(self.device)
        enc = {k: v[rows] for k, v in once.items()}
        lengths = enc["attention_mask"].sum(dim=1).tolist()
        for i, length in enumerate(lengths):
            check_context(
                int(length),
                config.max_new_tokens,
                self.max_context,
                where=f"{self.name} generate[{i}]",
            )
        extra, plan = {}, None
        if self.share_prefill and once["input_ids"].shape[1] > 1:
            shared = len(distinct) < len(prompts)
            prefilled = self._prefill(once, rows, room=config.max_new_tokens, shared=shared)
            if prefilled is not None:
                enc, extra[self._cache_kwarg], plan = prefilled
        processors = _transformers().LogitsProcessorList([sampler] if sampler else [])
        with decoding_with(self.model, plan) if plan else contextlib.nullcontext():
            out = self.model.generate(
                **enc, generation_config=config, logits_processor=processors, tokenizer=tok, **extra
            )
        new = out[:, enc["input_ids"].shape[1] :].tolist()  # [rows, new_tokens]
        return [self._finish(ids, stops, config.max_new_tokens) for ids in new]

    def _prefill(
        self, once: Any, rows: Any, *, room: int, shared: bool
    ) -> tuple[dict[str, Any], Any, Any] | None:
        """The key/value cache of every distinct prompt but its last token, laid out for the
        rows that continue it with ``room`` free positions per row; the rows'
        ``input_ids`` and ``attention_mask`` that go with it (``generate`` then reads each
        last token and samples); and the shared-prefix plan to decode under, or None.

        The layout is :func:`~mrt_env.lm.kv_cache.shared_prefix_decoding` (each prompt's
        keys once, the rows' queries packed over them) when rows share a prompt and the
        model allows, else :func:`~mrt_env.lm.kv_cache.with_room` (a copy per row).

        A prompt that starts with one the :class:`~mrt_env.lm.kv_cache.PrefixStore` holds
        reads only its new tokens. Row i of the pass is then laid out as ``[padding,
        stored start (right-aligned), padding, new tokens (right-aligned)]``: the mask
        hides both paddings, and positions are counted as ``generate`` counts them, from
        the first real token, so the values are those of reading the prompt whole.

        None when no row shares its prompt (``shared`` False) and the store holds less
        than half of the prompts' tokens: transformers' own path reads them in one pass
        then, not two.
        """
        torch = _torch()
        store = self.prefix_cache
        if not shared and not len(store):
            return None  # nothing to share, nothing stored: skip the weights' version too
        ids, mask = once["input_ids"][:, :-1], once["attention_mask"][:, :-1]
        prompts = [row[m.bool()].tolist() for row, m in zip(ids, mask, strict=True)]
        version = weights_version(self.model) if store.max_tokens else None
        found = [store.lookup(p, version) if version else (0, []) for p in prompts]
        kept = [n for n, _ in found]
        start = max(kept)  # A: the widest stored start
        if not shared and 2 * sum(kept) < sum(len(p) for p in prompts):
            return None  # a second pass costs more than the stored starts save
        store.hits += sum(kept)
        news = [p[n:] for p, n in zip(prompts, kept, strict=True)]
        width = max(len(x) for x in news)  # S: the widest new part
        dev = self.device
        pad = self.tokenizer.pad_token_id
        new_ids = torch.full((len(prompts), width), pad, dtype=torch.long)
        full_mask = torch.zeros((len(prompts), start + width), dtype=torch.long)
        positions = torch.zeros((len(prompts), width), dtype=torch.long)
        for i, (new, n) in enumerate(zip(news, kept, strict=True)):
            if new:
                new_ids[i, width - len(new) :] = torch.tensor(new)
                positions[i, width - len(new) :] = torch.arange(n, n + len(new))
            full_mask[i, start - n : start] = 1
            full_mask[i, start + width - len(new) :] = 1
        past = None
        if start:
            layers = [
                _right_aligned([kv[layer] if n else None for n, kv in found], kept, start)
                for layer in range(len(found[kept.index(start)][1]))
            ]
            past = _transformers().DynamicCache(layers)
        if width:
            kwargs = {self._cache_kwarg: past} if past is not None else {}
            if self._keeps_logits:  # no logits are needed ([rows, tokens, vocab] otherwise)
                kwargs["logits_to_keep"] = 1
            out = self.model(
                input_ids=new_ids.to(dev),
                attention_mask=full_mask.to(dev),
                position_ids=positions.to(dev),
                use_cache=True,
                **kwargs,
            )
            cache = _cache_of(out)
        else:
            cache = past
        layers = full_attention_layers(cache)
        if version and layers is not None:
            for i, prompt in enumerate(prompts):
                real = full_mask[i].bool().to(dev)
                kv = [(layer.keys[i][:, real], layer.values[i][:, real]) for layer in layers]
                store.add(prompt, kv)
        # The rows' inputs: the prompt's tokens (right-aligned: what `generate` and its
        # stop-string check see), under the mask of the cache plus the last token.
        total = start + width + 1
        last = once["input_ids"][:, -1:]
        input_ids = torch.full((len(prompts), total), pad, dtype=torch.long, device=dev)
        for i, prompt in enumerate(prompts):
            tokens = [*prompt, int(last[i, 0])]
            input_ids[i, total - len(tokens) :] = torch.tensor(tokens)
        attention = torch.cat([full_mask.to(dev), torch.ones_like(last)], dim=1)
        enc = {"input_ids": input_ids[rows], "attention_mask": attention[rows]}
        # Rows that share a prompt decode over one copy of its keys; a row alone gains
        # nothing from packing, and keeps the plain layout.
        plan = None
        if shared:
            plan = shared_prefix_decoding(self.model, cache, rows.tolist(), full_mask.to(dev), room)
        return enc, cache if plan else with_room(cache, rows, room), plan

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
            length, ended = tokens_to_reach(tok, ids[:length], len(text) + len(fired)), True
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
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits  # [B, T, V]
        picked = next_token_logprobs(logits, input_ids)  # [B, T-1]
        return [picked[row, : len(x) - 1].tolist() for row, x in enumerate(ids)]


def _cache_of(output: Any) -> Any:
    cache = getattr(output, "cache", None)
    return cache if cache is not None else output.past_key_values


def _right_aligned(parts: list[tuple[Any, Any] | None], lengths: list[int], width: int) -> tuple:
    """One layer's stored keys and values of several prompts as a batch ``[prompts, heads,
    width, dim]``, each prompt's ``lengths[i]`` positions at the right end (zeros before
    them, hidden by the mask); a prompt with nothing stored is all zeros."""
    like = next(part[0] for part in parts if part is not None)  # [heads, n, dim]
    shape = (len(lengths), like.shape[0], width, like.shape[-1])
    keys, values = like.new_zeros(shape), like.new_zeros(shape)
    for i, (part, n) in enumerate(zip(parts, lengths, strict=True)):
        if part is not None:
            keys[i, :, width - n :], values[i, :, width - n :] = part
    return keys, values


def next_token_logprobs(logits: Any, input_ids: Any) -> Any:
    """log p(token t+1 | tokens ≤ t) from a forward pass: logits [B, T, V] -> [B, T−1].

    Differentiable (the trainers' policy log-probabilities use it too)."""
    torch = _torch()
    logits = logits[:, :-1].float()  # [B, T-1, V]: position t predicts token t+1
    target = input_ids[:, 1:].unsqueeze(-1)  # [B, T-1, 1]
    return logits.gather(-1, target).squeeze(-1) - torch.logsumexp(logits, dim=-1)  # [B, T-1]


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
