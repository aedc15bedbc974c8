"""Strategy specs: which agent a ``--strategies`` entry means, and how it is built per env.

A spec is a shipped strategy's name (``think-to-budget``, ``early-exit``, ...) or a user's
``module:Attr`` / ``path/to/file.py:Attr`` (an :class:`~mrt_env.agents.Agent` subclass, or a
function ``(observation, info) -> str``), optionally followed by keyword arguments in
parentheses: ``parallel-vote(n=8,total_tokens=600)``, ``mypkg.agents:Careful(k=3)``.
Values are Python literals (numbers, strings in quotes, True/False); anything else is read
as a bare string. The spec as written is the strategy's label in the results.
"""

from __future__ import annotations

import ast
import functools
import importlib
import importlib.util
import inspect
import re
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mrt_env.agents import STRATEGIES, Agent, BlockSamplingConfig, LMAgent, as_agent
from mrt_env.config import Config
from mrt_env.data.files import lone_surrogate
from mrt_env.errors import ConfigError, MrtError
from mrt_env.prover import PAPER_FORCING_TEXT
from mrt_env.registration import block_settings

__all__ = [
    "AgentConfig",
    "StrategySpec",
    "agent_settings",
    "build_agent",
    "check_argument_types",
    "parse_strategy",
]

_ENV_DEFAULTS = BlockSamplingConfig()  # every value the env's own
_SPEC = re.compile(r"^\s*(?P<target>[^()\s]+)\s*(?:\((?P<args>.*)\))?\s*$", re.S)


@dataclass(frozen=True)
class StrategySpec:
    """One parsed ``--strategies`` entry."""

    label: str
    """The entry as written: the strategy's name in rows, tables and plots."""
    target: str
    """A shipped strategy's name, or ``module:Attr`` / ``file.py:Attr``."""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    """Keyword arguments from the parentheses."""

    @property
    def shipped(self) -> bool:
        return self.target in STRATEGIES


def _kwargs(text: str, args: str) -> dict[str, Any]:
    """``k=v, ...`` as a dict; values are Python literals, a bare word is a string."""
    try:
        call = ast.parse(f"f({args})", mode="eval").body
    except (SyntaxError, ValueError, RecursionError):  # ValueError: a byte that is not UTF-8
        call = None
    if not isinstance(call, ast.Call) or call.args or any(k.arg is None for k in call.keywords):
        raise ConfigError(f"strategy {text!r:.200}: expected key=value, ... in the parentheses")
    kwargs: dict[str, Any] = {}
    for keyword in call.keywords:
        node = keyword.value
        if isinstance(node, ast.Name):
            kwargs[keyword.arg] = node.id
            continue
        try:
            kwargs[keyword.arg] = ast.literal_eval(node)
        except (ValueError, RecursionError):
            raise ConfigError(
                f"strategy {text!r:.200}: the value of {keyword.arg} must be a literal "
                f"(number, 'string', True/False), got {ast.unparse(node):.200}"
            ) from None
        if lone_surrogate(kwargs[keyword.arg]) is not None:  # "\ud800": no tokenizer takes it
            raise ConfigError(
                f"strategy {text!r:.200}: the value of {keyword.arg} holds a lone surrogate "
                "escape (such as \\ud800), which is not text"
            )
    return kwargs


def parse_strategy(text: str) -> StrategySpec:
    """Parse and check a spec; a :class:`ValueError` says what is wrong with it."""
    match = _SPEC.match(text)
    if not match:
        raise ConfigError(f"strategy {text!r} is not NAME, module:Attr or either with (k=v,...)")
    target, args = match["target"], match["args"]
    kwargs = _kwargs(text, args) if args and args.strip() else {}
    if target not in STRATEGIES and ":" not in target:
        raise ConfigError(
            f"unknown strategy {target!r}; choose from {sorted(STRATEGIES)} "
            "or give your own as module:Class"
        )
    return StrategySpec(label=text.strip(), target=target, kwargs=kwargs)


def resolve(spec: StrategySpec) -> Any:
    """The class or function a spec names (imports a user's module now, once per run:
    checking the settings and running them get the same object)."""
    if spec.shipped:
        return STRATEGIES[spec.target]
    return _import_target(spec.target, str(Path.cwd()))


