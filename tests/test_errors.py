"""One error policy: every error mrt_env raises on purpose is an ``MrtError``, and still the
builtin a caller expects (``ConfigError`` is a ``ValueError``, ``DataNotFound`` a
``FileNotFoundError``, ...). A table of bad inputs to each public entry point checks the
first; a walk over the package's source keeps a future bare ``raise ValueError`` out."""

from __future__ import annotations

import ast
import importlib
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym
import pytest

import mrt_env
from mrt_env import errors
from mrt_env.cli import CommandConfig, parse_command
from mrt_env.errors import (
    AnswerParseError,
    ArgumentTypeError,
    ConfigError,
    DataFormatError,
    DataNotFound,
    DependencyNotInstalled,
    MrtError,
    ResetNeeded,
    RunStateError,
    UnknownAttribute,
    UnknownKey,
)
from mrt_env.registration import ENV_IDS, STRATEGY_ENV_IDS
from mrt_env.types import Problem

PACKAGE = Path(mrt_env.__file__).resolve().parent
PROBLEMS = (Problem("toy/0", "What is 2 + 2?", "4"), Problem("toy/1", "What is 3 * 3?", "9"))


# -- the classes ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls, builtin",
    [
        (ConfigError, ValueError),
        (ArgumentTypeError, TypeError),
        (UnknownKey, KeyError),
        (RunStateError, RuntimeError),
        (ResetNeeded, gym.error.ResetNeeded),
        (ResetNeeded, RuntimeError),
        (DataNotFound, FileNotFoundError),
        (DataFormatError, ValueError),
        (AnswerParseError, ValueError),
        (DependencyNotInstalled, ImportError),
    ],
)
def test_each_class_is_an_mrt_error_and_the_builtin_callers_expect(cls, builtin):
    assert issubclass(cls, MrtError) and issubclass(cls, builtin)


def test_every_exported_class_is_an_mrt_error_with_a_docstring():
    for name in errors.__all__:
        cls = getattr(errors, name)
        assert issubclass(cls, MrtError), name
        assert cls.__doc__ and cls.__doc__.strip(), name


def test_unknown_key_prints_its_message_without_keyerror_quotes():
    assert str(UnknownKey("no script for 'x'")) == "no script for 'x'"


# -- bad inputs to the public entry points ----------------------------------------------


def call(target: str, *args, **kwargs):
    """A case's call: ``"module:name"`` with these arguments (imported when the case runs)."""

    def run(tmp_path: Path):
        module, name = target.split(":")
        return getattr(importlib.import_module(module), name)(*args, **kwargs)

    return run


def _file(tmp_path: Path, name: str, text: str | None) -> Path:
    path = tmp_path / name
    if text is not None:
        path.write_text(text, encoding="utf-8")
    return path


def _env_stepped_before_reset(tmp_path):
    from mrt_env.envs import ReasoningEnv
    from mrt_env.prover import OracleProver

    env = ReasoningEnv(problems=PROBLEMS, prover=OracleProver(lambda problem, blocks: 0.5))
    env.step("a block\n\n")


def _env_given_a_number(tmp_path):
    from mrt_env.envs import ReasoningEnv
    from mrt_env.prover import OracleProver

    env = ReasoningEnv(problems=PROBLEMS, prover=OracleProver(lambda problem, blocks: 0.5))
    env.reset(options={"problem": 0})
    env.step(42)


def _strategy_env_stepped_before_reset(tmp_path):
    from mrt_env.strategy import StrategyTable, TabulatedStrategyEnv
    from mrt_env.types import EpisodeRecord

    trace = EpisodeRecord(
        problem_id="toy/0",
        blocks=("a block\n\n",),
        success_probs=(0.1, 0.6),
        prefix_tokens=(0, 5),
        correct=True,
        forced_answers=("3",),
        forced_correct=(False,),
    )
    table = StrategyTable(env_id="MRT-Search-v0", horizon=4, max_tokens=64, traces=(trace,))
    TabulatedStrategyEnv(table).step(0)


