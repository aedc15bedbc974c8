"""MRT proper in TRL: ``MRTGRPOTrainer``, a ``GRPOTrainer`` whose advantages are per token.

TRL's reward functions give one scalar per completion, so progress summed into a reward
telescopes (see :func:`mrt_env.training.trl.make_progress_reward`). This subclass keeps
TRL's generation, reward functions, loss, vLLM and accelerate/DeepSpeed machinery, and
replaces one thing: after the rewards are computed it

1. cuts each completion into episodes with the package's episode rules (``episodes``);
2. scores μ's J at every episode boundary of this process's completions in one batched
   prover call (:class:`~mrt_env.training.trl.EpisodeScorer`: on GPU through the run's own
   ``trl vllm-serve`` server with :class:`~mrt_env.training.trl.TRLServerLM`, on CPU
   through a transformers prover);
3. gathers outcomes and J values from every process (a GRPO group may span processes), so
   each process credits its own rows against their whole group;
4. writes per-token advantages of shape (batch, completion tokens) with
   :func:`mrt_env.training.credit.block_credit`, the function ``mrt-train`` uses.

::

    from trl import GRPOConfig
    from mrt_env.training.credit import CreditConfig
    from mrt_env.training.trl import MRTGRPOTrainer, outcome_reward, problems_dataset

    trainer = MRTGRPOTrainer(
        model, reward_funcs=[outcome_reward], args=GRPOConfig(...),
        train_dataset=problems_dataset(problems), prover=prover,
        credit=CreditConfig("block", alpha=1.0), episodes="markers",
    )

Departures from ``mrt-train`` and from TRL, on purpose:

* R, the outcome the credit starts from, is TRL's reward: the weighted sum of
  ``reward_funcs`` (give it :func:`~mrt_env.training.trl.outcome_reward` for MRT's 0/1 R).
* A completion that no reward function scored (TRL's NaN), or that is empty (no episode),
  gets advantage 0 on every token and leaves its group's baselines; TRL does the same with
  the first kind. So do the completions of a batch μ could not score (a ``BackendError``:
  a server down, a prompt too long for μ), with a logged warning.
* The ``prefix`` scheme (the paper's MRT-RL) credits R − J_0: J at the prompt's end. TRL
  samples every completion from the dataset's prompt, so the prompts must end with the
  prefix c_j (plain-text prompts cut from earlier traces); TRL has no second, on-policy
  generation round from a cut, which ``mrt-train --scheme prefix`` does.
* Tool calls and environments (TRL's ``tools=`` / ``environment_factory=``) are refused:
  their tokens are not the policy's stream.

Tested with TRL 1.16. The seams it uses (``_calculate_rewards``,
``_generate_and_score_completions``, and a loss that takes advantages of shape (B, T)) are
in every TRL release from 1.0 to 1.16 (read in their sources); the ``trl`` extra asks for
TRL >= 1.0.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any

from mrt_env.episodes import EpisodeRule
from mrt_env.errors import ArgumentTypeError, BackendError, ConfigError
from mrt_env.extras import require
from mrt_env.progress import MetaProver
from mrt_env.training.credit import CreditConfig, block_starts_in_tokens, credit_by_episodes
from mrt_env.training.trl import EpisodeScorer
from mrt_env.types import Problem

__all__ = ["MRTGRPOTrainer"]

logger = logging.getLogger(__name__)

require("trl", extra="trl", feature="MRTGRPOTrainer")
from trl import GRPOTrainer  # noqa: E402  (after the check that names the extra)


class MRTGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` with MRT's per-token credit (see the module docstring).

    Args:
        *args, **kwargs: those of ``GRPOTrainer``.
        prover: μ, any :class:`~mrt_env.progress.MetaProver`; needed unless
            ``credit.scheme == "outcome"``.
        credit: the credit scheme (:class:`~mrt_env.training.credit.CreditConfig`).
        episodes: how completions are cut into episodes (an :class:`EpisodeRule` or a
            rule's name; ``"lines"`` for the synthetic tasks).
        problems: :class:`~mrt_env.types.Problem` objects by id (or a list), looked up by
            the ``problem_id`` column (needed by an ``OracleProver``).
    """

    def __init__(
        self,
        *args: Any,
        prover: MetaProver | None = None,
        credit: CreditConfig | None = None,
        episodes: EpisodeRule | str = "markers",
        problems: Mapping[str, Problem] | Iterable[Problem] | None = None,
        **kwargs: Any,
    ):
        credit = CreditConfig() if credit is None else credit
        if not isinstance(credit, CreditConfig):
            raise ArgumentTypeError(f"credit must be a CreditConfig, got {type(credit).__name__}")
        if credit.uses_j and prover is None:
            raise ConfigError(
                f"credit scheme {credit.scheme!r} reads μ's J at episode boundaries: pass "
                "prover= (make_prover(lm, ...) or an OracleProver), or use scheme 'outcome'"
            )
        for name in ("tools", "environment_factory"):
            if kwargs.get(name):
                raise ConfigError(
                    f"MRTGRPOTrainer does not take {name}=: tool and environment tokens are "
                    "not the policy's reasoning stream, and would be cut into episodes"
                )
        rule = EpisodeRule(episodes) if isinstance(episodes, str) else episodes  # type: ignore[arg-type]

        def scorer(tokenizer: Any) -> EpisodeScorer:
            # Without a prover (outcome credit) the scorer only finds the episodes.
            return EpisodeScorer(
                prover if credit.uses_j else None, rule=rule, tokenizer=tokenizer, problems=problems
            )

        scorer(kwargs.get("processing_class"))  # a bad prover or rule fails before any loading
        super().__init__(*args, **kwargs)
        self.credit = credit
        self.scorer = scorer(self.policy_tokenizer)  # TRL's, which it may have loaded
        self._rows: tuple[Any, ...] | None = None

    @property
    def policy_tokenizer(self) -> Any:
        """The tokenizer of the completions (TRL >= 1.4 keeps it as ``_tokenizer``; before,
        ``processing_class`` is it, or a processor holding it)."""
        found = getattr(self, "_tokenizer", None)
        if found is None:
            found = getattr(self.processing_class, "tokenizer", self.processing_class)
        return found

    def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
        # The seam: TRL hands this process's rows here and gets back every process's rewards.
        rewards_per_func = super()._calculate_rewards(
            inputs, prompts, completions, completion_ids_list
        )
        self._rows = (inputs, prompts, completion_ids_list, rewards_per_func)
        return rewards_per_func

    def _generate_and_score_completions(self, inputs):
        output = super()._generate_and_score_completions(inputs)
        if self._rows is None:
            raise ConfigError("MRTGRPOTrainer: TRL computed no rewards for this batch")
        rows, prompts, ids_list, rewards_per_func = self._rows
        self._rows = None
        torch = require("torch", extra="hf", feature="MRTGRPOTrainer")
        from accelerate.utils import gather_object

        mode = "train" if self.model.training else "eval"
        group_size = self.num_generations if mode == "train" else self.num_generations_eval
        weights = self.reward_weights.to(rewards_per_func.device)
        rewards = (rewards_per_func * weights[None]).nansum(dim=1)
        rewards[torch.isnan(rewards_per_func).all(dim=1)] = float("nan")

        local = self._score_rows(rows, prompts, ids_list)
        everyone = gather_object([local])  # one entry per process, in process order
        js = [j for part in everyone for j in part["success_probs"]]
        firsts = [f for part in everyone for f in part["first_tokens"]]
        lengths = [n for part in everyone for n in part["lengths"]]
        if len(js) != len(rewards):
            raise ConfigError(
                f"MRTGRPOTrainer: {len(js)} scored completions for {len(rewards)} rewards"
            )
        start = self.accelerator.process_index * len(prompts)
        width = output["completion_ids"].shape[1]
        advantages = credit_by_episodes(
            self.credit,
            rewards=rewards.tolist(),
            success_probs=js,
            first_tokens=firsts,
            lengths=lengths,
            groups=[i // group_size for i in range(len(js))],  # TRL keeps a group together
            width=width,
        )
        local_adv = advantages[start : start + len(prompts)]
        output["advantages"] = local_adv.to(output["completion_ids"].device)
        self._log_credit(mode, js, firsts, advantages, lengths)
        return output

    def _score_rows(self, rows: list[dict], prompts: list, ids_list: list) -> dict[str, list]:
        """This process's completions: their episodes (as first tokens) and J values."""
        tokenizer = self.policy_tokenizer
        texts = [tokenizer.decode(ids, skip_special_tokens=True) for ids in ids_list]
        columns = {key: [row.get(key) for row in rows] for key in (rows[0] if rows else {})}
        try:
            scored = self.scorer.score(prompts, texts, columns)
        except BackendError as exc:
            # μ failed (a server down, a prompt too long for it): this batch's rows get
            # zero credit, counted in mrt/unscored, and the run goes on.
            logger.warning("MRTGRPOTrainer: μ could not score this batch (%s); zero credit", exc)
            scored = [None] * len(texts)
        firsts: list[list[int] | None] = []
        js: list[list[float] | None] = []
        for ids, text, row in zip(ids_list, texts, scored, strict=True):
            starts, probs = row if row is not None else (None, None)
            found = block_starts_in_tokens(tokenizer, ids, starts, text=text) if starts else None
            firsts.append(found)
            js.append(probs)
        return {"success_probs": js, "first_tokens": firsts, "lengths": [len(i) for i in ids_list]}

    def _log_credit(
        self, mode: str, js: list, firsts: list, advantages: Any, lengths: list
    ) -> None:
        scored = [j for j in js if j]
        metrics = self._metrics[mode]
        episodes = [len(f) for f in firsts if f]
        if episodes:
            metrics["mrt/episodes"].append(sum(episodes) / len(episodes))
        if scored:
            metrics["mrt/J_first"].append(sum(j[0] for j in scored) / len(scored))
            metrics["mrt/J_last"].append(sum(j[-1] for j in scored) / len(scored))
        metrics["mrt/unscored"].append(
            sum(f is None or not f for f in firsts) / max(1, len(firsts))
        )
        written = sum(lengths)
        if written:
            metrics["mrt/mean_abs_advantage"].append(float(advantages.abs().sum()) / written)