@functools.cache
def _import_target(target: str, cwd: str) -> Any:
    """``module:Attr`` or ``file.py:Attr`` imported from ``cwd`` (a file is executed once;
    ``cwd`` is part of the cache key because relative paths and modules depend on it)."""
    module_name, _, attr = target.rpartition(":")
    if not module_name or not attr:
        raise ConfigError(f"strategy {target!r}: expected module:Attr")
    try:
        if module_name.endswith(".py"):
            path = Path(module_name)
            if not path.is_file():
                raise ConfigError(f"strategy {target!r}: no file {path}")
            unit = importlib.util.spec_from_file_location(path.stem, path)
            module = importlib.util.module_from_spec(unit)
            unit.loader.exec_module(module)
        else:
            if "" not in sys.path and str(Path.cwd()) not in sys.path:
                sys.path.insert(0, str(Path.cwd()))  # as `python -m` would: the user's modules
            module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"strategy {target!r}: cannot import {module_name}: {exc}") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ConfigError(f"strategy {target!r}: {module_name} has no {attr!r}") from None
    if isinstance(obj, type) and not issubclass(obj, Agent):
        raise ConfigError(f"strategy {target!r}: {attr} is a class but not an mrt_env Agent")
    if not callable(obj):
        raise ConfigError(f"strategy {target!r}: {attr} is neither an Agent class nor a function")
    return obj


@dataclass(frozen=True)
class AgentConfig(Config):
    """How LM agents write blocks on one env, and the shipped strategies' settings there."""

    stop: tuple[str, ...]
    keep_stop: bool
    max_block_tokens: int
    temperature: float
    top_p: float
    token_budget: int
    """The sequential budget: ``min(max_tokens, max_blocks · max_block_tokens)``."""
    strategy_kwargs: Mapping[str, Mapping[str, Any]]
    """Shipped strategy name -> its keyword arguments on this env."""


def agent_settings(
    env_kwargs: Mapping[str, Any],
    *,
    max_blocks: int,
    max_tokens: int,
    sampling: BlockSamplingConfig = _ENV_DEFAULTS,
) -> AgentConfig:
    """Defaults for an env from its registered kwargs; the values ``sampling`` gives
    override them.

    Synthetic tasks write one line per block (the tiny model's format, sampled at
    temperature 1); real problem sets end a block at the paper's episode markers, sampled
    as in the paper (0.6, top-p 0.95). ``parallel-vote`` splits the sequential budget
    (``min(max_tokens, max_blocks · block_tokens)``) into 4 streams.
    """
    base = sampling.over(block_settings(env_kwargs))
    forcing = env_kwargs.get("forcing_text") or PAPER_FORCING_TEXT
    tokens = base["max_block_tokens"]
    if base["keep_stop"]:  # blocks are lines: a held commitment is cut before its \boxed
        verify, wait = "\n", {"cues": ("",), "separator": "\n"}  # and the model writes a line
    else:  # the authors' cues, as mrt-regret's extrapolation
        verify, wait = "\n\nBut let me double-check this answer.", {}
    budget = min(max_tokens, max_blocks * tokens)
    return AgentConfig(
        stop=base["stop"],
        keep_stop=base["keep_stop"],
        max_block_tokens=tokens,
        temperature=base["temperature"],
        top_p=base["top_p"],
        token_budget=budget,
        strategy_kwargs={
            "think-to-budget": {},
            "early-exit": {"m": 2, "forcing_text": forcing},
            "self-verify": {"verify_text": verify},
            "budget-forcing": {"n": 2, **wait},
            "parallel-vote": {"n": 4, "total_tokens": budget, "forcing_text": forcing},
        },
    )


def _check_arguments(spec: StrategySpec, target: type, given: Mapping[str, Any]) -> None:
    """Refuse an unknown (k=v) argument, or one whose value does not have the type its
    parameter is annotated with, before the call: so that a TypeError raised inside a
    constructor stays a bug with its traceback, not a one-line settings error."""
    if issubclass(target, LMAgent):  # their **kwargs go on to LMAgent's constructor
        accepted = {
            name
            for cls in target.__mro__[: target.__mro__.index(LMAgent) + 1]
            if "__init__" in vars(cls)
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and name != "self"
        }
        if unknown := sorted(set(given) - accepted):
            raise ConfigError(
                f"strategy {spec.label!r}: unexpected keyword argument(s) {unknown}; "
                f"{target.__name__} takes {sorted(accepted - {'lm'})}"
            )
    else:
        try:
            inspect.signature(target).bind(**given)
        except TypeError as exc:  # an unknown (k=v) argument, or a required one missing
            raise ConfigError(f"strategy {spec.label!r}: {exc}") from None
    check_argument_types(spec, target)