def _strategy_table(text: str | None):
    def run(tmp_path):
        from mrt_env.strategy import StrategyTable

        StrategyTable.load(_file(tmp_path, "table.json", text))

    return run


def _problems_file(text: str):
    def run(tmp_path):
        from mrt_env.data import load_problems

        load_problems(str(_file(tmp_path, "problems.jsonl", text)))

    return run


def _traces(text: str | None):
    def run(tmp_path):
        from mrt_env.regret.analysis import load_traces

        load_traces(_file(tmp_path, "traces.jsonl", text))

    return run


def _rows_of_another_tool(tmp_path):
    from mrt_env.runfiles import read_rows

    path = _file(tmp_path, "results.jsonl", '{"other": 1}\n{"other": 2}\n')
    read_rows(path, key="id", tool="mrt-bench")


def _resume_under_other_settings(tmp_path):
    from mrt_env.runfiles import check_settings

    check_settings(tmp_path, {"seed": 0}, resuming=False)
    check_settings(tmp_path, {"seed": 1}, resuming=True)


def _resume_with_damaged_settings(content: bytes):
    def call(tmp_path):
        from mrt_env.runfiles import SETTINGS_FILE, check_settings

        (tmp_path / SETTINGS_FILE).write_bytes(content)
        check_settings(tmp_path, {"seed": 0}, resuming=True)

    return call


def _script_without_the_problem(tmp_path):
    from mrt_env.agents import ScriptedAgent

    ScriptedAgent({"toy/9": ["x"]}).act("", {"problem_id": "toy/0", "episode": 0})


def _regret_config_without_budgets(tmp_path):
    from mrt_env.lm.loading import ModelConfig
    from mrt_env.regret.config import RegretConfig

    RegretConfig(traces=tmp_path / "traces.jsonl", model=ModelConfig("m"), budgets=())


ALL_ENV_IDS = [*ENV_IDS, *STRATEGY_ENV_IDS]

