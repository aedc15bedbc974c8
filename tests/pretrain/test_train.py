"""mrt-pretrain: packed rows keep samples apart, a killed run resumes, bad settings fail."""

import pytest

from mrt_env.pretrain.train import PretrainConfig, TraceSampler, _packed_batch, main


def test_packed_samples_see_only_themselves():
    torch = pytest.importorskip("torch")
    from mrt_env.lm.testing import tiny_llama, tiny_tokenizer

    tok = tiny_tokenizer()
    model = tiny_llama(tok, hidden_size=32, num_layers=1, num_heads=2).eval()
    sampler = TraceSampler(PretrainConfig())
    samples = [sampler.sample() for _ in range(4)]
    with torch.inference_mode():
        packed = model(**_packed_batch(tok, samples, 512, torch)).logits  # [R, W, V]
        start = 0
        for sample in samples[:2]:  # both in row 0
            n = len(tok(sample[0])["input_ids"]) + 1
            alone = model(**_packed_batch(tok, [sample], 512, torch)).logits
            assert torch.allclose(packed[0, start : start + n], alone[0, :n], atol=1e-5)
            start += n
    with pytest.raises(ValueError, match="exceeds the row width"):
        _packed_batch(tok, samples, 8, torch)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="tasks must be some of"):
        PretrainConfig(tasks=("chess",))
    with pytest.raises(ValueError, match="multiple of num_heads"):
        PretrainConfig(hidden_size=130, num_heads=4)


def test_a_killed_run_resumes_to_the_same_weights(tmp_path, monkeypatch, capsys):
    torch = pytest.importorskip("torch")

    small = [
        "--steps",
        "4",
        "--save-every",
        "2",
        "--hidden-size",
        "16",
        "--num-layers",
        "1",
        "--num-heads",
        "2",
        "--batch-size",
        "4",
        "--warmup",
        "1",
    ]
    assert main(["--out", str(tmp_path / "whole"), *small]) == 0

    real_step = torch.optim.AdamW.step
    calls = {"n": 0}

    def dies_at_step_3(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt  # killed after the checkpoint of step 2
        return real_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.AdamW, "step", dies_at_step_3)
    # Ctrl-C ends the command with status 130 and says how to resume.
    assert main(["--out", str(tmp_path / "killed"), *small]) == 130
    assert "continue from the last checkpoint" in capsys.readouterr().err
    assert (tmp_path / "killed" / "checkpoint.safetensors").exists()
    monkeypatch.setattr(torch.optim.AdamW, "step", real_step)
    assert main(["--out", str(tmp_path / "killed"), *small]) == 0
    assert not (tmp_path / "killed" / "checkpoint.safetensors").exists()
    from safetensors.torch import load_file

    whole = load_file(tmp_path / "whole" / "model.safetensors")
    resumed = load_file(tmp_path / "killed" / "model.safetensors")
    assert all(torch.equal(whole[k], resumed[k]) for k in whole)


def test_bad_command_line_settings_are_an_error_not_a_traceback(capsys):
    assert main(["--tasks", "chess"]) == 2
    err = capsys.readouterr().err.strip()
    assert (
        err == "mrt-pretrain: error: tasks must be some of ['arithmetic', 'checks', "
        "'recheck', 'search'], got ['chess']"
    )
