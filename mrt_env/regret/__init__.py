r"""Is this model minimising regret? The MRT analysis of any model's reasoning traces.

MRT (Qu et al., "Optimizing Test-Time Compute via Meta Reinforcement Fine-Tuning", ICML 2025)
asks whether a model spends its test-time compute well: does every episode of its thinking
bring it closer to a right answer, or does it keep thinking without getting anywhere? This
module answers that for a file of finished traces (the docs' Concepts page has the definitions):

1. **Blocks.** The response z is cut into blocks (the paper's episodes) $z_1 … z_k$
   (:func:`mrt_env.episodes.split_episodes`: the paper's marker rule by default — a new
   block at a paragraph opening with "Wait", "Alternatively", …), giving the k + 1
   prefixes $c_0$ = "", $c_1 = z_1$, …, $c_k = z$ (the empty prefix included).
2. **Meta-prover μ.** At every prefix the model is forced to stop thinking and answer
   (budget forcing with the authors' forcing text) and $J_j = J(μ(·|c_j))$ estimates how
   often that forced answer is right (:class:`~mrt_env.prover.ForcedAnswerProver`, k
   sampled answers, the paper's estimator; or the one-pass proxy
   :class:`~mrt_env.prover.LikelihoodProver`).
3. **Progress** (information gain) of block j: $J_j − J_{j-1}$. A model that minimises
   regret makes progress block after block.
4. **Cumulative episode regret** $Δ_k = Σ_{j=1}^{k} (J^* − J_j)$ against the oracle
   $J^* = 1$: what the stream loses, summed over blocks, relative to being right at once.
5. **Normalized (token) regret** at a budget $C_0$: $1 − (1/C_0) ∫_0^{C_0} J(t)\,dt$, the area
   above μ's pass@1-versus-tokens curve; by default the authors' curve
   (:func:`~mrt_env.metrics.authors_token_regret`, with their forced contexts), else over
   the stream's own tokens (``measure="stream"``).
6. **Outcome.** J_k is μ's forced answer after the whole stream, not the response's own
   answer, so the response is also graded as written (:func:`mrt_env.grading.grade`).

Use it from the command line::

    mrt-regret traces.jsonl --model.name deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B
    mrt-regret traces.jsonl --model.name MODEL --model.backend vllm \
        --episodes.max-steps 49 --episodes.group-size 5
    mrt-regret traces.jsonl --model.name MODEL --model.backend openai \
        --model.base-url http://host:8000/v1

or from Python: :func:`analyse_trace` computes one trace's row from a prover and a model
(no files); :func:`run` does a whole file, writing ``rows.jsonl`` (one row per trace,
appended as each finishes, so a killed run resumes where it stopped), ``summary.md``,
``summary.csv`` and the plots ``j_curve.png`` and ``regret.png``.

Input rows (JSONL, one trace a line): ``answer`` (the gold answer) and ``response`` (the
model's output) are required, and ``problem_id`` (or ``id``) and/or ``question``. Without a
question μ sees the response alone (no prompt); without an id the line number is the id.
Several traces of one problem are fine: a repeated id gets ``#2``, ``#3``, … in the order of
the file (skipping a name the file uses as an id itself, so ids stay unique). Other fields
(``tokens`` …) are ignored: token counts come from the analysing model's tokenizer.

Limits: a response's k + 1 prefixes are built one batch at a time, never all at once, and
a trace that cannot fit the model's context window gets its error row before any is built,
so memory grows with the file, not with the square of a response; one ``--out`` folder takes
one run at a time (a second is refused); a resumed run refuses rows computed from other
content than the file's (an edited traces file).

Importing this module imports no model library; backends are built inside :func:`run`.
"""

from mrt_env.regret.analysis import analyse_trace, budget_key, load_traces
from mrt_env.regret.cli import build_lm, build_prover, main, run
from mrt_env.regret.config import DEFAULT_BUDGETS, RegretConfig
from mrt_env.regret.summary import summarise, write_plots

__all__ = [
    "DEFAULT_BUDGETS",
    "RegretConfig",
    "analyse_trace",
    "budget_key",
    "build_lm",
    "build_prover",
    "load_traces",
    "main",
    "run",
    "summarise",
    "write_plots",
]
