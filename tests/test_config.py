"""Config: value objects checked once when built, or right after a command line is parsed;
and the command line itself (parse_command): one line of error, never a box."""

from dataclasses import dataclass, field
from typing import Literal

import pytest
import tyro

from mrt_env.cli import _squeeze, parse_command
from mrt_env.config import Config, deferred_validation, validate_tree
from mrt_env.errors import ConfigError


@dataclass(frozen=True)
class Budget(Config):
    max_tokens: int = 1

    def validate(self) -> None:
        if self.max_tokens < 1:
            raise ConfigError(f"max_tokens must be >= 1, got {self.max_tokens}")


@dataclass(frozen=True)
class Command(Config):
    budget: Budget = field(default_factory=Budget)
    runs: int = 1

    def validate(self) -> None:
        if self.runs < 1:
            raise ConfigError(f"--runs must be >= 1, got {self.runs}")


def test_a_config_is_checked_when_built_unless_deferred():
    with pytest.raises(ConfigError, match="max_tokens must be >= 1, got 0"):
        Budget(max_tokens=0)
    with deferred_validation():
        command = Command(budget=Budget(max_tokens=0), runs=0)  # what tyro builds
    # After parsing: nested configs first, their fields named as the flags one types.
    with pytest.raises(ConfigError, match=r"^--budget.max-tokens must be >= 1, got 0$"):
        validate_tree(command)
    with deferred_validation():
        command = Command(runs=0)
    with pytest.raises(ConfigError, match=r"^--runs must be >= 1, got 0$"):
        validate_tree(command)  # the command's own errors name their flags already


# --------------------------------------------------------------------------------------------
# The command line: parse_command


@dataclass(frozen=True)
class Tool(Config):
    """A command with one of each kind of flag."""

    name: tyro.conf.Positional[str]
    runs: int = 1
    mode: Literal["fast", "slow"] = "fast"
    budget: Budget = field(default_factory=Budget)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["x", "--foo"], "unrecognized argument --foo"),
        (["x", "--runs", "2", "--foo", "--bar"], "unrecognized arguments --foo --bar"),
        ([], "missing argument NAME"),
        (["x", "--runs", "many"], "--runs: invalid literal for int() with base 10: 'many'"),
        (["x", "--runs"], "--runs needs a value"),
        (["x", "--mode", "quick"], "--mode must be one of fast, slow; got 'quick'"),
    ],
)
def test_a_bad_command_line_is_one_line(argv, message, capsys):
    # Before: tyro's box of five or more lines.
    assert parse_command(Tool, "tool", argv) is None
    captured = capsys.readouterr()
    assert captured.err == f"tool: error: {message} (see tool --help)\n"
    assert captured.out == ""


def test_a_bad_setting_is_one_line_and_help_still_works(capsys):
    assert parse_command(Tool, "tool", ["x", "--budget.max-tokens", "0"]) is None
    assert capsys.readouterr().err == "tool: error: --budget.max-tokens must be >= 1, got 0\n"
    assert parse_command(Tool, "tool", ["x", "--runs", "3"]) == Tool("x", runs=3)
    with pytest.raises(SystemExit) as exit_info:
        parse_command(Tool, "tool", ["--help"], description="Does one thing.")
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert "usage: tool" in captured.out and "--budget.max-tokens" in captured.out
    assert captured.err == ""


def test_a_box_from_another_tyro_is_squeezed_onto_one_line():
    # Where tyro has no parse-error hook (before 1.0), its printed box is what there is.
    box = (
        "\x1b[31m╭─ Unrecognized options ──────────────╮\x1b[0m\n"
        "│ Unrecognized options: --foo         │\n"
        "│ ─────────────────────────────────── │\n"
        "│ For full helptext, run tool --help  │\n"
        "╰─────────────────────────────────────╯\n"
    )
    assert _squeeze(box) == "unrecognized options: --foo"
    assert _squeeze("usage: tool [-h]\ntool: error: unrecognized arguments: --foo\n") == (
        "unrecognized arguments: --foo"
    )


def _commands():
    from mrt_env.bench.cli import main as bench
    from mrt_env.data.__main__ import main as data
    from mrt_env.pretrain.train import main as pretrain
    from mrt_env.regret import main as regret
    from mrt_env.training.cli import main as train

    return [
        ("mrt-bench", bench, []),
        ("mrt-regret", regret, ["t.jsonl", "--model.name", "m"]),
        ("mrt-train", train, []),
        ("mrt-pretrain", pretrain, []),
        ("mrt-data", data, []),
    ]  # mrt-grade too: its own tests (tests/grading) check its command line


@pytest.mark.parametrize("index", range(5), ids=lambda i: f"command{i}")
def test_every_command_reports_an_unknown_flag_on_one_line(index, capsys):
    prog, main, needed = _commands()[index]
    assert main([*needed, "--foo"]) == 2
    err = capsys.readouterr().err
    assert err == f"{prog}: error: unrecognized argument --foo (see {prog} --help)\n"
