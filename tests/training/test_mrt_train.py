"""mrt-train on CPU with the shipped tiny model: each algorithm runs, a resumed run takes
the same next step as an uninterrupted one."""

import json
from dataclasses import asdict

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.errors import RunStateError  # noqa: E402
from mrt_env.lm.loading import RECHECK_MODEL, ModelConfig  # noqa: E402
from mrt_env.training import TrainConfig, main, train  # noqa: E402
from mrt_env.training.credit import CreditConfig  # noqa: E402

RECHECK = ModelConfig(RECHECK_MODEL, device="cpu", dtype="float32")
SMALL = {"problems_per_step": 2, "group_size": 2, "max_blocks": 4, "eval_problems": 4}


def weights(folder):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(folder / "model").state_dict()


@pytest.mark.parametrize(
    ("algorithm", "prover"),
    [("grpo", "policy"), ("mrt", "policy"), ("mrt-star", "policy"), ("mrt", "oracle")],
)
def test_two_steps_of_each_algorithm(algorithm, prover, tmp_path):
    oracle = prover == "oracle"
    config = TrainConfig(algorithm=algorithm, oracle_prover=oracle, steps=2, out=tmp_path, **SMALL)
    out = train(config)
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps, evals = [r for r in rows if "eval" not in r], [r for r in rows if "eval" in r]
    assert [r["step"] for r in steps] == [1, 2] and len(evals) == 1
    assert steps[1]["sampled_tokens"] > steps[0]["sampled_tokens"] > 0
    assert 0.0 <= evals[0]["accuracy"] <= 1.0 and evals[0]["eval_problems"] == 4
    assert (out / "checkpoint.safetensors").exists() and (out / "model" / "config.json").exists()
    if algorithm != "mrt-star" or steps[0].get("kept"):
        assert any("loss" in r for r in steps)
    if algorithm != "mrt-star":  # the mean advantage, bounded by the mean absolute one
        assert all(abs(r["mean_advantage"]) <= r["mean_abs_advantage"] + 1e-6 for r in steps)


@pytest.mark.parametrize(
    "settings",
    [
        {"algorithm": "mrt", "credit": CreditConfig(scheme="prefix", baseline="termination")},
        {
            "algorithm": "mrt",
            "credit": CreditConfig(scheme="prefix", baseline="group", cut="nonzero"),
        },
        {
            "algorithm": "grpo",
            "credit": CreditConfig(length_penalty=0.01, scheme="outcome"),
            "weight_decay": 0.01,
        },
    ],
)
def test_two_steps_of_each_new_option(settings, tmp_path):
    out = train(TrainConfig(steps=2, out=tmp_path, **{**SMALL, "eval_problems": 2}, **settings))
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if "eval" not in r]
    assert [r["step"] for r in steps] == [1, 2]
    assert steps[1]["sampled_tokens"] > steps[0]["sampled_tokens"] > 0
    credit = settings["credit"]
    if credit.scheme == "prefix":
        assert all(r["cut"] >= (1 if credit.cut == "nonzero" else 0) for r in steps)
    # config.json keeps the credit's settings flat, as before they were nested.
    saved = json.loads((out / "config.json").read_text())
    want = {k: v for k, v in settings.items() if k != "credit"}
    want |= {k: v for k, v in asdict(credit).items() if k != "scheme"}
    assert all(saved.get(k, getattr(CreditConfig(), k, None)) == v for k, v in want.items())


def test_resume_takes_the_same_next_step(tmp_path):
    common = {"algorithm": "mrt", "checkpoint_every": 1, **SMALL, "eval_problems": 0}
    common["save_rollouts"] = True
    train(TrainConfig(steps=2, out=tmp_path / "straight", **common))
    train(TrainConfig(steps=1, out=tmp_path / "stopped", **common))  # the "kill" after step 1
    for name in ("metrics.jsonl", "rollouts.jsonl"):  # a step logged, never saved
        with (tmp_path / "stopped" / name).open("a") as f:
            f.write('{"step": 2, "sampled_tokens": -1}\n')
    train(TrainConfig(steps=2, out=tmp_path / "stopped", resume=True, **common))
    a, b = weights(tmp_path / "straight"), weights(tmp_path / "stopped")
    assert all(torch.equal(a[k], b[k]) for k in a)
    rows = [
        json.loads(x) for x in (tmp_path / "stopped" / "metrics.jsonl").read_text().split("\n") if x
    ]
    straight = [
        json.loads(x) for x in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()
    ]
    assert [r["sampled_tokens"] for r in rows] == [r["sampled_tokens"] for r in straight]
    # Every trace trained on, once: the rows of the rerun step replace the stray one.
    traces = [(tmp_path / d / "rollouts.jsonl").read_text() for d in ("straight", "stopped")]
    assert traces[0] == traces[1]
    kept = [json.loads(x) for x in traces[0].splitlines()]
    assert [r["step"] for r in kept] == [1] * 4 + [2] * 4  # 2 problems x 2 traces a step
    assert all(r["blocks"] and r["problem_id"] for r in kept)
    with pytest.raises(RunStateError, match=r"other settings \(alpha: 1\.0 -> 0\.5\)"):
        train(
            TrainConfig(
                steps=3,
                out=tmp_path / "stopped",
                resume=True,
                **{**common, "credit": CreditConfig(alpha=0.5)},
            )
        )


