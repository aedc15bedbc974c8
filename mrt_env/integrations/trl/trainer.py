"""MRT proper in TRL: ``MRTGRPOTrainer``, a ``GRPOTrainer`` whose advantages are per token.

TRL's reward functions give one scalar per completion, so progress summed into a reward
telescopes (see :func:`mrt_env.integrations.trl.make_progress_reward`). This subclass keeps
TRL's generation, reward functions, loss, vLLM and accelerate/DeepSpeed machinery, and
replaces one thing: after the rewards are computed it

1. cuts each completion into episodes with the package's episode rules (``episodes``);
2. scores μ's J at every episode boundary of this process's completions in one batched
   prover call (:class:`~mrt_env.integrations.trl.EpisodeScorer`: on GPU through the run's own
   ``trl vllm-serve`` server with :class:`~mrt_env.integrations.trl.TRLServerLM`, on CPU
   through a transformers prover);
3. gathers outcomes and J values from every process (a GRPO group may span processes), so
   each process credits its own rows against their whole group;
4. writes per-token advantages of shape (batch, completion tokens) with
   :func:`mrt_env.training.credit.block_credit`, the function ``mrt-train`` uses.

::

    from trl import GRPOConfig
    from mrt_env.training.credit import CreditConfig
    from mrt_env.integrations.trl import MRTGRPOTrainer, outcome_reward, problems_dataset

    trainer = MRTGRPOTrainer(
        model, reward_funcs=[outcome_reward], args=GRPOConfig(...),
        train_dataset=problems_dataset(problems), prover=prover,
        credit=CreditConfig("block", alpha=1.0), episodes="markers",
    )

Departures from ``mrt-train`` and from TRL, on purpose:

* R, the outcome the credit starts from, is TRL's reward: the weighted sum of
  ``reward_funcs`` (give it :func:`~mrt_env.integrations.trl.outcome_reward` for MRT's 0/1 R).
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

vLLM (``use_vllm=True``) on vLLM's CPU build, where TRL's own weight sync fails (the CPU
backend repacks the engine's linear weights after loading, so ``load_weights`` finds no
``weight_loader``; and server mode's NCCL transfer needs CUDA), goes through
:mod:`mrt_env.training.vllm_sync` instead: colocate mode reloads the weights in place with
vLLM's ``reload_weights``; server mode writes them to a safetensors file that the server
reloads through ``POST /collective_rpc`` (the server runs with
``--worker-extension-cls mrt_env.training.vllm_sync.WeightSyncExtension`` and must see the
file: same machine or a shared folder, ``weight_handoff_dir``). On a GPU, TRL's sync is
unchanged. μ can run on the run's own engine: ``prover=`` takes a function of the trainer,
called once TRL has built the engine, and :func:`policy_lm` is the engine as a language
model::

    prover=lambda trainer: make_prover(policy_lm(trainer), "likelihood")

Tested with TRL 1.16. The seams it uses (``_calculate_rewards``,
``_generate_and_score_completions``, and a loss that takes advantages of shape (B, T)) are
in every TRL release from 1.0 to 1.16 (read in their sources); the ``trl`` extra asks for
TRL >= 1.0.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from mrt_env.episodes import EpisodeConfig
from mrt_env.errors import ArgumentTypeError, BackendError, ConfigError
from mrt_env.extras import require
from mrt_env.integrations.trl.rewards import EpisodeScorer
from mrt_env.prover import MetaProver
from mrt_env.training.credit import CreditConfig, block_starts_in_tokens, credit_by_episodes
from mrt_env.training.vllm_sync import RELOAD_METHOD, WORKER_EXTENSION, sync_weights, write_handoff
from mrt_env.types import Problem

__all__ = ["MRTGRPOTrainer", "policy_lm"]

logger = logging.getLogger(__name__)

require("trl", extra="trl", feature="MRTGRPOTrainer")
from trl import GRPOTrainer  # noqa: E402  (after the check that names the extra)

try:  # where TRL keeps its vLLM backend (1.16); older releases had it in the trainer
    from trl.generation.vllm_generation import VLLMGeneration
except ImportError:  # pragma: no cover - older TRL
    VLLMGeneration = None


def _engine_on_cpu() -> bool:
    try:
        from vllm.platforms import current_platform
    except ImportError:
        return False
    return bool(current_platform.is_cpu())


def _needs_cpu_sync(args: Any) -> bool:
    """Whether TRL's vLLM weight sync cannot work here and ours must replace it."""
    if not getattr(args, "use_vllm", False):
        return False
    if getattr(args, "vllm_mode", "server") == "colocate":
        return _engine_on_cpu()
    import torch

    return bool(getattr(args, "use_cpu", False) or not torch.cuda.is_available())


