"""The tiny model the package ships: it loads from the installed package, solves a stated
share of held-out problems, and makes the offline env ids work with no arguments."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import mrt_env
from mrt_env.lm import DEFAULT_MODEL, load_default
from mrt_env.lm.loading import default_model_path
from mrt_env.pretrain.evaluate import rollout, summarise
from mrt_env.registration import ENV_IDS

REPO = Path(__file__).resolve().parents[2]
# Measured with the shipped weights on these 60 held-out problems (seed 0): arithmetic
# 0.633, search 0.767 (the model card has 100 problems: 0.61, 0.69). The thresholds leave a
# margin for other CPUs' floating-point differences, which change sampled blocks.
THRESHOLDS = {"arithmetic": 0.45, "search": 0.55}


@pytest.fixture(scope="module")
def default_lm():
    return load_default()


def test_the_weights_are_package_data():
    path = Path(str(default_model_path()))
    assert path.is_relative_to(Path(mrt_env.__file__).parent)
    files = {p.name for p in path.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "README.md"} <= files
    total = sum(p.stat().st_size for p in path.iterdir())
    assert total <= 20 * 1024 * 1024  # the bound
    pyproject = (REPO / "pyproject.toml").read_text()
    assert '"mrt_env.assets" = ["tiny/*"]' in pyproject


def test_a_built_wheel_carries_the_model(tmp_path):
    pytest.importorskip("setuptools")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            str(REPO),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if out.returncode != 0 and "No module named" in out.stderr:
        pytest.skip(f"cannot build a wheel here: {out.stderr[-300:]}")
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("mrt_env-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "mrt_env/assets/tiny/model.safetensors" in names
    assert "mrt_env/assets/tiny/README.md" in names


def test_offline_ids_work_with_no_arguments_from_any_directory(tmp_path):
    code = (
        "import gymnasium as gym\n"
        "env = gym.make('mrt_env:MRT-Search-v0')\n"
        "obs, info = env.reset(seed=0)\n"
        "print(env.unwrapped.prover.lm.name, info['success_prob'] > 0)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == [DEFAULT_MODEL, "True"]


@pytest.mark.parametrize("env_id", ["MRT-Arithmetic-v0", "MRT-Search-v0"])
def test_check_env_passes_with_the_defaults(env_id, default_lm):
    env = gym.make(env_id, prover=default_lm)  # the default prover, loaded once for speed
    check_env(env.unwrapped, skip_render_check=True)
    assert env.unwrapped.config.prover_kind == ENV_IDS[env_id]["prover_kind"]


@pytest.mark.parametrize(
    ("task", "env_id"), [("arithmetic", "MRT-Arithmetic-v0"), ("search", "MRT-Search-v0")]
)
def test_the_shipped_model_solves_a_stated_share_of_held_out_problems(task, env_id, default_lm):
    rows = rollout(env_id, default_lm, range(60), temperature=1.0, seed=0, batch=30)
    summary = summarise(task, rows, ENV_IDS[env_id]["max_blocks"])
    assert summary["accuracy"] >= THRESHOLDS[task], summary
    assert summary["j_curve"][-1] > summary["j_curve"][0]  # J rises as the blocks are written


def test_the_model_card_states_the_training_command():
    card = (Path(str(default_model_path())) / "README.md").read_text()
    assert "mrt-pretrain" in card and "python -m mrt_env.pretrain.evaluate" in card
    config = json.loads((Path(str(default_model_path())) / "train_config.json").read_text())
    assert config["seed"] == 0
