"""`mrt-regret`: the regret analysis of a file of traces (analyse_trace, the files, resume)."""

import itertools
import json
import math
import os
import subprocess
import sys

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.episodes import EpisodeConfig
from mrt_env.lm import TransformersLM
from mrt_env.lm.base import Completion
from mrt_env.lm.testing import tiny_lm
from mrt_env.prover import ForcedAnswerProver, LikelihoodProver
from mrt_env.regret import analyse_trace, load_traces, main, write_plots

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# An R1-style stream: 3 episodes, each opened by "Wait," after at least 3 paragraphs.
R1_TRACE = (
    "We need 2+3.\n\nStart with 2.\n\nAdd 3 to it.\n\nThat gives 6.\n\n"
    "Wait, 2+3 is not 6.\n\nCount again: 3, 4, 5.\n\nSo it is 5.\n\n"
    "Wait, let me double-check.\n\n5 - 3 = 2, fine.\n\nSo the answer is \\boxed{5}."
)
TRACE = {"problem_id": "toy/1", "question": "What is 2+3?", "answer": "5", "response": R1_TRACE}
SMALL = ["--prover.k", "2", "--prover.max-answer-tokens", "4", "--budgets", "16", "64", "512"]
ROW_FIELDS = {
    "id",
    "problem_id",
    "gold_answer",
    "blocks",
    "prefix_tokens",
    "success_probs",
    "progress",
    "regret_terms",
    "regret_cumulative",
    "regret",
    "token_regret",
    "final_j",
    "correct",
    "answer",
    "seconds",
}


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return tiny_lm(tmp_path_factory.mktemp("m"), max_positions=2048)


@pytest.fixture(scope="module")
def lm(model_dir):
    return TransformersLM.from_pretrained(model_dir)


def _check_row(row, episodes, budgets):
    assert row["blocks"] == episodes
    j = row["success_probs"]
    assert len(j) == episodes + 1 and all(0.0 <= x <= 1.0 for x in j)
    assert len(row["progress"]) == episodes
    assert row["progress"] == pytest.approx([b - a for a, b in itertools.pairwise(j)])
    assert len(row["regret_terms"]) == len(row["regret_cumulative"]) == episodes
    assert row["regret"] == pytest.approx(sum(row["regret_terms"]))
    assert row["regret_cumulative"][-1] == pytest.approx(row["regret"])
    tokens = row["prefix_tokens"]
    assert len(tokens) == episodes + 1 and tokens[0] == 0
    assert all(a < b for a, b in itertools.pairwise(tokens))
    assert set(row["token_regret"]) == {str(b) for b in budgets}
    assert all(0.0 <= r <= 1.0 for r in row["token_regret"].values())
    assert row["final_j"] == j[-1]
    assert json.loads(json.dumps(row)) == row  # JSON-serialisable, round-trips exactly


@pytest.mark.parametrize("kind", ["forced", "likelihood"])
def test_analyse_trace_on_an_r1_style_trace(lm, kind):
    if kind == "forced":
        prover = ForcedAnswerProver(lm, k=2, max_answer_tokens=4)
    else:
        prover = LikelihoodProver(lm)
    budgets = (16, 64, 4096)
    row = analyse_trace(TRACE, prover=prover, lm=lm, budgets=budgets)
    _check_row(row, 3, budgets)
    assert set(row) >= ROW_FIELDS
    assert row["id"] == row["problem_id"] == "toy/1"
    assert row["prefix_tokens"][-1] == len(R1_TRACE)  # the tiny tokenizer: one token per character
    assert row["correct"] is True and row["answer"] == "5"  # the response graded as written
    if kind == "forced":
        assert [len(a) for a in row["prover_answers"]] == [2] * 4
    # max_steps=1: one boundary, the rest one episode; group_size=2 merges them.
    for rule in (EpisodeConfig(max_steps=1), EpisodeConfig(group_size=2)):
        assert analyse_trace(TRACE, prover=prover, lm=lm, rule=rule)["blocks"] == 2


class LastBoxedFakeLM:
    """Answers with the last \\boxed{} of its context: J jumps once the stream holds it."""

    name = "last-boxed-fake"

    def generate(self, prompts, sampling):
        def last(p):
            return p.rpartition("\\boxed{")[2].partition("}")[0] if "\\boxed{" in p else "0"

        return [[Completion(f"\\boxed{{{last(p)}}}", 4, "stop")] * sampling.n for p in prompts]

    def count_tokens(self, text):
        return len(text.split())

    def chat_prompt(self, messages):
        return None