if VLLMGeneration is not None:

    class CPUVLLMGeneration(VLLMGeneration):
        """TRL's vLLM backend with a weight sync that works without CUDA (see the module
        docstring); everything else is TRL's."""

        handoff_dir: str | None = None
        """Where server mode writes the weights for the server to read (default: a
        temporary folder, which a server on the same machine sees)."""

        def _init_vllm(self) -> None:
            if self.mode != "server":
                self._init_colocated()
                return
            # TRL's init_communicator refuses a non-CUDA device (NCCL): a client without
            # it generates as usual, and weights go through a file.
            from trl.generation.vllm_client import VLLMClient

            if self.accelerator.is_main_process:
                url = self.server_base_url or f"http://{self.server_host}:{self.server_port}"
                self.vllm_client = VLLMClient(
                    base_url=url,
                    group_port=self.group_port,
                    connection_timeout=self.server_timeout,
                )
            self.accelerator.wait_for_everyone()

        def _init_colocated(self) -> None:
            """TRL's engine, with two settings TRL does not pass and the CPU build needs:
            the policy's dtype (its "auto" runs a float32 checkpoint in bfloat16, so the
            engine would sample from, and μ would score with, another policy than the one
            trained: 0.13 nats apart on the tiny model) and chunked prefill off (a seeded
            request split across steps rewinds its generator, which CPU generators cannot)."""
            from trl.generation import vllm_generation

            build = vllm_generation.LLM
            dtype = getattr(self.model, "dtype", None) or "auto"

            def engine(**kwargs: Any) -> Any:
                kwargs.setdefault("dtype", dtype)
                kwargs.setdefault("enable_chunked_prefill", False)
                return build(**kwargs)

            vllm_generation.LLM = engine  # the name TRL's _init_vllm builds it by
            try:
                super()._init_vllm()
            finally:
                vllm_generation.LLM = build

        def _owned_params(self) -> Iterator[tuple[str, Any]]:
            # ZeRO-3 frees a gathered parameter when the next one is gathered, while vLLM
            # holds a layer's tensors until the whole layer has arrived: own copies.
            for name, tensor in self._iter_named_params():
                yield name, tensor.detach().clone()

        def sync_weights(self) -> None:
            if self.mode == "colocate":
                sync_weights(self.llm, self._owned_params())  # resets the prefix cache
                return
            if not self.accelerator.is_main_process:
                for _ in self._iter_named_params():  # take part in the gathers
                    pass
                return
            if self.handoff_dir is None:
                self.handoff_dir = tempfile.mkdtemp(prefix="mrt-vllm-sync-")
            write_handoff(self._iter_named_params(), self.handoff_dir)
            _server_reload(self.vllm_client, self.handoff_dir)
            self.vllm_client.reset_prefix_cache()

else:  # pragma: no cover - older TRL
    CPUVLLMGeneration = None


def _server_reload(client: Any, folder: str) -> None:
    """Ask a vLLM server (dev mode, with our worker extension) to reload from ``folder``."""
    url = f"{client.base_url}/collective_rpc"
    body = {"method": RELOAD_METHOD, "kwargs": {"weights_path": folder}}
    response = client.session.post(url, json=body, timeout=600)
    if response.status_code == 404:
        raise BackendError(
            f"{client.base_url} has no /collective_rpc: start the server with "
            "VLLM_SERVER_DEV_MODE=1 (trl vllm-serve does)"
        )
    if response.status_code != 200:
        hint = ""
        if RELOAD_METHOD in response.text:
            hint = f"; start the server with --worker-extension-cls {WORKER_EXTENSION}"
        raise BackendError(
            f"{client.base_url} could not reload the weights from {folder} "
            f"({response.status_code}: {response.text[:300]}){hint}"
        )


@contextlib.contextmanager
def _vllm_backend(args: Any) -> Iterator[None]:
    """While TRL builds the trainer: our vLLM backend where TRL's sync cannot work.

    ``GRPOTrainer.__init__`` builds its backend by the name ``VLLMGeneration`` in its own
    module, and server mode fails inside it on a CPU; so the name is swapped for the
    duration of that call, and put back whatever happens.
    """
    if not _needs_cpu_sync(args):
        yield
        return
    if CPUVLLMGeneration is None:
        raise ConfigError(
            "MRTGRPOTrainer: use_vllm without CUDA needs a TRL with "
            "trl.generation.vllm_generation.VLLMGeneration (1.16 has it); upgrade trl, or "
            "train without vLLM"
        )
    from trl.trainer import grpo_trainer

    before = grpo_trainer.VLLMGeneration
    grpo_trainer.VLLMGeneration = CPUVLLMGeneration
    try:
        yield
    finally:
        grpo_trainer.VLLMGeneration = before


