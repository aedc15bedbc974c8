"""The command line: `mrt-grade` / `python -m mrt_env.grading`."""

import json
import os
import subprocess
import sys

import pytest

from mrt_env.grading.__main__ import main


def test_cli_grades_arguments_and_exits_by_verdict_with_check(capsys):
    code = main(["--gold", "70", r"<think>\boxed{7}</think> So \boxed{070}.", "x = 70"])
    out = capsys.readouterr().out.splitlines()
    assert code == 0
    assert len(out) == 2 and all(line.startswith("correct") for line in out)
    assert main(["--gold", "70", "71"]) == 0
    assert capsys.readouterr().out.startswith("wrong")
    assert main(["--gold", "70", "71", "--check"]) == 1
    assert main(["--gold", "70", "070", "--check"]) == 0


def test_cli_reads_stdin_and_writes_json():
    proc = subprocess.run(
        [sys.executable, "-m", "mrt_env.grading", "--gold", "1/2", "-", "--json"],
        input="\\frac{1}{2}\n0.5\n0.33\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    rows = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["correct"] for r in rows] == [True, True, False]
    assert rows[0]["extracted"] == "\\frac{1}{2}"
    assert proc.returncode == 0


def test_cli_help_documents_every_option():
    proc = subprocess.run(
        [sys.executable, "-m", "mrt_env.grading", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0
    for option in ("--gold", "--timeout", "--json", "--check", "reference answer"):
        assert option in proc.stdout


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf", "1e300", "-inf", "86401"])
def test_cli_rejects_a_timeout_out_of_range_on_one_line(timeout, capsys):
    assert main(["--gold", "1", "1", "--timeout", timeout]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("mrt-grade: error: --timeout must be a number of seconds in (0, 86400]")
    assert len(err.strip().splitlines()) == 1, err


def test_cli_bad_timeout_ends_in_one_line_and_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "mrt_env.grading", "--gold", "1", "1", "--timeout", "1e300"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        "mrt-grade: error: --timeout must be a number of seconds in (0, 86400], got 1e+300"
    ]


def test_cli_prints_a_response_that_is_not_valid_utf8():
    # An argument that is not UTF-8 reaches Python as a lone surrogate; a strict stdout
    # cannot print it, so that JSON line escapes it.
    proc = subprocess.run(
        [sys.executable, "-m", "mrt_env.grading", "--gold", "1", "\udcff", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONIOENCODING": "utf-8"},
    )
    assert proc.returncode == 0, proc.stderr
    (row,) = [json.loads(line) for line in proc.stdout.splitlines()]
    assert row["response"] == "\udcff" and row["correct"] is False