# Each case: a call (given tmp_path), the MrtError subclass it raises, and the builtin a
# caller of that entry point expects.
CASES = [
    # data
    pytest.param(
        call("mrt_env.data:load_problems", "no_such_set"),
        ConfigError,
        ValueError,
        id="load_problems unknown set",
    ),
    pytest.param(
        call("mrt_env.data:load_problems", "nowhere/x.jsonl"),
        DataNotFound,
        FileNotFoundError,
        id="load_problems missing file",
    ),
    pytest.param(
        call("mrt_env.data:load_problems", 42),
        ArgumentTypeError,
        TypeError,
        id="load_problems name type",
    ),
    pytest.param(
        call("mrt_env.data:load_problems", "no_such_set", limit=0),
        ConfigError,
        ValueError,
        id="load_problems limit 0",
    ),
    pytest.param(
        _problems_file("{nope\n"), DataFormatError, ValueError, id="load_problems malformed file"
    ),
    pytest.param(
        call("mrt_env.data.sources:load_source", "no_such_set"),
        UnknownKey,
        KeyError,
        id="load_source unknown set",
    ),
    pytest.param(
        call("mrt_env.types:Problem", "p/0", " ", "1"),
        ConfigError,
        ValueError,
        id="Problem empty question",
    ),
    pytest.param(
        call("mrt_env.data.synthetic:get_task", "nope"),
        ConfigError,
        ValueError,
        id="get_task unknown",
    ),
    # envs
    *[
        pytest.param(
            call("gymnasium:make", env_id, max_blocks=0),
            ConfigError,
            ValueError,
            id=f"gym.make {env_id} max_blocks=0",
        )
        for env_id in ALL_ENV_IDS
    ],
    *[
        pytest.param(
            call("gymnasium:make", env_id, no_such_setting=1),
            ArgumentTypeError,
            TypeError,
            id=f"gym.make {env_id} unknown setting",
        )
        for env_id in ALL_ENV_IDS
    ],
    pytest.param(
        call("gymnasium:make_vec", "MRT-Search-v0", num_envs=0),
        ConfigError,
        ValueError,
        id="gym.make_vec num_envs=0",
    ),
    pytest.param(
        _env_stepped_before_reset,
        ResetNeeded,
        gym.error.ResetNeeded,
        id="ReasoningEnv step before reset",
    ),
    pytest.param(
        _env_given_a_number, ArgumentTypeError, TypeError, id="ReasoningEnv action not a str"
    ),
    pytest.param(
        call("gymnasium:make", "MRT-Strategy-Search-v0", features="some"),
        ConfigError,
        ValueError,
        id="StrategyEnv bad features",
    ),
    pytest.param(
        _strategy_env_stepped_before_reset,
        ResetNeeded,
        RuntimeError,
        id="StrategyEnv step before reset",
    ),
    pytest.param(
        _strategy_table(None), DataNotFound, FileNotFoundError, id="StrategyTable missing file"
    ),
    pytest.param(
        _strategy_table('{"format": "x"}'),
        DataFormatError,
        ValueError,
        id="StrategyTable foreign file",
    ),
    pytest.param(
        call("mrt_env.spaces:UnicodeText", max_length=-1),
        ConfigError,
        ValueError,
        id="UnicodeText negative length",
    ),
    # metrics
    pytest.param(
        call("mrt_env.metrics:progress", []), ConfigError, ValueError, id="progress of no J"
    ),
    pytest.param(
        call("mrt_env.metrics:progress", "0.5"),
        ArgumentTypeError,
        TypeError,
        id="progress of a str",
    ),
    pytest.param(
        call("mrt_env.metrics:progress", [0.2, 1.5]),
        ConfigError,
        ValueError,
        id="progress J above 1",
    ),
    pytest.param(
        call("mrt_env.metrics:pass_at_k", 2, 1, 3), ConfigError, ValueError, id="pass_at_k k > n"
    ),
    pytest.param(
        call("mrt_env.metrics:maj_at_k", "abc", 1),
        ArgumentTypeError,
        TypeError,
        id="maj_at_k of a str",
    ),
    pytest.param(
        call("mrt_env.metrics:accuracy_at_budget", [1], [True], 0),
        ConfigError,
        ValueError,
        id="accuracy_at_budget budget 0",
    ),
    # episodes, provers, grading
    pytest.param(
        call("mrt_env.episodes:split_episodes", "a", rule="nope"),
        ConfigError,
        ValueError,
        id="split_episodes unknown rule",
    ),
    pytest.param(
        call("mrt_env.episodes:split_episodes", 3),
        ArgumentTypeError,
        TypeError,
        id="split_episodes text type",
    ),
    pytest.param(
        call("mrt_env.prover:make_prover", None, "nope"),
        ConfigError,
        ValueError,
        id="make_prover unknown kind",
    ),
    pytest.param(
        call("mrt_env.prover:OracleProver", 0.5),
        ArgumentTypeError,
        TypeError,
        id="OracleProver not callable",
    ),
    pytest.param(
        call("mrt_env.grading:grade", "4", "4", timeout="1"),
        ConfigError,
        ValueError,
        id="grade timeout a str",
    ),
    pytest.param(
        call("mrt_env.grading:grade_many", [("4",)]),
        ArgumentTypeError,
        TypeError,
        id="grade_many bad pair",
    ),
    pytest.param(
        call("mrt_env.grading.symbolic:parse_value", " "),
        AnswerParseError,
        ValueError,
        id="parse an empty answer",
    ),
    # language models
    pytest.param(
        call("mrt_env.lm.loading:load_lm", "m", backend="nope"),
        ConfigError,
        ValueError,
        id="load_lm unknown backend",
    ),
    pytest.param(
        call("mrt_env.lm.loading:ModelConfig", "m", backend="openai"),
        ConfigError,
        ValueError,
        id="openai without base_url",
    ),
    pytest.param(
        call("mrt_env.extras:require", "no_such_module_mrt", extra="x"),
        DependencyNotInstalled,
        ImportError,
        id="require a missing extra",
    ),
    # agents
    pytest.param(
        call("mrt_env.agents:as_agent", 42), ArgumentTypeError, TypeError, id="as_agent of a number"
    ),
    pytest.param(
        _script_without_the_problem, UnknownKey, KeyError, id="ScriptedAgent unknown problem"
    ),
    pytest.param(
        call("mrt_env.bench.specs:parse_strategy", "early-exit(m"),
        ConfigError,
        ValueError,
        id="bench strategy spec",
    ),
    # command configs
    pytest.param(
        call("mrt_env.bench.config:BenchConfig", envs=()),
        ConfigError,
        ValueError,
        id="BenchConfig no envs",
    ),
    pytest.param(
        _regret_config_without_budgets, ConfigError, ValueError, id="RegretConfig no budgets"
    ),
    pytest.param(
        call("mrt_env.training.config:TrainConfig", lr=0.0),
        ConfigError,
        ValueError,
        id="TrainConfig lr 0",
    ),
    pytest.param(
        call("mrt_env.pretrain.train:PretrainConfig", steps=0),
        ConfigError,
        ValueError,
        id="PretrainConfig steps 0",
    ),
    pytest.param(
        lambda tmp_path: importlib.import_module("mrt_env.integrations.trl").MRTGRPOTrainers,
        UnknownAttribute,
        AttributeError,
        id="a misspelt lazy attribute",
    ),
    # run folders
    pytest.param(_traces(None), DataNotFound, FileNotFoundError, id="load_traces missing file"),
    pytest.param(
        _traces("not json\n"), DataFormatError, ValueError, id="load_traces malformed line"
    ),
    pytest.param(_rows_of_another_tool, DataFormatError, ValueError, id="read_rows foreign file"),
    pytest.param(
        _resume_under_other_settings, RunStateError, RuntimeError, id="resume under other settings"
    ),
    *(
        pytest.param(
            _resume_with_damaged_settings(content),
            RunStateError,
            RuntimeError,
            id=f"resume with settings.json {name}",
        )
        for name, content in (
            ("truncated", b'{"seed": '),
            ("empty", b""),
            ("random bytes", bytes(range(200, 256))),
            ("a list", b"[1, 2]"),
        )
    ),
]


