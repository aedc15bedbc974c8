"""The meta-prover μ: how likely the model is to answer correctly if forced to stop now.

MRT (Qu et al., ICML 2025) measures test-time compute with a *meta-prover* μ: cut the
reasoning stream after block j (context $c_j = x + z_1 … z_j$), append a *forcing text*
that ends the thinking and asks for the answer ("budget forcing"), and estimate the success
probability $J(μ(·|c_j))$. Its increase over a block is that block's *progress*
(information gain), $J(μ(·|c_j)) − J(μ(·|c_{j-1})) = J_j − J_{j-1}$, and the shortfall from
the best possible is the *cumulative regret* (see :mod:`mrt_env.metrics`).

Two estimators of J, both with the same interface (:class:`MetaProver`):

* :class:`ForcedAnswerProver`: the paper's estimator. Sample k answers after the forcing
  text and grade them against the gold answer; J = fraction correct (an unbiased estimate
  of the forced pass@1). The authors use k = 8, temperature 0.6, top_p 0.95.
* :class:`LikelihoodProver`: a deterministic proxy, one scoring call. J = the probability
  the model gives to the gold answer string right after the forcing text.

Both take all prefixes of a stream at once (j = 0 ... k, the empty prefix included), keep a
cache keyed by (problem, prompt, prefix, settings) so that asking again costs nothing, and
are reproducible under a seed.

How a request is laid out (where the forcing text goes after a prefix) is
:func:`prover_request`'s, and every caller asks μ through it: the env step by step, and
:func:`score_finished` for a finished text (the trainers, ``mrt-regret``); an answer forced
from the model itself (at truncation, a strategy's "answer now") is laid out the same way
(:func:`forced_context`). The rule for an estimate with no verdict is :func:`carry`'s, for
both. A prover's own :meth:`estimate`
takes prefixes as they are: its contexts are prompt + prefix + forcing text, byte for byte.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, Protocol

from mrt_env.commitment import answer_opening
from mrt_env.config import Config
from mrt_env.errors import ArgumentTypeError, BackendError, ConfigError
from mrt_env.grading import grade_many
from mrt_env.lm.base import Completion, LanguageModel, SharedResource, check_logprob
from mrt_env.lm.sampling import Sampling
from mrt_env.prompts import problem_prompt
from mrt_env.types import Problem

__all__ = [
    "AUTHORS_ANSWER_TOKENS",
    "AUTHORS_FINAL_TEXT",
    "AUTHORS_STOP_TEXT",
    "DIRECT_ANSWER_TOKENS",
    "LIKELIHOOD_FORCING_TEXT",
    "PAPER_FORCING_TEXT",
    "PROVER_KINDS",
    "FinishedText",
    "ForcedAnswerProver",
    "LikelihoodProver",
    "MetaProver",
    "OracleProver",
    "ProverConfig",
    "ProverEstimate",
    "ProverRequest",
    "carried",
    "carry",
    "default_prompt",
    "forced_context",
    "forcing_text_of",
    "known_success_probs",
    "make_prover",
    "prover_request",
    "score_finished",
]

PAPER_FORCING_TEXT = (
    "\n\nTime is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop "
    "thinking and formulate a final answer based on what I already have.\n</think>\n\n"
    "**Step-by-Step Explanation and Answer:**\n\n1. **"
)
"""The budget-forcing text the MRT authors append for R1-style models, byte-exact."""

LIKELIHOOD_FORCING_TEXT = (
    "\n\nTime is up.\n\nGiven the time I've spent and the approaches I've tried, I should stop "
    "thinking and formulate a final answer based on what I already have.\n</think>\n\n"
    "The final answer is $\\boxed{"
)
"""The paper's forcing text, ending where the answer itself starts (for scoring it)."""


PROVER_KINDS: tuple[str, ...] = ("forced", "likelihood")
"""The kinds of μ a :class:`ProverConfig` builds."""


def default_prompt(lm: LanguageModel, problem: Problem) -> str:
    """The text the reasoning stream continues: the model's chat template, or a plain one."""
    return problem_prompt(problem.question, lm=lm)