def check_argument_types(spec: StrategySpec, target: Any) -> None:
    """Refuse a (k=v) value of another type than its parameter's annotation (a str where
    an int is taken, ...): one line naming both, before anything runs. Only the values the
    user wrote are checked, against the constructors of a class's own hierarchy down to
    :class:`LMAgent` (for an LM agent) or its ``__init__``; a function takes none."""
    if not isinstance(target, type) or not spec.kwargs:
        return
    if issubclass(target, LMAgent):
        inits = [
            cls.__init__
            for cls in target.__mro__[: target.__mro__.index(LMAgent) + 1]
            if "__init__" in vars(cls)
        ]
    else:
        inits = [target.__init__]
    hints: dict[str, Any] = {}
    for init in reversed(inits):  # a subclass's annotation wins over its base's
        try:
            hints |= typing.get_type_hints(init)
        except Exception:  # noqa: BLE001 - an annotation that does not resolve: not checked
            continue
    for name, value in spec.kwargs.items():
        if name in hints and _fits(value, hints[name]) is False:
            raise ConfigError(
                f"strategy {spec.label!r}: {name} must be {_type_name(hints[name])}, got "
                f"{type(value).__name__} {value!r:.80}"
            )


def _fits(value: Any, hint: Any) -> bool | None:
    """Whether a literal from a spec fits a parameter's annotation; None when the
    annotation is beyond this check (then the value is passed as it is)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if hint is None or hint is type(None):
        return value is None
    if origin in (typing.Union, types.UnionType):
        fits = [_fits(value, a) for a in args]
        return True if True in fits else None if None in fits else False
    if origin is typing.Literal:
        return value in args
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:  # True is an int to Python, never to a user
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (tuple, list, Sequence) or hint in (tuple, list):
        if isinstance(value, str) or not isinstance(value, (tuple, list)):
            return False
        if origin is not tuple or (len(args) == 2 and args[1] is Ellipsis):
            item = args[0] if args else Any
            fits = [_fits(v, item) for v in value]
            return False if False in fits else True if all(fits) else None
        return None
    return None


def _type_name(hint: Any) -> str:
    """An annotation as a user reads it: ``an int``, ``a str or None``, ``a list of str``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args)
    if origin is typing.Literal:
        return "one of " + ", ".join(map(repr, args))
    if hint is None or hint is type(None):
        return "None"
    if origin in (tuple, list, Sequence) and args:
        return f"a list of {_type_name(args[0]).removeprefix('a ').removeprefix('an ')}"
    name = getattr(hint, "__name__", str(hint))
    return f"an {name}" if name[:1] in "aeiou" else f"a {name}"


def build_agent(
    spec: StrategySpec, target: Any, lm: Any, settings: AgentConfig, *, seed: int
) -> Agent:
    """The agent of ``spec`` (``target`` = :func:`resolve`'s result) for one env and seed.

    Shipped strategies and :class:`LMAgent` subclasses get ``lm``, the env's block settings
    and ``seed``; another class gets those of them its constructor names; the spec's keyword
    arguments go last and win. A function is wrapped as it is.
    """
    if not isinstance(target, type):  # a plain function (observation, info) -> str
        if spec.kwargs:
            raise ConfigError(f"strategy {spec.label!r}: a function takes no (k=v) arguments")
        agent = as_agent(target)
        agent.name = spec.label
        return agent
    common = {
        "lm": lm,
        "stop": settings.stop,
        "keep_stop": settings.keep_stop,
        "max_block_tokens": settings.max_block_tokens,
        "temperature": settings.temperature,
        "top_p": settings.top_p,
        "seed": seed,
    }
    if spec.shipped:
        given = {**common, **settings.strategy_kwargs.get(spec.target, {}), **spec.kwargs}
    elif issubclass(target, LMAgent):
        given = {**common, **spec.kwargs}
    else:
        params = inspect.signature(target).parameters
        given = {k: v for k, v in common.items() if k in params} | dict(spec.kwargs)
    _check_arguments(spec, target, given)
    try:
        return target(**given)
    except MrtError as exc:  # the agent refused a value; any other error is a bug: traceback
        raise ConfigError(f"strategy {spec.label!r}: {exc}") from None
