"""`mrt-regret` on hostile or broken input: bounded memory, unique ids, a locked folder, and
one line of error (never a traceback) for a bad file. No model library is needed: a scripted
fake model stands in (tests/fakes.py)."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest
from fakes import CopyLastBoxedFakeLM

import mrt_env.regret.cli as regret_cli
from mrt_env.episodes import episode_boundaries, prefix_ends
from mrt_env.errors import DataFormatError
from mrt_env.prover import (
    AUTHORS_FINAL_TEXT,
    PAPER_FORCING_TEXT,
    FinishedText,
    ProverEstimate,
    score_finished,
)
from mrt_env.regret import load_traces, main
from mrt_env.types import Problem

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--prover.k", "1", "--prover.max-answer-tokens", "4", "--budgets", "64"]

# A fake model with a context window: it refuses a prompt that does not fit, as a real
# backend does (one token per character, as its count_tokens says). With WINDOW = 0 it has
# no known window (a server's): only its own check, at a call, refuses a long prompt.
_MEMORY_SCRIPT = textwrap.dedent(
    """
    import json, resource, sys
    cap = int(sys.argv[1])
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))  # first: every import counts
    from pathlib import Path
    import mrt_env.regret.cli as cli
    from mrt_env.lm.base import Completion, check_context

    WINDOW, MEGABYTES, folder = int(sys.argv[2]), float(sys.argv[3]), Path(sys.argv[4])

    class WindowedFakeLM:
        name = "windowed-fake"
        max_context = WINDOW or None

        def generate(self, prompts, sampling):
            for i, p in enumerate(prompts):
                check_context(len(p), sampling.max_tokens, 4096, where=f"fake generate[{i}]")
            return [[Completion("\\\\boxed{0}", 4, "stop")] * sampling.n for _ in prompts]

        def count_tokens(self, text):
            return len(text)

        def chat_prompt(self, messages):
            return None

    cli.build_lm = lambda config: WindowedFakeLM()
    # An R1-style stream: an episode opens with "Wait," after three paragraphs of work.
    episode = "Wait, once more.\\n\\n" + "Some work on the problem, a line of it.\\n\\n" * 3
    response = episode * int(MEGABYTES * 1e6 / len(episode))
    trace = {"id": "long", "answer": "1", "response": response}
    (folder / "t.jsonl").write_text(json.dumps(trace) + "\\n")
    args = [str(folder / "t.jsonl"), "--model.name", "fake", "--out", str(folder / "out")]
    status = cli.main([*args, "--prover.k", "1", "--prover.max-answer-tokens", "4"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"status": status, "peak_mb": peak, "episodes": response.count("Wait,")}))
    """
)


@pytest.mark.parametrize("window", [4096, 0], ids=["known-window", "server-window"])
def test_a_long_response_with_many_episodes_runs_in_bounded_memory(tmp_path, window):
    # 3 MB in 18,000 episodes: the prefixes alone add up to 27 GB of text. Under a 2.5 GB
    # address-space cap the run must reach the trace's context-too-long row.
    cap = 2_500 * 2**20
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", _MEMORY_SCRIPT, str(cap), str(window), "3", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=240,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Status 1: the one trace failed (its context-too-long row), and a run whose every trace
    # failed says so with its exit status.
    assert result["status"] == 1 and result["episodes"] > 15_000
    assert result["peak_mb"] < 1_000, result  # about 130 MB measured; 27 GB unbounded
    (row,) = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").open()]
    assert row["id"] == "long" and "exceeds the model's context of 4096 tokens" in row["error"]


class RecordingProver:
    """A stand-in μ with the paper's forcing text that records each call's requests."""

    config = SimpleNamespace(forcing_text=PAPER_FORCING_TEXT)  # read as a real prover's

    def __init__(self):
        self.calls = []

    def estimate_batch(self, requests):
        self.calls.append(list(requests))
        return [ProverEstimate(0.0) for _ in requests]


def test_prefixes_scored_in_batches_are_the_requests_of_one_call():
    # A long trace is scored a batch at a time (the last prefixes first): μ must get the
    # requests it gets when all go in one call.
    problem = Problem("p", "q", "1")
    for text in ["", "A", "A\n\nB\n", "x\n\ny\n\nz\n\nWait, no.\n\nq\n\nr\n\ns\n\nWait, ok.\n"]:
        for rule in ("markers", "lines"):
            ends = prefix_ends(text, episode_boundaries(text, rule=rule))
            finished = FinishedText(problem, "P:", text, ends)
            for close in (None, AUTHORS_FINAL_TEXT):
                whole, parts = RecordingProver(), RecordingProver()
                score_finished(whole, [finished], close=close)
                score_finished(parts, [finished], close=close, max_chars=2)  # one request a call
                assert len(whole.calls) == 1 and len(parts.calls) == len(ends)
                assert [r for call in parts.calls[::-1] for r in call] == whole.calls[0]


# --------------------------------------------------------------------------------------------
# Ids, rows and the folder


def _trace(key, answer="5", correct=True):
    response = f"Work.\n\nSo \\boxed{{{answer if correct else 0}}}."
    return {"problem_id": key, "answer": answer, "response": response}


def _write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture
def fake_model(monkeypatch):
    """mrt-regret's model is a scripted fake (it answers the last \\boxed{} it sees)."""
    monkeypatch.setattr(regret_cli, "build_lm", lambda config: CopyLastBoxedFakeLM())


