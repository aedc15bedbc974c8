"""One credit, three engines: for the same traces and J values, ``mrt-train``, the TRL
trainer and the verl estimator give identical per-token advantages.

``mrt-train`` and TRL run in the main environment; verl pins its own transformers, so its
half runs in verl's own virtual environment (``.ci/run`` makes it), where TRL is absent.
Each engine is compared with ``mrt-train``'s advantages, exactly (``==``, no tolerance),
and ``mrt-train``'s with the formulas on padded tensors, token by token.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

sys.path.insert(0, str(Path(__file__).parents[1] / "training"))  # credit_by_hand
from credit_by_hand import byte_level_tokenizer  # noqa: E402

from mrt_env.episodes import episode_boundaries  # noqa: E402
from mrt_env.training.config import TrainConfig  # noqa: E402
from mrt_env.training.credit import (  # noqa: E402
    CreditConfig,
    block_credit,
    token_advantages,
    token_blocks,
)
from mrt_env.training.loop import advantages  # noqa: E402
from mrt_env.training.rollouts import RolloutBatch  # noqa: E402
from mrt_env.types import EpisodeRecord  # noqa: E402

GROUP = 3
PROMPT = "Q: 12+34?\n"
# Two problems x three traces; blocks are lines (the synthetic tasks' episodes).
TRACES = [
    (["2+4=6\n", "1+3=4\n", "= 46\n"], [0.1, 0.4, 0.8, 1.0], True),
    (["2+4=6\n", "wait\n", "1+3=5\n", "= 56\n"], [0.1, 0.4, 0.4, 0.0, 0.0], False),
    (["2+4=7\n", "fix 2+4=6\n", "1+3=4\n", "= 46\n"], [0.1, 0.0, 0.4, 0.8, 1.0], True),
    (["5+1=6\n", "= 6\n"], [0.3, 0.9, 1.0], True),
    (["5+1=7\n", "= 7\n"], [0.3, 0.0, 0.0], False),
    (["ok 5+1\n", "5+1=6\n", "= 6\n"], [0.3, 0.3, 0.9, 1.0], True),
]
SETTINGS = [
    {"algorithm": "grpo"},
    {"algorithm": "grpo", "credit": CreditConfig(scheme="outcome", length_penalty=0.01)},
    {"algorithm": "mrt", "credit": CreditConfig(scheme="block", baseline="group", alpha=0.5)},
    {"algorithm": "mrt", "credit": CreditConfig(scheme="block", baseline="termination")},
    {"algorithm": "mrt", "credit": CreditConfig(scheme="prefix", baseline="termination")},
    {"algorithm": "mrt", "credit": CreditConfig(scheme="prefix", baseline="group")},
]


@pytest.fixture(scope="module")
def tokenizer():
    from transformers import AutoTokenizer

    from mrt_env.lm.loading import shipped_model_folder

    return AutoTokenizer.from_pretrained(shipped_model_folder())


def records(tokenizer):
    out = []
    for i, (blocks, js, correct) in enumerate(TRACES):
        # prefix_tokens: the transcript tokens after each block (the length penalty's count)
        counts = [
            len(tokenizer("".join(blocks[:j]), add_special_tokens=False)["input_ids"])
            for j in range(len(blocks) + 1)
        ]
        out.append(
            EpisodeRecord(
                problem_id=f"p{i // GROUP}",
                prompt=PROMPT,
                blocks=tuple(blocks),
                success_probs=tuple(js),
                prefix_tokens=tuple(counts),
                correct=correct,
                outcome="committed",
            )
        )
    return out


def mrt_train_completion_credit(tokenizer, settings):
    """mrt-train's per-token advantages, cut to each trace's completion tokens."""
    batch = RolloutBatch(records(tokenizer), [i // GROUP for i in range(len(TRACES))], 0)
    t = batch.tensors(tokenizer)
    adv = advantages(TrainConfig(**settings), t)  # [B, T-1]: token t+1's advantage
    prompt_tokens = len(tokenizer(PROMPT)["input_ids"])  # special tokens included, as there
    rows = []
    for b, (blocks, _, _) in enumerate(TRACES):
        n = len(tokenizer("".join(blocks), add_special_tokens=False)["input_ids"])
        rows.append(adv[b, prompt_tokens - 1 : prompt_tokens - 1 + n].tolist())
    return rows


def formula_credit(tokenizer, traces, groups, credit):
    """The formulas on padded tensors, as ``mrt-train`` applied them before it called
    ``credit_by_episodes``: [B, K] per-block credit from J held after a trace's end, spread
    by each token's block from the tokenizer's offsets; column t is token t + 1's."""
    rows = [tokenizer(t.prompt + "".join(t.blocks), return_offsets_mapping=True) for t in traces]
    owner = torch.full((len(traces), max(len(r["input_ids"]) for r in rows)), -1)  # [B, T]
    for b, (row, t) in enumerate(zip(rows, traces, strict=True)):
        starts = [len(t.prompt + "".join(t.blocks[:j])) for j in range(len(t.blocks))]
        blocks = token_blocks([start for start, _ in row["offset_mapping"]], starts)
        owner[b, : len(blocks)] = torch.tensor(blocks)
    k = max(len(t.blocks) for t in traces)
    js = [
        list(t.success_probs) + [t.success_probs[-1]] * (k + 1 - len(t.success_probs))
        for t in traces
    ]
    per_block = block_credit(
        credit,
        outcome=torch.tensor([float(t.correct) for t in traces]),
        success_probs=torch.tensor(js),
        block_mask=torch.tensor([[j < len(t.blocks) for j in range(k)] for t in traces]),
        groups=torch.tensor(groups),
        tokens=torch.tensor([float(t.prefix_tokens[-1]) for t in traces]),
    )  # [B, K]
    return token_advantages(per_block, owner[:, 1:]), owner[:, 1:] >= 0


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_mrt_train_credit_equals_the_formulas_token_by_token(tokenizer, settings):
    # Traces of 3, 4, 4, 2, 2 and 3 blocks; group labels as a batch may hold them (not from
    # 0, not in order); two tokenizers: characters after <s>, and byte-level BPE tokens
    # between <s> and </s> (a special token after the text, which no block owns).
    texts = [PROMPT + "".join(blocks) for blocks, _, _ in TRACES]
    groups = [3, 3, 3, 1, 1, 1]
    for tok in (tokenizer, byte_level_tokenizer(texts, wrap=True)):
        # The length penalty charges for the env's token counts, not for a row's tokens.
        traces = [
            replace(t, prefix_tokens=(*t.prefix_tokens[:-1], t.prefix_tokens[-1] + 5 * b))
            for b, t in enumerate(records(tok))
        ]
        t = RolloutBatch(traces, groups, 0).tensors(tok)
        want, written = formula_credit(tok, traces, groups, TrainConfig(**settings).credit)
        assert torch.equal(advantages(TrainConfig(**settings), t), want)
        assert torch.equal(t.written[:, 1:], written)
    assert all(n < int(row.sum()) for n, row in zip(t.lengths, t.attention_mask, strict=True))


