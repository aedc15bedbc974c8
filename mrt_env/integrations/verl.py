"""MRT in verl: μ's J at episode boundaries on the reward side, and the ``mrt`` advantage
estimator that turns them into per-token credit (extra ``verl``; verl pins its own
transformers range, so install it in its own environment: the docs' Training page).

Two pieces, joined by three per-sample fields of verl's batch (``non_tensor_batch``, where
verl keeps a reward manager's ``reward_extra_info``), each a JSON string:

* ``mrt_j``: J_0 … J_k, μ's success at every episode boundary of the response;
* ``mrt_first_tokens``: the first response token of each of its k episodes;
* ``mrt_credit``: the :class:`~mrt_env.training.credit.CreditConfig` the estimator applies.

:class:`MRTRewardManager` (a verl reward-loop manager: ``reward.reward_manager.source=
importlib``, ``.module.path`` this file, ``.name=MRTRewardManager``) scores the outcome as
verl's naive manager does (R at the response's last token), cuts the response into
episodes, and asks μ for J at every boundary in one batched prover call. Its settings are
an ``mrt`` section of the run's config (:class:`VerlMRTConfig`: ``+mrt.model.name=...``,
``+mrt.credit.alpha=...``).

:func:`mrt_advantage` is registered with verl's ``register_adv_est`` as ``mrt``
(``algorithm.adv_estimator=mrt``). It reads R from the token-level rewards and the fields
above, and calls :func:`mrt_env.training.credit.credit_by_episodes`, the function
``mrt-train`` and the TRL trainer use; for the same traces and J values all three give the
same advantages (tested).

verl 0.9 hands a custom estimator the token-level rewards, the response mask and the
group ids, not the per-sample fields (it does so for its own ``gdpo`` only), and its
default trainer (v1, ``trainer.use_v1=true``) does not even read the reward's extra info
back from TransferQueue for its advantage step. So importing this module wraps, for ``mrt``
only (:func:`enable`), verl's ``compute_advantage`` to pass the fields, and the v1
trainer's advantage step to read them from TransferQueue first; the legacy trainer
(``trainer.use_v1=false``) has them in its batch already. verl imports the reward
manager's module in the process that computes advantages (to resolve
``reward.reward_manager``, before the first step), so the wraps are in place there.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import asdict, dataclass, field
from typing import Any

from mrt_env.config import Config
from mrt_env.episodes import EpisodeConfig, episode_boundaries, prefix_ends
from mrt_env.errors import BackendError, ConfigError, DataFormatError
from mrt_env.extras import require
from mrt_env.lm.loading import ModelConfig
from mrt_env.prover import FinishedText, ProverConfig, score_finished
from mrt_env.training.credit import CreditConfig, block_starts_in_tokens, credit_by_episodes
from mrt_env.types import Problem

__all__ = [
    "CREDIT_KEY",
    "FIRST_TOKENS_KEY",
    "J_KEY",
    "VerlMRTConfig",
    "enable",
    "episode_fields",
    "fields_from_transfer_queue",
    "mrt_advantage",
    "outcome_score",
]

logger = logging.getLogger(__name__)

J_KEY = "mrt_j"
FIRST_TOKENS_KEY = "mrt_first_tokens"
CREDIT_KEY = "mrt_credit"


@dataclass(frozen=True)
class VerlMRTConfig(Config):
    """The ``mrt`` section of a verl run's config (``+mrt.<group>.<field>=...`` on verl's
    command line): μ's model and settings, how responses are cut into episodes, and the
    credit, each the value object the package's commands use.

    >>> VerlMRTConfig.from_dict({"credit": {"scheme": "outcome"}}).credit.uses_j
    False
    """

    model: ModelConfig | None = None
    """μ's model, loaded in each reward worker (the frozen base policy): ``+mrt.model.name=``
    a local folder or hub id, and ``.device``, ``.dtype``; None with credit scheme outcome."""
    prover: ProverConfig = field(default_factory=lambda: ProverConfig(kind="forced"))
    """μ's settings (``+mrt.prover.kind=forced`` or likelihood, ``.k``, ...)."""
    episodes: EpisodeConfig = field(default_factory=EpisodeConfig)
    """How a response is cut into episodes (``+mrt.episodes.rule=markers``, ...)."""
    credit: CreditConfig = field(default_factory=CreditConfig)
    """The credit the ``mrt`` estimator applies (``+mrt.credit.scheme=block``, ``.alpha``,
    ``.baseline``)."""

    def validate(self) -> None:
        if self.credit.uses_j and self.model is None:
            raise ConfigError(
                f"mrt.credit.scheme {self.credit.scheme!r} reads μ's J: set "
                "+mrt.model.name=<folder or id>"
            )

    @classmethod
    def from_run_config(cls, config: Any) -> VerlMRTConfig:
        """The settings from a verl run config's ``mrt`` section (defaults where absent).
        The flat keys of an earlier version (``prover_model``, ``scheme``, ...) still work,
        with a warning naming the key that replaced each."""
        section = config.get("mrt") if hasattr(config, "get") else None
        values = _plain(section or {})
        for old, new in RENAMED_KEYS.items():
            if old in values and (old != "episodes" or isinstance(values[old], str)):
                logger.warning("mrt.%s is deprecated: use +mrt.%s", old, new)
                group, name = new.split(".")
                value = values.pop(old)
                values.setdefault(group, {})[name] = value
        return cls.from_dict(values, where="mrt.")


