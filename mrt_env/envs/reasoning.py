"""ReasoningEnv: a reasoning problem as a multi-episode environment with progress rewards.

Each ``step`` is one *episode* z_j of a reasoning stream in the sense of MRT (Qu et al.,
ICML 2025), written by the agent; the reward is the block's *progress*, the gain in the
meta-prover's chance J(μ(·|c)) of answering correctly if forced to stop, plus the 0/1
outcome when the stream ends.
"""

from __future__ import annotations

import numbers
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from mrt_env import info as keys
from mrt_env.envs.stream import Stepper, Stream, StreamConfig
from mrt_env.errors import ArgumentTypeError, ConfigError, ResetNeeded
from mrt_env.lm.base import LanguageModel
from mrt_env.prompts import problem_prompt
from mrt_env.prover import PAPER_FORCING_TEXT, MetaProver, ProverConfig
from mrt_env.spaces import UnicodeText
from mrt_env.types import Problem

__all__ = ["ReasoningEnv", "ReasoningEnvConfig", "reset_options"]

# The config fields whose type StreamConfig does not check (it checks the budgets and the
# weights): field -> (accepted types, what the message says was expected). Checked when
# the config is made, so that gym.make(id, limit="2") fails there, saying what it wanted,
# and not later in whatever first uses the value.
_FIELD_TYPES: dict[str, tuple[tuple[type, ...], str]] = {
    "data_path": ((str, os.PathLike, type(None)), "a path or None"),
    "split": ((str, type(None)), "a str or None"),
    "limit": ((numbers.Integral, type(None)), "an int or None"),
    "prover_config": ((ProverConfig,), "a ProverConfig or a dict of its fields"),
    "backend": ((str,), "a str"),
    "backend_kwargs": ((Mapping,), "a dict"),
    "force_answer": ((bool,), "a bool"),
    "forcing_text": ((str, type(None)), "a str or None"),
    "think_close": ((str,), "a str"),
    "prompt_template": ((str, type(None)), "a str or None"),
}

RENAMED: dict[str, str] = {"prover_kind": "prover_config", "prover_kwargs": "prover_config"}
"""Settings an earlier version took, and the one that replaced them."""