@dataclass(frozen=True)
class ProverEstimate:
    """μ's estimate at one prefix: J, and for sampling provers the graded answers.

    ``undecided`` counts the sampled answers the grader reached no verdict on (see
    :class:`~mrt_env.types.GradeResult`); J is the mean over the others. When none has a
    verdict (:attr:`no_verdict`), J is 0.0 and means nothing: :func:`carry` keeps the
    previous J instead (0.0 at c_0).
    """

    success_prob: float
    answers: tuple[str | None, ...] = ()
    correct: tuple[bool, ...] = ()
    undecided: int = 0
    answer_tokens: tuple[int, ...] = ()
    """Tokens of each sampled answer (the cost of asking μ, in the authors' token regret)."""
    answer_logprobs: tuple[float, ...] = ()
    """Mean log-probability per token of each sampled answer given its context, when the
    prover scores them (``score_answers``; the weights of the authors' [maj@k]_j)."""

    def __post_init__(self) -> None:
        # J feeds rewards and regret: a NaN or a value outside [0, 1] (from a custom
        # prover, an oracle function, a broken backend) must stop here, not become a reward.
        j = self.success_prob
        if isinstance(j, bool) or not isinstance(j, numbers.Real) or not 0.0 <= j <= 1.0:
            raise ConfigError(f"a success probability J must be a number in [0, 1], got {j!r}")
        object.__setattr__(self, "success_prob", float(j))  # numpy's floats too: one type

    @property
    def mean_answer_tokens(self) -> float:
        """The mean length of the sampled answers (0.0 without any)."""
        return sum(self.answer_tokens) / max(1, len(self.answer_tokens))

    @property
    def no_verdict(self) -> bool:
        """Every sampled answer is undecided: this estimate says nothing about J."""
        return bool(self.answers) and self.undecided >= len(self.answers)


AUTHORS_ANSWER_TOKENS = 4096
r"""μ's answer budget in the authors' analysis: after the stop text a real model may need
hundreds of tokens before it writes its \boxed{} answer, and a short budget biases J down."""

_BLANK_LINE = "\n\n"

AUTHORS_STOP_TEXT = PAPER_FORCING_TEXT.removeprefix(_BLANK_LINE)
"""The authors' stop text as their analysis appends it: right after a prefix that is empty or
ends in a blank line, so with no newlines of its own in front (what :func:`prover_request`
sends after such a prefix with :data:`PAPER_FORCING_TEXT`)."""

AUTHORS_FINAL_TEXT = "\n</think>"
"""What the authors' analysis appends to the full trace (no stop text: the thinking is over)."""


def forcing_text_of(prover: Any) -> str | None:
    """The forcing text ``prover`` appends of its own (``config.forcing_text``, as
    :class:`ForcedAnswerProver` and :class:`LikelihoodProver` have); None for a prover
    without one (:class:`OracleProver`, a scripted stand-in)."""
    text = getattr(getattr(prover, "config", None), "forcing_text", None)
    return text if isinstance(text, str) else None


def prover_request(
    problem: Problem,
    prompt: str,
    prefix: str,
    *,
    forcing_text: str | None = None,
    close: str | None = None,
) -> ProverRequest:
    r"""μ's request at the prefix c_j: the one layout that the env, the vector env, the
    trainers (TRL's and verl's) and ``mrt-regret`` all ask μ in.

    ``forcing_text`` is μ's own forcing text (:func:`forcing_text_of`), and decides how it
    follows the prefix:

    * one that opens with a blank line (``"\n\n"``: :data:`PAPER_FORCING_TEXT`,
      :data:`LIKELIHOOD_FORCING_TEXT`) follows as in the authors' ``pass_at_k_given_prefix.py``:
      the prefix's trailing newlines are dropped and exactly one blank line separates it from
      the rest of the forcing text; after the empty prefix (j = 0) that rest comes right after
      the prompt. A block that ends in ``"\n\n"``, in one newline or in none gives the same
      bytes. The request carries the blank line in its prefix and the rest as its
      ``forcing_text``;
    * any other (the synthetic tasks' ``"A \boxed{"`` after a line), or None (a prover whose
      text is not known): the prefix as it is, then μ's forcing text.

    ``close`` makes the prefix a finished stream's whole trace: its trailing newlines are
    dropped and ``close`` follows instead of the forcing text (the authors close theirs with
    :data:`AUTHORS_FINAL_TEXT`). Only a caller that has the whole text can say so: the env,
    which sees a stream block by block, never does.

    >>> p, text = Problem("p", "q", "1"), PAPER_FORCING_TEXT
    >>> for c in ("", "A\n\n", "A"):
    ...     print(repr(prover_request(p, "P:", c, forcing_text=text).context(text)[:17]))
    'P:Time is up.\n\nGi'
    'P:A\n\nTime is up.\n'
    'P:A\n\nTime is up.\n'
    >>> prover_request(p, "P:", "A\n\n", close=AUTHORS_FINAL_TEXT).context(text)
    'P:A\n</think>'
    >>> prover_request(p, "Q 1+2\n", "1+2=3\n", forcing_text="A \\boxed{").context("A \\boxed{")
    'Q 1+2\n1+2=3\nA \\boxed{'
    """
    if close is not None:
        return ProverRequest(problem, prompt, prefix.rstrip("\n"), close)
    return ProverRequest(problem, prompt, *_laid_out(prefix, forcing_text))


