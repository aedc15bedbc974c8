"""Trainers: MRT (progress-credited policy gradient), a GRPO baseline, MRT-STaR.

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.credit`         MRT's credit for every engine: outcomes and J to per-token advantages
:mod:`.losses`         the losses (PPO's clipped surrogate, the NLL), pure functions of tensors
:mod:`.rollouts`       traces from a policy in a vector env, as a batch of tokens
:mod:`.train`          ``mrt-train``: the loop, checkpoints, logs, evaluation
:mod:`.vllm_sync`      trained weights into the vLLM rollout engine
:mod:`.trl`            rewards and datasets for TRL's ``GRPOTrainer`` (extra ``trl``)
:mod:`.trl_trainer`    ``MRTGRPOTrainer``: MRT's per-token credit inside TRL (extra ``trl``)
:mod:`.verl`           the ``mrt`` advantage estimator and reward manager for verl
=====================  ========================================================

Importing this package imports no torch; the functions do, when called.
"""