def _rows(folder):
    return [json.loads(x) for x in (folder / "metrics.jsonl").read_text().splitlines() if x]


def _drop_evals(folder):
    """The state a kill between a checkpoint and its step's evaluation leaves."""
    kept = [r for r in _rows(folder) if not r.get("eval")]
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in kept))


def test_resume_writes_the_evaluation_a_kill_skipped(tmp_path):
    common = {"algorithm": "grpo", "checkpoint_every": 1, "eval_every": 1, **SMALL}
    common["eval_problems"] = 2
    straight, stopped = tmp_path / "straight", tmp_path / "stopped"
    train(TrainConfig(steps=2, out=straight, **common))
    train(TrainConfig(steps=1, out=stopped, **common))
    _drop_evals(stopped)
    # At the last step: the run has nothing left to train, but owes step 1's evaluation.
    train(TrainConfig(steps=1, out=stopped, resume=True, **common))
    assert [(r["step"], bool(r.get("eval"))) for r in _rows(stopped)] == [(1, False), (1, True)]
    # Where checkpoint and evaluation coincide mid-run: the owed one, then the rest.
    _drop_evals(stopped)
    train(TrainConfig(steps=2, out=stopped, resume=True, **common))
    timing = ("seconds", "tokens_per_s")

    def comparable(rows):
        return [{k: v for k, v in r.items() if k not in timing} for r in rows]

    assert comparable(_rows(stopped)) == comparable(_rows(straight))


def test_a_folder_that_holds_a_run_is_refused_unless_told(tmp_path, capsys):
    common = {"algorithm": "grpo", "steps": 1, **SMALL, "eval_problems": 0, "out": tmp_path}
    train(TrainConfig(**common))
    log = (tmp_path / "metrics.jsonl").read_text()
    with pytest.raises(RunStateError, match=r"holds a run .*--resume.*--overwrite"):
        train(TrainConfig(**common))
    assert (tmp_path / "metrics.jsonl").read_text() == log  # nothing appended twice
    assert main(["--steps", "1", "--out", str(tmp_path)]) == 1
    assert "holds a run" in capsys.readouterr().err
    train(TrainConfig(**common, overwrite=True))
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1]
    with pytest.raises(ValueError, match="contradict"):
        TrainConfig(**common, overwrite=True, resume=True)


def test_a_second_run_on_a_locked_folder_is_refused(tmp_path):
    from mrt_env.runfiles import locked

    busy = pytest.raises(RunStateError, match="in use by another mrt-train run")
    with locked(tmp_path, "mrt-train"), busy:
        train(TrainConfig(steps=1, out=tmp_path, **SMALL))
    assert not (tmp_path / "metrics.jsonl").exists()


