"""MRTGRPOTrainer: MRT's per-token credit inside TRL's GRPOTrainer.

The credit is checked against formulas written out by hand here (not against
``block_credit``), on a hand-made batch and on the batches of a real 2-step run of the
shipped tiny model, in one process and in two (``accelerate launch``, gloo on the CPU).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from mrt_env.episodes import episode_boundaries, prefixes  # noqa: E402
from mrt_env.errors import BackendError, ConfigError  # noqa: E402
from mrt_env.grading import grade  # noqa: E402
from mrt_env.prover import forcing_text_of, known_success_probs, prover_request  # noqa: E402
from mrt_env.training.credit import CreditConfig  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RANKS_SCRIPT = Path(__file__).with_name("trl_mrt_ranks.py")
sys.path[:0] = [str(RANKS_SCRIPT.parent), str(ROOT / "tests" / "training")]  # credit_by_hand
import trl_mrt_ranks as ranks  # noqa: E402
from credit_by_hand import hand_block_credit, token_starts  # noqa: E402

# ---------------------------------------------------------------------------------------
# The trainer, 2 steps on the tiny model


def _expected_from_batch(tokenizer, prover, problems, batch, credit, group_size):
    """Recompute the credit of a captured batch from scratch: grade, score J, hand formulas."""
    by_id = {p.id: p for p in problems}
    rows, layouts = [], []
    columns = (batch["prompts"], batch["ids"], batch["completion_ids"])
    for prompt, pid, ids in zip(*columns, strict=True):
        text = tokenizer.decode(ids, skip_special_tokens=True)
        problem = by_id[pid]
        r = 1.0 if grade(text, problem.answer).correct else 0.0
        if not text:
            rows.append(None)
            layouts.append(None)
            continue
        cuts = prefixes(text, rule="lines")
        forcing = forcing_text_of(prover)
        requests = [prover_request(problem, prompt, c, forcing_text=forcing) for c in cuts]
        estimates = prover.estimate_batch(requests)
        rows.append((r, known_success_probs(estimates)))
        starts = episode_boundaries(text, rule="lines")
        offsets = token_starts(tokenizer, ids)
        layouts.append([sum(b <= s for b in starts) - 1 for s in offsets])
    per_block = hand_block_credit(
        rows, alpha=credit.alpha, baseline=credit.baseline, group_size=group_size
    )
    return [
        None if blocks is None else [blocks[j] if j >= 0 else 0.0 for j in layout]
        for blocks, layout in zip(per_block, layouts, strict=True)
    ]


@pytest.fixture
def one_torch_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_mrt_trainer_two_steps_credits_tokens_as_the_hand_formulas(tmp_path, one_torch_thread):
    from transformers import AutoTokenizer

    from mrt_env.lm.loading import shipped_model_folder

    captured: list = []
    trainer = ranks.recording_trainer(tmp_path, per_device=8, batches=captured)
    trainer.train()
    assert len(captured) == 2 and trainer.state.global_step == 2
    tokenizer = AutoTokenizer.from_pretrained(shipped_model_folder())
    prover, problems = ranks.search_prover(), ranks.search_problems()
    varied = 0
    for batch in captured:
        want = _expected_from_batch(tokenizer, prover, problems, batch, ranks.CREDIT, ranks.GROUP)
        rows = zip(batch["advantages"], want, batch["completion_ids"], strict=True)
        for got, expected, ids in rows:
            if expected is None:
                assert not any(got)
                continue
            assert got[: len(ids)] == pytest.approx(expected, abs=1e-5)
            assert not any(got[len(ids) :])  # padding
            varied += len({round(a, 6) for a in expected}) > 1
    assert varied >= 4  # inside one completion, blocks get different credit
    logged = [row for row in trainer.state.log_history if "mrt/J_first" in row]
    assert len(logged) == 2 and all(row["mrt/episodes"] >= 1 for row in logged)


class FailingProver:
    """A stand-in for a μ whose server is down (named so): every call fails."""

    lm = None

    def estimate_batch(self, requests):
        raise BackendError("connection refused: http://localhost:8000")


def test_a_prover_that_fails_mid_run_gives_zero_credit_not_a_crash(tmp_path, one_torch_thread):
    captured: list = []
    trainer = ranks.recording_trainer(
        tmp_path, per_device=4, batches=captured, prover=FailingProver(), steps=1
    )
    trainer.train()
    assert trainer.state.global_step == 1 and len(captured) == 1
    assert not any(any(row) for row in captured[0]["advantages"])
    logged = [row for row in trainer.state.log_history if "mrt/unscored" in row]
    assert logged and logged[0]["mrt/unscored"] == 1.0


def test_mrt_trainer_refuses_bad_configuration():
    from mrt_env.integrations.trl.trainer import MRTGRPOTrainer

    with pytest.raises(ConfigError, match="prover="):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("block"))
    with pytest.raises(TypeError, match="prover must be a MetaProver"):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("block"), prover=object())
    with pytest.raises(ConfigError, match="rule 'tokens' needs chunk_tokens"):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("outcome"), episodes="tokens")
    with pytest.raises(ConfigError, match="tools="):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("outcome"), tools=[print])


# accelerate launch's flags: plain data parallelism (torchrun, gloo), and DeepSpeed ZeRO-2
# on its CPU accelerator (it builds its shared-memory collective op with the C++ compiler).
LAUNCHERS = {
    "ddp": ["--multi_gpu"],
    "zero2": ["--use_deepspeed", "--zero_stage", "2"],
}


@pytest.mark.slow
@pytest.mark.parametrize("launcher", sorted(LAUNCHERS))
def test_two_processes_under_accelerate_each_rank_gets_its_own_rows(tmp_path, launcher):
    """accelerate launch, 2 processes on the CPU. One GRPO group of 4 spans both ranks
    (2 completions each), so the group baseline needs the other rank's J values."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if launcher == "zero2":
        pytest.importorskip("deepspeed", reason="DeepSpeed is not installed")
        env["DS_ACCELERATOR"] = "cpu"
    out = tmp_path / "ranks"
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        *LAUNCHERS[launcher],
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        str(RANKS_SCRIPT),
        str(out),
    ]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-3000:]
    per_rank = [json.loads((out / f"rank{r}.json").read_text()) for r in (0, 1)]
    assert per_rank[0]["world"] == per_rank[1]["world"] == 2

    from transformers import AutoTokenizer

    from mrt_env.lm.loading import shipped_model_folder

    tokenizer = AutoTokenizer.from_pretrained(shipped_model_folder())
    prover, problems = ranks.search_prover(), ranks.search_problems()
    steps = len(per_rank[0]["batches"])
    assert steps == 2
    for step in range(steps):
        both = [r["batches"][step] for r in per_rank]
        whole = {key: both[0][key] + both[1][key] for key in ("prompts", "ids", "completion_ids")}
        want = _expected_from_batch(tokenizer, prover, problems, whole, ranks.CREDIT, ranks.GROUP)
        got = both[0]["advantages"] + both[1]["advantages"]  # rank 0's rows come first
        for g, w, ids in zip(got, want, whole["completion_ids"], strict=True):
            w = w if w is not None else [0.0] * len(ids)
            assert g[: len(ids)] == pytest.approx(w, abs=1e-5)