def forced_context(prompt: str, prefix: str, forcing_text: str) -> str:
    r"""What a model continues when it is made to answer at ``prefix`` with ``forcing_text``:
    laid out as :func:`prover_request` lays out μ's requests, so that the answer forced at
    truncation and the strategies' "answer now" see the bytes μ sees.

    >>> forced_context("P:", "A\n", PAPER_FORCING_TEXT)[:17], forced_context("P:", "", "\n\nT")
    ('P:A\n\nTime is up.\n', 'P:T')
    >>> forced_context("Q 1+2\n", "1+2=3\n", "A \\boxed{")
    'Q 1+2\n1+2=3\nA \\boxed{'
    """
    prefix, rest = _laid_out(prefix, forcing_text)
    return prompt + prefix + (forcing_text if rest is None else rest)


def _laid_out(prefix: str, forcing_text: str | None) -> tuple[str, str | None]:
    """The prefix and the forcing text as they follow each other (see :func:`prover_request`):
    None for the forcing text when it follows the prefix as it is."""
    if forcing_text is None or not forcing_text.startswith(_BLANK_LINE):
        return prefix, None
    # The authors join their episodes (stripped of trailing newlines) with one blank line and
    # put the stop text after one more; with no episode, right after the prompt.
    separated = prefix.rstrip("\n") + _BLANK_LINE if prefix else ""
    return separated, forcing_text.removeprefix(_BLANK_LINE)


def carry(before: ProverEstimate | None, estimate: ProverEstimate) -> ProverEstimate:
    """``estimate`` as the J after ``before`` (None at c_0): one with no verdict
    (:attr:`ProverEstimate.no_verdict`) keeps the J before it, so that no progress is
    invented from answers nobody graded; at c_0, where there is none before, it counts as
    0.0. The env applies this rule block by block, and it reports J_0 at reset, before any
    later estimate exists: so an undecided J_0 is 0.0, never a later J taken back.

    >>> known = ProverEstimate(0.5, ("1", "2"), (True, False))
    >>> lost = ProverEstimate(0.0, ("1", "2"), (False, False), undecided=2)
    >>> carry(known, lost).success_prob, carry(None, lost).success_prob
    (0.5, 0.0)
    """
    if not estimate.no_verdict:
        return estimate
    return replace(estimate, success_prob=0.0 if before is None else before.success_prob)


def carried(estimates: Sequence[ProverEstimate]) -> list[ProverEstimate]:
    """The estimates at c_0 … c_k of one stream, each as :func:`carry` takes it (the others'
    fields, the graded answers too, as μ gave them)."""
    out: list[ProverEstimate] = []
    for estimate in estimates:
        out.append(carry(out[-1] if out else None, estimate))
    return out


def known_success_probs(estimates: Sequence[ProverEstimate]) -> list[float]:
    """J at c_0 … c_k of one stream by the rule of :func:`carry`.

    >>> known = ProverEstimate(0.5, ("1", "2"), (True, False))
    >>> lost = ProverEstimate(0.0, ("1", "2"), (False, False), undecided=2)
    >>> known_success_probs([lost, known, lost])
    [0.0, 0.5, 0.5]
    """
    return [e.success_prob for e in carried(estimates)]


@dataclass(frozen=True)
class FinishedText:
    """A finished reasoning text, to be scored at its episodes' ends: c_j = ``text[:ends[j]]``.

    ``ends`` are :func:`mrt_env.episodes.prefix_ends` (0 first and ``len(text)`` last; ``[0]``
    for an empty text), or any other offsets μ should be asked at.
    """

    problem: Problem
    prompt: str
    text: str
    ends: Sequence[int]

    def request(
        self, j: int, *, forcing_text: str | None = None, close: str | None = None
    ) -> ProverRequest:
        """μ's request at c_j (:func:`prover_request`); ``close`` applies to the last prefix."""
        last = j == len(self.ends) - 1
        return prover_request(
            self.problem,
            self.prompt,
            self.text[: self.ends[j]],
            forcing_text=forcing_text,
            close=close if last else None,
        )


