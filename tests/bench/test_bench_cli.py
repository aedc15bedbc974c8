"""mrt-bench end to end on the shipped tiny model (the real model, nothing faked)."""

import csv
import json
import math
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from mrt_env.bench.cli import main
from mrt_env.bench.config import BenchConfig
from mrt_env.bench.runner import plan_envs, prepare_out, read_results, run_episodes

REPO = Path(__file__).resolve().parents[2]


def rows_of(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]


def summary_of(out: Path) -> dict[tuple[str, str, str], dict]:
    with (out / "summary.csv").open() as f:
        return {(r["env"], r["strategy"], r["metric"]): r for r in csv.DictReader(f)}


def test_a_reduced_default_run_end_to_end(tmp_path, capsys):
    strategies = ["think-to-budget", "parallel-vote"]
    argv = [
        "--problems",
        "0:3",
        "--samples",
        "2",
        "--batch",
        "3",
        "--out",
        str(tmp_path),
        "--strategies",
        *strategies,
    ]
    assert main(argv) == 0
    rows = rows_of(tmp_path)
    envs = ["MRT-Search-v0", "MRT-Arithmetic-v0"]  # the default envs
    assert len(rows) == len(envs) * len(strategies) * 2 * 3
    assert len({r["key"] for r in rows}) == len(rows)
    for r in rows:
        k = len(r["blocks"])
        assert k >= 1 and len(r["success_probs"]) == len(r["prefix_tokens"]) == k + 1
        assert len(r["compute_tokens"]) == k + 1 and r["compute_tokens"][0] == 0
        assert r["compute_tokens"][-1] >= r["prefix_tokens"][-1] > 0
        assert r["outcome"] in ("committed", "forced") and isinstance(r["correct"], bool)
        assert all(0.0 <= j <= 1.0 for j in r["success_probs"])
        if r["strategy"] == "parallel-vote":  # its streams are compute off the transcript
            assert k == 1 and r["compute_tokens"][-1] > r["prefix_tokens"][-1]
    summary = summary_of(tmp_path)
    for env in envs:
        for strategy in strategies:
            for metric in ("accuracy", "pass@2", "maj@2", "tokens", "regret", "anytime_regret"):
                stat = summary[(env, strategy, metric)]
                assert math.isfinite(float(stat["mean"])) and int(stat["n"]) > 0
    assert ("MRT-Search-v0", "think-to-budget", "token_regret@480") in summary  # 10 x 48
    assert ("MRT-Arithmetic-v0", "think-to-budget", "accuracy@96") in summary  # 8 x 48 / 4
    md = (tmp_path / "summary.md").read_text()
    assert "## MRT-Search-v0" in md and "## MRT-Arithmetic-v0" in md
    import matplotlib.image

    for name in ("accuracy_vs_tokens.png", "j_curve.png", "regret_vs_tokens.png"):
        path = tmp_path / name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 20_000
        height, width, _ = matplotlib.image.imread(path).shape
        assert width > 800 and height > 300  # two panels side by side
    out = capsys.readouterr().out
    assert "| strategy | attempts | accuracy |" in out and f"plots: {tmp_path}" in out