@dataclass(frozen=True, kw_only=True)
class ReasoningEnvConfig(StreamConfig):
    """Everything a :class:`ReasoningEnv` is made of. Fields can be given to ``gym.make``.

    The stream's rules are :class:`~mrt_env.envs.stream.StreamConfig`'s fields, inherited
    (``max_tokens``, ``max_blocks``, ``max_block_chars``, ``alpha``, ``outcome_weight``,
    ``force_answer``, ``forced_answer_tokens``, ``think_close``), with two differences:
    ``forcing_text`` may be None (the prover's own, else the paper's), and
    ``forced_answer_tokens`` is also the answer budget of a forced prover the env builds
    from a model (unless ``prover_config`` sets ``max_answer_tokens``). The real problem
    sets use the authors' 4096; the synthetic tasks a handful.
    """

    problems: str | Sequence[Problem] = "aime"
    """A problem set name for :func:`mrt_env.data.load_problems` (``aime``, ``aime24``,
    ``math500`` ...) or the problems themselves."""
    data_path: str | None = None
    """Where the set's file lives (a file or folder); default: ``MRT_ENV_DATA_DIR``, the Hub."""
    split: str | None = None
    """The Hub split, when not the set's usual one."""
    limit: int | None = None
    """Use only the first ``limit`` problems."""
    prover: Any = None
    """The meta-prover μ: a :class:`~mrt_env.prover.MetaProver`, a
    :class:`~mrt_env.lm.LanguageModel` (wrapped in a prover ``prover_config`` describes), a
    model name or path (loaded with ``backend``), or None for an outcome-only env
    (progress 0)."""
    prover_config: ProverConfig = field(default_factory=lambda: ProverConfig(kind="forced"))
    """How a prover is built from a model (a :class:`~mrt_env.prover.ProverConfig`, or a
    dict of its fields): its kind (``forced``, the paper's, or ``likelihood``), ``k``,
    ``temperature``, ``forcing_text`` ..."""
    backend: str = "transformers"
    """How a model name is loaded: ``transformers``, ``vllm`` or ``openai``."""
    backend_kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Arguments of :func:`mrt_env.lm.load_lm` (``device``, ``dtype``, ``base_url`` ...)."""
    forcing_text: str | None = None
    """Text that ends the thinking and asks for the answer (default: the prover's own, else
    the paper's)."""
    prompt_template: str | None = None
    """The prompt, with ``{question}``; default: the prover model's chat template, else a
    plain ``Problem: ... Solution:`` template."""

    def __post_init__(self) -> None:
        if isinstance(self.prover_config, Mapping):  # gym.make's kwargs are plain values
            settings = ProverConfig.from_dict(self.prover_config, where="prover_config.")
            object.__setattr__(self, "prover_config", settings)
        super().__post_init__()

    def validate(self) -> None:
        for name, (kinds, expected) in _FIELD_TYPES.items():
            value = getattr(self, name)
            # bool is an int: limit=True is a mistake, not a limit of 1.
            if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
                raise ArgumentTypeError(
                    f"{name} must be {expected}, got {type(value).__name__}: {value!r:.80}"
                )
        if not isinstance(self.problems, str | Sequence):
            raise ArgumentTypeError(
                "problems must be a set name or a non-empty sequence of Problem, got "
                f"{type(self.problems).__name__}"
            )
        self.stream_config(self.forcing_text or PAPER_FORCING_TEXT)  # validates the budgets
        if self.limit is not None and self.limit < 1:
            raise ConfigError(f"limit must be >= 1 or None, got {self.limit}")
        if self.prompt_template is not None and "{question}" not in self.prompt_template:
            raise ConfigError(
                f"prompt_template must contain {{question}}, got {self.prompt_template!r}"
            )
        if not isinstance(self.problems, str):
            bad = [p for p in self.problems if not isinstance(p, Problem)]
            if bad or not self.problems:
                raise ArgumentTypeError(
                    "problems must be a set name or a non-empty sequence of Problem, got "
                    f"{type(bad[0]).__name__ if bad else 'an empty sequence'}"
                )

    def stream_config(self, forcing_text: str) -> StreamConfig:
        """The rules its streams are stepped by, with the forcing text the env settled on."""
        names = {f.name for f in fields(StreamConfig)} - {"forcing_text"}
        return StreamConfig(forcing_text=forcing_text, **{n: getattr(self, n) for n in names})


def reset_options(options: Any) -> Mapping[str, Any]:
    """``reset``'s ``options``, checked to be a mapping (None: no options)."""
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ArgumentTypeError(f"options must be a dict or None, got {type(options).__name__}")
    return options


def _renamed(overrides: dict[str, Any]) -> dict[str, Any]:
    """``overrides`` with an earlier version's ``prover_kind``/``prover_kwargs`` folded into
    ``prover_config`` (a deprecation warning says so)."""
    old = [name for name in RENAMED if name in overrides]
    if not old:
        return overrides
    warnings.warn(
        f"{' and '.join(old)} are deprecated: pass prover_config={{'kind': ..., <its fields>}}",
        DeprecationWarning,
        stacklevel=3,
    )
    overrides = dict(overrides)
    kind = overrides.pop("prover_kind", None)
    # As before: prover_kwargs replaced the settings, prover_kind changed only the kind.
    settings = overrides.pop("prover_kwargs", None)
    if settings is None:
        settings = overrides.get("prover_config", {})
        settings = settings if isinstance(settings, Mapping) else asdict(settings)
    overrides["prover_config"] = {**settings, **({"kind": kind} if kind else {})}
    return overrides


def _build_prover(config: ReasoningEnvConfig) -> MetaProver | None:
    spec = config.prover
    if spec is None:
        return None
    if hasattr(spec, "estimate_batch"):
        return spec
    if isinstance(spec, str):
        from mrt_env.lm import load_lm

        spec = load_lm(spec, backend=config.backend, **dict(config.backend_kwargs))
    if hasattr(spec, "generate") and hasattr(spec, "count_tokens"):
        prover = config.prover_config
        if prover.max_answer_tokens is None:  # one answer budget for every forced answer
            prover = replace(prover, max_answer_tokens=config.forced_answer_tokens)
        return prover.build(spec)
    raise ArgumentTypeError(
        "prover must be a MetaProver, a LanguageModel, a model name or path, or None; "
        f"got {type(spec).__name__}"
    )


class ReasoningEnv(gym.Env[str, str]):
    r"""A reasoning problem, one reasoning block per step, rewarded by progress.

    MRT (Qu et al., "Optimizing Test-Time Compute via Meta Reinforcement Fine-Tuning",
    ICML 2025) views a long chain of thought as a sequence of episodes (here: *blocks*)
    $z_1, z_2, …$; the meta-prover μ cuts the stream after block j (context $c_j$), forces
    an answer and estimates the success probability $J_j = J(μ(·|c_j))$. This env exposes
    exactly that: the agent writes the next block, the env rewards how much it raised J.
    One Gymnasium episode is one *attempt* at one problem.

    ## Action space
    ``UnicodeText(max_block_chars)``: the next block of the stream, any ``str`` (Unicode,
    newlines, LaTeX) up to ``max_block_chars`` characters. A non-string or an over-long one
    raises ``TypeError``/``ValueError`` and leaves the env as it was.

    ## Observation space
    ``UnicodeText``: the whole text the agent continues, i.e. the prompt (the problem in
    the prover model's chat template, else ``prompt_template``) followed by all blocks so
    far. The gold answer never appears in it.

    ## Rewards
    Every step: $α · (J_j − J_{j-1})$ (``alpha``), the block's progress (the paper's
    information gain). At the end, in addition: ``outcome_weight · correct`` (0/1, graded
    against the gold answer). Over an episode the rewards sum to
    ``alpha · (J_end - J_0) + outcome_weight · correct``. Without a prover J is 0 throughout
    and the env is outcome-only (cheap; a warning says so once).

    J is estimated on the thinking part of the stream (before ``think_close``), so the block
    that closes the thinking is credited for what it added before the close.

    ## Episode end
    * **terminated**: the block commits to an answer: it writes ``think_close``
      (``</think>``), or, when no thinking is open, a ``\boxed{}`` answer. The answer after
      the close (or in the block) is graded.
    * **truncated**: ``max_tokens`` or ``max_blocks`` is used up without a commitment. By
      default (``force_answer``) the forcing text is appended and the prover's model answers
      greedily; that answer is graded, so the outcome is always defined.

    ## Info
    Keys are constants in :mod:`mrt_env.info`: ``episode`` (j), ``tokens``,
    ``block_tokens``, ``success_prob`` (J_j), ``progress``, ``regret`` (Δ_j),
    ``termination_reward`` (outcome_weight · J_j: what answering now would earn),
    ``forced_answers`` and ``answer`` (μ's answers at c_j, and their mode), ``problem_id``;
    at the end also ``correct``, ``outcome`` and ``gold_answer``.

    ## Arguments
    ``ReasoningEnv(config=None, *, render_mode=None, **fields)``: a
    :class:`ReasoningEnvConfig`, with any of its fields overridden by keyword (this is how
    ``gym.make`` kwargs arrive). ``reset(seed=..., options={"problem": i or id})`` picks a
    problem; without one it walks a seeded shuffle of the set. ``options={"blocks": [...]}``
    starts the episode after blocks already written (a prefix c_j, as MRT-RL continues
    traces): the observation holds them, ``episode`` is j, J is μ's at c_j, and the budgets
    count them. ``render_mode="ansi"``:
    :meth:`render` returns the transcript with J and progress per block.

    The prover's model can drive an agent too: ``env.unwrapped.prover.lm``. Each step is
    :meth:`mrt_env.envs.stream.Stepper.step` on a batch of one stream.

    ## Example
    The offline ids run the tiny model the package ships (no download)::

        >>> import gymnasium as gym
        >>> import mrt_env
        >>> env = gym.make("MRT-Arithmetic-v0")
        >>> obs, info = env.reset(seed=0)
        >>> obs, info["episode"]
        ('Q 867+640\n', 0)
        >>> obs, reward, terminated, truncated, info = env.step("867+640=1507\n\n")
        >>> info["episode"], reward == info["progress"], terminated
        (1, True, False)

    ## Version history
    * v0: first version.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 1}

    def __init__(
        self,
        config: ReasoningEnvConfig | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        overrides = _renamed(overrides)
        known = {f.name for f in fields(ReasoningEnvConfig)}
        unknown = sorted(set(overrides) - known)
        if unknown:
            raise ArgumentTypeError(
                f"unknown ReasoningEnv settings {unknown}; the settings are {sorted(known)}"
            )
        config = replace(config or ReasoningEnvConfig(), **overrides)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ConfigError(
                f"render_mode must be one of {self.metadata['render_modes']} or None, "
                f"got {render_mode!r}"
            )
        self.config = config
        self.render_mode = render_mode
        self.problems = self.problems_of(config)
        self.prover = _build_prover(config)
        if self.prover is None:
            warnings.warn(
                "ReasoningEnv without a prover: outcome-only rewards (progress and J are 0). "
                "Pass prover=<model or MetaProver> for progress rewards.",
                stacklevel=2,
            )
        self.lm: LanguageModel | None = getattr(self.prover, "lm", None)
        self.forcing_text = config.forcing_text or getattr(
            getattr(self.prover, "config", None), "forcing_text", PAPER_FORCING_TEXT
        )
        self.stepper = Stepper(config.stream_config(self.forcing_text), prover=self.prover)
        longest_prompt = max(len(self.prompt(p)) for p in self.problems)
        self.action_space = UnicodeText(config.max_block_chars)
        self.observation_space = UnicodeText(
            longest_prompt + config.max_blocks * config.max_block_chars
        )
        self._order: list[int] = []
        self._cursor = 0
        self.stream: Stream | None = None
        """The stream of the current episode (None before the first reset)."""

    # -- setup -------------------------------------------------------------------------

    @staticmethod
    def problems_of(config: ReasoningEnvConfig) -> list[Problem]:
        """The problems an env of ``config`` poses (loaded without building a prover)."""
        if not isinstance(config.problems, str):
            return list(config.problems)[: config.limit]
        from mrt_env.data import load_problems

        return load_problems(
            config.problems, path=config.data_path, split=config.split, limit=config.limit
        )

    def prompt(self, problem: Problem) -> str:
        """The text a stream on ``problem`` starts from (the observation after reset)."""
        return problem_prompt(problem.question, lm=self.lm, template=self.config.prompt_template)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the prover model's tokenizer (else ~4 characters a token)."""
        return self.stepper.count_tokens(text)

    # -- Gymnasium API -----------------------------------------------------------------

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        problem = self.pick(seed, options)
        blocks = (options or {}).get("blocks")
        prefixes = None if blocks is None else [blocks]
        (self.stream,) = self.stepper.start([problem], [self.prompt(problem)], prefixes)
        return self.stream.observation, dict(self.stream.info)

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        (out,) = self.stepper.step([self.current()], [action])
        return out.observation, out.reward, out.terminated, out.truncated, out.info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        stream = self.current()
        probs = stream.success_probs
        lines = [f"Problem {stream.problem.id}", f"[J_0 = {probs[0]:.3f}]"]
        for j, (block, tokens) in enumerate(zip(stream.blocks, stream.tokens, strict=True)):
            jj = probs[j + 1] if j + 1 < len(probs) else float("nan")
            lines.append(
                f"--- block {j + 1} ({tokens} tokens) J = {jj:.3f}  progress {jj - probs[j]:+.3f}"
            )
            lines.append(block)
        info = stream.info
        if stream.done and info.get(keys.CORRECT) is not None:
            lines.append(
                f"=== answer {info[keys.ANSWER]!r}: "
                f"{'correct' if info[keys.CORRECT] else 'wrong'} ({info[keys.OUTCOME]})"
            )
        return "\n".join(lines)

    # -- problems and the current stream (a vector env steps the streams together) --------

    def pick(self, seed: int | None, options: dict[str, Any] | None) -> Problem:
        """The problem of the next episode: ``options["problem"]`` (an index or id), else
        the next of a seeded shuffle of the set (reshuffled when ``seed`` is given)."""
        choice = reset_options(options).get("problem")
        if choice is not None:
            return self._problem_by(choice)
        if seed is not None or not self._order or self._cursor >= len(self._order):
            self._order = self.np_random.permutation(len(self.problems)).tolist()
            self._cursor = 0
        problem = self.problems[self._order[self._cursor]]
        self._cursor += 1
        return problem

    def _problem_by(self, choice: Any) -> Problem:
        if isinstance(choice, int | np.integer) and not isinstance(choice, bool):
            if not 0 <= choice < len(self.problems):
                raise ConfigError(
                    f"options['problem'] index must lie in [0, {len(self.problems)}), got {choice}"
                )
            return self.problems[int(choice)]
        if isinstance(choice, str):
            for problem in self.problems:
                if problem.id == choice:
                    return problem
            raise ConfigError(
                f"no problem with id {choice!r}; ids look like {self.problems[0].id!r}"
            )
        raise ArgumentTypeError(
            f"options['problem'] must be an index or a problem id, got {choice!r}"
        )

    def current(self) -> Stream:
        """The stream of the current episode; :class:`ResetNeeded` before the first reset."""
        if self.stream is None:
            raise ResetNeeded("call reset() before step() or render()")
        return self.stream