def engine_inputs(tokenizer):
    """What an engine sees: completion token ids, the first token of each episode, J, R."""
    out = []
    for blocks, js, correct in TRACES:
        text = "".join(blocks)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        starts = episode_boundaries(text, rule="lines")
        offsets = [
            len(tokenizer.decode(ids[:i], skip_special_tokens=True)) for i in range(len(ids))
        ]
        firsts = [min(i for i, s in enumerate(offsets) if s >= b) for b in starts]
        assert token_blocks(range(len(ids)), firsts)[-1] == len(blocks) - 1
        out.append({"ids": ids, "first_tokens": firsts, "js": js, "reward": float(correct)})
    return out


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_trl_trainer_credit_equals_mrt_train(tokenizer, settings):
    from mrt_env.training.credit import block_starts_in_tokens, credit_by_episodes

    rows = engine_inputs(tokenizer)
    for row, (blocks, _, _) in zip(rows, TRACES, strict=True):
        text = "".join(blocks)
        found = block_starts_in_tokens(
            tokenizer, row["ids"], episode_boundaries(text, rule="lines")
        )
        assert found == row["first_tokens"]
    width = max(len(r["ids"]) for r in rows)
    trl = credit_by_episodes(
        TrainConfig(**settings).credit,
        rewards=[r["reward"] for r in rows],
        success_probs=[r["js"] for r in rows],
        first_tokens=[r["first_tokens"] for r in rows],
        lengths=[len(r["ids"]) for r in rows],
        groups=[b // GROUP for b in range(len(rows))],
        width=width,
    )
    want = mrt_train_completion_credit(tokenizer, settings)
    for b, row in enumerate(rows):
        assert trl[b, : len(row["ids"])].tolist() == want[b]
    if settings.get("scheme") == "block":  # per-block credit: blocks of one trace differ
        assert sum(len(set(w)) > 1 for w in want) >= 4


@pytest.mark.parametrize("settings", SETTINGS, ids=lambda s: "-".join(map(str, s.values())))
def test_verl_estimator_credit_equals_mrt_train(tokenizer, settings):
    """verl's own compute_advantage with algorithm.adv_estimator=mrt (verl's environment)."""
    pytest.importorskip("verl")
    import json
    from dataclasses import asdict

    import numpy as np
    from verl import DataProto
    from verl.trainer.ppo.ray_trainer import compute_advantage

    from mrt_env.integrations import verl as mrt_verl

    rows = engine_inputs(tokenizer)
    width = max(len(r["ids"]) for r in rows)
    rewards, mask = torch.zeros((len(rows), width)), torch.zeros((len(rows), width))
    for b, row in enumerate(rows):
        mask[b, : len(row["ids"])] = 1
        rewards[b, len(row["ids"]) - 1] = row["reward"]  # verl: R at the last response token
    credit = json.dumps(asdict(TrainConfig(**settings).credit))
    data = DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask},
        non_tensors={
            "uid": np.array([f"p{b // GROUP}" for b in range(len(rows))], dtype=object),
            mrt_verl.J_KEY: np.array([json.dumps(r["js"]) for r in rows], dtype=object),
            mrt_verl.FIRST_TOKENS_KEY: np.array(
                [json.dumps(r["first_tokens"]) for r in rows], dtype=object
            ),
            mrt_verl.CREDIT_KEY: np.array([credit] * len(rows), dtype=object),
        },
    )
    adv = compute_advantage(data, "mrt").batch["advantages"]
    want = mrt_train_completion_credit(tokenizer, settings)
    for b, row in enumerate(rows):
        assert adv[b, : len(row["ids"])].tolist() == want[b]
        assert not adv[b, len(row["ids"]) :].any()
