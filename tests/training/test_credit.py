"""MRT's credit (mrt_env.training.credit): its formulas on hand-built batches with values
worked out by hand, and the engines' entry against the hand-written formulas."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

sys.path.insert(0, str(Path(__file__).parent))
from credit_by_hand import byte_level_tokenizer, hand_block_credit, token_starts  # noqa: E402

from mrt_env.episodes import episode_boundaries  # noqa: E402
from mrt_env.errors import ConfigError  # noqa: E402
from mrt_env.training.credit import (  # noqa: E402
    CreditConfig,
    block_credit,
    block_starts_in_tokens,
    credit_by_episodes,
    grpo_advantages,
    length_penalized,
    mrt_block_advantages,
    prefix_advantages,
    token_advantages,
)


def test_grpo_advantages_are_normalised_within_each_group():
    rewards = torch.tensor([1.0, 0.0, 0.0, 0.0, 1.0, 1.0])
    groups = torch.tensor([0, 0, 0, 1, 1, 1])
    adv = grpo_advantages(rewards, groups, eps=0.0)
    # group 0: mean 1/3, sample std sqrt(((2/3)^2 + 2 (1/3)^2) / 2) = sqrt(1/3)
    s = math.sqrt(1 / 3)
    assert adv.tolist() == pytest.approx(
        [(2 / 3) / s, (-1 / 3) / s, (-1 / 3) / s, (-2 / 3) / s, (1 / 3) / s, (1 / 3) / s]
    )
    same = grpo_advantages(torch.tensor([1.0, 1.0, 0.0, 0.0]), torch.tensor([0, 0, 1, 1]))
    assert same.tolist() == [0.0, 0.0, 0.0, 0.0]  # nothing to learn from a uniform group
    centred = grpo_advantages(rewards, groups, scale=False)
    assert centred.tolist() == pytest.approx([2 / 3, -1 / 3, -1 / 3, -2 / 3, 1 / 3, 1 / 3])


def test_mrt_gives_each_block_its_own_progress_credit():
    # Two traces of one problem, both correct (so the outcome advantage is 0):
    # trace 0: J = 0.1 -> 0.5 -> 0.9 (two productive blocks)
    # trace 1: J = 0.1 -> 0.1 -> 0.1 -> 0.9 (a wasted block, then the same gain)
    outcome = torch.tensor([1.0, 1.0])
    probs = torch.tensor([[0.1, 0.5, 0.9, 0.9], [0.1, 0.1, 0.1, 0.9]])
    mask = torch.tensor([[True, True, False], [True, True, True]])
    groups = torch.tensor([0, 0])
    adv = mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0)
    # progress: trace 0 [0.4, 0.4, -], trace 1 [0.0, 0.0, 0.8]
    # baselines per block index: j=0 mean(0.4, 0) = 0.2; j=1 mean(0.4, 0) = 0.2; j=2 0.8
    assert adv.tolist()[0] == pytest.approx([0.2, 0.2, 0.0])
    assert adv.tolist()[1] == pytest.approx([-0.2, -0.2, 0.0])
    # The sum of progress is the same for both (0.8): a trajectory-level bonus could not
    # tell them apart. Per-block credit does: the wasted blocks get negative advantage.
    half = mrt_block_advantages(outcome, probs, mask, groups, alpha=0.5)
    assert half.tolist()[1] == pytest.approx([-0.1, -0.1, 0.0])


def test_mrt_adds_the_outcome_advantage_and_the_termination_baseline():
    outcome = torch.tensor([1.0, 0.0])
    probs = torch.tensor([[0.2, 0.6], [0.2, 0.2]])
    mask = torch.tensor([[True], [True]])
    groups = torch.tensor([0, 0])
    adv = mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0, eps=0.0)
    # outcome advantages ±(1/2)/sqrt(1/2) = ±0.7071; progress 0.4 and 0.0, baseline 0.2
    a = 0.5 / math.sqrt(0.5)
    assert adv[:, 0].tolist() == pytest.approx([a + 0.2, -a - 0.2])
    term = mrt_block_advantages(outcome, probs, mask, groups, alpha=0.0, baseline="termination")
    # A = R − J_j at the prefix before the block: 1 − 0.2 and 0 − 0.2
    assert term[:, 0].tolist() == pytest.approx([0.8, -0.2])
    with pytest.raises(ValueError, match="baseline"):
        mrt_block_advantages(outcome, probs, mask, groups, alpha=1.0, baseline="mean")


def test_token_advantages_follow_the_block_of_each_token():
    block_adv = torch.tensor([[0.5, -1.0]])
    block_index = torch.tensor([[-1, -1, 0, 0, 1, -1]])  # prompt, block 0, block 1, pad
    assert token_advantages(block_adv, block_index).tolist() == [[0, 0, 0.5, 0.5, -1.0, 0]]


def test_prefix_advantages_compare_each_continuation_with_terminating():
    # Prefix 0 (J_j = 0.25): continuations right, wrong, right. Prefix 1 (J_j = 0.5): wrong, wrong.
    outcome = torch.tensor([1.0, 0.0, 1.0, 0.0, 0.0])
    termination = torch.tensor([0.25, 0.25, 0.25, 0.5, 0.5])
    groups = torch.tensor([0, 0, 0, 1, 1])
    adv = prefix_advantages(outcome, termination, groups)  # the authors': A = R − J_j
    assert adv.tolist() == pytest.approx([0.75, -0.25, 0.75, -0.5, -0.5])
    # The set {1, 0, 1, 0.25}: mean 0.5625; squares 0.19140625·2 + 0.31640625 + 0.09765625
    # = 0.796875, sample std sqrt(0.796875 / 3). Set {0, 0, 0.5}: mean 1/6, std sqrt(1/12).
    s0, s1 = math.sqrt(0.796875 / 3), math.sqrt((2 * (1 / 6) ** 2 + (1 / 3) ** 2) / 2)
    grouped = prefix_advantages(outcome, termination, groups, baseline="group", eps=0.0)
    expected = [0.4375 / s0, -0.5625 / s0, 0.4375 / s0, (-1 / 6) / s1, (-1 / 6) / s1]
    assert grouped.tolist() == pytest.approx(expected, rel=1e-5)
    with pytest.raises(ValueError, match="baseline"):
        prefix_advantages(outcome, termination, groups, baseline="mean")


def test_length_penalized_reward():
    reward = length_penalized(torch.tensor([1.0, 0.0, 1.0]), torch.tensor([100, 20, 300]), 1e-3)
    assert reward.tolist() == pytest.approx([0.9, -0.02, 0.7])


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
    pytest.importorskip("tokenizers")
    from transformers import AutoTokenizer

    from mrt_env.lm.loading import shipped_model_folder

    # A byte-level BPE: "é" is two byte tokens, so decoding tokens one by one gives
    # replacement characters and the exact (bisecting) path runs.
    byte_level = byte_level_tokenizer(["ab cd\nef gh\n"])
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
    with pytest.raises(ConfigError, match="length_penalty is GRPO's length-penalty reward"):
        CreditConfig("block", length_penalty=0.01)
    with pytest.raises(ConfigError, match="scheme must be one of outcome, block, prefix"):
        CreditConfig("per-token")
    with pytest.raises(ConfigError, match="baseline must be group or termination"):
        CreditConfig("block", baseline="mean")


def test_credit_needs_no_transformers_backend():
    """TRL's and verl's environments import the credit; the transformers backend is no part
    of it. Importing ``mrt_env`` itself loads every backend's module (its envs are
    registered with the model loader), so the backend is made unimportable after that,
    before the credit is imported and run."""
    code = textwrap.dedent(
        """
        import sys

        import mrt_env.lm

        del sys.modules["mrt_env.lm.transformers_lm"], mrt_env.lm.transformers_lm
        sys.modules["mrt_env.lm.transformers_lm"] = None  # importing it raises from now on
        from mrt_env.training.credit import CreditConfig, credit_by_episodes

        adv = credit_by_episodes(
            CreditConfig("block"),
            rewards=[1.0, 0.0],
            success_probs=[[0.1, 0.6], [0.1, 0.2]],
            first_tokens=[[0], [0]],
            lengths=[2, 2],
            groups=[0, 0],
            width=2,
        )
        assert adv.shape == (2, 2)
        assert sys.modules["mrt_env.lm.transformers_lm"] is None
        """
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.gpu
@pytest.mark.parametrize(
    "credit",
    [
        CreditConfig("outcome"),
        CreditConfig("outcome", length_penalty=0.01),
        CreditConfig("block"),
        CreditConfig("block", baseline="termination"),
        CreditConfig("prefix"),
        CreditConfig("prefix", baseline="group"),
    ],
)
def test_block_credit_on_a_gpu_equals_the_cpu_credit(credit):
    # The formulas build their group sums with torch.zeros: on the inputs' device, or a
    # CUDA batch fails ("index is on cuda:0, different from other tensors on cpu").
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    batch = {
        "outcome": torch.tensor([1.0, 0.0, 1.0, 1.0]),
        "success_probs": torch.tensor(
            [[0.1, 0.5, 1.0], [0.2, 0.2, 0.0], [0.3, 0.6, 1.0], [0.3, 0.9, 1.0]]
        ),
        "block_mask": torch.tensor([[True, True], [True, False], [True, True], [True, True]]),
        "groups": torch.tensor([0, 0, 2, 2]),
        "tokens": torch.tensor([5.0, 6.0, 7.0, 8.0]),
    }
    on_cpu = block_credit(credit, **batch)
    on_gpu = block_credit(credit, **{k: v.cuda() for k, v in batch.items()})
    assert on_gpu.device.type == "cuda"
    assert torch.allclose(on_gpu.cpu(), on_cpu, atol=1e-6)