RENAMED_KEYS: dict[str, str] = {
    "prover_model": "model.name",
    "prover_device": "model.device",
    "prover_dtype": "model.dtype",
    "prover_kind": "prover.kind",
    "episodes": "episodes.rule",
    "scheme": "credit.scheme",
    "alpha": "credit.alpha",
    "baseline": "credit.baseline",
}
"""Keys of the ``mrt`` section an earlier version took -> the key now."""


def _plain(section: Any) -> dict[str, Any]:
    """A config section (an OmegaConf node or a dict) as plain nested dicts."""
    to_container = getattr(sys.modules.get("omegaconf"), "OmegaConf", None)
    if to_container is not None and not isinstance(section, dict):
        section = to_container.to_container(section, resolve=True)
    return {k: dict(v) if isinstance(v, Mapping) else v for k, v in dict(section).items()}


def outcome_score(
    data_source: str, solution_str: str, ground_truth: Any, extra_info: Any = None, **_: Any
) -> float:
    """A verl ``compute_score``: 1.0 if the response's answer grades correct against the
    ground truth (:func:`mrt_env.grading.grade`), else 0.0 (``custom_reward_function.path=
    pkg://mrt_env.integrations.verl``, ``.name=outcome_score``)."""
    from mrt_env.grading import grade

    return 1.0 if grade(solution_str, str(ground_truth)).correct else 0.0


def episode_fields(
    tokenizer: Any,
    response_ids: Any,
    *,
    context: str,
    problem: Problem,
    prover: Any,
    rule: EpisodeConfig,
    credit: CreditConfig,
) -> dict[str, str]:
    """The reward side's per-sample fields (``mrt_j``, ``mrt_first_tokens``,
    ``mrt_credit``) of one response: its episodes and, if the credit reads J, μ's J at
    every boundary (one ``prover.estimate_batch`` call; J as
    :func:`~mrt_env.prover.score_finished` computes it, in the env's layout). An empty
    response has no episode: empty lists, and the estimator gives it zero credit; so does a
    response μ could not score (a ``BackendError``, logged)."""
    ids = [int(i) for i in response_ids]
    text = tokenizer.decode(ids, skip_special_tokens=True)
    starts = episode_boundaries(text, rule=rule, tokenizer=tokenizer)
    js: list[float] = []
    if starts and credit.uses_j:
        finished = FinishedText(problem, context, text, prefix_ends(text, starts))
        try:
            (scored,) = score_finished(prover, [finished])
            js = [e.success_prob for e in scored]
        except BackendError as exc:  # μ failed: zero credit for this response, run goes on
            logger.warning("MRTRewardManager: μ could not score a response (%s)", exc)
            starts = []
    firsts = block_starts_in_tokens(tokenizer, ids, starts, text=text) if starts else []
    return {
        J_KEY: json.dumps(js),
        FIRST_TOKENS_KEY: json.dumps(firsts),
        CREDIT_KEY: json.dumps(asdict(credit)),
    }


