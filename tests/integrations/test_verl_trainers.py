"""MRT's fields through verl 0.9.1's two PPO trainers, by verl's own code end to end from
the reward loop to the advantages: the default (v1, ``trainer.use_v1=true``) and the
legacy one (``trainer.use_v1=false``).

The rollout is hand-written (no rollout engine runs here), everything after it is verl's:
its ``RewardLoopManager`` starts a reward worker (a Ray actor) that runs our
``MRTRewardManager`` with the shipped tiny model as μ; verl's agent-loop workers score each
response through it and hand the result on (v1: into TransferQueue, legacy: into the
batch); then the trainer's own advantage step. The ``mrt`` advantages must equal the credit
computed by hand from what the reward worker wrote.

Needs verl's environment (``.ci/run`` runs it there) and TransferQueue for the v1 trainer.
A local Ray instance starts once for the file (about half a minute on 2 cores).
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("verl")
ray = pytest.importorskip("ray")
tq = pytest.importorskip("transfer_queue")
np = pytest.importorskip("numpy")

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE), str(HERE.parent / "training")]  # verl_example, credit_by_hand
from credit_by_hand import hand_block_credit  # noqa: E402
from verl_example import compose, example_overrides, with_changes  # noqa: E402

from mrt_env.integrations import verl as mrt_verl  # noqa: E402
from mrt_env.lm.loading import shipped_model_folder  # noqa: E402
from mrt_env.training.credit import CreditConfig  # noqa: E402

# (prompt, gold, responses): two groups of unequal size, right and wrong answers, one to
# three episodes (rule: lines) per response.
ROLLOUT = [
    (
        "Q: 12+34?\n",
        "46",
        ["2+4=6\n1+3=4\nanswer: 46\n", "2+4=6\nanswer: 47\n", "answer: 46\n"],
    ),
    ("Q: 5+7?\n", "12", ["5+7=12\nanswer: 12\n", "5+7=13\nanswer: 13\n"]),
]
ALPHA = 0.5


@pytest.fixture(scope="module")
def config():
    """The example's own command line, with μ sized for this CPU: the tiny model, the
    likelihood prover, episodes by lines, and the group baseline (so that the credit
    depends on verl's group ids arriving with the fields)."""
    tiny = str(shipped_model_folder())
    overrides = with_changes(
        example_overrides(model=tiny),
        {
            "data.max_prompt_length": "32",
            "data.max_response_length": "32",
            "reward.num_workers": "1",
            "mrt.prover.kind": "likelihood",
            "mrt.episodes.rule": "lines",
            "mrt.credit.baseline": "group",
            "mrt.credit.alpha": str(ALPHA),
            "+mrt.model.device": "cpu",
            "+mrt.model.dtype": "float32",
        },
    )
    config = compose(overrides)
    from omegaconf import OmegaConf

    OmegaConf.resolve(config)  # as verl's TaskRunner does before building anything
    return config


@pytest.fixture(scope="module")
def reward_handles(config):
    """verl's RewardLoopManager, as the trainer builds it: its reward worker actor runs our
    MRTRewardManager (resolved from the config)."""
    from omegaconf import OmegaConf
    from verl.experimental.reward_loop.reward_loop import RewardLoopManager

    # Logical CPUs Ray schedules against: TransferQueue's controller and storage unit and
    # the reward worker each ask for one; no core is reserved.
    ray.init(num_cpus=8, include_dashboard=False, log_to_driver=False)
    tq.init(OmegaConf.create({"backend": {"SimpleStorage": {"num_data_storage_units": 1}}}))
    try:
        manager = RewardLoopManager(config=config)
        yield manager.reward_loop_worker_handles
    finally:
        tq.close()
        ray.shutdown()


def rollout(tokenizer, config):
    """One AgentLoopOutput per response, and the per-sample kwargs verl's agent loop passes
    along (the dataset row, uid, session id)."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopMetrics, AgentLoopOutput

    samples = []
    for p, (prompt, gold, responses) in enumerate(ROLLOUT):
        p_ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        for s, response in enumerate(responses):
            r_ids = tokenizer(response, add_special_tokens=False)["input_ids"]
            assert len(p_ids) <= 32 and len(r_ids) <= 32
            output = AgentLoopOutput(
                prompt_ids=p_ids,
                response_ids=r_ids,
                response_mask=[1] * len(r_ids),
                num_turns=2,
                metrics=AgentLoopMetrics(),
            )
            kwargs = {
                "uid": f"prompt{p}",
                "session_id": s,
                "global_steps": 1,
                "index": p,
                "raw_prompt": [{"role": "user", "content": prompt}],
                "data_source": "synthetic",
                "reward_model": {"ground_truth": gold},
                "extra_info": {},
            }
            samples.append((output, kwargs))
    return samples


def expected_advantages(scored):
    """By hand, from what the reward worker wrote: (uid, R, fields) per row, in batch
    order; returns one list of per-token credit per row (response length long)."""
    rows = []
    for uid, reward, info, length in scored:
        js = json.loads(info[mrt_verl.J_KEY])
        firsts = json.loads(info[mrt_verl.FIRST_TOKENS_KEY])
        assert CreditConfig(**json.loads(info[mrt_verl.CREDIT_KEY])) == CreditConfig(
            "block", alpha=ALPHA, baseline="group"
        )
        rows.append({"uid": uid, "reward": reward, "js": js, "firsts": firsts, "length": length})
    # Not a vacuous check: every row has episodes and J varies along some response.
    assert all(len(r["js"]) == len(r["firsts"]) + 1 >= 2 for r in rows)
    assert any(len(set(r["js"])) > 1 for r in rows)
    out = [[0.0] * r["length"] for r in rows]
    groups: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        groups.setdefault(r["uid"], []).append(i)
    for members in groups.values():
        credit = hand_block_credit(
            [(rows[i]["reward"], rows[i]["js"]) for i in members],
            alpha=ALPHA,
            baseline="group",
            group_size=len(members),
        )
        for i, blocks in zip(members, credit, strict=True):
            for t in range(rows[i]["length"]):
                out[i][t] = blocks[sum(f <= t for f in rows[i]["firsts"]) - 1]
    return out


def sampled_batch(keys):
    """These rows of TransferQueue's train partition as the v1 replay buffer hands the
    trainer a batch (a KVBatchMeta), in an order that mixes the groups."""
    from transfer_queue import KVBatchMeta

    listed = tq.kv_list("train")["train"]
    ordered = sorted(keys, key=lambda k: (k.rsplit("_", 2)[1], k))
    assert set(ordered) <= set(listed)
    return KVBatchMeta(keys=ordered, tags=[listed[k] for k in ordered], partition_id="train")


def v1_trainer(config):
    """verl's v1 trainer holding only what its advantage step reads (its config): building
    the rest (worker groups, rollout servers) needs a GPU."""
    from verl.trainer.ppo.v1.trainer_sync import PPOTrainerSync

    trainer = PPOTrainerSync.__new__(PPOTrainerSync)
    trainer.config = config
    return trainer


def test_v1_trainer_default_gives_mrt_credit(config, reward_handles):
    """verl 0.9.1's default trainer: the agent-loop worker (TransferQueue flavour) scores
    each response through the reward worker and puts it into TransferQueue; the v1
    trainer's own advantage step reads the batch back and runs the estimator."""
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    assert config.trainer.use_v1  # the example runs verl's default trainer
    worker_cls = AgentLoopWorkerTQ.__ray_actor_class__  # the class inside verl's Ray actor
    worker = worker_cls(config, llm_client=None, reward_loop_worker_handles=reward_handles)
    samples = rollout(worker.tokenizer, config)

    async def put_all():
        for output, kwargs in samples:
            await worker._agent_loop_postprocess(output, False, **kwargs)

    asyncio.run(put_all())

    # The batch as the replay buffer samples it, in an order that mixes the groups.
    by_key = {f"{kw['uid']}_{kw['session_id']}_0": (out, kw) for out, kw in samples}
    batch = sampled_batch(by_key)
    keys = batch.keys
    v1_trainer(config)._compute_advantage(batch, metrics={})  # verl's own step

    got = tq.kv_batch_get(keys=keys, partition_id="train", select_fields=["advantages"])
    scored = []
    for key in keys:
        out, kw = by_key[key]
        info = out.extra_fields["reward_extra_info"]  # what the reward worker returned
        scored.append((kw["uid"], out.reward_score, info, len(out.response_ids)))
    expected = expected_advantages(scored)
    for key, row, want in zip(keys, got["advantages"].unbind(0), expected, strict=True):
        assert row.tolist() == pytest.approx(want, abs=1e-6), key


def test_v1_step_without_mrt_fields_other_estimators_unchanged_mrt_one_line_error(
    config, reward_handles
):
    """Rows scored by a reward without the MRT fields (verl's naive manager's ``acc``):
    GRPO through the v1 step is verl's GRPO; ``mrt`` stops with our one-line error."""
    from omegaconf import OmegaConf
    from verl.trainer.ppo.v1.agent_loop_tq import AgentLoopWorkerTQ

    from mrt_env.errors import ConfigError

    worker_cls = AgentLoopWorkerTQ.__ray_actor_class__
    worker = worker_cls(config, llm_client=None, reward_loop_worker_handles=reward_handles)
    samples = rollout(worker.tokenizer, config)[:3]  # the first group: R = 1, 0, 1
    by_key = {}
    for (output, kwargs), reward in zip(samples, [1.0, 0.0, 1.0], strict=True):
        kwargs["uid"] = "naive"
        # Scored by the agent loop itself (verl then skips the reward worker), as verl's
        # naive manager would have: the outcome and `acc`, no MRT fields.
        output.reward_score = reward
        output.extra_fields["reward_extra_info"] = {"acc": reward}
        by_key[f"naive_{kwargs['session_id']}_0"] = output

    async def put_all():
        for output, kwargs in samples:
            await worker._agent_loop_postprocess(output, False, **kwargs)

    asyncio.run(put_all())
    batch = sampled_batch(by_key)

    grpo = OmegaConf.merge(config, {"algorithm": {"adv_estimator": "grpo"}})
    v1_trainer(grpo)._compute_advantage(batch, metrics={})
    got = tq.kv_batch_get(keys=batch.keys, partition_id="train", select_fields=["advantages"])
    rewards = [by_key[k].reward_score for k in batch.keys]
    mean, std = sum(rewards) / 3, torch.tensor(rewards).std().item()
    for key, row, r in zip(batch.keys, got["advantages"].unbind(0), rewards, strict=True):
        want = (r - mean) / (std + 1e-6)
        assert row.tolist() == pytest.approx([want] * len(by_key[key].response_ids)), key

    with pytest.raises(ConfigError, match="MRTRewardManager writes them") as error:
        v1_trainer(config)._compute_advantage(batch, metrics={})
    assert "\n" not in str(error.value)


def test_legacy_trainer_gives_mrt_credit(config, reward_handles):
    """verl's legacy trainer (``trainer.use_v1=false``): the agent-loop worker scores each
    response and pads the batch, the reward's extra info is merged into the batch as
    ``RayPPOTrainer.fit`` does, then verl's ``compute_advantage``."""
    from verl.experimental.agent_loop.agent_loop import AgentLoopWorker
    from verl.trainer.ppo import ray_trainer
    from verl.trainer.ppo.reward import extract_reward

    worker = AgentLoopWorker(config, llm_client=None, reward_loop_worker_handles=reward_handles)
    samples = rollout(worker.tokenizer, config)
    order = sorted(range(len(samples)), key=lambda i: (samples[i][1]["session_id"], i))

    async def run_all():
        return [
            await worker._agent_loop_postprocess(samples[i][0], False, **samples[i][1])
            for i in order
        ]

    batch = worker._postprocess(asyncio.run(run_all()))
    # fit() unions the generated batch with the prompts' rows, which carry verl's uid.
    batch.non_tensor_batch["uid"] = np.array([samples[i][1]["uid"] for i in order], dtype=object)

    # RayPPOTrainer.fit, its reward and advantage steps (use_kl_in_reward false):
    reward_tensor, reward_extra_infos_dict = extract_reward(batch)
    batch.batch["token_level_scores"] = reward_tensor
    if reward_extra_infos_dict:
        batch.non_tensor_batch.update({k: np.array(v) for k, v in reward_extra_infos_dict.items()})
    batch.batch["token_level_rewards"] = batch.batch["token_level_scores"]
    batch = ray_trainer.compute_advantage(
        batch,
        adv_estimator=config.algorithm.adv_estimator,
        gamma=config.algorithm.gamma,
        lam=config.algorithm.lam,
        num_repeat=config.actor_rollout_ref.rollout.n,
        norm_adv_by_std_in_grpo=config.algorithm.get("norm_adv_by_std_in_grpo", True),
        config=config.algorithm,
    )

    scored = []
    for i in order:
        out, kw = samples[i]
        info = out.extra_fields["reward_extra_info"]
        scored.append((kw["uid"], out.reward_score, info, len(out.response_ids)))
    expected = expected_advantages(scored)
    adv = batch.batch["advantages"]
    for b, want in enumerate(expected):
        padded = want + [0.0] * (adv.shape[1] - len(want))
        assert adv[b].tolist() == pytest.approx(padded, abs=1e-6), b