@pytest.mark.parametrize("bad_call, cls, builtin", CASES)
def test_bad_input_raises_an_mrt_error_that_is_the_expected_builtin(
    bad_call, cls, builtin, tmp_path
):
    with pytest.raises(cls) as caught:
        bad_call(tmp_path)
    assert isinstance(caught.value, builtin)
    assert str(caught.value).strip()  # a message, not a bare class


def test_the_table_reaches_every_error_class():
    raised = {case.values[1].__name__ for case in CASES}
    assert set(errors.__all__) - raised <= {
        "MrtError",  # the root
        "GradingError",  # a worker that does not start: not reachable by an input
        "BackendError",  # a model or server failing: tested with fake servers in tests/lm
        "BackendTimeout",
        "BackendUnavailable",
        "ContextLengthExceeded",
        "SharedPrefixError",  # a cache operation TransformersLM never asks: tests/lm/test_kv_cache
    }


# -- commands: an MrtError is one line of error, anything else a bug with its traceback --


def _fail(exc: BaseException):
    def work():
        raise exc

    return work


@pytest.mark.parametrize(
    "exc", [ConfigError("--k must be >= 1, got 0"), DataNotFound("no traces"), PermissionError("x")]
)
def test_a_command_turns_an_mrt_error_or_an_os_error_into_one_line_and_status_1(exc, capsys):
    from mrt_env.cli import exit_status

    assert exit_status("mrt-x", _fail(exc), Path("rows.jsonl")) == 1
    assert capsys.readouterr().err == f"mrt-x: error: {exc}\n"


@pytest.mark.parametrize("exc", [ValueError("a bug"), KeyError("a bug"), TypeError("a bug")])
def test_a_command_lets_a_bug_through_with_its_traceback(exc):
    from mrt_env.cli import exit_status

    with pytest.raises(type(exc)):
        exit_status("mrt-x", _fail(exc), Path("rows.jsonl"))


@dataclass(frozen=True)
class _Command(CommandConfig):
    k: int = 1
    """How many."""

    def validate(self) -> None:
        if self.k < 0:
            raise ConfigError(f"--k must be >= 0, got {self.k}")
        if self.k == 7:  # a bug: a builtin ValueError that no one raised on purpose
            int("a bug in validate")


