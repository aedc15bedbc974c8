"""The command line: `mrt-grade` / `python -m mrt_env.grading`."""

import json
import subprocess
import sys

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


def test_cli_rejects_a_bad_timeout_with_a_message():
    proc = subprocess.run(
        [sys.executable, "-m", "mrt_env.grading", "--gold", "1", "1", "--timeout", "-1"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode != 0
    assert "--timeout must be positive" in proc.stdout + proc.stderr