def score_finished(
    prover: MetaProver,
    texts: Sequence[FinishedText],
    *,
    close: str | None = None,
    max_chars: int | None = None,
) -> list[list[ProverEstimate]]:
    """μ's estimates at c_0 … c_k of each finished text, as the env would have reported them
    block by block: the requests of :func:`prover_request` (μ's own forcing text, ``close``
    on each text's last prefix), then :func:`carried`. J_j of text t is
    ``result[t][j].success_prob``. Used by TRL's ``EpisodeScorer``, verl's
    ``episode_fields`` and ``mrt-regret``.

    All requests go to μ in one ``estimate_batch`` call; with ``max_chars``, in calls of at
    most that many characters of context (prompt and prefix; one request at least), the call
    with the last requests first, so that a text too long for a model whose window is not
    known here (a server's) fails at its first call, before its short prefixes are paid for. μ's
    answers at a prefix do not depend on the rest of its batch. Each batch's requests are
    built when it is sent: memory stays linear in a text's length.

    Raises:
        BackendError: μ returned another number of estimates than it was asked for.
    """
    forcing = forcing_text_of(prover)
    slots = [(t, j) for t, text in enumerate(texts) for j in range(len(text.ends))]
    batches: list[range] = []
    start, size = 0, 0
    for i, (t, j) in enumerate(slots):
        n = len(texts[t].prompt) + texts[t].ends[j]
        if max_chars is not None and i > start and size + n > max_chars:
            batches.append(range(start, i))
            start, size = i, 0
        size += n
    if start < len(slots):
        batches.append(range(start, len(slots)))
    found: list[ProverEstimate | None] = [None] * len(slots)
    for batch in reversed(batches):
        requests = [
            texts[t].request(j, forcing_text=forcing, close=close)
            for t, j in (slots[i] for i in batch)
        ]
        estimates = prover.estimate_batch(requests)
        if len(estimates) != len(requests):
            raise BackendError(
                f"the prover returned {len(estimates)} estimates for {len(requests)} prefixes"
            )
        for i, estimate in zip(batch, estimates, strict=True):
            found[i] = estimate
    out, first = [], 0
    for text in texts:
        stop = first + len(text.ends)
        out.append(carried(found[first:stop]))  # type: ignore[arg-type]  # all filled above
        first = stop
    return out


@dataclass(frozen=True)
class ProverRequest:
    """One question to μ: the problem, the prompt the stream continues, and the prefix c_j.

    ``forcing_text``, when set, replaces the prover's own for this request (the authors'
    analysis closes the full trace with ``"\\n</think>"`` alone). Build requests with
    :func:`prover_request`, which lays them out as every caller asks μ.
    """

    problem: Problem
    prompt: str
    prefix: str
    forcing_text: str | None = None

    def context(self, default_forcing: str) -> str:
        """What μ continues: prompt, prefix and the forcing text (this request's, else
        ``default_forcing``)."""
        return self.prompt + self.prefix + self.forcing(default_forcing)

    def forcing(self, default_forcing: str) -> str:
        return default_forcing if self.forcing_text is None else self.forcing_text


