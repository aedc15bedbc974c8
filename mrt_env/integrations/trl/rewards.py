"""TRL's reward side: our rewards, problems and meta-prover inside TRL's ``GRPOTrainer``.

TRL's multi-GPU GRPO trainer (vLLM rollouts, DeepSpeed/FSDP, accelerate) takes reward
*functions*; this module supplies them, plus the dataset they read and a backend that lets the
meta-prover μ run on the trainer's own vLLM server::

    from trl import GRPOConfig, GRPOTrainer
    from mrt_env.integrations.trl import make_progress_reward, outcome_reward, problems_dataset

    dataset = problems_dataset(load_problems("aime_1983_2023", path=...), conversational=True)
    progress = make_progress_reward(prover, alpha=1.0, include_outcome=False)
    trainer = GRPOTrainer(model, reward_funcs=[outcome_reward, progress], train_dataset=dataset,
                          args=GRPOConfig(...))

* :func:`outcome_reward`: 1.0 / 0.0 from :func:`mrt_env.grading.grade` against the ``answer``
  column.
* :func:`make_progress_reward`: outcome + α·Σ_j progress_j, with J from any
  :class:`~mrt_env.prover.MetaProver` (see its docstring for what this can and cannot do
  under GRPO: the sum telescopes).
* :func:`problems_dataset`: ``list[Problem]`` -> a ``datasets.Dataset`` with ``prompt``,
  ``answer``, ``problem_id`` and ``question`` columns.
* :class:`~mrt_env.integrations.trl.trainer.MRTGRPOTrainer` (``from mrt_env.integrations.trl
  import MRTGRPOTrainer`` imports trl only then): MRT proper, per-token credit inside
  ``GRPOTrainer``; :class:`EpisodeScorer`, the J scoring it shares with the progress reward.
* :class:`TRLServerLM`: a :class:`~mrt_env.lm.base.LanguageModel` over TRL's ``VLLMClient``
  (the ``trl vllm-serve`` server the trainer syncs its weights to, so μ is the current policy).

Reward functions follow TRL's calling convention (``GRPOTrainer._calculate_rewards``):
``fn(prompts=..., completions=..., completion_ids=..., **columns)`` where every dataset column
arrives as a list (one entry per completion) together with ``trainer_state``, ``log_extra`` and
``log_metric``; a returned ``None`` is "not scored" (TRL turns it into NaN, and a completion
no function scores gets advantage 0). TRL logs ``rewards/<__name__>/mean``.

Importing this module imports neither trl nor datasets nor torch; ``datasets`` is imported by
:func:`problems_dataset`, and a missing one names the ``trl`` extra.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mrt_env.config import Config
from mrt_env.episodes import EpisodeConfig, episode_boundaries, prefix_ends
from mrt_env.errors import ArgumentTypeError, ConfigError, DataFormatError
from mrt_env.extras import require
from mrt_env.grading import DEFAULT_TIMEOUT, grade_many
from mrt_env.lm.trl_server import TRLServerLM
from mrt_env.prompts import PLAIN_TEMPLATE
from mrt_env.prover import FinishedText, MetaProver, score_finished
from mrt_env.registration import ENV_IDS
from mrt_env.types import Problem

__all__ = [
    "DEEPSCALER_TEMPLATE",
    "PLAIN_TEMPLATE",
    "EpisodeScorer",
    "ProgressReward",
    "ProgressRewardConfig",
    "TRLServerLM",
    "completion_text",
    "make_progress_reward",
    "outcome_reward",
    "problems_dataset",
]

logger = logging.getLogger(__name__)

DEEPSCALER_TEMPLATE = (
    "{question} Let's think step by step and output the final answer within \\boxed{}."
)
"""The user message DeepScaleR-1.5B-Preview was RL-trained with (use with conversational=True)."""

_ANSWER = "answer"
_PROBLEM_ID = "problem_id"
_QUESTION = "question"
_TRL_KWARGS = ("trainer_state", "log_extra", "log_metric", "environments")
"""What TRL passes to a reward function besides the dataset's columns."""


# ---------------------------------------------------------------------------------------
# What TRL hands a reward function.


