"""MRT's credit (mrt_env.training.credit) against the hand-written formulas."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent))
from credit_by_hand import hand_block_credit, token_starts  # noqa: E402

from mrt_env.episodes import episode_boundaries  # noqa: E402
from mrt_env.errors import ConfigError  # noqa: E402
from mrt_env.training.credit import (  # noqa: E402
    CreditConfig,
    block_starts_in_tokens,
    credit_by_episodes,
)


def test_credit_by_episodes_matches_the_hand_formulas_and_leaves_out_unscored_rows():
    # Two groups of 3; row 2 has no reward (NaN), row 4 no episode: both get 0 and leave
    # their group's baselines.
    rewards = [1.0, 0.0, float("nan"), 1.0, 0.0, 1.0]
    js = [[0.1, 0.5, 0.9], [0.1, 0.2], [0.1, 0.3], [0.2, 0.1, 0.6, 1.0], None, [0.2, 0.7]]
    firsts = [[0, 2], [0], [0], [0, 1, 3], None, [0]]
    lengths = [4, 3, 2, 5, 1, 2]
    batch = {
        "rewards": rewards,
        "success_probs": js,
        "first_tokens": firsts,
        "lengths": lengths,
        "groups": [i // 3 for i in range(6)],
        "width": 6,
    }
    for baseline in ("group", "termination"):
        adv = credit_by_episodes(CreditConfig("block", alpha=0.5, baseline=baseline), **batch)
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
    adv = credit_by_episodes(CreditConfig("block", alpha=1.0, baseline="termination"), **batch)
    assert adv[0, :2].tolist() == pytest.approx([1 - 0.1 + 0.4] * 2)
    assert adv[0, 2:4].tolist() == pytest.approx([1 - 0.5 + 0.4] * 2)


def test_outcome_and_prefix_schemes_credit_whole_completions():
    rewards, js = [1.0, 0.0, 1.0, 1.0], [[0.3, 0.9], [0.3, 0.1], [0.6, 1.0], [0.6, 0.2]]
    kwargs = {"success_probs": js, "first_tokens": [[0]] * 4, "lengths": [2] * 4, "width": 2}
    outcome = credit_by_episodes(
        CreditConfig("outcome"), rewards=rewards, groups=[0, 0, 1, 1], **kwargs
    )
    half = 0.5 / (math.sqrt(0.5) + 1e-6)  # (R − mean) / (sample std + eps)
    assert outcome[:, 0].tolist() == pytest.approx([half, -half, 0, 0])
    prefix = credit_by_episodes(
        CreditConfig("prefix", baseline="termination"),
        rewards=rewards,
        groups=[0, 0, 1, 1],
        **kwargs,
    )
    assert prefix[:, 1].tolist() == pytest.approx([0.7, -0.3, 0.4, 0.4])  # R − J_0


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
        offsets = token_starts(tokenizer, ids)
        assert firsts == [min(i for i, s in enumerate(offsets) if s >= b) for b in starts]
        assert len(firsts) == 3 and firsts[0] == 0


def test_credit_config_refuses_wrong_combinations_in_one_line():
    with pytest.raises(ConfigError, match="length_penalty is the GRPO baseline"):
        CreditConfig("block", length_penalty=0.01)
    with pytest.raises(ConfigError, match="scheme must be one of outcome, block, prefix"):
        CreditConfig("per-token")
    with pytest.raises(ConfigError, match="baseline must be group or termination"):
        CreditConfig("block", baseline="mean")
