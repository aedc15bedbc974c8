"""mrt-pretrain trains a model that learns (slow: about a minute of training)."""

import pytest

from mrt_env.pretrain.train import PretrainConfig, TraceSampler, main


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