def mrt_advantage(
    token_level_rewards: Any,
    response_mask: Any,
    index: Any = None,
    config: Any = None,
    non_tensor_batch: Any = None,
    **kwargs: Any,
) -> tuple[Any, Any]:
    """verl's ``mrt`` advantage estimator: (advantages, returns), both [B, T].

    R is the row's summed token-level reward (verl puts the outcome at the last response
    token); groups are verl's ``uid`` (``index``); J values, episodes and the credit come
    from ``non_tensor_batch`` (the reward side's fields). A row without episodes gets 0.
    """
    if non_tensor_batch is None or any(
        key not in non_tensor_batch for key in (J_KEY, FIRST_TOKENS_KEY, CREDIT_KEY)
    ):
        have = sorted(non_tensor_batch or {})
        raise ConfigError(
            f"the 'mrt' estimator needs the per-sample fields {J_KEY}, {FIRST_TOKENS_KEY} and "
            f"{CREDIT_KEY} (MRTRewardManager writes them; call mrt_env.integrations.verl.enable() "
            f"where advantages are computed); the batch has {have}"
        )
    if index is None:
        raise ConfigError("the 'mrt' estimator needs verl's group ids (uid); got none")
    credits = {str(c) for c in non_tensor_batch[CREDIT_KEY]}
    if len(credits) != 1:
        raise DataFormatError(f"one batch, one credit: the rows carry {len(credits)} settings")
    credit = CreditConfig(**json.loads(credits.pop()))
    rows = len(token_level_rewards)
    js = [json.loads(str(v)) for v in non_tensor_batch[J_KEY]]
    firsts = [json.loads(str(v)) for v in non_tensor_batch[FIRST_TOKENS_KEY]]
    if not len(js) == len(firsts) == len(index) == rows:
        raise DataFormatError(
            f"{rows} rows of rewards, {len(index)} group ids, {len(js)} J lists and "
            f"{len(firsts)} episode lists: one each per response"
        )
    mask = response_mask.to(token_level_rewards.dtype)
    advantages = credit_by_episodes(
        credit,
        rewards=token_level_rewards.sum(dim=-1).tolist(),
        success_probs=[j or None for j in js],
        first_tokens=[f or None for f in firsts],
        lengths=[int(n) for n in response_mask.sum(dim=-1).tolist()],
        groups=[str(i) for i in index],
        width=token_level_rewards.shape[1],
    )
    advantages = advantages.to(token_level_rewards.device, token_level_rewards.dtype) * mask
    return advantages, advantages


_ROUTED = "_mrt_env_routes_mrt"
_KEYS = (J_KEY, FIRST_TOKENS_KEY, CREDIT_KEY)
# The MRT fields of the batch the v1 trainer's advantage step is working on (read from
# TransferQueue by the wrap of that step), for verl's compute_advantage inside it.
_CARRIED: ContextVar[dict[str, Any] | None] = ContextVar("mrt_env_verl_fields", default=None)


def _is_mrt(adv_estimator: Any) -> bool:
    return str(getattr(adv_estimator, "value", adv_estimator)) == "mrt"


def fields_from_transfer_queue(batch: Any) -> dict[str, Any] | None:
    """The MRT fields of a v1 trainer's batch (a TransferQueue ``KVBatchMeta``), one entry
    per key in the batch's order, or None if some row lacks them.

    verl's v1 agent loop stores the reward's extra info in each row's ``extra_fields``
    (``extra_fields["reward_extra_info"]``); the v1 advantage step reads back a fixed list
    of fields that does not include it, so this reads it for the estimator."""
    import numpy as np
    import transfer_queue as tq

    got = tq.kv_batch_get(
        keys=batch.keys, partition_id=batch.partition_id, select_fields=["extra_fields"]
    )
    if "extra_fields" not in got.keys():  # noqa: SIM118 (TensorDict: no `in`)
        return None
    infos = [(extra or {}).get("reward_extra_info") or {} for extra in got["extra_fields"]]
    if not infos or any(key not in info for info in infos for key in _KEYS):
        return None
    return {key: np.array([info[key] for info in infos], dtype=object) for key in _KEYS}


