"""MRTGRPOTrainer with TRL's vLLM rollouts (``use_vllm=True``) on the real engine (the CPU
build here): colocate mode, and server mode against TRL's server command started on
127.0.0.1 by the test and stopped by its process id.

Each run is 2 steps of the tiny model on MRT-Search problems, μ on the run's own engine
(:func:`~mrt_env.integrations.trl.trainer.policy_lm`), in a process of its own
(trl_vllm_run.py). Checked on both batches: every per-token advantage equals the credit
written out by hand (tests/training/credit_by_hand.py) from the graded outcomes and a
transformers prover's J on a copy of the policy's weights at that moment; the J values μ
gave through the engine equal that prover's; and they are far from the J of the initial
weights after the first update, so an engine left with stale weights would fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")
pytest.importorskip("trl", reason="TRL is not installed (the trl extra)")

import servers

from mrt_env.episodes import episode_boundaries
from mrt_env.grading import grade
from mrt_env.lm.loading import shipped_model_folder
from mrt_env.training.vllm_sync import WORKER_EXTENSION

HERE = Path(__file__).resolve().parent
RUN = HERE / "trl_vllm_run.py"
sys.path[:0] = [str(HERE.parent / "integrations"), str(HERE.parent / "training")]
import trl_mrt_ranks as ranks  # noqa: E402
from credit_by_hand import hand_block_credit, token_starts  # noqa: E402

AGREE = 1e-4
"""J of the engine and of transformers, both float32 (measured: 2e-6)."""


def _run(mode: str, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / f"{mode}.json"
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, str(RUN), mode, str(out), *extra],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return json.loads(out.read_text())


def _check(result: dict) -> None:
    from transformers import AutoTokenizer

    assert result["global_step"] == 2 and len(result["batches"]) == 2
    tokenizer = AutoTokenizer.from_pretrained(shipped_model_folder())
    by_id = {p.id: p for p in ranks.search_problems()}
    varied = 0
    for step, batch in enumerate(result["batches"]):
        rows, layouts = [], []
        for pid, ids, j_engine, j_hf in zip(
            batch["ids"], batch["completion_ids"], batch["j_engine"], batch["j_hf"], strict=True
        ):
            text = tokenizer.decode(ids, skip_special_tokens=True)
            if not text:
                rows.append(None)
                layouts.append(None)
                continue
            assert j_engine == pytest.approx(j_hf, abs=AGREE)
            r = 1.0 if grade(text, by_id[pid].answer).correct else 0.0
            rows.append((r, j_hf))
            starts = episode_boundaries(text, rule="lines")
            layouts.append([sum(b <= s for b in starts) - 1 for s in token_starts(tokenizer, ids)])
        blocks = hand_block_credit(
            rows, alpha=ranks.CREDIT.alpha, baseline=ranks.CREDIT.baseline, group_size=ranks.GROUP
        )
        for got, per_block, layout, ids in zip(
            batch["advantages"], blocks, layouts, batch["completion_ids"], strict=True
        ):
            if per_block is None:
                assert not any(got)
                continue
            want = [per_block[j] if j >= 0 else 0.0 for j in layout]
            assert got[: len(ids)] == pytest.approx(want, abs=AGREE)
            assert not any(got[len(ids) :])  # padding
            varied += len({round(a, 6) for a in want}) > 1
        if step:  # after an update: the engine's J moved with the policy's weights
            moved = [
                abs(a - b)
                for je, j0 in zip(batch["j_engine"], batch["j_initial"], strict=True)
                if je
                for a, b in zip(je, j0, strict=True)
            ]
            assert max(moved) > 100 * AGREE
    assert varied >= 4  # inside one completion, blocks get different credit


def test_colocate_mode_credits_tokens_as_the_hand_formulas(tmp_path):
    _check(_run("colocate", tmp_path))


# ---------------------------------------------------------------------------------------
# Server mode


def server_command(model: str, port: int) -> list[str]:
    """``trl vllm-serve``'s command (TRL's own build_command: dev endpoints, logprobs mode,
    weight-transfer config), run by the server's module: the CPU build's CLI module looks
    up the version of a distribution named vllm (it is vllm-cpu) and exits. Plus our worker
    extension, through which the trainer's weights arrive without CUDA."""
    from trl.scripts.vllm_serve import ScriptArguments, build_command

    args = ScriptArguments(
        model=model, host="127.0.0.1", port=port, dtype="float32", enforce_eager=True
    )
    cmd = build_command(args, ["--worker-extension-cls", WORKER_EXTENSION, "--seed", "0"])
    serve = cmd.index("serve")
    return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model",
            *cmd[serve + 1 :]]  # fmt: skip


@pytest.fixture
def trl_server(tmp_path):
    port = servers.free_port()
    env = {"VLLM_CPU_KVCACHE_SPACE": "1", "VLLM_SERVER_DEV_MODE": "1"}
    cmd = server_command(str(shipped_model_folder()), port)
    proc = servers.start(cmd, port, tmp_path / "server.log", env)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        servers.stop(proc)


def test_server_mode_credits_tokens_as_the_hand_formulas(tmp_path, trl_server):
    _check(_run("server", tmp_path, "--url", trl_server))