def test_bad_settings_and_a_missing_checkpoint(tmp_path, capsys):
    with pytest.raises(ValueError, match="--group-size must be >= 2"):
        TrainConfig(group_size=1)
    with pytest.raises(ValueError, match="unknown env id"):
        TrainConfig(env="MRT-Chess-v0")
    with pytest.raises(ValueError, match="--oracle-prover needs a task whose exact μ is known"):
        TrainConfig(env="MRT-Arithmetic-v0", oracle_prover=True)
    assert TrainConfig(env="MRT-Recheck-v0", model=RECHECK, oracle_prover=True).oracle_prover
    with pytest.raises(ValueError, match="written by the shipped model mrt-env/recheck"):
        TrainConfig(env="MRT-Recheck-v0")  # the tiny model does not know its format
    assert main(["--resume", "--out", str(tmp_path)]) == 1
    assert "no " in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--group-size", "1"], "--group-size must be >= 2"),
        (["--lr", "-1"], "--lr must be a positive number, got -1.0"),
        (["--env", "MRT-Arithmetic-v0", "--oracle-prover"], "MRT-Search-v0, MRT-Recheck-v0"),
        (["--env", "MRT-Recheck-v0"], "pass --model.name mrt-env/recheck"),
        (
            ["--model.backend", "openai", "--model.base-url", "http://h:8000/v1"],
            "--model.backend must be transformers or vllm",
        ),
        (["--model.backend", "vllm"], "--model.backend vllm needs --model.device cuda"),
        (["--model.dtype", "float16"], "--model.dtype must be float32 or bfloat16"),
        (["--agent.temperature", "-1"], "--agent.temperature must be a finite number >= 0"),
        (["--preset", "nope"], "--preset must be one of"),
        (["--algorithm", "grpo", "--credit.scheme", "prefix"], "--credit.scheme prefix is MRT's"),
        (["--credit.cut", "nonzero"], "--credit.cut chooses where --credit.scheme prefix"),
        (
            ["--credit.length-penalty", "0.01"],
            "--credit.length-penalty is GRPO's length-penalty reward",
        ),
        (
            ["--algorithm", "grpo", "--credit.length-penalty", "-1"],
            "--credit.length-penalty must be",
        ),
        (["--weight-decay", "-0.1"], "--weight-decay must be"),
        (["--seed", "-1"], "--seed must be an integer from 0 to 2**32 - 1, got -1"),
        (["--seed", str(2**32)], f"--seed must be an integer from 0 to 2**32 - 1, got {2**32}"),
        (["--clip", "-0.2"], "--clip must be a number > 0 (PPO's ε), got -0.2"),
        (["--clip", "nan"], "--clip must be a number > 0"),
        (["--kl-coef", "-0.1"], "--kl-coef must be a number >= 0 (0: none), got -0.1"),
        (["--max-grad-norm", "0"], "--max-grad-norm must be a number > 0, got 0.0"),
    ],
)
def test_bad_command_lines_are_one_line_errors(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("mrt-train: error: ") and message in err
    assert len(err.splitlines()) == 1  # not tyro's boxed usage
    assert not (tmp_path / "run").exists()  # nothing written


def test_the_largest_seed_is_taken():
    assert TrainConfig(seed=2**32 - 1).seed == 2**32 - 1


UNAVAILABLE = ["banana", "cuda:99"] + ([] if torch.cuda.is_available() else ["cuda"])


@pytest.mark.parametrize("device", UNAVAILABLE)
def test_a_device_not_here_is_one_line_naming_those_that_are(device, tmp_path, capsys):
    """mrt-train checks before it writes anything; mrt-bench where its model loads (the
    same check, in load_lm)."""
    from mrt_env.bench.cli import main as bench

    assert main(["--model.device", device, "--out", str(tmp_path / "train")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mrt-train: error: --model.device {device!r} is not ")
    assert len(err.splitlines()) == 1 and "devices here: cpu" in err
    assert not (tmp_path / "train").exists()
    argv = ["--model.device", device, "--envs", "MRT-Search-v0", "--problems", "0:1"]
    assert bench([*argv, "--no-plots", "--out", str(tmp_path / "bench")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"mrt-bench: error: device {device!r} is not ")
    assert len(err.splitlines()) == 1 and "devices here: cpu" in err


def test_help_shows_the_groups_and_the_old_flat_flags_still_work(capsys):
    from mrt_env.cli import parse_command
    from mrt_env.training.config import PRESETS, RENAMED_FLAGS

    argv = ["--alpha", "0.5", "--baseline=termination", "--prover.k", "4"]
    config = parse_command(TrainConfig, "mrt-train", argv, renamed=RENAMED_FLAGS)
    assert config.credit == CreditConfig(alpha=0.5, baseline="termination")
    assert config.prover.k == 4
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "mrt-train: warning: --alpha is deprecated, use --credit.alpha",
        "mrt-train: warning: --baseline is deprecated, use --credit.baseline",
    ]
    with pytest.raises(SystemExit):
        parse_command(TrainConfig, "mrt-train", ["--help"], presets=PRESETS)
    out = capsys.readouterr().out
    assert "credit options" in out and "--credit.scheme" in out and "prover options" in out
    assert "deepscaler-mrt:" in out  # the presets, listed once by the parser
    assert "--alpha " not in out.replace("--credit.alpha", "")
