"""mrt-pretrain trains a model that learns (slow: about a minute of training)."""

import pytest

from mrt_env.assets.train import PretrainConfig, TraceSampler, main


@pytest.mark.slow
def test_a_minute_of_training_learns_the_traces_well_above_chance(tmp_path):
    torch = pytest.importorskip("torch")
    from mrt_env.lm import TransformersLM

    out = tmp_path / "m"
    args = ["--out", str(out), "--steps", "400", "--max-minutes", "1", "--hidden-size", "96"]
    args += ["--num-layers", "2", "--num-heads", "4", "--batch-size", "32", "--tasks", "search"]
    assert main(args) == 0
    lm = TransformersLM.from_pretrained(out)
    # Held-out traces, teacher-forced: how often is the next token of a block the argmax?
    sampler = TraceSampler(PretrainConfig(tasks=("search",), seed=99, forced_fraction=0.0))
    hits, total = 0, 0
    for _ in range(40):
        text, mask = sampler.sample()
        ids = lm.tokenizer(text, return_tensors="pt")["input_ids"]  # [1, 1 + len(text)]
        with torch.inference_mode():
            pred = lm.model(input_ids=ids).logits[0, :-1].argmax(-1)  # [len(text)]
        target = ids[0, 1:]
        keep = torch.tensor(mask)
        hits += int((pred[keep] == target[keep]).sum())
        total += int(keep.sum())
    accuracy = hits / total
    chance = 1 / len(lm.tokenizer)
    assert accuracy > 0.5 > 20 * chance, (
        accuracy
    )  # random attempts are unpredictable; digits are not


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch):
    torch = pytest.importorskip("torch")

    small = ["--steps", "4", "--save-every", "2", "--hidden-size", "16", "--num-layers", "1",
             "--num-heads", "2", "--batch-size", "4", "--warmup", "1"]  # fmt: skip
    assert main(["--out", str(tmp_path / "whole"), *small]) == 0

    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def dies_at_step_3(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed after the checkpoint of step 2
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", dies_at_step_3)
    with pytest.raises(KeyboardInterrupt):
        main(["--out", str(tmp_path / "killed"), *small])
    assert (tmp_path / "killed" / "checkpoint.pt").exists()
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert main(["--out", str(tmp_path / "killed"), *small]) == 0
    assert not (tmp_path / "killed" / "checkpoint.pt").exists()
    from safetensors.torch import load_file

    whole = load_file(tmp_path / "whole" / "model.safetensors")
    resumed = load_file(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)