def enable() -> None:
    """Register :func:`mrt_advantage` as verl's ``mrt`` estimator and carry the per-sample
    fields to it on both of verl's PPO trainers (idempotent; done on import):

    * verl's ``compute_advantage`` (``ray_trainer``, and every verl module that imported it
      by name) hands ``mrt`` the batch's ``non_tensor_batch``, where the legacy trainer
      (``trainer.use_v1=false``) has merged the reward's extra info;
    * the v1 trainer's advantage step (``PPOTrainer._compute_advantage``, verl's default)
      builds its batch from a fixed list of TransferQueue fields without the reward's
      extra info: for ``mrt`` it also reads the MRT fields of the same keys
      (:func:`fields_from_transfer_queue`) and hands them to ``compute_advantage``.
    Every other estimator goes through both unchanged."""
    require("verl", extra="verl", feature="the 'mrt' advantage estimator")
    from verl.trainer.ppo import core_algos, ray_trainer

    core_algos.ADV_ESTIMATOR_REGISTRY["mrt"] = mrt_advantage
    original = ray_trainer.compute_advantage
    if not getattr(original, _ROUTED, False):

        def compute_advantage(data: Any, adv_estimator: Any, *args: Any, **kwargs: Any) -> Any:
            if not _is_mrt(adv_estimator):
                return original(data, adv_estimator, *args, **kwargs)
            if "response_mask" not in data.batch.keys():  # noqa: SIM118 (TensorDict: no `in`)
                data.batch["response_mask"] = ray_trainer.compute_response_mask(data)
            fields = dict(data.non_tensor_batch)
            carried = _CARRIED.get()
            if carried is not None and any(key not in fields for key in _KEYS):
                if any(len(v) != len(data) for v in carried.values()):
                    raise DataFormatError(
                        f"the MRT fields read for the v1 trainer's batch have "
                        f"{len(carried[J_KEY])} rows, the batch {len(data)}"
                    )
                fields.update(carried)
            advantages, returns = mrt_advantage(
                token_level_rewards=data.batch["token_level_rewards"],
                response_mask=data.batch["response_mask"],
                index=fields.get("uid"),
                non_tensor_batch=fields,
            )
            data.batch["advantages"] = advantages
            data.batch["returns"] = returns
            return data

        setattr(compute_advantage, _ROUTED, True)
        # verl modules imported before this one hold the function by name (v1.utils does):
        # replace it there too; modules imported later take the wrapped one from ray_trainer.
        for name, module in list(sys.modules.items()):
            if name.startswith("verl.") and getattr(module, "compute_advantage", None) is original:
                module.compute_advantage = compute_advantage  # type: ignore[attr-defined]

    try:  # the v1 trainer needs TransferQueue; without it only the legacy trainer runs
        from verl.trainer.ppo.v1.trainer_base import PPOTrainer
    except ImportError:
        return
    step = PPOTrainer._compute_advantage
    if getattr(step, _ROUTED, False):
        return

    def _compute_advantage(self: Any, batch: Any, *args: Any, **kwargs: Any) -> Any:
        if not _is_mrt(self.config.algorithm.adv_estimator):
            return step(self, batch, *args, **kwargs)
        token = _CARRIED.set(fields_from_transfer_queue(batch))
        try:
            return step(self, batch, *args, **kwargs)
        finally:
            _CARRIED.reset(token)

    setattr(_compute_advantage, _ROUTED, True)
    PPOTrainer._compute_advantage = _compute_advantage  # type: ignore[method-assign]


try:  # verl present: register the estimator and its reward manager now
    from verl.experimental.reward_loop.reward_manager.naive import NaiveRewardManager
except ImportError:  # the package works without verl; enable() names the extra
    NaiveRewardManager = None

if NaiveRewardManager is not None:
    enable()

    class MRTRewardManager(NaiveRewardManager):  # type: ignore[misc,valid-type]
        """verl's naive reward manager (the outcome R at the last token), plus the MRT
        fields of each response in its ``reward_extra_info``. μ is built once per worker,
        on first use, from the run config's ``mrt`` section (:class:`VerlMRTConfig`)."""

        def __init__(self, config: Any, tokenizer: Any, compute_score: Any, **kwargs: Any):
            super().__init__(config, tokenizer, compute_score, **kwargs)
            self.settings = VerlMRTConfig.from_run_config(config)
            self.rule = self.settings.episodes
            self._prover: Any = None

        def prover(self) -> Any:
            if self._prover is None and self.settings.credit.uses_j:
                from mrt_env.lm.loading import load_lm

                self._prover = self.settings.prover.build(load_lm(self.settings.model))
            return self._prover

        async def run_single(self, data: Any) -> dict:
            result = await super().run_single(data)
            item = data[-1:][0]
            responses = item.batch["responses"]
            length = int(item.batch["attention_mask"][-responses.shape[-1] :].sum())
            prompt_ids = item.batch["prompts"]
            prompt_mask = item.batch["attention_mask"][: prompt_ids.shape[-1]].bool()
            context = self.tokenizer.decode(prompt_ids[prompt_mask], skip_special_tokens=False)
            gold = str(item.non_tensor_batch["reward_model"]["ground_truth"])
            problem = Problem(str(item.non_tensor_batch.get("uid", "verl")), context, gold)
            fields = await self.loop.run_in_executor(
                None,
                lambda: episode_fields(
                    self.tokenizer,
                    responses[:length].tolist(),
                    context=context,
                    problem=problem,
                    prover=self.prover(),
                    rule=self.rule,
                    credit=self.settings.credit,
                ),
            )
            result["reward_extra_info"].update(fields)
            return result

    __all__ += ["MRTRewardManager"]
