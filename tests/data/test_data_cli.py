"""The command line: `python -m mrt_env.data NAME`."""

import json
import subprocess
import sys

from mrt_env.data.__main__ import answer_kind, main


def test_summary_of_a_named_set(shared_data, capsys):
    assert main(["amc23", "--path", str(shared_data)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("amc23: 40 problems (ids amc23/0 ... amc23/")
    assert "answer types: 40 integer" in out
    assert "first problem: amc23/0" in out and "Cities $A$ and $B$" in out
    assert "  answer: 27" in out


def test_summary_with_limit_and_mixed_answer_types(shared_data, capsys):
    assert main(["math500", "--path", str(shared_data), "--limit", "60", "--width", "40"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("math500: 60 problems")
    assert "integer" in out and "expression" in out


def test_a_file_as_name(tmp_path, capsys):
    path = tmp_path / "mine.jsonl"
    path.write_text(json.dumps({"question": "2+2?", "answer": "4"}) + "\n")
    assert main([str(path)]) == 0
    assert capsys.readouterr().out.startswith("mine: 1 problem (ids mine/0 ... mine/0)")


def test_without_a_name_it_lists_the_sets(capsys):
    assert main([]) == 0
    out = capsys.readouterr().out
    names = ("aime24", "aime25", "aime ", "amc23", "math500", "minerva", "aime_1983")
    assert all(n in out for n in names)


def test_errors_exit_1_with_the_loader_message(tmp_path, capsys):
    assert main(["aime2099"]) == 1
    assert "unknown problem set 'aime2099'" in capsys.readouterr().err
    assert main(["aime24", "--path", str(tmp_path)]) == 1
    assert "no data for 'aime24' in this folder" in capsys.readouterr().err


def test_answer_kinds():
    kinds = [
        answer_kind(a) for a in ("070", "-2.5", "3/4", "\\frac{1}{2}", "\\text{Evelyn}", "x^2")
    ]
    assert kinds == ["integer", "decimal", "fraction", "fraction", "text", "expression"]


def test_help_documents_every_option_and_bad_limit_is_rejected():
    run = [sys.executable, "-m", "mrt_env.data"]
    proc = subprocess.run([*run, "--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0
    for option in (
        "--path",
        "--split",
        "--limit",
        "--width",
        "MRT_ENV_DATA_DIR",
        "python -m mrt_env.data",
    ):
        assert option in proc.stdout, option
    proc = subprocess.run(
        [*run, "aime24", "--limit", "0"], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0
    assert "--limit must be a positive integer" in proc.stdout + proc.stderr


def test_a_hostile_file_is_one_line_or_a_short_summary(tmp_path, capsys):
    surrogate = tmp_path / "s.jsonl"
    surrogate.write_text('{"question": "What is \\ud800?", "answer": "1"}\n')
    assert main([str(surrogate)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("mrt-data: error: ") and err.count("\n") == 1
    assert "line 1: 'question' holds a lone surrogate escape" in err
    huge = tmp_path / "h.jsonl"
    huge.write_text('{"question": "q", "answer": ' + "7" * 5000 + "}\n")
    assert main([str(huge), "--width", "40"]) == 0
    out = capsys.readouterr().out
    assert "  answer: " + "7" * 36 + " ...\n" in out  # cut to --width, not 5000 digits


def test_a_folder_as_the_name_says_so(tmp_path, capsys):
    # Before: "no such file", of a folder that exists.
    assert main([str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{tmp_path} is a folder, not a file" in err
    assert f"--path {tmp_path}" in err
