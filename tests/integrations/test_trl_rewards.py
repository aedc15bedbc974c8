"""TRL adapters: the reward functions on hand-made completions, the VLLMClient backend against a
FAKE client (named so: vLLM cannot run here), the dataset, and a 2-step GRPOTrainer run on the
shipped tiny model."""

import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mrt_env.data.synthetic import SearchTask
from mrt_env.episodes import EpisodeConfig, prefixes, split_episodes
from mrt_env.integrations.trl import (
    DEEPSCALER_TEMPLATE,
    PLAIN_TEMPLATE,
    ProgressRewardConfig,
    TRLServerLM,
    completion_text,
    make_progress_reward,
    outcome_reward,
    problems_dataset,
)
from mrt_env.lm import Sampling
from mrt_env.prover import OracleProver, ProverConfig, ProverEstimate, make_prover

# Three episodes under the paper's marker rule: a marker opens an episode only 3 paragraphs on.
THREE_EPISODES = (
    "Let x = 2.\n\nThen 2x = 4.\n\nSo far so good.\n\n"
    "Wait, the question asks for x + 3.\n\nSo 5.\n\nCheck: 2 + 3 = 5.\n\n"
    "Alternatively, add first.\n\nThe answer is \\boxed{5}."
)


class FakeProver:
    """A scripted MetaProver: J is a fixed function of the prefix; it records every call."""

    lm = None

    def __init__(self, j):
        self.j = j
        self.calls = []

    def estimate_batch(self, requests):
        self.calls.append(list(requests))
        return [ProverEstimate(self.j(r.prefix)) for r in requests]


def scripted_j(prefix):
    return (
        0.2
        + 0.1 * prefix.count("Wait")
        - 0.05 * prefix.count("Alternatively")
        + (0.5 if "\\boxed{5}" in prefix else 0.0)
    )


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "trl_grpo_mrt.py"


