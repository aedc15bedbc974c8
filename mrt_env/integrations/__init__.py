"""MRT inside other engines' trainers: TRL and verl.

=====================  ========================================================
module                 job
=====================  ========================================================
:mod:`.trl`            rewards, datasets and ``MRTGRPOTrainer`` for TRL (extra ``trl``)
:mod:`.verl`           the ``mrt`` advantage estimator and reward manager for verl
=====================  ========================================================

Both credit tokens with :func:`mrt_env.training.credit.credit_by_episodes`, the function
``mrt-train`` uses: for the same traces and J values the three engines give the same
per-token advantages (tested).

Importing this package imports neither engine. :mod:`.trl` imports no trl or torch (its
``MRTGRPOTrainer`` imports trl when it is asked for); :mod:`.verl` imports verl where it is
installed, to register the estimator, and works without it otherwise.
"""
