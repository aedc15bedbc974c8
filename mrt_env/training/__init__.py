"""Trainers: MRT (progress-credited policy gradient), a GRPO baseline, MRT-STaR.

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.losses`         the objectives, pure functions of tensors
:mod:`.rollouts`       traces from a policy in a vector env, as training tensors
:mod:`.train`          ``mrt-train``: the loop, checkpoints, logs, evaluation
=====================  ========================================================

Importing this package imports no torch; the functions do, when called.
"""
