"""The package itself: cheap import, error hierarchy, typed data objects, optional extras."""

import subprocess
import sys

import pytest

import mrt_env
from mrt_env.errors import DataNotFound, DependencyNotInstalled, GradingError, MrtError
from mrt_env.extras import require
from mrt_env.types import GradeResult, Problem


def test_import_mrt_env_does_not_import_heavy_dependencies():
    code = (
        "import sys, mrt_env, mrt_env.grading, mrt_env.data, mrt_env.lm\n"
        "names = ('torch', 'transformers', 'vllm', 'datasets', 'trl')\n"
        "heavy = [m for m in names if m in sys.modules]\n"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_version_is_exposed():
    assert mrt_env.__version__.count(".") == 2


def test_every_error_is_an_mrt_error_and_keeps_its_builtin_meaning():
    for cls in (DependencyNotInstalled, GradingError, DataNotFound):
        assert issubclass(cls, MrtError)
    assert issubclass(DependencyNotInstalled, ImportError)
    assert issubclass(DataNotFound, FileNotFoundError)


def test_dependency_not_installed_names_the_extra():
    err = DependencyNotInstalled("vllm", "vllm", feature="the vLLM backend")
    assert "pip install 'mrt-env[vllm]'" in str(err)
    assert "the vLLM backend" in str(err)


def test_require_translates_only_a_missing_top_level_module():
    assert require("json", extra="dev") is sys.modules["json"]
    with pytest.raises(DependencyNotInstalled, match=r"mrt-env\[hf\]"):
        require("surely_not_installed_pkg_123", extra="hf")


def test_problem_is_frozen_and_validated():
    p = Problem(
        id="aime24-1", question="What is 1+1?", answer="2", source="aime24", metadata={"year": 2024}
    )
    with pytest.raises(AttributeError):
        p.answer = "3"  # type: ignore[misc]
    assert hash(p) == hash(Problem("aime24-1", "What is 1+1?", "2", "aime24"))
    with pytest.raises(TypeError, match=r"Problem\.answer must be a str, got int"):
        Problem(id="x", question="q", answer=2)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="empty question"):
        Problem(id="x", question="  ", answer="2")


def test_grade_result_is_truthy_when_correct():
    assert GradeResult(True, "1")
    assert not GradeResult(False, None, timed_out=True, reason="sympy comparison exceeded 5 s")