def _run(traces, out, *extra):
    return main([str(traces), "--model.name", "fake", "--out", str(out), *SMALL, *extra])


def test_ids_are_unique_even_when_a_suffix_is_taken(tmp_path, fake_model, capsys):
    # Before: a, a, a#2 gave two rows with the id a#2, and a summary of 3 traces with
    # accuracy 1 (the row of one counted twice); the truth is 2 of 3 right.
    traces = _write(tmp_path / "t.jsonl", [_trace("a"), _trace("a", correct=False), _trace("a#2")])
    assert [t["id"] for t in load_traces(traces)] == ["a", "a#3", "a#2"]
    # Ids depend on the whole file, not on --limit: a resumed run finds its rows.
    assert [t["id"] for t in load_traces(traces, limit=2)] == ["a", "a#3"]
    assert _run(traces, tmp_path / "out") == 0
    rows = [json.loads(line) for line in (tmp_path / "out" / "rows.jsonl").open()]
    assert [r["id"] for r in rows] == ["a", "a#3", "a#2"]
    assert [r["correct"] for r in rows] == [True, False, True]
    csv_rows = [line.split(",") for line in (tmp_path / "out" / "summary.csv").open()]
    accuracy = next(r for r in csv_rows if r[0] == "accuracy")
    assert float(accuracy[1]) == pytest.approx(2 / 3) and accuracy[3].strip() == "3"


def test_a_second_run_on_the_same_folder_is_refused_in_one_line(tmp_path, fake_model, capsys):
    # Before: both runs went ahead and every row was written twice.
    traces, out = _write(tmp_path / "t.jsonl", [_trace("a"), _trace("b")]), tmp_path / "out"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from pathlib import Path; from mrt_env.runfiles import locked\n"
            "with locked(Path(sys.argv[1]), 'mrt-regret'):\n"
            "    print('held', flush=True); sys.stdin.read()",
            str(out),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        assert _run(traces, out) == 1
        err = capsys.readouterr().err.strip()
        assert err.startswith("mrt-regret: error: ") and len(err.splitlines()) == 1
        assert "in use by another mrt-regret run" in err
        assert not (out / "rows.jsonl").exists()
    finally:
        holder.communicate("", timeout=30)
    assert _run(traces, out) == 0  # the lock goes with its run
    assert len((out / "rows.jsonl").read_text().splitlines()) == 2