def completion_text(completion: Any) -> str | None:
    """The text of one TRL completion; None when it is neither form TRL produces.

    A plain-text completion is a ``str``. A conversational one is a list of messages
    ``[{"role": "assistant", "content": ...}]``: the contents of its assistant messages are
    joined (string contents, or the ``text`` parts of a list content).
    """
    if isinstance(completion, str):
        return completion
    if not isinstance(completion, Sequence) or not all(isinstance(m, Mapping) for m in completion):
        return None
    parts: list[str] = []
    for message in completion:
        if message.get("role", "assistant") != "assistant":
            continue  # tool results and the like are not the model's stream
        content = message.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts.extend(
                p["text"]
                for p in content
                if isinstance(p, Mapping)
                and p.get("type") == "text"
                and isinstance(p.get("text"), str)
            )
    return "".join(parts)


def _prompt_text(prompt: Any, lm: Any) -> str:
    """The text a completion continues: a plain prompt as is; messages through ``lm``'s chat
    template (as TRL renders them: generation prompt added); without one, the contents joined."""
    if isinstance(prompt, str):
        return prompt
    if lm is not None:
        chat = lm.chat_prompt(list(prompt))
        if chat is not None:
            return chat
    return "\n\n".join(str(m.get("content", "")) for m in prompt if isinstance(m, Mapping))


def _question_of(prompt: Any) -> str:
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content") for m in prompt if isinstance(m, Mapping) and m.get("role") == "user"]
    return str(users[-1]) if users else str(prompt)