class MetaProver(Protocol):
    """Estimates J(μ(·|c_j)) for every prefix c_j of a reasoning stream."""

    lm: LanguageModel

    def estimate_batch(self, requests: Sequence[ProverRequest]) -> list[ProverEstimate]: ...

    def estimate(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[ProverEstimate]: ...

    def success_probs(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[float]: ...


class _CachedProver(SharedResource):
    """The cache, the batching and the settings shared by both provers: a prover's
    :class:`ProverConfig` (``config=``, or its fields as keywords) resolved to its
    :attr:`kind`."""

    kind: str
    """The kind of μ the subclass computes (its config is resolved to it)."""

    def __init__(
        self,
        lm: LanguageModel,
        *,
        cache_size: int = 100_000,
        config: ProverConfig | None = None,
        **settings: Any,
    ):
        if cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {cache_size}")
        self.lm = lm
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple, ProverEstimate] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.config = _settings_of(self.kind, config, settings)

    def _settings(self) -> tuple:
        return (self.kind, *asdict(self.config).values())

    def _compute(self, requests: list[ProverRequest]) -> list[ProverEstimate]:
        raise NotImplementedError

    def _key(self, request: ProverRequest) -> tuple:
        # Hash the long strings: keys stay small however long the streams are.
        digest = hashlib.sha256("\0".join((request.prompt, request.prefix)).encode()).hexdigest()
        key = (request.problem.id, request.problem.answer, digest, request.forcing_text)
        return (*key, self._settings())

    def estimate(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[ProverEstimate]:
        """μ's estimate at each prefix (cached; only unseen prefixes reach the model), its
        context being prompt + prefix + forcing text as given (:func:`prover_request` lays a
        stream's prefixes out as the env and the trainers ask μ)."""
        if isinstance(prefixes, str):
            raise ArgumentTypeError(
                "prefixes must be a sequence of str (the stream's prefixes), got a str"
            )
        prompt = default_prompt(self.lm, problem) if prompt is None else prompt
        return self.estimate_batch([ProverRequest(problem, prompt, p) for p in prefixes])

    def estimate_batch(self, requests: Sequence[ProverRequest]) -> list[ProverEstimate]:
        """μ's estimate for many (problem, prompt, prefix) requests in one backend call.

        This is what a vector env uses: the prefixes of all its sub-envs, of different
        problems, go to the model together. Cached like :meth:`estimate`.
        """
        requests = list(requests)
        for r in requests:
            if not isinstance(r, ProverRequest):
                raise ArgumentTypeError(
                    f"requests must be ProverRequest objects, got {type(r).__name__}"
                )
        keys = [self._key(r) for r in requests]
        with self._lock:
            found = {k: self._cache[k] for k in keys if k in self._cache}
            for k in found:
                self._cache.move_to_end(k)
        missing: dict[tuple, int] = {}  # key -> first request that needs it
        for i, k in enumerate(keys):
            if k not in found and k not in missing:
                missing[k] = i
        if missing:
            fresh = self._compute([requests[i] for i in missing.values()])
            found.update(zip(missing, fresh, strict=True))
            with self._lock:
                for k in missing:
                    if not found[k].undecided:  # a later call may reach the verdicts
                        self._cache[k] = found[k]
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        with self._lock:
            self.hits += len(requests) - len(missing)
            self.misses += len(missing)
        return [found[k] for k in keys]

    def success_probs(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[float]:
        """J at each prefix, in [0, 1]."""
        return [e.success_prob for e in self.estimate(problem, prefixes, prompt=prompt)]

    def clear_cache(self) -> None:
        with self._lock:
            self._cache.clear()


DIRECT_ANSWER_TOKENS = 256
"""A forced answer's token budget when a prover is built directly (quick on small models);
the commands and the benchmark sets' envs give the authors' :data:`AUTHORS_ANSWER_TOKENS`."""


@dataclass(frozen=True)
class ProverConfig(Config):
    """Which meta-prover μ to build and how it asks: the one description of μ, used by the
    provers themselves, the envs (``prover_config``), every command's ``--prover.*`` flags
    and verl's ``+mrt.prover.*``.

    The sampling fields are the forced prover's, the last two the likelihood prover's (the
    other kind ignores them). Defaults are the authors' regret runs, except where None
    means "the caller's default" (see each field).

    >>> ProverConfig(kind="forced", k=4).forced_settings()["k"]
    4
    >>> ProverConfig(k=0)
    Traceback (most recent call last):
    ...
    mrt_env.errors.ConfigError: k must be >= 1, got 0
    """

    kind: Literal["forced", "likelihood"] | None = None
    """How J is estimated: forced (sample k answers after the forcing text and grade them,
    the paper's) or likelihood (the probability of the gold answer after forcing; one pass,
    deterministic). None: the caller's default (mrt-bench: the env's own, likelihood for
    the synthetic tasks and forced otherwise; mrt-regret and a direct build: forced)."""
    k: int = 8
    """forced: answers sampled per prefix (the paper's K)."""
    temperature: float = 0.6
    """forced: sampling temperature of the answers."""
    top_p: float = 0.95
    """forced: nucleus sampling of the answers."""
    max_answer_tokens: int | None = None
    r"""forced: tokens each answer may use (it must reach its \boxed{} within them). None:
    the caller's default (an env: its forced_answer_tokens, the authors' 4096 on the
    benchmark sets; mrt-regret: 4096; a direct build: 256)."""
    seed: int = 0
    """forced: seed of the answers (same seed and inputs, same J)."""
    forcing_text: str | None = None
    r"""Text appended after a prefix to end the thinking and ask for the answer (None: the
    env's in mrt-bench; else the kind's own: the authors' text for forced, the same ending
    in '\boxed{' for likelihood)."""
    grading_timeout: float = 5.0
    """forced: seconds the grader may spend on one answer."""
    score_answers: bool = False
    """forced: also score each sampled answer's mean log-probability per token given its
    context (one forward pass per answer; mrt-regret's likelihood-weighted [maj@p]_j)."""
    answer_template: str = "{answer}}}$"
    """likelihood: the scored continuation; {answer} is the gold answer (the default closes
    the box)."""
    normalize: Literal["sequence", "per_token"] = "sequence"
    """likelihood: sequence (J = p(answer string)) or per_token (J = the geometric mean
    token probability)."""

    def validate(self) -> None:
        if self.kind is not None and self.kind not in PROVER_KINDS:
            raise ConfigError(f"kind must be one of {', '.join(PROVER_KINDS)}, got {self.kind!r}")
        if self.forcing_text is not None and not self.forcing_text:
            raise ConfigError("forcing_text must not be empty (omit it for the default)")
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"k must be >= 1, got {self.k!r}")
        if self.max_answer_tokens is not None and self.max_answer_tokens < 1:
            raise ConfigError(f"max_answer_tokens must be >= 1, got {self.max_answer_tokens}")
        if self.normalize not in ("sequence", "per_token"):
            raise ConfigError(
                f"normalize must be 'sequence' or 'per_token', got {self.normalize!r}"
            )
        if "{answer}" not in self.answer_template:
            raise ConfigError(
                f"answer_template must contain {{answer}}, got {self.answer_template!r}"
            )
        _ = self.answers  # building the Sampling checks temperature, top_p and seed

    def resolved(self, kind: str | None = None) -> ProverConfig:
        """These settings with every None filled in: ``kind`` (else :attr:`kind`, else
        forced), the kind's own forcing text, :data:`DIRECT_ANSWER_TOKENS`."""
        kind = kind or self.kind or "forced"
        own = PAPER_FORCING_TEXT if kind == "forced" else LIKELIHOOD_FORCING_TEXT
        return replace(
            self,
            kind=kind,
            forcing_text=self.forcing_text or own,
            max_answer_tokens=self.max_answer_tokens or DIRECT_ANSWER_TOKENS,
        )

    @property
    def answers(self) -> Sampling:
        """How the k answers after a prefix are sampled."""
        return Sampling(
            max_tokens=self.max_answer_tokens or DIRECT_ANSWER_TOKENS,
            n=self.k,
            temperature=self.temperature,
            top_p=self.top_p,
            seed=self.seed,
        )

    def forced_settings(self) -> dict[str, Any]:
        """The forced prover's sampling settings that are set (no kind, no forcing text)."""
        settings = {
            "k": self.k,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_answer_tokens": self.max_answer_tokens,
            "seed": self.seed,
        }
        return {k: v for k, v in settings.items() if v is not None}

    def build(
        self, lm: LanguageModel, *, default_kind: str = "forced", score_answers: bool = False
    ) -> MetaProver:
        """μ on ``lm`` (of ``default_kind`` when :attr:`kind` is None); ``score_answers``: a
        forced prover also scores its answers."""
        config = replace(self, score_answers=self.score_answers or score_answers)
        return make_prover(lm, config=config.resolved(self.kind or default_kind))


def _settings_of(kind: str, config: ProverConfig | None, settings: dict[str, Any]) -> ProverConfig:
    """A prover's resolved config from ``config`` or keyword settings (not both)."""
    if config is not None and settings:
        raise ArgumentTypeError(
            f"give config= or settings, not both; got config and {sorted(settings)}"
        )
    if config is None:
        names = {f.name for f in fields(ProverConfig)} - {"kind"}
        unknown = sorted(set(settings) - names)
        if unknown:
            raise ArgumentTypeError(
                f"{kind} prover settings are {sorted(names)}; got {sorted(settings)}"
            )
        config = ProverConfig(**settings)
    return config.resolved(kind)


class ForcedAnswerProver(_CachedProver):
    """The paper's μ: force an answer after the prefix, sample k, grade, J = mean correct.

    Args:
        lm: any :class:`~mrt_env.lm.base.LanguageModel` (the same object may drive an agent).
        cache_size: estimates kept (least recently used are dropped).
        config: its :class:`ProverConfig` (its kind is set to forced), or
        **settings: that config's fields (k, temperature, top_p, forcing_text,
            max_answer_tokens, seed, grading_timeout, score_answers).

    All prefixes of a call are sent to the backend as one batch. Under a seed, a prefix's
    answers are a pure function of (seed, context), so J is reproducible and independent
    of the other prefixes in the batch.
    """

    kind = "forced"

    def _compute(self, requests: list[ProverRequest]) -> list[ProverEstimate]:
        cfg = self.config
        contexts = [r.context(cfg.forcing_text) for r in requests]
        outs = self.lm.generate(contexts, cfg.answers)
        # The forcing text may open the answer (the paper's ends in "1. **"): grade it
        # together with the completion, so an answer split across the two is found.
        pairs = [
            (answer_opening(r.forcing(cfg.forcing_text)) + c.text, r.problem.answer)
            for r, per in zip(requests, outs, strict=True)
            for c in per
        ]
        results = grade_many(pairs, timeout=cfg.grading_timeout)
        logprobs = self._mean_logprobs(contexts, outs) if cfg.score_answers else None
        estimates = []
        for j in range(len(requests)):
            graded = results[j * cfg.k : (j + 1) * cfg.k]
            correct = tuple(r.correct for r in graded)
            # An answer without a verdict is left out of J, not counted as wrong.
            decided = [r.correct for r in graded if not r.undecided]
            estimates.append(
                ProverEstimate(
                    sum(decided) / len(decided) if decided else 0.0,
                    tuple(r.extracted for r in graded),
                    correct,
                    undecided=cfg.k - len(decided),
                    answer_tokens=tuple(c.num_tokens for c in outs[j]),
                    answer_logprobs=() if logprobs is None else tuple(logprobs[j]),
                )
            )
        return estimates

    def _mean_logprobs(
        self, contexts: list[str], outs: list[list[Completion]]
    ) -> list[list[float]]:
        """Each answer's log-probability given its context, per token of the answer (an
        empty answer: 0.0). The authors average vLLM's sampling logprobs over the generated
        tokens, end-of-sequence included; this scores the answer's text in one pass."""
        texts = [c.text for per in outs for c in per]
        prompts = [ctx for ctx, per in zip(contexts, outs, strict=True) for _ in per]
        scored = [i for i, text in enumerate(texts) if text]
        totals = (
            self.lm.score([prompts[i] for i in scored], [texts[i] for i in scored])
            if scored
            else []
        )
        means = [0.0] * len(texts)
        for i, total in zip(scored, totals, strict=True):
            total = check_logprob(total, where=f"{self.lm.name} score of answer {i}")
            means[i] = total / max(1, self.lm.count_tokens(texts[i]))
        k = self.config.k
        return [means[j * k : (j + 1) * k] for j in range(len(outs))]


class LikelihoodProver(_CachedProver):
    """A deterministic proxy for μ: the probability of the gold answer after forcing.

    J = p(answer_template(gold) | prompt + prefix + forcing_text), from one scoring call.
    With ``normalize="sequence"`` (default) this is the probability of emitting exactly that
    answer string, a lower bound on the forced pass@1 of a model that answers in that
    format. ``per_token`` takes the geometric mean per token instead, which does not shrink
    with the answer's length but is no longer a probability of success.

    A poor proxy when: the gold answer has many equivalent forms (``1/2`` vs ``0.5``; only
    the template's spelling is counted); the model answers in another format than the
    template; or the answer is long (sequence probabilities become tiny). Use
    :class:`ForcedAnswerProver` for the paper's numbers.

    On :class:`~mrt_env.lm.transformers_lm.TransformersLM` all prefixes of a stream are
    scored in one pass over the stream (``score_at_cuts``): the cost of reading the
    stream once, not once per prefix.

    A score that is no log-probability (NaN, infinite, or above 0 by more than
    :data:`~mrt_env.lm.base.LOGPROB_TOLERANCE`, which is rounding and counts as 0) is a
    :class:`~mrt_env.errors.BackendError`: a broken model estimates nothing, and never
    J = 1.
    """

    kind = "likelihood"

    def _compute(self, requests: list[ProverRequest]) -> list[ProverEstimate]:
        cfg = self.config
        # Requests on one stream (same problem and prompt) are scored together, so that
        # prefixes of one stream take the one-pass fast path.
        streams: dict[tuple[str, str, str, str], list[int]] = {}
        for i, r in enumerate(requests):
            key = (r.problem.id, r.problem.answer, r.prompt, r.forcing(cfg.forcing_text))
            streams.setdefault(key, []).append(i)
        logps = [0.0] * len(requests)
        for (*_, forcing), rows in streams.items():
            first = requests[rows[0]]
            answer = cfg.answer_template.format(answer=first.problem.answer)
            values = self._logprobs(
                first.prompt, [requests[i].prefix for i in rows], forcing, answer
            )
            # exp() of a NaN, an infinity or a positive value would read as J = 1 (or
            # overflow): the model's value must be a log-probability, or nothing is estimated.
            where = f"{self.lm.name} score of the gold answer {answer!r}"
            values = [check_logprob(v, where=where) for v in values]
            if cfg.normalize == "per_token":
                n = max(1, self.lm.count_tokens(answer))
                values = [v / n for v in values]
            for i, v in zip(rows, values, strict=True):
                logps[i] = v
        return [ProverEstimate(math.exp(lp)) for lp in logps]  # lp <= 0: J in [0, 1]

    def _logprobs(self, prompt: str, prefixes: list[str], forcing: str, answer: str) -> list[float]:
        fast = getattr(self.lm, "score_at_cuts", None)
        longest = max(prefixes, key=len)
        if fast is not None and all(longest.startswith(p) for p in prefixes):
            # Prefixes of one stream: read it once.
            stream = prompt + longest
            return fast(stream, [len(prompt) + len(p) for p in prefixes], forcing, answer)
        contexts = [prompt + p + forcing for p in prefixes]
        return self.lm.score(contexts, [answer] * len(contexts))


PROVER_KINDS: tuple[str, ...] = ("forced", "likelihood")


def make_prover(
    lm: LanguageModel,
    kind: str | None = None,
    *,
    config: ProverConfig | None = None,
    **settings: Any,
) -> MetaProver:
    """μ on ``lm``: ``forced`` (the paper's) or ``likelihood``, of ``kind`` (else
    ``config.kind``, else forced).

    Give either ``config`` (a :class:`ProverConfig`) or its fields as keyword settings
    (``cache_size`` too); ``forcing_text=None`` means the kind's default.
    """
    kind = kind or (config.kind if config is not None else None) or "forced"
    if kind not in PROVER_KINDS:
        raise ConfigError(f"prover kind must be one of {PROVER_KINDS}, got {kind!r}")
    if settings.get("forcing_text", "") is None:
        del settings["forcing_text"]
    cls = ForcedAnswerProver if kind == "forced" else LikelihoodProver
    return cls(lm, config=config, **settings)


class OracleProver(SharedResource):
    """μ from a known function of (problem, blocks): the ideal meta-prover of a task whose
    success chance can be computed (e.g. :meth:`SearchTask.oracle_success`).

    It separates a method from its estimator: the same run with the model's μ and with
    this one shows how much of a result is the estimator's noise. Blocks are the prefix's
    lines (the synthetic tasks' blocks). ``lm`` is the model the env asks for the answer
    forced at truncation (the oracle itself writes no text).
    """

    def __init__(self, success: Any, *, lm: LanguageModel | None = None):
        if not callable(success):
            raise ArgumentTypeError(
                f"success must be a function (problem, blocks) -> float, got {success!r}"
            )
        self.success = success
        self.lm = lm

    def estimate_batch(self, requests: Sequence[ProverRequest]) -> list[ProverEstimate]:
        out = []
        for r in requests:
            j = self.success(r.problem, r.prefix.splitlines(keepends=True))
            try:
                out.append(ProverEstimate(j))
            except ConfigError as exc:  # say whose value it was
                raise ConfigError(
                    f"the oracle's success function, on problem {r.problem.id!r}: {exc}"
                ) from None
        return out

    def estimate(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[ProverEstimate]:
        return self.estimate_batch([ProverRequest(problem, prompt or "", p) for p in prefixes])

    def success_probs(
        self, problem: Problem, prefixes: Sequence[str], *, prompt: str | None = None
    ) -> list[float]:
        return [e.success_prob for e in self.estimate(problem, prefixes, prompt=prompt)]

    def clear_cache(self) -> None:
        """Nothing is cached: the oracle is exact and cheap."""