def test_a_killed_run_resumes_with_nothing_lost_or_repeated(tmp_path, capsys):
    common = [
        "--envs",
        "MRT-Search-v0",
        "--strategies",
        "think-to-budget",
        "--problems",
        "0:6",
        "--samples",
        "1",
        "--batch",
        "2",
    ]
    assert main([*common, "--out", str(tmp_path / "full")]) == 0
    full = {r["key"]: r for r in rows_of(tmp_path / "full")}

    # The same run, killed after its third row: mid-batch, with a half-written line.
    config = BenchConfig(
        envs=("MRT-Search-v0",),
        strategies=("think-to-budget",),
        problems="0:6",
        samples=1,
        batch=2,
        out=tmp_path / "killed",
    )
    rows_path, _ = prepare_out(config)
    from mrt_env.lm import load_default

    episodes = run_episodes(config, plan_envs(config, set()), load_default(), rows_path)
    first = [next(episodes) for _ in range(3)]
    episodes.close()
    with rows_path.open("a") as f:
        f.write('{"key": "MRT-Search-v0|think-to')  # the kill hit mid-write
    assert [r["key"] for r in read_results(rows_path)] == [r["key"] for r in first]

    assert main([*common, "--out", str(tmp_path / "killed")]) == 0
    assert "dropping an incomplete last line" in capsys.readouterr().err
    resumed = rows_of(tmp_path / "killed")
    assert [r["key"] for r in resumed[:3]] == [r["key"] for r in first]  # kept, not redone
    assert sorted(r["key"] for r in resumed) == sorted(full)  # none lost, none twice
    for r in resumed:  # ... and the same episodes as the uninterrupted run
        assert r["blocks"] == full[r["key"]]["blocks"]
        assert r["success_probs"] == pytest.approx(full[r["key"]]["success_probs"], abs=1e-6)

    # Resuming under other settings would mix rows: refused, naming what changed.
    assert main([*common, "--out", str(tmp_path / "killed"), "--agent.temperature", "0.5"]) == 1
    err = capsys.readouterr().err
    assert "holds rows computed with other settings" in err and "temperature: None -> 0.5" in err

    # A duplicated line (a file copied together) is still one episode.
    path = tmp_path / "killed" / "results.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join([*lines, lines[0]]))
    assert sorted(r["key"] for r in read_results(path)) == sorted(full)
    assert main([*common, "--out", str(tmp_path / "killed")]) == 0
    episodes = {
        r["metric"]: r for r in csv.DictReader((tmp_path / "killed" / "summary.csv").open())
    }
    assert int(episodes["accuracy"]["n"]) == len(full)

    # A second run on a folder in use is refused at once instead of interleaving rows.
    from mrt_env.runfiles import locked

    with locked(tmp_path / "killed", "mrt-bench"):
        assert main([*common, "--out", str(tmp_path / "killed")]) == 1
    assert "in use by another mrt-bench run" in capsys.readouterr().err


def test_user_strategies_by_file_and_by_module(tmp_path, monkeypatch):
    (tmp_path / "my_agents.py").write_text(
        "from mrt_env.agents import LMAgent\n"
        "class Greedy(LMAgent):\n"
        "    '''The model at temperature 0 (a user's LMAgent subclass).'''\n"
        "    def __init__(self, lm, **kwargs):\n"
        "        super().__init__(lm, **{**kwargs, 'temperature': 0.0})\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    example = f"{REPO / 'examples' / 'custom_agent.py'}:systematic_search"
    argv = [
        "--envs",
        "MRT-Search-v0",
        "--problems",
        "0:8",
        "--samples",
        "1",
        "--no-plots",
        "--out",
        str(tmp_path / "out"),
        "--strategies",
        example,
        "my_agents:Greedy",
    ]
    assert main(argv) == 0
    rows = rows_of(tmp_path / "out")
    searcher = [r for r in rows if r["strategy"] == example]
    greedy = [r for r in rows if r["strategy"] == "my_agents:Greedy"]
    assert len(searcher) == len(greedy) == 8
    assert all(r["correct"] for r in searcher)  # the example's systematic search never misses
    assert all(r["compute_tokens"] == r["prefix_tokens"] for r in searcher)
    assert not (tmp_path / "out" / "j_curve.png").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--envs", "MRT-Chess-v0"], "unknown env id 'MRT-Chess-v0'; choose from"),
        (["--strategies", "think-harder"], "unknown strategy 'think-harder'"),
        (["--strategies", "no_such_module_xyz:A"], "cannot import no_such_module_xyz"),
        (["--budgets", "0"], "--budgets must be positive token counts, got [0]"),
        (["--max-tokens", "-5"], "--max-tokens must be >= 1, got -5"),
        (["--samples", "0"], "--samples must be >= 1, got 0"),
        (["--problems", "9:3"], "empty slice"),
        (["--agent.top-p", "0"], r"--agent.top-p must be in (0, 1]"),
        (["--agent.block-tokens", "0"], "--agent.block-tokens must be >= 1, got 0"),
        (["--prover.k", "0"], "--prover.k must be >= 1, got 0"),
        (["--prover.forcing-text", ""], "--prover.forcing-text must not be empty"),
        (["--model.backend", "openai"], "--model.backend openai needs --model.base-url"),
    ],
)
def test_bad_arguments_are_one_line_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert err.startswith("mrt-bench: error: ")
    assert not (tmp_path / "results.jsonl").exists()  # nothing ran