def test_parse_command_reports_a_bad_setting_but_not_a_bug_in_validate(capsys):
    assert parse_command(_Command, "mrt-x", ["--k", "2"]) == _Command(k=2)
    assert parse_command(_Command, "mrt-x", ["--k", "-1"]) is None
    assert capsys.readouterr().err == "mrt-x: error: --k must be >= 0, got -1\n"
    with pytest.raises(ValueError, match="a bug in validate"):
        parse_command(_Command, "mrt-x", ["--k", "7"])


# -- the source: no bare builtin raise --------------------------------------------------

# Builtins that a deliberate raise must not use: each has an MrtError subclass (or should
# get one in mrt_env/errors.py). NotImplementedError (an abstract method) and SystemExit
# (a command's exit status) are fine.
BUILTINS = {
    "ValueError",
    "TypeError",
    "RuntimeError",
    "KeyError",
    "FileNotFoundError",
    "OSError",
    "IndexError",
    "Exception",
    "AttributeError",
    "LookupError",
    "ImportError",
    "ModuleNotFoundError",
    "ConnectionError",
    "TimeoutError",
    "BaseException",
    "AssertionError",
}
EXEMPT = {"NotImplementedError", "SystemExit", "StopIteration"}


def _name(node: ast.expr) -> str | None:
    """The class a ``raise`` names: ``X`` for ``raise X`` / ``raise X(...)``; the last part
    of ``a.b.X``. None for a call of a lower-case function or a re-raised variable."""
    target = node.func if isinstance(node, ast.Call) else node
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return None


def _violations_of_text(source: str, rel: str = "x.py") -> list[str]:
    tree = ast.parse(source)
    # What the module may raise: the classes it imports from mrt_env.errors (or reaches as
    # errors.X) and the exception classes it defines on top of them.
    allowed = set(EXEMPT)
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "mrt_env.errors":
            allowed |= {alias.asname or alias.name for alias in node.names}
    if rel == "errors.py":
        allowed |= set(errors.__all__)
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            bases = {_name(b) for b in node.bases}
            if rel == "errors.py" and node.name == "MrtError":
                continue
            if bases & allowed:
                allowed.add(node.name)
            elif bases & (BUILTINS | {"Warning"}):
                found.append(f"{rel}:{node.lineno}: class {node.name} is not an MrtError")
    for node in ast.walk(tree):
        if not isinstance(node, ast.Raise) or node.exc is None:
            continue  # a bare re-raise
        name = _name(node.exc)
        if name is None or name in allowed:
            continue
        attribute = isinstance(getattr(node.exc, "func", node.exc), ast.Attribute)
        if name in BUILTINS or (name[:1].isupper() and not (attribute and name in allowed)):
            found.append(f"{rel}:{node.lineno}: raise {name}: use a class from mrt_env.errors")
    return found


def test_no_module_raises_a_bare_builtin_or_foreign_error():
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        found += _violations_of_text(path.read_text(encoding="utf-8"), rel)
    assert not found, "\n".join(found)


@pytest.mark.parametrize(
    "source, expected",
    [
        ("raise ValueError('x')\n", "raise ValueError"),
        ("raise KeyError\n", "raise KeyError"),
        ("import gymnasium as gym\nraise gym.error.ResetNeeded('x')\n", "raise ResetNeeded"),
        ("class TooLarge(ValueError):\n    pass\n", "class TooLarge is not an MrtError"),
        ("from mrt_env.errors import ConfigError\nraise ConfigError('x')\n", None),
        (
            "from mrt_env.errors import ConfigError\nclass Big(ConfigError): ...\nraise Big()\n",
            None,
        ),
        ("raise NotImplementedError\n", None),
        ("try:\n    pass\nexcept OSError as exc:\n    raise exc\n", None),
        ("try:\n    pass\nexcept OSError:\n    raise\n", None),
    ],
)
def test_the_source_rule_itself(source, expected):
    found = _violations_of_text(source)
    if expected is None:
        assert found == []
    else:
        assert len(found) == 1 and expected in found[0], found
