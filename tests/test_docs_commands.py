"""Every shell and Python block of README.md and docs/*.md is run here as written, or named
with the reason it is not (a GPU, a download, hours of training, a fragment of a larger
program). docs/check_site.py fails on a block that is neither, so a new command in the docs
comes with its test.

Blocks run in a fresh folder that links the repository's examples/, benchmarks/ and docs/,
so what they write (runs/, traces.jsonl) stays out of the checkout."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LANGUAGES = {"bash": "bash", "python": "python"}
FENCE = re.compile(r"^( *)```(\w+)[^\n]*\n(.*?)^\1```", re.M | re.S)

GPU = "needs a CUDA GPU and a model from the Hub"
HUB = "downloads a model or data set from the Hub (no network in tests)"
CI = "what .ci/run itself does (it installs, tests and builds in a fresh environment)"
FRAGMENT = "a fragment: uses names the page defines in prose ({})"

# (page, first line of the block) -> why it is not run.
NOT_RUN: dict[tuple[str, str], str] = {
    ("README.md", "python3 -m venv .venv && . .venv/bin/activate"): CI,
    ("README.md", "mrt-regret traces.jsonl --model.name deepseek-ai/DeepSee"): GPU,
    ("README.md", "pip install -e '.[dev,hf,plot,sb3,trl]'"): CI,
    ("README.md", "pip install -e '.[docs]'"): "serves the site until stopped; "
    "docs/check_site.py builds the same site",
    ("docs/install.md", "python3 -m venv .venv && . .venv/bin/activate"): CI,
    ("docs/install.md", "python3 -m venv .venv-verl && . .venv-verl/bin/activate"): CI,
    ("docs/install.md", "python3 -m venv .venv-vllm && . .venv-vllm/bin/activate"): CI,
    ("docs/training.md", "from mrt_env.prover import make_prover"): FRAGMENT.format(
        "GRPOConfig, the trainer's other arguments"
    ),
    ("docs/training.md", "VLLM_SERVER_DEV_MODE=1 VLLM_CPU_KVCACHE_SPACE=1 python -m vl"): "starts "
    "a server that runs until stopped; tests/real_vllm/test_trl_vllm.py starts the same one",
    ("docs/install.md", "pip install torch==2.13.0 && pip install -e '.[dev,hf,pl"): CI,
    ("docs/install.md", "pip install -e '.[docs]'"): "serves the site until stopped; "
    "docs/check_site.py builds it with --strict",
    ("docs/backends.md", "from mrt_env.lm import OpenAICompatibleLM, Sampling, Tra"): GPU,
    ("docs/bench.md", "pip install -e '.[hf,vllm,plot]'"): GPU,
    ("docs/bench.md", "mrt-bench --envs MRT-AIME24-v0 MRT-AIME25-v0 MRT-AMC23-v"): GPU,
    ("docs/benchmarks.md", "python benchmarks/grading_bench.py --limit 60"): "the benchmarks "
    "stage of .ci/run runs these lines",
    ("docs/data.md", "from mrt_env.data import load_problems, register_source,"): HUB,
    ("docs/envs.md", "import gymnasium as gym"): GPU,
    ("docs/envs.md", "import gymnasium as gym\nimport mrt_env\nfrom stable_bas"): "records "
    "800 streams and trains PPO (minutes); tests/test_examples.py runs the same in small",
    ("docs/experiments.md", "python examples/mrt_vs_grpo.py --env MRT-Recheck-v0 \\"): "hours of "
    "training; tests/test_examples.py runs the example in small",
    ("docs/experiments.md", "python examples/mrt_vs_grpo.py --env MRT-Checks-v0 \\"): "hours of "
    "training; tests/test_examples.py runs the example in small",
    (
        "docs/grading.md",
        "from mrt_env.grading import extract_answer, answers_matc",
    ): FRAGMENT.format("response, gold"),
    ("docs/regret.md", "mrt-regret traces.jsonl --model.name deepseek-ai/DeepSee"): GPU,
    ("docs/regret.md", "mrt-regret traces.jsonl --model.name agentica-org/DeepSc"): GPU,
    ("docs/regret.md", "mrt-regret r1_traces.jsonl --model.name deepseek-ai/Deep"): GPU,
    ("docs/regret.md", "from mrt_env.episodes import split_episodes, prefixes, M"): FRAGMENT.format(
        "response, lm, problem"
    ),
    ("docs/tiny-model.md", "mrt-pretrain --out runs/tiny"): "trains the tiny model (about an "
    "hour on 2 cores); tests/pretrain runs mrt-pretrain in small",
    (
        "docs/tiny-model.md",
        "python -m mrt_env.pretrain.evaluate --model runs/tiny --",
    ): "needs the model the block above trains",
    (
        "docs/tiny-model.md",
        "mrt-pretrain --out runs/recheck --tasks recheck --effici",
    ): "trains for 30 minutes",
    (
        "docs/tiny-model.md",
        "mrt-pretrain --out runs/checks --tasks checks --efficien",
    ): "trains for 20 minutes and more",
    (
        "docs/training.md",
        "mrt-train --algorithm mrt --credit.alpha 1.0 --out runs/mrt ",
    ): "trains for many minutes; tests/training runs mrt-train in small",
    ("docs/training.md", "from trl import GRPOConfig"): FRAGMENT.format(
        "GRPOConfig(...), problems, prover"
    ),
    ("docs/training.md", "# 8 GPUs: vLLM on one (μ samples its forced answers ther"): GPU,
    ("docs/training.md", "python -m verl.trainer.main_ppo \\"): GPU,
    ("docs/training.md", "python3 -m venv .venv-verl && . .venv-verl/bin/activate"): CI,
    ("docs/training.md", "# 8 GPUs: vLLM on one, training on seven (the authors' 1"): GPU,
}

# (page, first line) -> seconds it may take; over 20 is marked slow (the default run is fast).
RUN: dict[tuple[str, str], int] = {
    ("README.md", "mrt-bench"): 600,
    ("README.md", "cat > traces.jsonl <<'EOF'"): 300,
    ("README.md", "import gymnasium as gym"): 300,
    ("docs/bench.md", "mrt-bench"): 600,
    ("docs/bench.md", "mrt-bench --envs MRT-Search-v0 --strategies think-to-bud"): 900,
    ("docs/agents.md", "import gymnasium as gym"): 900,
    ("docs/agents.md", "mrt-bench --envs MRT-Search-v0 --strategies think-to-bud"): 900,
    ("docs/envs.md", "from mrt_env.envs import Stepper, StreamConfig"): 20,
    ("docs/envs.md", "import gymnasium as gym\nimport mrt_env\n\nenv = gym.mak"): 120,
    ("docs/grading.md", "mrt-grade --gold 70 '<think>Wait, 7 is wrong.</think> So"): 20,
    ("docs/regret.md", "cat > traces.jsonl <<'EOF'"): 300,
    ("docs/tiny-model.md", "from mrt_env.lm import load_default"): 120,
}


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    language: str
    code: str

    @property
    def key(self) -> tuple[str, str]:
        return (self.page, self.code.split("\n", 1)[0])

    def matches(self, key: tuple[str, str]) -> bool:
        return key[0] == self.page and self.code.startswith(key[1])


def blocks() -> list[Block]:
    """Every ```bash and ```python block of README.md and docs/*.md."""
    found = []
    for path in PAGES:
        text = path.read_text(encoding="utf-8")
        for m in FENCE.finditer(text):
            if m.group(2) in LANGUAGES:
                indent = len(m.group(1))
                code = "\n".join(line[indent:] for line in m.group(3).splitlines())
                line = text.count("\n", 0, m.start()) + 1
                found.append(Block(path.relative_to(ROOT).as_posix(), line, m.group(2), code))
    return found


def _entry(block: Block, table: dict) -> tuple[str, str] | None:
    # The longest key that the block starts with: blocks with the same first line differ
    # by a longer key.
    keys = [k for k in table if block.matches(k)]
    return max(keys, key=lambda k: len(k[1])) if keys else None


def unaccounted() -> list[tuple[str, str]]:
    """(where, block) for each block that is neither run nor skipped with a reason, and
    (where, key) for each entry that names no block any more (docs/check_site.py)."""
    every = blocks()
    out = [
        (f"{b.page}:{b.line}", b.code.split("\n", 1)[0])
        for b in every
        if _entry(b, RUN) is None and _entry(b, NOT_RUN) is None
    ]
    for table in (RUN, NOT_RUN):
        out += [
            (key[0], f"an entry of tests/test_docs_commands.py names no block: {key[1]!r}")
            for key in table
            if not any(b.matches(key) for b in every)
        ]
    return out


def test_every_block_is_run_or_skipped_with_a_reason():
    assert unaccounted() == []


def _params():
    for block in blocks():
        run, skip = _entry(block, RUN), _entry(block, NOT_RUN)
        if run is not None and skip is not None and len(skip[1]) > len(run[1]):
            run = None  # the more specific entry decides (a GPU-only "mrt-bench --envs ...")
        marks = []
        if run is not None and RUN[run] > 20:
            marks.append(pytest.mark.slow)
        if run is None and skip is not None:
            marks.append(pytest.mark.skip(reason=NOT_RUN[skip]))
        yield pytest.param(block, marks=marks, id=f"{block.page}:{block.line}")


@pytest.fixture
def folder(tmp_path):
    """A fresh working folder with the repository's scripts and data beside it."""
    for name in ("examples", "benchmarks", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    return tmp_path


@pytest.mark.parametrize("block", list(_params()))
def test_block_runs_as_written(block, folder):
    key = _entry(block, RUN)
    if key is None:  # neither: test_every_block_is_run_or_skipped_with_a_reason says which
        pytest.fail(f"{block.page}:{block.line} is not in RUN or NOT_RUN")
    env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONUNBUFFERED": "1"}
    if block.language == "bash":
        command = ["bash", "-euo", "pipefail", "-c", block.code]
    else:
        command = [sys.executable, "-c", block.code]
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=RUN[key]
    )
    assert done.returncode == 0, (done.stdout[-2000:], done.stderr[-3000:])
    if block.code.startswith("mrt-bench"):
        assert "| strategy | attempts | accuracy |" in done.stdout
    if "mrt-regret" in block.code:
        assert (folder / "runs" / "regret-tiny" / "summary.md").exists()
        assert "| blocks | " in done.stdout and "n/a" not in done.stdout