def test_analyse_trace_numbers_with_a_scripted_prover():
    # The answer first appears in the last episode: J = [0, 0, 0, 1].
    fake = LastBoxedFakeLM()
    prover = ForcedAnswerProver(fake, k=2)
    row = analyse_trace(TRACE, prover=prover, lm=fake, budgets=[1000], measure="stream")
    assert row["success_probs"] == [0.0, 0.0, 0.0, 1.0]
    assert row["progress"] == [0.0, 0.0, 1.0]
    assert row["regret_terms"] == [1.0, 1.0, 0.0] and row["regret"] == 2.0
    assert row["regret_cumulative"] == [1.0, 2.0, 2.0]
    t = row["prefix_tokens"]
    assert t[-1] == len(R1_TRACE.split())
    # Curve: 0 until t2, linear to 1 at t3, then flat: area = (t3 - t2) / 2 + (1000 - t3).
    assert row["token_regret"]["1000"] == pytest.approx(
        1 - ((t[3] - t[2]) / 2 + 1000 - t[3]) / 1000
    )
    # No question: μ sees the response alone, and the line/id rules still hold.
    bare = {"id": "x", "answer": "5", "response": R1_TRACE}
    assert analyse_trace(bare, prover=ForcedAnswerProver(fake, k=1), lm=fake)["id"] == "x"


def _write_traces(path, n=3):
    rows = [
        {**TRACE, "problem_id": f"toy/{i}", "response": R1_TRACE.replace("2+3", f"2+{i}")}
        for i in range(n)
    ]
    rows[1].pop("problem_id")  # no id: the line number is the id
    rows[1]["answer"] = 6  # a number is read as a string; the response says 5: wrong
    if n > 2:
        rows[2]["response"] = "Just guessing.\n\n\\boxed{7}"  # one episode, wrong
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _args(traces, out, model_dir, *extra):
    return [
        str(traces),
        "--model.name",
        str(model_dir),
        "--model.backend",
        "transformers",
        "--model.device",
        "cpu",
        "--out",
        str(out),
        *SMALL,
        *extra,
    ]


def test_end_to_end_files_and_resume(tmp_path, model_dir, capsys):
    traces, out = _write_traces(tmp_path / "traces.jsonl"), tmp_path / "out"
    assert main(_args(traces, out, model_dir, "--limit", "1")) == 0
    first = (out / "rows.jsonl").read_text().splitlines()
    assert len(first) == 1

    assert main(_args(traces, out, model_dir)) == 0
    printed = capsys.readouterr().out
    lines = (out / "rows.jsonl").read_text().splitlines()
    assert len(lines) == 3 and lines[0] == first[0]  # resumed: row 1 was not recomputed
    rows = [json.loads(line) for line in lines]
    assert [r["id"] for r in rows] == ["toy/0", "2", "toy/2"]
    for row in rows:
        assert set(row) >= ROW_FIELDS
    _check_row(rows[0], 3, (16, 64, 512))
    _check_row(rows[2], 1, (16, 64, 512))
    assert [r["correct"] for r in rows] == [True, False, False]  # 5 != 6; 7 != 5

    md, csv_text = (out / "summary.md").read_text(), (out / "summary.csv").read_text()
    for metric in (
        "blocks",
        "final_j",
        "accuracy",
        "regret",
        "token_regret@16",
        "token_regret@512",
    ):
        assert metric in md and metric in csv_text and metric in printed
    assert "± " in md and str(model_dir) in md
    csv_rows = [line.split(",") for line in csv_text.splitlines()]
    assert csv_rows[0] == ["metric", "mean", "ci95", "n"]
    accuracy = next(r for r in csv_rows if r[0] == "accuracy")
    assert float(accuracy[1]) == pytest.approx(1 / 3) and accuracy[3] == "3"
    assert float(accuracy[2]) == pytest.approx(1.96 * math.sqrt(1 / 3) / math.sqrt(3))
    for name in ("j_curve.png", "regret.png"):
        data = (out / name).read_bytes()
        assert data[:8] == PNG_SIGNATURE and len(data) > 1000
        assert str(out / name) in printed

    # Nothing left to do: no model is loaded, the summary is rewritten.
    assert main(_args(traces, out, model_dir)) == 0
    assert (out / "rows.jsonl").read_text().splitlines() == lines
    # Other settings into the same folder are refused, unless --overwrite.
    assert main(_args(traces, out, model_dir, "--prover.seed", "1")) == 1
    assert "other settings (seed: 0 -> 1)" in capsys.readouterr().err


