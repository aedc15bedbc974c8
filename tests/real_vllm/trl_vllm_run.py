"""A 2-step MRTGRPOTrainer run of the tiny model on MRT-Search problems with TRL's vLLM
rollouts (``use_vllm=True``), μ on the run's own engine, recording every batch.

Run by test_trl_vllm.py in a process of its own (TRL's colocate mode sets the process's
distributed environment; vLLM needs a guarded entry point)::

    python trl_vllm_run.py colocate OUT.json
    python trl_vllm_run.py server OUT.json --url http://127.0.0.1:PORT

Per batch it writes the rows, the advantages the trainer handed TRL's loss, the J values μ
gave through the engine, and, on the same texts, the J values of a transformers prover on
a copy of the policy's weights at that moment (and on the initial weights, to show that a
stale engine would be caught). Also the tokens generated and the step times, which
benchmarks/trl_vllm_bench.py reports.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integrations"))
import trl_mrt_ranks as ranks

LR = 3e-3
"""Large enough that one update moves μ's J far beyond the engines' agreement (1e-4)."""


def _search_prover(lm: Any) -> Any:
    from mrt_env.prover import ProverConfig, make_prover
    from mrt_env.registration import ENV_IDS

    search = ENV_IDS["MRT-Search-v0"]
    return make_prover(lm, config=ProverConfig(**search["prover_config"]))


def build(
    mode: str, out: Path, *, url: str | None, steps: int, use_vllm: bool = True, record: bool = True
) -> Any:
    """The trainer and the list its batches are recorded in (``record=False``: a plain
    MRTGRPOTrainer, nothing recorded; without vLLM, μ is a transformers prover on the
    initial weights, as in tests/integrations)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from mrt_env.integrations.trl import EpisodeScorer, outcome_reward, problems_dataset
    from mrt_env.integrations.trl.testing import cpu_grpo_config
    from mrt_env.integrations.trl.trainer import MRTGRPOTrainer, policy_lm
    from mrt_env.lm import TransformersLM
    from mrt_env.lm.loading import shipped_model_folder

    folder = str(shipped_model_folder())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    problems = ranks.search_problems()
    shadow = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    initial = _search_prover(TransformersLM(shadow, tokenizer))  # before any update
    initial_j = EpisodeScorer(initial, rule=_rule(), problems=problems)
    live = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
    batches: list[dict] = []

    class Recorder(MRTGRPOTrainer):
        def _score_rows(self, rows, prompts, ids_list):
            found = super()._score_rows(rows, prompts, ids_list)
            texts = [self.policy_tokenizer.decode(i, skip_special_tokens=True) for i in ids_list]
            columns = {key: [row[key] for row in rows] for key in rows[0]}
            # A fresh transformers μ on a copy of the policy as it is now (its prefix cache
            # would hold keys and values of older weights).
            live.load_state_dict(self.accelerator.unwrap_model(self.model).state_dict())
            now = EpisodeScorer(
                _search_prover(TransformersLM(live, tokenizer)), rule=_rule(), problems=problems
            )
            self._record = {
                "prompts": list(prompts),
                "ids": [row["problem_id"] for row in rows],
                "texts": texts,
                "j_engine": found["success_probs"],
                "j_hf": [r[1] if r else None for r in now.score(prompts, texts, columns)],
                "j_initial": [
                    r[1] if r else None for r in initial_j.score(prompts, texts, columns)
                ],
            }
            return found

        def _generate_and_score_completions(self, inputs):
            start = time.perf_counter()
            output = super()._generate_and_score_completions(inputs)
            rows = zip(output["completion_ids"], output["completion_mask"], strict=True)
            record = self.__dict__.pop("_record", {})
            record["completion_ids"] = [row[mask.bool()].tolist() for row, mask in rows]
            record["advantages"] = output["advantages"].tolist()
            record["seconds"] = time.perf_counter() - start
            batches.append(record)
            return output

    extra: dict[str, Any] = {}
    if use_vllm:
        extra = {"use_vllm": True, "vllm_mode": mode}
        if mode == "server":
            extra.update(vllm_server_base_url=url, vllm_server_timeout=120)
    cls = Recorder if record else MRTGRPOTrainer
    trainer = cls(
        model=folder,
        reward_funcs=[outcome_reward],
        args=cpu_grpo_config(
            out.parent / "run",
            batch=8,
            steps=steps,
            num_generations=ranks.GROUP,
            learning_rate=LR,
            **extra,
        ),
        train_dataset=problems_dataset(problems),
        processing_class=tokenizer,
        prover=(lambda t: _search_prover(policy_lm(t))) if use_vllm else initial,
        credit=ranks.CREDIT,
        episodes="lines",
        problems=problems,
    )
    return trainer, batches


def _rule() -> Any:
    from mrt_env.episodes import EpisodeConfig

    return EpisodeConfig("lines")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["colocate", "server"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--url")
    parser.add_argument("--steps", type=int, default=2)
    a = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)  # the engine has the other core
    trainer, batches = build(a.mode, a.out, url=a.url, steps=a.steps)
    trainer.train()
    a.out.write_text(
        json.dumps({"global_step": trainer.state.global_step, "batches": batches}, indent=1)
    )


if __name__ == "__main__":
    main()
