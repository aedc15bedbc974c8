"""A 2-step MRTGRPOTrainer run of the tiny model on MRT-Search problems that records, per
process, its rows and the advantages it hands TRL's loss.

Imported by test_trl_mrt_trainer (one process), and run by it under ``accelerate launch``
(two processes): ``python trl_mrt_ranks.py OUT`` writes ``OUT/rank<i>.json``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from mrt_env.data.synthetic import SearchTask
from mrt_env.lm.loading import DEFAULT_MODEL, load_lm, shipped_model_folder
from mrt_env.prover import ProverConfig, make_prover
from mrt_env.registration import ENV_IDS
from mrt_env.training.credit import CreditConfig

CREDIT = CreditConfig("block", alpha=1.0, baseline="group")
GROUP = 4


def search_problems() -> list:
    return SearchTask(seed=2000).problems(8)  # a training seed, not the held-out seed 0


def search_prover() -> Any:
    """μ as gym.make("MRT-Search-v0") builds it: the tiny model's likelihood prover."""
    search = ENV_IDS["MRT-Search-v0"]
    lm = load_lm(DEFAULT_MODEL, device="cpu", dtype="float32")
    return make_prover(lm, config=ProverConfig(**search["prover_config"]))


def recording_trainer(
    out: Path, *, per_device: int, batches: list, prover: Any = None, steps: int = 2
) -> Any:
    """The trainer (μ: ``prover``, default the search prover); every batch it scores is
    appended to ``batches``."""
    from transformers import AutoTokenizer

    from mrt_env.integrations.trl import MRTGRPOTrainer, outcome_reward, problems_dataset
    from mrt_env.integrations.trl.testing import cpu_grpo_config

    class Recorder(MRTGRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            rows = zip(output["completion_ids"], output["completion_mask"], strict=True)
            batches.append(
                {
                    "prompts": [x["prompt"] for x in inputs],
                    "ids": [x["problem_id"] for x in inputs],
                    "completion_ids": [row[mask.bool()].tolist() for row, mask in rows],
                    "advantages": output["advantages"].tolist(),
                }
            )
            return output

    problems = search_problems()
    folder = shipped_model_folder()
    return Recorder(
        model=folder,
        reward_funcs=[outcome_reward],
        args=cpu_grpo_config(out / "run", batch=per_device, steps=steps, num_generations=GROUP),
        train_dataset=problems_dataset(problems),
        processing_class=AutoTokenizer.from_pretrained(folder),
        prover=prover if prover is not None else search_prover(),
        credit=CREDIT,
        episodes="lines",
        problems=problems,
    )


if __name__ == "__main__":
    out = Path(sys.argv[1])
    batches: list = []
    # 2 rows per process: one group of 4 spans both processes.
    trainer = recording_trainer(out, per_device=2, batches=batches)
    trainer.train()
    rank, world = trainer.accelerator.process_index, trainer.accelerator.num_processes
    out.mkdir(parents=True, exist_ok=True)
    (out / f"rank{rank}.json").write_text(json.dumps({"world": world, "batches": batches}))
