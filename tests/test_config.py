"""Config: value objects checked once when built, or right after a command line is parsed."""

from dataclasses import dataclass, field

import pytest

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
