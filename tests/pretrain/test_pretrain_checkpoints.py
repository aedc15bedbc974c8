"""mrt-pretrain's checkpoints: a pickled call is never run, an old-format checkpoint of plain
tensors and values still resumes, and a bad one is one line naming it."""

import copy
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.pretrain.train import (  # noqa: E402
    CHECKPOINT,
    OLD_CHECKPOINT,
    PretrainConfig,
    TraceSampler,
    main,
)
from mrt_env.runfiles import save_checkpoint  # noqa: E402

SMALL = {"steps": 2, "hidden_size": 16, "num_layers": 1, "num_heads": 2, "batch_size": 2}


def _argv(out):
    flags = [[f"--{k.replace('_', '-')}", str(v)] for k, v in SMALL.items()]
    return ["--out", str(out), *[x for pair in flags for x in pair]]


def _state(out):
    """What mrt-pretrain checkpoints at its last step (after a made-up AdamW step)."""
    from mrt_env.lm.testing import tiny_llama, tiny_tokenizer
    from mrt_env.pretrain.train import _jsonable

    cfg = PretrainConfig(out=Path(out), **SMALL)
    model = tiny_llama(
        tiny_tokenizer(), hidden_size=16, num_layers=1, num_heads=2, max_positions=1024
    )
    optimizer = torch.optim.AdamW(model.parameters())
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e-3)
    optimizer.step()
    return copy.deepcopy(
        {
            "config": _jsonable(cfg),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "rng": TraceSampler(cfg).rng.bit_generator.state,
            "index": 3,
            "step": cfg.steps,
            "torch_rng": torch.get_rng_state(),
        }
    )


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):  # unpickling this creates the marker file
        return (open, (self.marker, "w"))


def _error(capsys):
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_pickled_call_is_not_run(tmp_path, capsys):
    out, marker = tmp_path / "run", tmp_path / "ran"
    out.mkdir()
    torch.save({"step": _Payload(marker)}, out / OLD_CHECKPOINT)
    assert main(_argv(out)) == 1
    assert not marker.exists()
    err = _error(capsys)
    assert err.startswith(f"mrt-pretrain: error: {out / OLD_CHECKPOINT} is a pickle")
    assert err.endswith("delete it to start afresh, or choose another --out")


def test_an_old_checkpoint_of_plain_tensors_resumes(tmp_path, capsys):
    from safetensors.torch import load_file

    out = tmp_path / "run"
    out.mkdir()
    state = _state(out)
    torch.save(state, out / OLD_CHECKPOINT)
    assert main(_argv(out)) == 0, capsys.readouterr().err
    saved = load_file(out / "model.safetensors")
    assert all(torch.equal(saved[k], state["model"][k]) for k in saved)
    assert not (out / OLD_CHECKPOINT).exists()


def _with(**changes):
    def change(state):
        state.update(changes)

    return change


def _nan_weights(state):
    next(iter(state["model"].values())).fill_(float("nan"))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_with(step="two"), "step must be an integer >= 0, got 'two'"),
        (_with(index=None), "index must be an integer >= 0, got None"),
        (_with(step=99), "step 99 is past --steps 2"),
        (_with(rng={"bit_generator": "MT19937"}), "its random states (rng, torch_rng)"),
        (_with(torch_rng=torch.zeros(3)), "its random states (rng, torch_rng)"),
        (_nan_weights, "NaN or infinite"),
    ],
    ids=["string step", "no index", "step past the end", "rng", "torch rng", "NaN"],
)
def test_a_bad_checkpoint_is_one_line_naming_it(change, message, tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    state = _state(out)
    change(state)
    save_checkpoint(state, out / CHECKPOINT)
    assert main(_argv(out)) == 1
    err = _error(capsys)
    assert err.startswith(f"mrt-pretrain: error: {out / CHECKPOINT}") and message in err
    assert not (out / "model.safetensors").exists()


def test_an_empty_checkpoint_and_a_bad_seed(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / CHECKPOINT).write_bytes(b"")
    assert main(_argv(out)) == 1
    assert "is not a readable checkpoint" in _error(capsys)
    assert main([*_argv(tmp_path / "other"), "--seed", "-1"]) == 2
    assert "seed must be an integer from 0 to 2**32 - 1, got -1" in _error(capsys)
    assert not (tmp_path / "other").exists()
