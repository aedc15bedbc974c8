"""MRTGRPOTrainer: MRT's per-token credit inside TRL's GRPOTrainer.

The credit is checked against formulas written out by hand here (not against
``block_credit``), on a hand-made batch and on the batches of a real 2-step run of the
shipped tiny model, in one process and in two (``accelerate launch``, gloo on the CPU).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from mrt_env.episodes import episode_boundaries, prefixes  # noqa: E402
from mrt_env.errors import ConfigError  # noqa: E402
from mrt_env.grading import grade  # noqa: E402
from mrt_env.progress import ProverRequest, known_success_probs  # noqa: E402
from mrt_env.training.credit import CreditConfig  # noqa: E402
from mrt_env.training.trl_trainer import (  # noqa: E402
    block_starts_in_tokens,
    completion_credit,
)

ROOT = Path(__file__).resolve().parents[2]
RANKS_SCRIPT = Path(__file__).with_name("trl_mrt_ranks.py")
sys.path.insert(0, str(RANKS_SCRIPT.parent))
import trl_mrt_ranks as ranks  # noqa: E402

# ---------------------------------------------------------------------------------------
# Credit written out by hand


def _mean(xs):
    return sum(xs) / len(xs)


def _std(xs):  # sample std, as GRPO's
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / max(1, len(xs) - 1))


def hand_block_credit(rows, *, alpha, baseline, group_size, eps=1e-6):
    """rows: (R, [J_0..J_k]) per completion, None when left out; returns per-block lists."""
    out = []
    for i, row in enumerate(rows):
        if row is None:
            out.append(None)
            continue
        r, js = row
        group = [
            rows[m] for m in range(len(rows)) if m // group_size == i // group_size and rows[m]
        ]
        credit = []
        for j in range(len(js) - 1):
            progress = js[j + 1] - js[j]
            if baseline == "termination":
                credit.append(r - js[j] + alpha * progress)
                continue
            others = [g[1][j + 1] - g[1][j] for g in group if len(g[1]) - 1 > j]
            rs = [g[0] for g in group]
            outcome = (r - _mean(rs)) / (_std(rs) + eps)
            credit.append(outcome + alpha * (progress - _mean(others)))
        out.append(credit)
    return out


def test_completion_credit_matches_the_hand_formulas_and_leaves_out_unscored_rows():
    # Two groups of 3; row 2 has no reward (NaN), row 4 no episode: both get 0 and leave
    # their group's baselines.
    rewards = [1.0, 0.0, float("nan"), 1.0, 0.0, 1.0]
    js = [[0.1, 0.5, 0.9], [0.1, 0.2], [0.1, 0.3], [0.2, 0.1, 0.6, 1.0], None, [0.2, 0.7]]
    firsts = [[0, 2], [0], [0], [0, 1, 3], None, [0]]
    lengths = [4, 3, 2, 5, 1, 2]
    for baseline in ("group", "termination"):
        credit = CreditConfig("block", alpha=0.5, baseline=baseline)
        adv = completion_credit(
            credit,
            rewards=rewards,
            success_probs=js,
            first_tokens=firsts,
            lengths=lengths,
            group_size=3,
            width=6,
        )
        kept = [(r, j) if r == r and j else None for r, j in zip(rewards, js, strict=True)]
        want = hand_block_credit(kept, alpha=0.5, baseline=baseline, group_size=3)
        for i, row in enumerate(adv.tolist()):
            if want[i] is None:
                assert row == [0.0] * 6
                continue
            expected = [0.0] * 6
            for t in range(lengths[i]):
                expected[t] = want[i][sum(f <= t for f in firsts[i]) - 1]
            assert row == pytest.approx(expected, abs=1e-6), (baseline, i)
    # Inside one completion the blocks differ: row 0's two blocks, row 3's three.
    adv = completion_credit(
        CreditConfig("block", alpha=1.0, baseline="termination"),
        rewards=rewards,
        success_probs=js,
        first_tokens=firsts,
        lengths=lengths,
        group_size=3,
        width=6,
    )
    assert adv[0, :2].tolist() == pytest.approx([1 - 0.1 + 0.4] * 2)
    assert adv[0, 2:4].tolist() == pytest.approx([1 - 0.5 + 0.4] * 2)


def test_outcome_and_prefix_schemes_credit_whole_completions():
    rewards, js = [1.0, 0.0, 1.0, 1.0], [[0.3, 0.9], [0.3, 0.1], [0.6, 1.0], [0.6, 0.2]]
    kwargs = {"success_probs": js, "first_tokens": [[0]] * 4, "lengths": [2] * 4, "width": 2}
    outcome = completion_credit(CreditConfig("outcome"), rewards=rewards, group_size=2, **kwargs)
    half = 0.5 / (math.sqrt(0.5) + 1e-6)  # (R − mean) / (sample std + eps)
    assert outcome[:, 0].tolist() == pytest.approx([half, -half, 0, 0])
    prefix = completion_credit(
        CreditConfig("prefix", baseline="termination"), rewards=rewards, group_size=2, **kwargs
    )
    assert prefix[:, 1].tolist() == pytest.approx([0.7, -0.3, 0.4, 0.4])  # R − J_0


def _token_starts(tokenizer, ids):
    """By definition: token i starts where the decode of ids[:i] ends."""
    return [len(tokenizer.decode(ids[:i], skip_special_tokens=True)) for i in range(len(ids))]


def test_block_starts_in_tokens_fast_path_and_bisection_agree():
    tokenizers = pytest.importorskip("tokenizers")
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    from mrt_env.lm.loading import shipped_model_folder

    # A byte-level BPE: "é" is two byte tokens, so decoding tokens one by one gives
    # replacement characters and the exact (bisecting) path runs.
    bpe = tokenizers.Tokenizer(tokenizers.models.BPE())
    bpe.pre_tokenizer = tokenizers.pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = tokenizers.decoders.ByteLevel()
    bpe.train_from_iterator(
        ["ab cd\nef gh\n"] * 20,
        tokenizers.trainers.BpeTrainer(
            vocab_size=300, initial_alphabet=tokenizers.pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    byte_level = PreTrainedTokenizerFast(tokenizer_object=bpe)
    char_level = AutoTokenizer.from_pretrained(shipped_model_folder())
    for tokenizer, text in ((byte_level, "ab é\ncd\nef"), (char_level, "12+3=15\n4\n56")):
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        decoded = tokenizer.decode(ids, skip_special_tokens=True)
        starts = episode_boundaries(decoded, rule="lines")
        firsts = block_starts_in_tokens(tokenizer, ids, starts)
        token_starts = _token_starts(tokenizer, ids)
        assert firsts == [min(i for i, s in enumerate(token_starts) if s >= b) for b in starts]
        assert len(firsts) == 3 and firsts[0] == 0


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
        estimates = prover.estimate_batch([ProverRequest(problem, prompt, c) for c in cuts])
        rows.append((r, known_success_probs(estimates)))
        starts = episode_boundaries(text, rule="lines")
        token_starts = _token_starts(tokenizer, ids)
        layouts.append([sum(b <= s for b in starts) - 1 for s in token_starts])
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


def test_mrt_trainer_refuses_bad_configuration():
    from mrt_env.training.trl_trainer import MRTGRPOTrainer

    with pytest.raises(ConfigError, match="prover="):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("block"))
    with pytest.raises(ConfigError, match="tools="):
        MRTGRPOTrainer(model="unused", credit=CreditConfig("outcome"), tools=[print])
    with pytest.raises(ConfigError, match="length_penalty"):
        CreditConfig("block", length_penalty=0.01)
    with pytest.raises(ConfigError, match="scheme"):
        CreditConfig("per-token")


@pytest.mark.slow
def test_two_processes_under_accelerate_each_rank_gets_its_own_rows(tmp_path):
    """accelerate launch, 2 processes on the CPU (gloo). One GRPO group of 4 spans both ranks
    (2 completions each), so the group baseline needs the other rank's J values."""
    out = tmp_path / "ranks"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
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
