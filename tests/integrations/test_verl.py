"""MRT in verl: the ``mrt`` advantage estimator through verl's own ``compute_advantage``,
and the reward manager's per-sample fields, on hand-made batches.

verl pins its own transformers, so ``.ci/run`` runs this file in verl's own virtual
environment (where it runs, not skips); in the main environment it is skipped.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("verl")
np = pytest.importorskip("numpy")

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "training")]  # verl_example, credit_by_hand
from credit_by_hand import hand_block_credit  # noqa: E402

from mrt_env.errors import ConfigError  # noqa: E402
from mrt_env.integrations import verl as mrt_verl  # noqa: E402
from mrt_env.training.credit import CreditConfig  # noqa: E402


def batch(rows, credit, width=7):
    """A DataProto as verl's trainer holds it before the advantage step: R at the last
    valid token of token_level_rewards, the response mask, uid, and the MRT fields."""
    from verl import DataProto

    rewards = torch.zeros((len(rows), width))
    mask = torch.zeros((len(rows), width))
    for b, row in enumerate(rows):
        mask[b, : row["length"]] = 1
        rewards[b, row["length"] - 1] = row["reward"]
    return DataProto.from_dict(
        tensors={"token_level_rewards": rewards, "response_mask": mask},
        non_tensors={
            "uid": np.array([row["uid"] for row in rows], dtype=object),
            mrt_verl.J_KEY: np.array([json.dumps(row["js"]) for row in rows], dtype=object),
            mrt_verl.FIRST_TOKENS_KEY: np.array(
                [json.dumps(row["firsts"]) for row in rows], dtype=object
            ),
            mrt_verl.CREDIT_KEY: np.array([json.dumps(credit.__dict__)] * len(rows), dtype=object),
        },
    )


ROWS = [  # two groups (verl's uid), in mixed order as verl may hold them
    {"uid": "a", "reward": 1.0, "js": [0.1, 0.5, 0.9], "firsts": [0, 3], "length": 5},
    {"uid": "b", "reward": 0.0, "js": [0.4, 0.2], "firsts": [0], "length": 2},
    {"uid": "a", "reward": 0.0, "js": [0.1, 0.3, 0.2, 0.0], "firsts": [0, 1, 4], "length": 7},
    {"uid": "b", "reward": 1.0, "js": [0.4, 0.6, 1.0], "firsts": [0, 2], "length": 6},
    {"uid": "a", "reward": 1.0, "js": [], "firsts": [], "length": 1},  # no episode: 0
]


@pytest.mark.parametrize("baseline", ["group", "termination"])
def test_compute_advantage_routes_mrt_to_per_token_credit(baseline):
    from verl.trainer.ppo.ray_trainer import compute_advantage

    credit = CreditConfig("block", alpha=0.5, baseline=baseline)
    out = compute_advantage(batch(ROWS, credit), "mrt")  # verl's own function
    adv = out.batch["advantages"]
    assert torch.equal(out.batch["returns"], adv)
    # By hand, group by group (verl's uid); the row without an episode leaves its group.
    by_group: dict[str, list[int]] = {}
    for i, row in enumerate(ROWS):
        if row["js"]:
            by_group.setdefault(row["uid"], []).append(i)
    for members in by_group.values():
        credit_rows = hand_block_credit(
            [(ROWS[i]["reward"], ROWS[i]["js"]) for i in members],
            alpha=0.5,
            baseline=baseline,
            group_size=len(members),
        )
        for i, blocks in zip(members, credit_rows, strict=True):
            row = ROWS[i]
            expected = [0.0] * 7
            for t in range(row["length"]):
                expected[t] = blocks[sum(f <= t for f in row["firsts"]) - 1]
            assert adv[i].tolist() == pytest.approx(expected, abs=1e-6), (baseline, i)
    assert not adv[4].any()


def test_other_estimators_pass_through_unchanged():
    from verl.trainer.ppo.ray_trainer import compute_advantage

    out = compute_advantage(batch(ROWS, CreditConfig("outcome")), "grpo")
    # verl's GRPO: (R − group mean) / (std + 1e-6) on every valid token
    a = [1.0, 0.0, 1.0]
    mean, std = sum(a) / 3, torch.tensor(a).std().item()
    assert out.batch["advantages"][0, 0].item() == pytest.approx((1 - mean) / (std + 1e-6))


def test_a_batch_without_mrt_fields_is_a_one_line_error():
    from verl import DataProto
    from verl.trainer.ppo.ray_trainer import compute_advantage

    data = DataProto.from_dict(
        tensors={"token_level_rewards": torch.zeros(2, 3), "response_mask": torch.ones(2, 3)},
        non_tensors={"uid": np.array(["a", "a"], dtype=object)},
    )
    with pytest.raises(ConfigError, match="MRTRewardManager writes them") as error:
        compute_advantage(data, "mrt")
    assert "\n" not in str(error.value)


def test_reward_manager_adds_j_at_every_episode_boundary():
    from omegaconf import OmegaConf
    from transformers import AutoTokenizer
    from verl import DataProto

    from mrt_env.lm.loading import DEFAULT_MODEL, shipped_model_folder
    from mrt_env.prover import forcing_text_of, known_success_probs, prover_request
    from mrt_env.types import Problem

    folder = shipped_model_folder()
    tokenizer = AutoTokenizer.from_pretrained(folder)
    config = OmegaConf.create(
        {
            "mrt": {
                "model": {"name": DEFAULT_MODEL, "device": "cpu", "dtype": "float32"},
                "prover": {"kind": "likelihood"},
                "episodes": {"rule": "lines"},
            }
        }
    )
    manager = mrt_verl.MRTRewardManager(config, tokenizer, mrt_verl.outcome_score)

    prompt, response = "Q: 12+34?\n", "2+4=6\n1+3=4\nanswer: 46\n"
    p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
    pad = tokenizer.pad_token_id or 0
    prompts = torch.tensor([[pad, *p_ids]])  # left-padded prompt
    responses = torch.tensor([[*r_ids, pad, pad]])  # right-padded response
    attention = torch.tensor([[0] + [1] * len(p_ids) + [1] * len(r_ids) + [0, 0]])
    data = DataProto.from_dict(
        tensors={"prompts": prompts, "responses": responses, "attention_mask": attention},
        non_tensors={
            "uid": np.array(["q1"], dtype=object),
            "data_source": np.array(["synthetic"], dtype=object),
            "reward_model": np.array([{"ground_truth": "46"}], dtype=object),
        },
    )
    result = manager.loop.run_until_complete(manager.run_single(data))  # verl's own loop
    assert result["reward_score"] == 1.0
    info = result["reward_extra_info"]
    firsts = json.loads(info[mrt_verl.FIRST_TOKENS_KEY])
    js = json.loads(info[mrt_verl.J_KEY])
    assert len(firsts) == 3 and firsts[0] == 0 and len(js) == 4
    # The same J, asked of μ directly (in the layout every caller asks it in).
    problem = Problem("q1", prompt, "46")
    cuts = ["", "2+4=6\n", "2+4=6\n1+3=4\n", response]
    forcing = forcing_text_of(manager.prover())
    requests = [prover_request(problem, prompt, c, forcing_text=forcing) for c in cuts]
    direct = known_success_probs(manager.prover().estimate_batch(requests))
    assert js == direct
    assert CreditConfig(**json.loads(info[mrt_verl.CREDIT_KEY])) == CreditConfig("block")


def test_settings_refuse_a_credit_without_a_prover():
    with pytest.raises(ConfigError, match=r"\+mrt\.model\.name"):
        mrt_verl.VerlMRTConfig(credit=CreditConfig("block"))
    outcome = CreditConfig("outcome")
    assert mrt_verl.VerlMRTConfig(credit=outcome).credit == outcome


def test_settings_nest_and_the_old_flat_keys_still_work_with_a_warning(caplog):
    from omegaconf import OmegaConf

    nested = {
        "model": {"name": "m", "device": "cpu"},
        "prover": {"kind": "likelihood"},
        "episodes": {"rule": "lines"},
        "credit": {"scheme": "block", "alpha": 0.5, "baseline": "termination"},
    }
    flat = {
        "prover_model": "m",
        "prover_device": "cpu",
        "prover_kind": "likelihood",
        "episodes": "lines",
        "scheme": "block",
        "alpha": 0.5,
        "baseline": "termination",
    }
    new = mrt_verl.VerlMRTConfig.from_run_config(OmegaConf.create({"mrt": nested}))
    assert not caplog.records
    old = mrt_verl.VerlMRTConfig.from_run_config(OmegaConf.create({"mrt": flat}))
    assert old == new and new.model.name == "m" and new.episodes.rule == "lines"
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "mrt.alpha is deprecated: use +mrt.credit.alpha" in said
    with pytest.raises(ConfigError, match=r"unknown setting mrt\.credit\.alfa"):
        mrt_verl.VerlMRTConfig.from_run_config({"mrt": {"credit": {"alfa": 1}}})


def test_the_example_script_composes_with_verls_own_config():
    """Every override of examples/verl_mrt.sh against verl's real Hydra config: the
    manager resolves to ours, the outcome function to ours, the mrt section is valid, and
    the trainer is verl's default (v1), whose advantage step test_verl_trainers.py runs."""
    from verl.trainer.ppo.reward import get_custom_reward_fn, resolve_reward_manager_cls
    from verl_example import compose, example_overrides

    overrides = example_overrides(model="agentica-org/DeepScaleR-1.5B-Preview")
    assert "algorithm.adv_estimator=mrt" in overrides and len(overrides) > 20
    config = compose(overrides)
    assert resolve_reward_manager_cls(config) is mrt_verl.MRTRewardManager
    assert get_custom_reward_fn(config).args[0] is mrt_verl.outcome_score
    settings = mrt_verl.VerlMRTConfig.from_run_config(config)
    assert settings.credit == CreditConfig("block", alpha=1.0, baseline="termination")
    assert config.actor_rollout_ref.actor.optim.lr == 1e-6
    assert config.trainer.use_v1 is True


def test_a_prover_that_fails_gives_a_response_zero_credit():
    from transformers import AutoTokenizer

    from mrt_env.episodes import EpisodeConfig
    from mrt_env.errors import BackendError
    from mrt_env.lm.loading import shipped_model_folder
    from mrt_env.types import Problem

    class FailingProver:  # a stand-in for a μ whose server is down (named so)
        def estimate_batch(self, requests):
            raise BackendError("connection refused")

    tokenizer = AutoTokenizer.from_pretrained(shipped_model_folder())
    ids = tokenizer("2+4=6\n1+3=4\n", add_special_tokens=False)["input_ids"]
    fields = mrt_verl.episode_fields(
        tokenizer,
        ids,
        context="Q\n",
        problem=Problem("q", "Q", "46"),
        prover=FailingProver(),
        rule=EpisodeConfig("lines"),
        credit=CreditConfig("block"),
    )
    assert json.loads(fields[mrt_verl.J_KEY]) == []
    assert json.loads(fields[mrt_verl.FIRST_TOKENS_KEY]) == []