def test_a_run_of_absurd_size_is_refused_before_it_is_planned(tmp_path, capsys):
    # A stray digit in --samples used to hang while the plan (one entry per attempt) was
    # built; now it is one line, before any model loads.
    argv = ["--samples", str(10**20), "--problems", "0:2", "--out", str(tmp_path)]
    assert main(argv) != 0
    err = capsys.readouterr().err.strip()
    assert "2 problems x 5 strategies x 1 seeds x 100000000000000000000 samples is" in err
    assert "attempts; one run makes at most 10,000,000" in err
    assert len(err.splitlines()) == 1 and "Traceback" not in err


def test_help_is_the_config_field_docs(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "Samples per problem and seed" in out and "module:Class" in out
    assert "--no-plots" in out
    for flag in ("--model.name", "--model.backend", "--agent.temperature", "--prover.kind"):
        assert flag in out


def test_strategies_differ_measurably_on_search(tmp_path):
    argv = [
        "--envs",
        "MRT-Search-v0",
        "--strategies",
        "think-to-budget",
        "budget-forcing",
        "--problems",
        "0:30",
        "--samples",
        "1",
        "--batch",
        "30",
        "--no-plots",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    summary = summary_of(tmp_path)
    think = summary[("MRT-Search-v0", "think-to-budget", "accuracy")]
    forced = summary[("MRT-Search-v0", "budget-forcing", "accuracy")]
    gap = float(think["mean"]) - float(forced["mean"])
    assert gap > float(think["ci95"]) + float(forced["ci95"])  # beyond both 95% CIs
    anytime = [
        float(summary[("MRT-Search-v0", s, "anytime_regret")]["mean"])
        for s in ("think-to-budget", "budget-forcing")
    ]
    assert anytime[0] < anytime[1]  # stopping when the model is done wastes less


def test_a_real_problem_set_with_a_local_model(tmp_path, shared_data, tiny_model_dir):
    """The AIME path: problems from files, a model loaded by from_pretrained from a folder,
    the paper's forced meta-prover (k samples) and episode-marker blocks. The model is a
    tiny random one (no download here), so only the plumbing and the row shapes are
    checked, not its scores."""
    argv = [
        "--envs",
        "MRT-AIME24-v0",
        "--data-path",
        str(shared_data),
        "--model.name",
        str(tiny_model_dir),
        "--model.device",
        "cpu",
        "--strategies",
        "think-to-budget",
        "early-exit",
        "--problems",
        "0,aime24/62",
        "--samples",
        "1",
        "--max-blocks",
        "2",
        "--agent.block-tokens",
        "6",
        "--prover.k",
        "2",
        "--prover.max-answer-tokens",  # the benchmark sets' 4096 would overflow the tiny context
        "16",
        "--no-plots",
        "--out",
        str(tmp_path),
    ]
    assert main(argv) == 0
    rows = rows_of(tmp_path)
    assert {r["problem_id"] for r in rows} == {"aime24/60", "aime24/62"} and len(rows) == 4
    settings = json.loads((tmp_path / "settings.json").read_text())
    assert settings["k"] == 2 and settings["model"] == str(tiny_model_dir)
    for r in rows:
        assert 1 <= len(r["blocks"]) <= 2 and len(r["success_probs"]) == len(r["blocks"]) + 1
        # k = 2 forced answers per prefix: J is a multiple of 1/2
        assert all(j in (0.0, 0.5, 1.0) for j in r["success_probs"])
    summary = summary_of(tmp_path)
    assert ("MRT-AIME24-v0", "early-exit", "token_regret@12") in summary  # 2 blocks x 6 tokens