def test_a_resume_after_the_traces_changed_is_refused(tmp_path, fake_model, capsys):
    # Before: an edited trace (or an appended line that shifts the ids of repeats) kept the
    # row of the old content under its id, silently.
    traces, out = _write(tmp_path / "t.jsonl", [_trace("a"), _trace("b")]), tmp_path / "out"
    assert _run(traces, out, "--limit", "1") == 0
    _write(traces, [_trace("a", answer="6"), _trace("b")])
    capsys.readouterr()
    assert _run(traces, out) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "row for trace 'a'" in err
    assert "computed from other content" in err and "--overwrite" in err
    assert _run(traces, out, "--overwrite") == 0


def test_rows_written_twice_by_an_older_run_count_once(tmp_path, fake_model, capsys):
    traces, out = _write(tmp_path / "t.jsonl", [_trace("a"), _trace("b")]), tmp_path / "out"
    assert _run(traces, out) == 0
    rows = (out / "rows.jsonl").read_text()
    (out / "rows.jsonl").write_text(rows + rows)  # two unlocked runs, before
    capsys.readouterr()
    assert _run(traces, out) == 0
    captured = capsys.readouterr()
    assert "holds 2 row(s) twice (ids a, b)" in captured.err
    csv_rows = [line.split(",") for line in (out / "summary.csv").open()]
    assert next(r for r in csv_rows if r[0] == "accuracy")[3].strip() == "2"


# --------------------------------------------------------------------------------------------
# A bad traces file: one line of error naming the place, exit status 1


def _bad(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


GOOD = json.dumps(_trace("a"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"problem_id": "a", "answer": "1", "response": "caf\xe9"}\n', "not UTF-8 text"),
        ("[" * 100_000 + "\n", "nested too deeply to read"),
        ('{"id": "a", "answer": "1", "response": "x \\ud800 y"}\n', "lone surrogate"),
        ('{"id": "\\udc00", "answer": "1", "response": "x"}\n', "'id' holds a lone"),
        ("", "no traces (the file is empty)"),
        ("\n  \n", "no traces (the file is empty)"),
        ("[1, 2]\n", "expected a JSON object, got list"),
        ('{"id": "a", "response": "x"}\n', "missing 'answer'"),
        ('{"id": "a", "answer": [1], "response": "x"}\n', "'answer' must be a string, got list"),
        ('{"id": "a", "answer": "1", "response": 5}\n', "'response' must be a string, got int"),
        ('{"id": "a", "answer": NaN, "response": "x"}\n', "'answer' must be a finite number"),
        ('{"id": "a", "answer": true, "response": "x"}\n', "'answer' must be a string, got bool"),
        ('{"answer": "1", "response": "x"}\n', "needs 'problem_id' (or 'id') or 'question'"),
        (GOOD + "\n{not json\n", ":2: not valid JSON"),
    ],
)
def test_a_bad_traces_file_is_one_line(tmp_path, content, message, capsys):
    traces = _bad(tmp_path, "t.jsonl", content)
    assert _run(traces, tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrt-regret: error: ") and len(err.splitlines()) == 1, err[:500]
    assert message in err and "Traceback" not in err
    with pytest.raises(DataFormatError):
        load_traces(traces)


def test_a_huge_number_is_read_as_its_digits(tmp_path):
    # Python reads at most 4300 digits into an int: the answer keeps its 5000 digits.
    traces = _bad(tmp_path, "t.jsonl", '{"id": 7, "answer": ' + "9" * 5000 + ', "response": "x"}\n')
    (trace,) = load_traces(traces)
    assert trace["answer"] == "9" * 5000 and trace["id"] == "7"


def test_a_folder_or_an_unwritable_out_is_one_line(tmp_path, capsys):
    assert _run(tmp_path, tmp_path / "out") == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "is a folder, not a file" in err
    traces = _bad(tmp_path, "t.jsonl", GOOD + "\n")
    blocker = _bad(tmp_path, "file", "")
    assert _run(traces, blocker / "out") == 1  # --out inside a file: the OS refuses
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrt-regret: error: ") and len(err.splitlines()) == 1