def _gold(value: Any) -> str | None:
    """A usable gold answer, or None (missing, blank, or not a str/int)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def _column(kwargs: Mapping[str, Any], name: str, n: int, *, required: bool) -> list[Any] | None:
    if name not in kwargs:
        if required:
            given = sorted(k for k in kwargs if k not in _TRL_KWARGS)
            raise DataFormatError(
                f"the reward needs a {name!r} dataset column (TRL passes every column as a "
                f"keyword); the dataset has {given}. Build it with "
                "mrt_env.integrations.trl.problems_dataset(problems)"
            )
        return None
    values = list(kwargs[name])
    if len(values) != n:
        raise DataFormatError(f"column {name!r} has {len(values)} entries for {n} completions")
    return values


def _golds(kwargs: Mapping[str, Any], n: int, who: str | None) -> list[str | None]:
    """The usable gold answers; rows without one are counted in a warning from ``who``
    (None: the caller has warned already)."""
    golds = [_gold(v) for v in _column(kwargs, _ANSWER, n, required=True) or []]
    bad = sum(g is None for g in golds)
    if bad and who is not None:
        logger.warning(
            "%s: %d of %d rows have no usable gold answer (missing, blank or not a str); "
            "they are not scored (None: TRL leaves them out of the advantages)",
            who,
            bad,
            n,
        )
    return golds


def _texts(completions: Sequence[Any], who: str) -> list[str]:
    texts = [completion_text(c) for c in completions]
    bad = sum(t is None for t in texts)
    if bad:
        logger.warning(
            "%s: %d of %d completions are neither a str nor a list of messages; scored as "
            "empty (no answer, no progress)",
            who,
            bad,
            len(texts),
        )
    return [t if t is not None else "" for t in texts]


def _outcomes(
    texts: list[str], golds: list[str | None], timeout: float, who: str
) -> list[float | None]:
    """1.0 / 0.0 per row from the grader (bounded by ``timeout``); None where there is no
    gold or the grader reached no verdict (logged with a count)."""
    rows = [i for i, g in enumerate(golds) if g is not None]
    verdicts = grade_many([(texts[i], golds[i]) for i in rows], timeout=timeout)
    out: list[float | None] = [None] * len(texts)
    for i, verdict in zip(rows, verdicts, strict=True):
        if not verdict.undecided:
            out[i] = 1.0 if verdict.correct else 0.0
    undecided = sum(v.undecided for v in verdicts)
    if undecided:
        logger.warning(
            "%s: the grader reached no verdict on %d of %d completions (%s); they are not "
            "scored (None), rather than scored as wrong",
            who,
            undecided,
            len(texts),
            next(v.reason for v in verdicts if v.undecided),
        )
    return out


def _check_lengths(prompts: Sequence[Any], completions: Sequence[Any]) -> None:
    if len(prompts) != len(completions):
        raise ConfigError(
            f"got {len(prompts)} prompts and {len(completions)} completions; TRL passes one "
            "prompt per completion"
        )


# ---------------------------------------------------------------------------------------
# The outcome reward.


def outcome_reward(
    prompts: Sequence[Any],
    completions: Sequence[Any],
    completion_ids: Sequence[Sequence[int]] | None = None,
    **kwargs: Any,
) -> list[float | None]:
    """TRL reward: 1.0 if the completion's answer grades correct against ``answer``, else 0.0.

    Grading is :func:`mrt_env.grading.grade` (the boxed / committed answer, sympy
    equivalence in a worker process under a :data:`~mrt_env.grading.DEFAULT_TIMEOUT` deadline);
    it is thread-safe and never raises on any completion. A completion with no answer, or that
    is not text, scores 0.0. A completion the grader reached no verdict on (a deadline passed;
    :attr:`~mrt_env.types.GradeResult.undecided`) gets ``None``, like a row without a gold
    answer below, and a logged count: it is left out, not scored as wrong.

    A row whose gold ``answer`` is missing, blank or not a str/int is **not scored**: it gets
    ``None`` (with one logged warning per call), which TRL reads as NaN and leaves out of the
    advantages, rather than 0.0, which would teach the policy that every completion of that
    problem is wrong. Only a call that breaks TRL's contract raises ``ValueError``: no
    ``answer`` column at all, or lists of different lengths (a setup error that would
    otherwise zero every reward of the run silently).
    """
    _check_lengths(prompts, completions)
    golds = _golds(kwargs, len(completions), "outcome_reward")
    return _outcomes(
        _texts(completions, "outcome_reward"), golds, DEFAULT_TIMEOUT, "outcome_reward"
    )


# ---------------------------------------------------------------------------------------
# The progress reward.


@dataclass(frozen=True)
class ProgressRewardConfig(Config):
    """Settings of :class:`ProgressReward` (see :func:`make_progress_reward`)."""

    alpha: float = 1.0
    """Weight α of the summed progress."""
    include_outcome: bool = True
    """Add the 0/1 outcome (the reward is the MRT objective on its own); False to pair it
    with :func:`outcome_reward` in ``reward_funcs`` so TRL logs the two parts separately."""
    rule: EpisodeConfig = field(default_factory=EpisodeConfig)
    """How a completion is cut into episodes (:func:`mrt_env.episodes.prefixes`)."""
    every_prefix: bool = True
    """Score J at every episode boundary (for the logged per-episode numbers); False scores
    only the empty prefix and the whole stream, which gives the same reward (it telescopes)."""
    grading_timeout: float = DEFAULT_TIMEOUT
    """Seconds one symbolic answer comparison may take."""
    name: str = "progress_reward"
    """``__name__`` of the reward function: TRL logs ``rewards/<name>/mean``."""

    def validate(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, int | float):
            raise ArgumentTypeError(f"alpha must be a number, got {type(self.alpha).__name__}")
        if not math.isfinite(self.alpha):
            raise ConfigError(f"alpha must be finite, got {self.alpha}")
        for flag in ("include_outcome", "every_prefix"):
            if not isinstance(getattr(self, flag), bool):
                raise ArgumentTypeError(f"{flag} must be a bool, got {getattr(self, flag)!r}")
        if not isinstance(self.rule, EpisodeConfig):
            raise ArgumentTypeError(f"rule must be an EpisodeConfig, got {self.rule!r:.80}")
        if not (isinstance(self.grading_timeout, int | float) and self.grading_timeout > 0):
            raise ConfigError(f"grading_timeout must be > 0 seconds, got {self.grading_timeout!r}")
        if not isinstance(self.name, str) or not self.name.strip():
            raise ConfigError(f"name must be a non-empty str, got {self.name!r}")


class EpisodeScorer:
    """μ's J at the episode boundaries of TRL completions, for a whole batch in **one**
    ``prover.estimate_batch`` call (used by :class:`ProgressReward` and by
    :class:`~mrt_env.integrations.trl.trainer.MRTGRPOTrainer`).

    Args:
        prover: any :class:`~mrt_env.prover.MetaProver`; None to find the episodes only
            (J lists stay empty).
        rule: how a completion is cut into episodes (:func:`mrt_env.episodes.prefixes`).
        tokenizer: for ``rule="tokens"``.
        problems: :class:`~mrt_env.types.Problem` objects by id (or a list of them), looked
            up by the ``problem_id`` column; without it a problem is built from the
            ``problem_id`` / ``question`` / ``answer`` columns.
    """

    def __init__(
        self,
        prover: MetaProver | None,
        *,
        rule: EpisodeConfig,
        tokenizer: Any = None,
        problems: Mapping[str, Problem] | Iterable[Problem] | None = None,
    ):
        if prover is not None and not callable(getattr(prover, "estimate_batch", None)):
            raise ArgumentTypeError(
                "prover must be a MetaProver (make_prover(lm, kind) or OracleProver), got "
                f"{type(prover).__name__}"
            )
        if not isinstance(rule, EpisodeConfig):
            raise ArgumentTypeError(f"rule must be an EpisodeConfig, got {rule!r:.80}")
        # Fails now, not at the first batch, if the rule needs a tokenizer and has none.
        episode_boundaries("", rule=rule, tokenizer=tokenizer)
        self.prover = prover
        self.rule = rule
        self.tokenizer = tokenizer
        self.problems = _problem_lookup(problems)

    def _problem(
        self, i: int, prompt: Any, gold: str, ids: list | None, qs: list | None
    ) -> Problem:
        pid = ids[i] if ids is not None else None
        if self.problems is not None:
            if pid is None:
                raise DataFormatError(
                    "problems= was given, so the dataset needs a 'problem_id' column"
                )
            if str(pid) not in self.problems:
                raise DataFormatError(
                    f"problem_id {pid!r} is not among the {len(self.problems)} problems"
                )
            return self.problems[str(pid)]
        question = qs[i] if qs is not None and isinstance(qs[i], str) and qs[i].strip() else None
        question = question or _question_of(prompt) or "?"
        if pid is None:  # a stable id from the prompt: the prover's cache keys on it
            pid = "prompt-" + hashlib.sha256(str(prompt).encode()).hexdigest()[:16]
        return Problem(str(pid), question, gold)

    def score(
        self,
        prompts: Sequence[Any],
        texts: Sequence[str],
        columns: Mapping[str, Any],
        *,
        every_prefix: bool = True,
        who: str | None = None,
    ) -> list[tuple[list[int], list[float]] | None]:
        """Per completion: (the character offsets where its episodes start, J_0 … J_k).

        ``columns`` are the dataset's columns as TRL passes them to a reward function (one
        list entry per completion): ``answer`` is required, ``problem_id`` and ``question``
        are used when present. ``None`` for a row with no usable gold answer (not scored,
        counted in a warning from ``who`` if given);
        ``([], [])`` for an empty completion (no episodes). With ``every_prefix=False`` only
        the empty prefix and the whole stream are scored: J is ``[J_0, J_end]``.

        J is :func:`~mrt_env.prover.score_finished`'s: μ asked in the env's layout (the
        whole completion too, as the env asks about a block), an estimate with no verdict
        carried as the env carries it.
        """
        n = len(texts)
        golds = _golds(columns, n, who)
        ids = _column(columns, _PROBLEM_ID, n, required=False)
        questions = _column(columns, _QUESTION, n, required=False)
        lm = getattr(self.prover, "lm", None)
        rows: list[tuple[int, list[int]]] = []  # row, the episodes' starts
        finished: list[FinishedText] = []
        for i, (prompt, text, gold) in enumerate(zip(prompts, texts, golds, strict=True)):
            if gold is None or not text:
                continue
            starts = episode_boundaries(text, rule=self.rule, tokenizer=self.tokenizer)
            rows.append((i, starts))
            if self.prover is not None:
                ends = prefix_ends(text, starts) if every_prefix else [0, len(text)]
                problem = self._problem(i, prompt, gold, ids, questions)
                finished.append(FinishedText(problem, _prompt_text(prompt, lm), text, ends))
        # One prover call for the whole batch.
        scored = score_finished(self.prover, finished) if self.prover is not None else []
        out: list[tuple[list[int], list[float]] | None] = [
            None if gold is None else ([], []) for gold in golds
        ]
        js = iter(scored)
        for i, starts in rows:
            out[i] = (starts, [] if self.prover is None else [e.success_prob for e in next(js)])
        return out


class ProgressReward:
    """TRL reward: outcome + $α·Σ_j (J_j − J_{j-1})$ over the completion's blocks.

    Build it with :func:`make_progress_reward`, which documents the behaviour. Holds no
    state between calls apart from the prover (whose cache is thread-safe).
    """

    def __init__(
        self,
        prover: MetaProver,
        config: ProgressRewardConfig,
        *,
        tokenizer: Any = None,
        problems: Mapping[str, Problem] | Iterable[Problem] | None = None,
    ):
        if not isinstance(config, ProgressRewardConfig):
            raise ArgumentTypeError(
                f"config must be a ProgressRewardConfig, got {type(config).__name__}"
            )
        if prover is None:
            raise ArgumentTypeError("prover must be a MetaProver, got None")
        self.scorer = EpisodeScorer(
            prover, rule=config.rule, tokenizer=tokenizer, problems=problems
        )
        self.prover = prover
        self.config = config
        self.__name__ = config.name

    def __repr__(self) -> str:
        return f"ProgressReward({type(self.prover).__name__}, {self.config})"

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        completion_ids: Sequence[Sequence[int]] | None = None,
        **kwargs: Any,
    ) -> list[float | None]:
        cfg = self.config
        n = len(completions)
        _check_lengths(prompts, completions)
        golds = _golds(kwargs, n, cfg.name)
        texts = _texts(completions, cfg.name)
        if cfg.include_outcome:
            outcomes = _outcomes(texts, golds, cfg.grading_timeout, cfg.name)
        else:
            outcomes = [0.0 if g is not None else None for g in golds]
        scored = self.scorer.score(prompts, texts, kwargs, every_prefix=cfg.every_prefix)

        rewards: list[float | None] = []
        episodes, first, last = [], [], []
        for outcome, row in zip(outcomes, scored, strict=True):
            if outcome is None:
                rewards.append(None)
                continue
            js = row[1] if row is not None else []
            if not js:  # empty stream: J_end = J_0
                rewards.append(outcome)
                continue
            # outcome + α·Σ_j (J_{j+1} − J_j) = outcome + α·(J_k − J_0): the sum telescopes.
            rewards.append(outcome + cfg.alpha * (js[-1] - js[0]))
            episodes.append(len(js) - 1)
            first.append(js[0])
            last.append(js[-1])
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and episodes:
            log_metric(f"{cfg.name}/J_first", sum(first) / len(first))
            log_metric(f"{cfg.name}/J_last", sum(last) / len(last))
            if cfg.every_prefix:
                log_metric(f"{cfg.name}/episodes", sum(episodes) / len(episodes))
        return rewards


def _problem_lookup(
    problems: Mapping[str, Problem] | Iterable[Problem] | None,
) -> dict[str, Problem] | None:
    if problems is None:
        return None
    items = list(problems.values()) if isinstance(problems, Mapping) else list(problems)
    for p in items:
        if not isinstance(p, Problem):
            raise ArgumentTypeError(f"problems must be Problem objects, got {type(p).__name__}")
    return {p.id: p for p in items}


def make_progress_reward(
    prover: MetaProver,
    *,
    alpha: float = 1.0,
    include_outcome: bool = True,
    rule: EpisodeConfig | str = "markers",
    tokenizer: Any = None,
    every_prefix: bool = True,
    problems: Mapping[str, Problem] | Iterable[Problem] | None = None,
    grading_timeout: float = DEFAULT_TIMEOUT,
    name: str = "progress_reward",
) -> ProgressReward:
    """A TRL reward function: outcome + α·Σ_j progress_j of each completion.

    Each completion is split into blocks $z_1 … z_k$ by :func:`mrt_env.episodes.prefixes`
    (``rule``, an :class:`~mrt_env.episodes.EpisodeConfig` or a rule's name, and ``tokenizer``
    as there); $J_j = J(μ(·|c_j))$ is estimated by ``prover`` at every prefix
    $c_0$ = "" … $c_k$ = the completion, for all completions of the call in **one**
    ``prover.estimate_batch`` call; the reward is outcome + $α·Σ_{j=1}^{k} (J_j − J_{j-1})$
    (``α·Σ_j ...`` alone with ``include_outcome=False``).

    **What this can and cannot train.** The sum telescopes: $Σ_j (J_j − J_{j-1}) = J_k − J_0$,
    so the reward is ``outcome + α·(J_end − J_0)`` whatever the segmentation. J_0 (the forced
    answer before any reasoning) is the same for every completion of a prompt, so GRPO's group
    normalisation cancels it: under GRPO this is the outcome *reshaped* by how likely μ is to
    answer right at the end of the stream, one scalar per completion, credited to all of its
    tokens alike (the docs' Training page says more). MRT proper gives each
    *block* its own progress as credit, with a per-block baseline; that needs per-token
    advantages, which TRL's reward-function interface cannot express: use
    ``mrt-train --algorithm mrt``. With ``every_prefix=False`` only J_0 and J_end are scored:
    the same reward, at a fraction of the prover's cost.

    Args:
        prover: any :class:`~mrt_env.prover.MetaProver`: ``make_prover(lm, "forced" |
            "likelihood", ...)`` on any :class:`~mrt_env.lm.base.LanguageModel` (including
            :class:`TRLServerLM`, the trainer's vLLM server), or an ``OracleProver``.
        problems: the :class:`~mrt_env.types.Problem` objects by id (or a list of them),
            looked up by the ``problem_id`` column; needed when the prover uses a problem's
            metadata (``OracleProver``). Without it a problem is built from the
            ``problem_id`` / ``question`` / ``answer`` columns.
        name: the function's ``__name__``, which TRL logs rewards under.

    Returns a callable with TRL's reward signature. Rows with no usable gold answer give
    ``None`` (as :func:`outcome_reward`); an empty or non-text completion has no episodes and
    no progress (reward = outcome). Errors of the prover's backend propagate. Besides the
    reward, it logs (``log_metric``) the mean J of the first and last prefix and the mean
    number of episodes.
    """
    config = ProgressRewardConfig(
        alpha=alpha,
        include_outcome=include_outcome,
        rule=EpisodeConfig(rule) if isinstance(rule, str) else rule,  # type: ignore[arg-type]
        every_prefix=every_prefix,
        grading_timeout=grading_timeout,
        name=name,
    )
    return ProgressReward(prover, config, tokenizer=tokenizer, problems=problems)


# ---------------------------------------------------------------------------------------
# Problems as a TRL dataset.


def _env_template(source: str) -> str | None:
    """The prompt template of the registered env whose problems are ``source`` (synthetic)."""
    for settings in ENV_IDS.values():
        if settings.get("problems") == source and settings.get("prompt_template"):
            return settings["prompt_template"]
    return None


def problems_dataset(
    problems: Sequence[Problem],
    *,
    prompt_template: str | None = None,
    conversational: bool = False,
    system_prompt: str | None = None,
) -> Any:
    r"""Problems as a ``datasets.Dataset`` in the format ``GRPOTrainer`` expects.

    Columns: ``prompt`` (the text the policy continues, or with ``conversational=True`` a
    ``[{"role": "user", "content": ...}]`` list TRL renders with the chat template),
    ``answer`` (the gold answer, read by the rewards), ``problem_id`` and ``question``.

    Args:
        problems: e.g. ``load_problems("aime_1983_2023", path=...)`` or a synthetic task's.
        prompt_template: text with ``{question}`` (replaced literally, so ``\boxed{}`` needs
            no escaping). Default: for a synthetic task's problems the template of its env in
            :data:`~mrt_env.registration.ENV_IDS` (the format the shipped tiny model knows),
            else :data:`PLAIN_TEMPLATE` (plain) or ``"{question}"`` (conversational).
        conversational: chat-style prompts instead of plain text.
        system_prompt: conversational only: a system message put first.
    """
    datasets = require("datasets", extra="trl", feature="problems_dataset")
    if isinstance(problems, Problem) or not isinstance(problems, Sequence):
        raise ArgumentTypeError(
            f"problems must be a list of Problem, got {type(problems).__name__}"
        )
    if not problems:
        raise ConfigError("problems is empty; a training dataset needs at least one problem")
    for i, p in enumerate(problems):
        if not isinstance(p, Problem):
            raise ArgumentTypeError(f"problems[{i}] must be a Problem, got {type(p).__name__}")
    if prompt_template is not None and "{question}" not in prompt_template:
        raise ConfigError(f"prompt_template must contain {{question}}, got {prompt_template!r}")
    if system_prompt is not None and not conversational:
        raise ConfigError("system_prompt needs conversational=True (plain prompts have no roles)")
    rows: dict[str, list[Any]] = {"prompt": [], _ANSWER: [], _PROBLEM_ID: [], _QUESTION: []}
    for p in problems:
        template = prompt_template or _env_template(p.source)
        if template is None:
            template = "{question}" if conversational else PLAIN_TEMPLATE
        text = template.replace("{question}", p.question)
        if conversational:
            messages = [{"role": "system", "content": system_prompt}] if system_prompt else []
            rows["prompt"].append([*messages, {"role": "user", "content": text}])
        else:
            rows["prompt"].append(text)
        rows[_ANSWER].append(p.answer)
        rows[_PROBLEM_ID].append(p.id)
        rows[_QUESTION].append(p.question)
    return datasets.Dataset.from_dict(rows)