def policy_lm(trainer: Any) -> Any:
    """The run's vLLM engine as a :class:`~mrt_env.lm.base.LanguageModel`, holding the
    current policy's weights (TRL syncs them before each generation): colocate mode, a
    :class:`~mrt_env.lm.vllm_lm.VLLMLM` on the engine itself; server mode, a
    :class:`~mrt_env.lm.trl_server.TRLServerLM` on a client of the server (one per
    process, generation only)."""
    if not getattr(trainer, "use_vllm", False):
        raise ConfigError("policy_lm needs a trainer with use_vllm=True")
    generation = trainer.vllm_generation
    if generation.mode == "colocate":
        from mrt_env.lm.vllm_lm import VLLMLM

        lm: Any = VLLMLM(engine=generation.llm)
    else:
        from trl.generation.vllm_client import VLLMClient

        from mrt_env.lm.trl_server import TRLServerLM

        client = getattr(generation, "vllm_client", None)
        if client is None:  # processes other than the main one hold no client
            url = generation.server_base_url or (
                f"http://{generation.server_host}:{generation.server_port}"
            )
            client = VLLMClient(base_url=url, connection_timeout=generation.server_timeout)
        lm = TRLServerLM(client, trainer.policy_tokenizer)
    # The trainer drops the cache of a μ on this LM at every new step: its J values were
    # computed with the weights before the update.
    trainer.live_lms.append(lm)
    return lm


class MRTGRPOTrainer(GRPOTrainer):
    """TRL's ``GRPOTrainer`` with MRT's per-token credit (see the module docstring).

    Args:
        *args, **kwargs: those of ``GRPOTrainer``.
        prover: μ, any :class:`~mrt_env.prover.MetaProver`, or a function of the trainer
            that returns one, called once TRL has built it (to put μ on the run's vLLM
            engine with :func:`policy_lm`); needed unless ``credit.scheme == "outcome"``.
        credit: the credit scheme (:class:`~mrt_env.training.credit.CreditConfig`).
        episodes: how completions are cut into episodes (an :class:`EpisodeConfig` or a
            rule's name; ``"lines"`` for the synthetic tasks).
        problems: :class:`~mrt_env.types.Problem` objects by id (or a list), looked up by
            the ``problem_id`` column (needed by an ``OracleProver``).
        weight_handoff_dir: server mode without CUDA: the folder the weights are written to
            for the server to reload (default: a temporary folder; the server must see it).
    """

    def __init__(
        self,
        *args: Any,
        prover: MetaProver | Callable[[Any], MetaProver] | None = None,
        credit: CreditConfig | None = None,
        episodes: EpisodeConfig | str = "markers",
        problems: Mapping[str, Problem] | Iterable[Problem] | None = None,
        weight_handoff_dir: str | None = None,
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
        rule = EpisodeConfig(episodes) if isinstance(episodes, str) else episodes  # type: ignore[arg-type]
        # A function of the trainer (not a prover itself) is called once TRL has built it.
        deferred = callable(prover) and not hasattr(prover, "estimate_batch")

        def scorer(tokenizer: Any, mu: Any) -> EpisodeScorer:
            # Without a prover (outcome credit) the scorer only finds the episodes.
            return EpisodeScorer(
                mu if credit.uses_j else None, rule=rule, tokenizer=tokenizer, problems=problems
            )

        # A bad prover or rule fails before any loading.
        scorer(kwargs.get("processing_class"), None if deferred else prover)
        trl_args = kwargs.get("args", args[2] if len(args) > 2 else None)
        with _vllm_backend(trl_args):
            super().__init__(*args, **kwargs)
        self.live_lms: list[Any] = []
        """The LMs on the run's engine (:func:`policy_lm`'s): a μ on one of them has its
        cache dropped at every step."""
        self._scored_step: int | None = None
        if weight_handoff_dir is not None and getattr(self, "vllm_generation", None) is not None:
            self.vllm_generation.handoff_dir = str(weight_handoff_dir)
        self.credit = credit
        mu = prover(self) if deferred else prover  # type: ignore[operator]
        self.scorer = scorer(self.policy_tokenizer, mu)  # TRL's tokenizer, which it may have loaded
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
        prover = self.scorer.prover
        if self.state.global_step != self._scored_step:
            self._scored_step = self.state.global_step
            if any(getattr(prover, "lm", None) is lm for lm in self.live_lms):
                prover.clear_cache()  # type: ignore[union-attr]
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