def test_resume_drops_a_torn_last_line(tmp_path, model_dir, capsys):
    traces, out = _write_traces(tmp_path / "traces.jsonl", n=2), tmp_path / "out"
    assert main(_args(traces, out, model_dir, "--prover.kind", "likelihood", "--limit", "1")) == 0
    rows_path = out / "rows.jsonl"
    kept = rows_path.read_text()
    rows_path.write_text(kept + '{"id": "2", "episo')  # a run killed mid-write
    assert main(_args(traces, out, model_dir, "--prover.kind", "likelihood")) == 0
    lines = rows_path.read_text().splitlines()
    assert len(lines) == 2 and lines[0] == kept.rstrip("\n")
    assert [json.loads(line)["id"] for line in lines] == ["toy/0", "2"]
    assert "incomplete last line" in capsys.readouterr().err


def test_a_trace_longer_than_the_context_is_an_error_row(tmp_path, model_dir, capsys):
    traces = _write_traces(tmp_path / "traces.jsonl", n=2)
    long = {**TRACE, "problem_id": "long", "response": "x" * 2100}  # the window is 2048
    traces.write_text(traces.read_text() + json.dumps(long) + "\n")
    out = tmp_path / "out"
    assert main(_args(traces, out, model_dir, "--prover.kind", "likelihood")) == 0
    rows = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert [("error" in r) for r in rows] == [False, False, True]
    assert "1 trace(s) failed" in capsys.readouterr().out
    assert "Failed traces" in (out / "summary.md").read_text()


def test_plots_are_skipped_with_one_line_without_matplotlib(tmp_path, monkeypatch, capsys):
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib` fail
    assert write_plots([], tmp_path, title="m") == []
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and "pip install 'mrt-env[plot]'" in out


def test_bad_rows_are_errors_naming_file_and_line(tmp_path, model_dir, capsys):
    path = tmp_path / "bad.jsonl"
    path.write_text(json.dumps(TRACE) + "\n" + json.dumps({"id": "b", "response": "x"}) + "\n")
    assert main(_args(path, tmp_path / "out", model_dir)) == 1
    err = capsys.readouterr().err
    assert f"{path}:2" in err and "missing 'answer'" in err
    path.write_text(json.dumps({"answer": "1", "response": "x"}) + "\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: needs 'problem_id' \(or 'id'\)"):
        load_traces(path)
    path.write_text("{not json\n")
    with pytest.raises(ValueError, match=r"bad\.jsonl:1: not valid JSON"):
        load_traces(path)
    # Repeated ids (several samples of one problem) stay distinct.
    path.write_text("".join(json.dumps(TRACE) + "\n" for _ in range(3)))
    assert [t["id"] for t in load_traces(path)] == ["toy/1", "toy/1#2", "toy/1#3"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--budgets", "0"], "--budgets must be positive"),
        (["--prover.k", "0"], "--prover.k must be >= 1, got 0"),
        (["--prover.temperature", "-1"], "--prover.temperature must be a finite number >= 0"),
        (["--model.backend", "openai"], "--model.backend openai needs --model.base-url"),
        (["--episodes.rule", "tokens"], "--episodes.rule 'tokens' needs --episodes.chunk-tokens"),
        (["--episodes.group-size", "0"], "--episodes.group-size must be >= 1, got 0"),
    ],
)
def test_bad_options_are_rejected_with_a_message(tmp_path, capsys, extra, message):
    assert main([str(tmp_path / "t.jsonl"), "--model.name", "m", *extra]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrt-regret: error: ") and message in err
    assert len(err.splitlines()) == 1  # one line, not tyro's boxed usage


def test_help_lists_every_option():
    proc = subprocess.run(
        [sys.executable, "-c", "from mrt_env.regret import main; main(['--help'])"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "200"},
    )
    assert proc.returncode == 0, proc.stderr
    options = [
        "--model.name",
        "--out",
        "--model.backend",
        "--model.base-url",
        "--model.tokenizer",
        "--model.device",
        "--model.dtype",
        "--prover.kind",
        "--prover.k",
        "--prover.temperature",
        "--prover.top-p",
        "--prover.max-answer-tokens",
        "--prover.forcing-text",
        "--prover.seed",
        "--episodes.rule",
        "--episodes.max-steps",
        "--episodes.group-size",
        "--episodes.min-paragraphs",
        "--episodes.chunk-tokens",
        "--budgets",
        "--limit",
        "--overwrite",
        "TRACES",
        "mrt-regret",
        "normalized token",
        "JSONL",
    ]
    for option in options:
        assert option in proc.stdout, option


def test_import_loads_no_model_library():
    code = (
        "import sys, mrt_env.regret; "
        "print([m for m in ('torch', 'transformers', 'vllm', 'matplotlib') if m in sys.modules])"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.stdout.strip() == "[]", proc.stderr
