"""Every command's vLLM path end to end on the real engine: the env's meta-prover, and
``mrt-regret`` (forced answers, likelihood, ``--maj.p`` weights), each against the
transformers backend on the same inputs."""

import json

import gymnasium as gym
import pytest

pytest.importorskip("vllm", reason="vLLM is not installed (its own environment: docs/install.md)")

import mrt_env  # noqa: F401 - registers the envs

TRACE = (
    "We need 2+3.\n\nStart with 2.\n\nAdd 3 to it.\n\nThat gives 6.\n\n"
    "Wait, 2+3 is not 6.\n\nCount again: 3, 4, 5.\n\nSo it is 5.\n\n"
    "Wait, let me double-check.\n\n5 - 3 = 2, fine.\n\nSo the answer is \\boxed{5}."
)


def _episode_js(lm, env_id, blocks, **kwargs):
    env = gym.make(env_id, prover=lm, **kwargs)
    env.reset(options={"problem": 0})
    js = []
    for block in blocks:
        _, _, terminated, truncated, info = env.step(block)
        js.append(info["success_prob"])
        if terminated or truncated:
            break
    env.close()
    return js


def test_the_envs_meta_prover_on_vllm_equals_transformers(tiny, recheck):
    blocks = ["05+06=11 n\n", "05+09=14 n\n", "11+13=24 y\n", "a 11 13\n"]
    got, want = (
        _episode_js(tiny[0], "MRT-Search-v0", blocks),
        _episode_js(tiny[1], "MRT-Search-v0", blocks),
    )
    assert len(got) == 4 and got == pytest.approx(want, abs=1e-4)
    # Forced answers, greedy: the same answers, so the same J.
    forced = {"prover_config": {"kind": "forced", "k": 2, "temperature": 0.0}}
    got = _episode_js(tiny[0], "MRT-Search-v0", blocks, **forced)
    assert got == _episode_js(tiny[1], "MRT-Search-v0", blocks, **forced)


def regret_rows(tmp_path, name, *args):
    from mrt_env.regret import main

    traces = tmp_path / "traces.jsonl"
    if not traces.exists():
        rows = [
            {"problem_id": "toy/1", "question": "What is 2+3?", "answer": "5", "response": TRACE},
            {"problem_id": "toy/2", "question": "What is 1+1?", "answer": "2", "response": TRACE},
        ]
        traces.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / name
    small = [
        "--prover.max-answer-tokens",
        "6",
        "--budgets",
        "64",
        "256",
        "--model.dtype",
        "float32",
    ]
    assert (
        main([str(traces), "--out", str(out), "--model.name", "mrt-env/tiny", *small, *args]) == 0
    )
    return [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]


@pytest.mark.parametrize(
    "prover",
    [
        ["--prover.kind", "likelihood"],
        ["--prover.kind", "forced", "--prover.k", "2", "--prover.temperature", "0",
         "--maj.p", "1", "2"],
    ],
    ids=["likelihood", "forced-greedy-maj"],
)  # fmt: skip
def test_mrt_regret_on_vllm_equals_transformers(tmp_path, prover):
    on_vllm = regret_rows(tmp_path, "vllm", "--model.backend", "vllm", *prover)
    on_hf = regret_rows(tmp_path, "hf", "--model.backend", "transformers", *prover)
    assert [r["id"] for r in on_vllm] == [r["id"] for r in on_hf] == ["toy/1", "toy/2"]
    for a, b in zip(on_vllm, on_hf, strict=True):
        assert "error" not in a, a
        assert a["blocks"] == b["blocks"] == 3
        assert a["prefix_tokens"] == b["prefix_tokens"]
        assert a["success_probs"] == pytest.approx(b["success_probs"], abs=1e-4)
        assert a["token_regret"] == pytest.approx(b["token_regret"], abs=1e-4)
        for key in (k for k in a if k.startswith("maj")):
            assert json.dumps(a[key]) == json.dumps(b[key]), key  # greedy: the same votes
