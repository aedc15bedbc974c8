#!/usr/bin/env bash
# MRT in verl (0.9.1): DeepScaleR-1.5B-Preview with the authors' RL settings, one 8-GPU node.
#
#   # verl's own environment (verl 0.9.1 pins transformers < 5.11); the extra brings
#   # TransferQueue, which verl's default (v1) trainer imports
#   pip install torch==2.13.0 && pip install -e '.[hf,verl]'
#   bash examples/verl_mrt.sh path/to/train.parquet path/to/val.parquet
#
# The data: verl's parquet format (prompt messages, reward_model.ground_truth).
# Multi-node with Ray: start the head (`ray start --head`) and the workers
# (`ray start --address=<head>:6379`) first, run this script on the head with NNODES set
# to the number of nodes; verl places its workers over the cluster.
#
# What MRT changes from verl's GRPO, all in the lines marked MRT:
#   - algorithm.adv_estimator=mrt: per-token credit from per-episode J (mrt_env.integrations.verl);
#   - the reward manager MRTRewardManager: outcome R plus μ's J at every episode boundary;
#   - +mrt.*: who μ is (a frozen copy of the base model in each reward worker), the episode
#     rule (the paper's markers) and the
#     credit (block, termination baseline: A = R - J_j + alpha * progress_j).
# The trainer: verl's default, v1 (trainer.use_v1=True, TransferQueue between the steps).
# mrt_env.integrations.verl carries the mrt fields into its advantage step; the legacy trainer
# (pass trainer.use_v1=False after the data files) works as well.
# Not run on a GPU by this project (on a CPU verl stops before its first step: the docs'
# Training page says where): check the first steps' mrt fields (reward_extra_info) and
# advantages before a long run.
set -euo pipefail
train=${1:?usage: verl_mrt.sh TRAIN.parquet VAL.parquet}
val=${2:?usage: verl_mrt.sh TRAIN.parquet VAL.parquet}
model=${MODEL:-agentica-org/DeepScaleR-1.5B-Preview}
nnodes=${NNODES:-1}

python -m verl.trainer.main_ppo \
    data.train_files="$train" \
    data.val_files="$val" \
    data.train_batch_size=64 \
    data.max_prompt_length=1024 \
    data.max_response_length=24576 \
    actor_rollout_ref.model.path="$model" \
    actor_rollout_ref.actor.optim.lr=1e-6 \
    actor_rollout_ref.actor.optim.lr_warmup_steps_ratio=0.1 \
    actor_rollout_ref.actor.optim.lr_scheduler_type=cosine \
    actor_rollout_ref.actor.optim.weight_decay=0.01 \
    actor_rollout_ref.actor.ppo_mini_batch_size=64 \
    actor_rollout_ref.actor.use_kl_loss=False \
    actor_rollout_ref.rollout.name=vllm \
    actor_rollout_ref.rollout.n=4 \
    actor_rollout_ref.rollout.temperature=0.9 \
    actor_rollout_ref.rollout.gpu_memory_utilization=0.5 \
    algorithm.use_kl_in_reward=False \
    `# MRT` algorithm.adv_estimator=mrt \
    `# MRT` reward.reward_manager.source=importlib \
    `# MRT` reward.reward_manager.module.path=pkg://mrt_env.integrations.verl \
    `# MRT` reward.reward_manager.name=MRTRewardManager \
    `# MRT` reward.custom_reward_function.path=pkg://mrt_env.integrations.verl \
    `# MRT` reward.custom_reward_function.name=outcome_score \
    `# MRT` +mrt.model.name="$model" \
    `# MRT` +mrt.prover.kind=forced \
    `# MRT` +mrt.episodes.rule=markers \
    `# MRT` +mrt.credit.scheme=block \
    `# MRT` +mrt.credit.baseline=termination \
    `# MRT` +mrt.credit.alpha=1.0 \
    trainer.use_v1=True \
    trainer.n_gpus_per_node=8 \
    trainer.nnodes="$nnodes" \
    trainer.total_training_steps=500 \
    trainer.save_freq=10 \
    trainer.test_freq=50 \
    trainer.project_name=mrt_env \
    trainer.experiment_name=deepscaler-mrt \
    "${@:3}"
