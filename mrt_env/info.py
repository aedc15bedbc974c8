"""The keys of the info dicts that :class:`~mrt_env.envs.ReasoningEnv` returns.

One module so that agents, trainers and benchmarks spell them the same way. In MRT's terms
(Qu et al., 2025) a gym *step* writes one *episode* z_j of the reasoning stream, and c_j is
the context after j of them; a gym episode is one attempt at one problem.
"""

from __future__ import annotations

__all__ = [
    "ANSWER",
    "BLOCK_TOKENS",
    "CORRECT",
    "EPISODE",
    "FORCED_ANSWERS",
    "GOLD_ANSWER",
    "OUTCOME",
    "PROBLEM_ID",
    "PROGRESS",
    "REGRET",
    "SLOT",
    "SUCCESS_PROB",
    "TERMINATION_REWARD",
    "TOKENS",
    "UNDECIDED",
]

EPISODE = "episode"
"""j: how many reasoning episodes (blocks) the stream holds now (0 after reset)."""
TOKENS = "tokens"
"""Tokens used by the blocks so far (the prompt not counted)."""
BLOCK_TOKENS = "block_tokens"
"""Tokens of the block just written (0 after reset)."""
SUCCESS_PROB = "success_prob"
"""$J_j = J(μ(·|c_j))$: the meta-prover's chance of answering right if forced now."""
PROGRESS = "progress"
"""The progress of block j, the one just written: $J_j − J_{j-1}$ (0 after reset)."""
REGRET = "regret"
"""Cumulative episode regret so far: $Δ_j = Σ_{i=1}^{j} (1 − J_i)$ (oracle comparator)."""
TERMINATION_REWARD = "termination_reward"
"""What answering right now would earn: outcome_weight · J_j (the MRT-RL baseline)."""
FORCED_ANSWERS = "forced_answers"
"""μ's sampled answers at c_j (a tuple; empty for a prover that does not sample)."""
ANSWER = "answer"
"""Before the end: the most common of μ's answers at c_j (None if none). At the end: the
answer that was graded (the committed one, or the forced one at truncation)."""
CORRECT = "correct"
"""At the end only: whether ``answer`` matches the gold answer; None when the grader reached
no verdict (see ``undecided``)."""
UNDECIDED = "undecided"
"""Gradings of this step that reached no verdict (a deadline passed or a grading worker
died): μ's sampled answers left out of J, plus 1 if the final answer's was one. They are
left out of rewards, never counted as wrong; when all of μ's answers are undecided the step
keeps the previous J (progress 0)."""
OUTCOME = "outcome"
"""At the end only: how the stream ended: ``committed``, ``forced`` or ``unforced``."""
GOLD_ANSWER = "gold_answer"
"""At the end only: the reference answer (never shown before the episode is over)."""
PROBLEM_ID = "problem_id"
"""The id of the problem being solved."""
SLOT = "slot"
"""Added by :func:`mrt_env.agents.play` (not by the env): the index of the env in a batch,
so that agents keep per-env state right when finished envs drop out of a batch."""