def test_module_imports_no_heavy_dependency():
    code = (
        "import sys, mrt_env.integrations.trl; "
        "print(sorted(m for m in ('trl', 'torch', 'transformers', 'datasets') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


# ---------------------------------------------------------------------------------------
# outcome_reward


def test_outcome_reward_right_wrong_no_answer_and_name():
    completions = [
        "So it is \\boxed{070}.",  # equal as numbers
        "So it is \\boxed{71}.",
        "I am still thinking about it. " * 20,  # long, no box: no answer
        "",
    ]
    rewards = outcome_reward(["p"] * 4, completions, None, answer=["70"] * 4)
    assert rewards == [1.0, 0.0, 0.0, 0.0]
    assert outcome_reward.__name__ == "outcome_reward"  # TRL logs rewards/outcome_reward/mean


def test_outcome_reward_unusable_gold_is_not_scored_and_warns(caplog):
    golds = ["5", None, "", "   ", 3.5, 5]
    with caplog.at_level(logging.WARNING, logger="mrt_env.integrations.trl.rewards"):
        rewards = outcome_reward(["p"] * 6, ["\\boxed{5}"] * 6, answer=golds)
    # None: TRL reads it as NaN and leaves the row out; an int gold is its decimal string.
    assert rewards == [1.0, None, None, None, None, 1.0]
    assert "4 of 6 rows have no usable gold answer" in caplog.text


def test_outcome_reward_conversational_and_non_text_completions():
    completions = [
        [{"role": "assistant", "content": "Pairs tried. \\boxed{11,13}"}],
        [{"role": "assistant", "content": [{"type": "text", "text": "\\boxed{13,11}"}]}],
        [{"role": "assistant", "content": "\\boxed{5,6}"}],
        42,  # not a completion TRL makes: scored as empty, no answer
    ]
    prompts = [[{"role": "user", "content": "05 06 09 11 13 sum 24"}]] * 4
    rewards = outcome_reward(prompts, completions, answer=["11,13"] * 4)
    assert rewards == [1.0, 1.0, 0.0, 0.0]
    assert completion_text(completions[1]) == "\\boxed{13,11}"
    assert completion_text(42) is None


def test_outcome_reward_without_answer_column_says_how_to_make_one():
    with pytest.raises(ValueError, match=r"'answer' dataset column.*problems_dataset"):
        outcome_reward(["p"], ["\\boxed{1}"], solution=["1"])
    with pytest.raises(ValueError, match="1 prompts and 2 completions"):
        outcome_reward(["p"], ["a", "b"], answer=["1", "1"])


# ---------------------------------------------------------------------------------------
# make_progress_reward


def test_progress_reward_is_outcome_plus_alpha_times_summed_progress():
    assert len(split_episodes(THREE_EPISODES)) == 3  # the segmentation the reward relies on
    cuts = prefixes(THREE_EPISODES)
    js = [scripted_j(c) for c in cuts]  # J_0 .. J_3
    progress = [js[j + 1] - js[j] for j in range(3)]
    assert js == pytest.approx([0.2, 0.2, 0.3, 0.75])

    no_markers = "Let x = 2.\n\nSo the answer is \\boxed{4}."  # one episode, wrong
    prover = FakeProver(scripted_j)
    reward = make_progress_reward(prover, alpha=0.5)
    logged = {}
    rewards = reward(
        ["Q1", "Q2", "Q3", "Q4"],
        [THREE_EPISODES, no_markers, "", THREE_EPISODES],
        None,
        answer=["5", "5", "5", None],
        problem_id=["a", "b", "c", "d"],
        log_metric=logged.__setitem__,
    )
    assert rewards[0] == pytest.approx(1.0 + 0.5 * sum(progress))  # 1.275
    assert rewards[0] == pytest.approx(1.0 + 0.5 * (0.75 - 0.2))  # it telescopes
    assert rewards[1] == pytest.approx(0.0 + 0.5 * (scripted_j(no_markers) - 0.2))
    assert rewards[2] == 0.0  # empty stream: no episodes, no progress, no answer
    assert rewards[3] is None  # no gold answer: not scored
    assert reward.__name__ == "progress_reward"

    # One prover call for every prefix of every scored completion: 4 + 2.
    assert len(prover.calls) == 1
    sent = prover.calls[0]
    assert [r.prefix for r in sent] == [*cuts, "", no_markers]
    assert [r.problem.id for r in sent] == ["a"] * 4 + ["b"] * 2
    assert {r.prompt for r in sent[:4]} == {"Q1"} and sent[0].problem.answer == "5"
    assert logged["progress_reward/episodes"] == pytest.approx((3 + 1) / 2)
    assert logged["progress_reward/J_first"] == pytest.approx(0.2)


def test_progress_reward_options_give_the_same_telescoped_sum():
    kwargs = dict(answer=["5"], problem_id=["a"])
    full = make_progress_reward(FakeProver(scripted_j), alpha=2.0)(
        ["Q"], [THREE_EPISODES], **kwargs
    )
    ends_prover = FakeProver(scripted_j)
    ends = make_progress_reward(ends_prover, alpha=2.0, every_prefix=False)(
        ["Q"], [THREE_EPISODES], **kwargs
    )
    assert ends == pytest.approx(full) and len(ends_prover.calls[0]) == 2
    alone = make_progress_reward(FakeProver(scripted_j), alpha=2.0, include_outcome=False)(
        ["Q"], [THREE_EPISODES], **kwargs
    )
    assert alone == pytest.approx([full[0] - 1.0])


def test_progress_reward_conversational_and_empty_batches():
    prover = FakeProver(scripted_j)
    reward = make_progress_reward(prover, name="mrt_progress")
    prompt = [{"role": "user", "content": "What is x + 3?"}]
    out = reward([prompt], [[{"role": "assistant", "content": THREE_EPISODES}]], answer=["5"])
    assert out == pytest.approx([1.0 + (0.75 - 0.2)])
    request = prover.calls[0][0]
    # No prover lm, no chat template: the prompt is the messages' text; the problem is
    # built from the columns, with an id stable across calls (the prover cache keys on it).
    assert request.prompt == "What is x + 3?" and request.problem.question == "What is x + 3?"
    assert request.problem.id.startswith("prompt-")
    assert reward.__name__ == "mrt_progress"

    silent = FakeProver(scripted_j)
    assert make_progress_reward(silent)(["Q", "Q"], ["", None], answer=["5", "5"]) == [0.0, 0.0]
    assert silent.calls == []  # nothing to score: the prover is not called


def test_progress_reward_with_oracle_prover_and_problem_lookup():
    task = SearchTask(seed=0)
    problem = task.problem(0)  # 10 pairs; J_0 = 1/10, and 1 once the hit is tried
    trace = "".join(task.trace(problem, None, "systematic").blocks)
    reward = make_progress_reward(OracleProver(task.oracle_success), problems=[problem])
    out = reward(["Q"], [trace], answer=[problem.answer], problem_id=[problem.id])
    assert out == pytest.approx([1.0 + (1.0 - 0.1)])
    with pytest.raises(ValueError, match="not among the 1 problems"):
        reward(["Q"], [trace], answer=[problem.answer], problem_id=["search/0-99"])


def test_progress_reward_rejects_bad_settings():
    with pytest.raises(TypeError, match="MetaProver"):
        make_progress_reward(object())
    with pytest.raises(ValueError, match="rule"):
        make_progress_reward(FakeProver(scripted_j), rule="sentences")
    with pytest.raises(ValueError, match="tokenizer"):
        make_progress_reward(FakeProver(scripted_j), rule=EpisodeConfig("tokens", chunk_tokens=4))
    with pytest.raises(TypeError, match="rule must be an EpisodeConfig"):
        ProgressRewardConfig(rule="markers")
    with pytest.raises(ValueError, match="finite"):
        make_progress_reward(FakeProver(scripted_j), alpha=math.nan)


# ---------------------------------------------------------------------------------------
# TRLServerLM against a FAKE VLLMClient


class FakeVLLMClient:
    """Stands in for trl.generation.vllm_client.VLLMClient: the same generate() signature and
    return shape (a dict of prompt_ids, completion_ids, logprobs, logprob_token_ids, prompt-
    major), and get_sequence_logprobs() with its return shape. Records the calls."""

    model = "fake-model"
    base_url = "http://fake:8000"

    def __init__(self, tokenizer, texts):
        self.tokenizer = tokenizer
        self.texts = texts  # (prompt, sample index) -> completion text
        self.generate_calls = []
        self.logprob_calls = []

    def generate(
        self,
        prompts,
        features=None,
        n=1,
        repetition_penalty=1.0,
        temperature=1.0,
        top_p=1.0,
        top_k=0,
        min_p=0.0,
        max_tokens=16,
        logprobs=0,
        structured_outputs_regex=None,
        generation_kwargs=None,
    ):
        self.generate_calls.append(
            dict(
                prompts=list(prompts),
                n=n,
                temperature=temperature,
                top_p=top_p,
                max_tokens=max_tokens,
                generation_kwargs=generation_kwargs,
            )
        )
        encode = lambda t: self.tokenizer(t, add_special_tokens=False)["input_ids"]  # noqa: E731
        completion_ids = []
        for p in prompts:
            for i in range(n):
                text = self.texts(p, i)
                for stop in (generation_kwargs or {}).get("stop", []):
                    if stop in text:  # vLLM stops there but keeps the stop's tokens in the ids
                        text = text[: text.index(stop) + len(stop)]
                completion_ids.append(encode(text)[:max_tokens])
        return {
            "prompt_ids": [encode(p) for p in prompts],
            "completion_ids": completion_ids,
            "logprobs": [[[-0.1]] * len(c) for c in completion_ids],
            "logprob_token_ids": [[[t] for t in c] for c in completion_ids],
        }

    def get_sequence_logprobs(
        self,
        sequences,
        prompt_lengths,
        top_logprobs=100,
        temperature=1.0,
        chunk_size=0,
        max_concurrent_requests=4,
    ):
        self.logprob_calls.append((sequences, prompt_lengths, top_logprobs))
        actual = [[[-0.5]] * (len(s) - n) for s, n in zip(sequences, prompt_lengths, strict=True)]
        return {
            "logprobs": actual,
            "logprob_token_ids": [
                [[t] for t in s[n:]] for s, n in zip(sequences, prompt_lengths, strict=True)
            ],
            "actual_logprobs": actual,
            "actual_token_ids": [
                [[t] for t in s[n:]] for s, n in zip(sequences, prompt_lengths, strict=True)
            ],
        }


@pytest.fixture(scope="module")
def char_tokenizer():
    pytest.importorskip("transformers")
    from mrt_env.lm.testing import tiny_tokenizer

    return tiny_tokenizer()


def test_trl_server_lm_sends_one_request_and_maps_completions(char_tokenizer):
    texts = {0: "abc\n\nWait, more", 1: "0123456789ABC"}
    client = FakeVLLMClient(char_tokenizer, lambda p, i: texts[i])
    lm = TRLServerLM(client, char_tokenizer)
    sampling = Sampling(max_tokens=10, stop=["\n\nWait"], n=2, temperature=0.6, top_p=0.95, seed=3)
    out = lm.generate(["p1", "p2"], sampling)
    assert client.generate_calls == [
        dict(
            prompts=["p1", "p2"],
            n=2,
            temperature=0.6,
            top_p=0.95,
            max_tokens=10,
            generation_kwargs={"stop": ["\n\nWait"], "seed": 3},
        )
    ]
    assert [len(row) for row in out] == [2, 2]
    first, second = out[0]
    # The stop string's tokens come back (vLLM keeps them in token_ids); the text is cut.
    assert (first.text, first.stop, first.finish_reason, first.num_tokens) == (
        "abc",
        "\n\nWait",
        "stop",
        9,
    )
    assert (second.text, second.finish_reason, second.num_tokens) == ("0123456789", "length", 10)
    assert lm.name == "fake-model@http://fake:8000"

    # score: the continuation's tokens, from get_sequence_logprobs (one char = one token).
    assert lm.score(["ab"], ["cd"]) == pytest.approx([-1.0])
    sequences, lengths, top = client.logprob_calls[0]
    assert lengths == [1] and top == 1 and len(sequences[0]) == 5  # <s> a b c d


def test_progress_reward_on_trl_server_lm_forced_prover(char_tokenizer):
    def answer(prompt, i):  # the right answer once the prefix holds it, for one of 2 samples
        return "7}." if "Wait, it is 7." in prompt and i == 0 else "3}."

    client = FakeVLLMClient(char_tokenizer, answer)
    forcing = "\n\nAnswer: \\boxed{"
    prover = make_prover(
        TRLServerLM(client, char_tokenizer),
        "forced",
        k=2,
        max_answer_tokens=8,
        forcing_text=forcing,
    )
    stream = "Try 3.\n\nNo.\n\nHmm.\n\nWait, it is 7."  # two episodes
    reward = make_progress_reward(prover)
    assert reward(["Q: x?\n"], [stream], answer=["7"], problem_id=["q"]) == pytest.approx(
        [0.0 + (0.5 - 0.0)]  # no boxed answer in the stream; J: 0, 0, 1/2
    )
    (call,) = client.generate_calls  # one request for all three prefixes, k samples each
    # A forcing text that opens with a blank line follows each prefix after exactly one
    # (the authors' layout), and the prompt directly at c_0.
    assert call["prompts"] == [
        "Q: x?\nAnswer: \\boxed{",
        "Q: x?\nTry 3.\n\nNo.\n\nHmm.\n\nAnswer: \\boxed{",
        "Q: x?\n" + stream + forcing,
    ]
    assert (call["n"], call["temperature"], call["top_p"], call["max_tokens"]) == (2, 0.6, 0.95, 8)
    assert call["generation_kwargs"] == {"seed": 0}
    # An EpisodeConfig decides the prefixes: no boundary at all leaves "" and the whole stream.
    capped = make_progress_reward(prover, rule=EpisodeConfig(max_steps=0))
    capped(["Q: y?\n"], [stream], answer=["7"], problem_id=["r"])
    assert client.generate_calls[-1]["prompts"] == [
        "Q: y?\nAnswer: \\boxed{",
        "Q: y?\n" + stream + forcing,
    ]


# ---------------------------------------------------------------------------------------
# problems_dataset


def test_problems_dataset_uses_the_env_template_for_synthetic_problems():
    pytest.importorskip("datasets")
    problems = SearchTask(seed=0).problems(3)
    ds = problems_dataset(problems)
    assert ds.column_names == ["prompt", "answer", "problem_id", "question"]
    assert ds[0]["prompt"] == f"Q {problems[0].question}\n"  # MRT-Search-v0's template
    assert ds["answer"] == [p.answer for p in problems]
    assert ds["problem_id"] == [p.id for p in problems]


def test_problems_dataset_real_problems_plain_and_conversational(shared_data):
    pytest.importorskip("datasets")
    from mrt_env.data import load_problems

    problems = load_problems("aime24", path=shared_data, limit=2)
    plain = problems_dataset(problems)
    assert plain[0]["prompt"] == PLAIN_TEMPLATE.replace("{question}", problems[0].question)
    chat = problems_dataset(
        problems, prompt_template=DEEPSCALER_TEMPLATE, conversational=True, system_prompt="S"
    )
    assert chat[1]["prompt"] == [
        {"role": "system", "content": "S"},
        {
            "role": "user",
            "content": DEEPSCALER_TEMPLATE.replace("{question}", problems[1].question),
        },
    ]
    assert chat[1]["prompt"][1]["content"].endswith("within \\boxed{}.")
    assert chat["answer"] == [p.answer for p in problems]
    with pytest.raises(ValueError, match=r"\{question\}"):
        problems_dataset(problems, prompt_template="no placeholder")
    with pytest.raises(ValueError, match="empty"):
        problems_dataset([])


# ---------------------------------------------------------------------------------------
# GRPOTrainer, 2 steps on CPU


@pytest.fixture
def one_torch_thread():
    """One intra-op thread: the tiny model is far faster so on a busy 2-core machine."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def test_grpo_trainer_two_steps_on_the_tiny_model_logs_both_rewards(tmp_path, one_torch_thread):
    pytest.importorskip("trl")
    from transformers import AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    from mrt_env.lm.loading import DEFAULT_MODEL, load_lm, shipped_model_folder
    from mrt_env.registration import ENV_IDS

    start = time.perf_counter()
    search = ENV_IDS["MRT-Search-v0"]
    problems = SearchTask(seed=2000).problems(8)  # a training seed, not the held-out seed 0
    prover = make_prover(
        load_lm(DEFAULT_MODEL, device="cpu", dtype="float32"),
        config=ProverConfig(**search["prover_config"]),
    )
    progress = make_progress_reward(prover, include_outcome=False, problems=problems)
    folder = shipped_model_folder()
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"),
        per_device_train_batch_size=4,
        num_generations=4,
        max_completion_length=48,
        max_steps=2,
        use_cpu=True,
        report_to="none",
        bf16=False,
        gradient_checkpointing=False,
        logging_steps=1,
        save_strategy="steps",
        save_steps=2,
        temperature=1.0,
        learning_rate=1e-4,
        seed=0,
    )
    trainer = GRPOTrainer(
        model=folder,
        reward_funcs=[outcome_reward, progress],
        args=args,
        train_dataset=problems_dataset(problems),
        processing_class=AutoTokenizer.from_pretrained(folder),
    )
    trainer.train()
    elapsed = time.perf_counter() - start

    steps = [row for row in trainer.state.log_history if "rewards/outcome_reward/mean" in row]
    assert len(steps) == 2 and trainer.state.global_step == 2
    for row in steps:
        assert 0.0 <= row["rewards/outcome_reward/mean"] <= 1.0
        assert -1.0 <= row["rewards/progress_reward/mean"] <= 1.0
        assert row["progress_reward/episodes"] >= 1.0
    assert (tmp_path / "out" / "checkpoint-2" / "model.safetensors").is_file()
    print(f"GRPOTrainer, 2 steps on the tiny model: {elapsed:.1f} s")


def test_example_help_lists_the_authors_defaults():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--help"], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for text in ("--cpu-smoke", "DeepScaleR-1.5B-Preview", "1e-06", "accelerate launch"):
        assert text in out.stdout
    assert "--trainer {grpo,mrt}" in out.stdout and "--credit.scheme" in out.stdout


def test_example_refuses_credit_flags_without_the_mrt_trainer_in_one_line():
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), "--cpu-smoke", "--credit.baseline", "termination"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 2
    assert out.stderr.strip() == (
        "trl_grpo_mrt.py: error: --credit.scheme and --credit.baseline choose MRTGRPOTrainer's "
        "credit: add --trainer mrt"
    )


@pytest.mark.slow
@pytest.mark.parametrize("trainer", ["grpo", "mrt"])
def test_example_cpu_smoke_trains_two_steps(tmp_path, trainer):
    pytest.importorskip("trl")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the tiny model on a busy 2-core machine
    args = ["--cpu-smoke", "--trainer", trainer, "--out", str(tmp_path / "smoke")]
    out = subprocess.run(
        [sys.executable, str(EXAMPLE), *args],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    logged = "'rewards/progress_reward/mean'" if trainer == "grpo" else "'mrt/J_first'"
    assert logged in out.stdout and "'step': 2" in out.stdout
    assert (tmp_path / "smoke" / "model.safetensors").is_file()
