"""mrt-train's checkpoints: read without running code, every bad one a one-line error naming
the file, old-format ones read only when they hold plain tensors and values, and a run
stopped before its first checkpoint continued with --resume."""

import copy
import json
import pickle

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from mrt_env.errors import ArgumentTypeError, DataFormatError  # noqa: E402
from mrt_env.runfiles import (  # noqa: E402
    load_checkpoint,
    restore_optimizer,
    restore_weights,
    save_checkpoint,
)
from mrt_env.training import TrainConfig, main  # noqa: E402
from mrt_env.training.bookkeeping import CHECKPOINT, OLD_CHECKPOINT  # noqa: E402
from mrt_env.training.loop import load_policy  # noqa: E402

# What every command line here shares: a run whose checkpoint at step 1 is its last step,
# so a good checkpoint resumes with nothing left to train.
ARGS = ["--steps", "1", "--eval-problems", "0"]


class _Payload:
    """Unpickling this creates ``marker``: what a crafted checkpoint could do instead."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def good_state():
    """A checkpoint's state as mrt-train writes it, after one (made-up) AdamW step."""
    from mrt_env.training.bookkeeping import _comparable

    config = TrainConfig(steps=1, eval_problems=0)
    model = load_policy(config).model
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr)
    for p in model.parameters():
        p.grad = torch.full_like(p, 1e-3)
    optimizer.step()
    return copy.deepcopy(
        {
            "config": _comparable(config),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": 1,
            "sampled_tokens": 100,
        }
    )


def _resume(out, capsys):
    """mrt-train --resume on ``out``: its exit status and its error line (transformers'
    progress bar while the model loads, also on stderr, left out); the whole stderr when
    there is no error line, or more than one."""
    status = main([*ARGS, "--resume", "--out", str(out)])
    err = capsys.readouterr().err
    errors = [line for line in err.splitlines() if "error" in line.lower()]
    return status, errors[0] if len(errors) == 1 and "Traceback" not in err else err


def _saved_weights(out):
    from safetensors.torch import load_file

    return load_file(out / "model" / "model.safetensors")


@pytest.mark.parametrize(
    ("name", "write"),
    [
        (OLD_CHECKPOINT, lambda obj, path: torch.save(obj, path)),
        (OLD_CHECKPOINT, lambda obj, path: path.write_bytes(pickle.dumps(obj, protocol=2))),
        (CHECKPOINT, lambda obj, path: torch.save(obj, path)),
    ],
    ids=["torch.save", "bare pickle", "pickle named .safetensors"],
)
def test_a_checkpoint_that_would_run_code_is_refused_unrun(name, write, tmp_path, capsys):
    marker = tmp_path / "ran"
    out = tmp_path / "run"
    out.mkdir()
    write({"model": {}, "step": _Payload(marker)}, out / name)
    status, err = _resume(out, capsys)
    assert not marker.exists()  # the pickled call never ran
    assert status == 1
    assert err.startswith(f"mrt-train: error: {out / name} ") and "--overwrite" in err


def _cut(state, path):
    save_checkpoint(state, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _foreign_safetensors(state, path):
    from safetensors.torch import save_file

    save_file({"weight": torch.zeros(2)}, path)  # a model file, not a checkpoint


def _header(text):
    """A safetensors file of no tensors whose checkpoint state is ``text``."""

    def write(state, path):
        from safetensors.torch import save_file

        save_file({}, path, metadata={"format": "mrt-env-checkpoint/1", "state": text})

    return write


def _edit(change):
    """Write the good state after ``change(state)``."""

    def write(state, path):
        state = copy.deepcopy(state)
        change(state)
        save_checkpoint(state, path)

    return write


def _first(mapping):
    return next(iter(mapping))


CORRUPT = {
    "empty": (CHECKPOINT, lambda s, p: p.write_bytes(b""), "not a readable checkpoint"),
    "cut short": (CHECKPOINT, _cut, "not a readable checkpoint"),
    "random bytes": (
        CHECKPOINT,
        lambda s, p: p.write_bytes(bytes(range(256)) * 8),
        "not a readable checkpoint",
    ),
    "a model file": (CHECKPOINT, _foreign_safetensors, "not a checkpoint of mrt-env"),
    "bad JSON in the header": (CHECKPOINT, _header("{oops"), "not a readable checkpoint"),
    "a list, not a state": (CHECKPOINT, _header("[1, 2]"), "not a checkpoint"),
    "names a tensor it lacks": (
        CHECKPOINT,
        _header('{"model": {"__tensor__": "nowhere"}}'),
        "names a tensor 'nowhere' the file lacks",
    ),
    "old format cut short": (
        OLD_CHECKPOINT,
        lambda s, p: (torch.save(s, p), p.write_bytes(p.read_bytes()[:300])),
        "not a readable checkpoint",
    ),
    "no settings": (CHECKPOINT, _edit(lambda s: s.pop("config")), "settings (config)"),
    "no step": (CHECKPOINT, _edit(lambda s: s.pop("step")), "step must be an integer"),
    "a string for the step": (
        CHECKPOINT,
        _edit(lambda s: s.update(step="ten")),
        "step must be an integer >= 0, got 'ten'",
    ),
    "a negative token count": (
        CHECKPOINT,
        _edit(lambda s: s.update(sampled_tokens=-5)),
        "sampled_tokens must be an integer >= 0, got -5",
    ),
    "a weight missing": (
        CHECKPOINT,
        _edit(lambda s: s["model"].pop(_first(s["model"]))),
        "its weights lack",
    ),
    "a weight of the wrong shape": (
        CHECKPOINT,
        _edit(lambda s: s["model"].update({_first(s["model"]): torch.zeros(3, 3)})),
        "its weights misshape",
    ),
    "weights not tensors": (
        CHECKPOINT,
        _edit(lambda s: s["model"].update({_first(s["model"]): "1.0"})),
        "not a mapping of tensors",
    ),
    "NaN weights": (
        CHECKPOINT,
        _edit(lambda s: s["model"][_first(s["model"])].fill_(float("nan"))),
        "NaN or infinite",
    ),
    "infinite optimizer state": (
        CHECKPOINT,
        _edit(lambda s: s["optimizer"]["state"][0]["exp_avg_sq"].fill_(float("inf"))),
        "NaN or infinite",
    ),
    "optimizer state of the wrong shape": (
        CHECKPOINT,
        _edit(lambda s: s["optimizer"]["state"][0].update(exp_avg=torch.zeros(2))),
        "exp_avg must be a tensor of shape",
    ),
    "optimizer state without a key": (
        CHECKPOINT,
        _edit(lambda s: s["optimizer"]["state"][0].pop("exp_avg_sq")),
        "must hold ['step', 'exp_avg', 'exp_avg_sq']",
    ),
    "optimizer state of an unknown parameter": (
        CHECKPOINT,
        _edit(lambda s: s["optimizer"]["state"].update({10_000: {}})),
        "optimizer state 10000 is not one of",
    ),
    "no optimizer": (CHECKPOINT, _edit(lambda s: s.pop("optimizer")), "optimizer state is missing"),
}


@pytest.mark.parametrize("case", list(CORRUPT))
def test_a_bad_checkpoint_is_one_line_naming_it(case, good_state, tmp_path, capsys):
    name, write, message = CORRUPT[case]
    out = tmp_path / "run"
    out.mkdir()
    write(good_state, out / name)
    status, err = _resume(out, capsys)
    assert status == 1, err
    assert err.startswith(f"mrt-train: error: {out / name}")
    assert message in err
    assert not (out / "model").exists()  # nothing was trained on it


def test_a_good_checkpoint_resumes_in_either_format(good_state, tmp_path, capsys):
    for name, write in ((CHECKPOINT, save_checkpoint), (OLD_CHECKPOINT, torch.save)):
        out = tmp_path / name
        out.mkdir()
        write(good_state, out / name)
        status, err = _resume(out, capsys)
        assert status == 0, err
        saved = _saved_weights(out)
        assert all(torch.equal(saved[k], good_state["model"][k]) for k in saved)


def test_other_settings_are_still_refused_by_name(good_state, tmp_path, capsys):
    save_checkpoint(good_state, tmp_path / CHECKPOINT)
    status = main([*ARGS, "--credit.alpha", "0.5", "--resume", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert status == 1 and "other settings (alpha: 1.0 -> 0.5)" in err


def test_the_format_keeps_what_json_cannot_say(tmp_path):
    """Tuples, integer keys, big integers (numpy's generator state), tied tensors, a dict
    that looks like the format's own markers: all come back as they went in."""
    import numpy as np

    shared = torch.arange(6.0)
    state = {
        "tuple": (1, "a", None, True, 2.5),
        "int keys": {0: torch.ones(2), 7: [torch.zeros(1)]},
        "rng": np.random.default_rng(3).bit_generator.state,
        "tied": {"a": shared, "b": shared, "view": shared[2:4]},
        "lookalike": {"__tensor__": "not a tensor"},
    }
    path = tmp_path / "c.safetensors"
    save_checkpoint(state, path)
    back = load_checkpoint(path, fix="")
    assert back["tuple"] == state["tuple"] and back["rng"] == state["rng"]
    assert back["lookalike"] == state["lookalike"]
    assert sorted(back["int keys"]) == [0, 7] and torch.equal(back["int keys"][0], torch.ones(2))
    assert all(torch.equal(back["tied"][k], state["tied"][k]) for k in ("a", "b", "view"))
    with pytest.raises(ArgumentTypeError, match="state/x is a set"):
        save_checkpoint({"x": {1}}, path)


def test_any_header_length_reads_back(tmp_path):
    """The header's length is the file's first bytes: whatever they are (0x80 opens a
    pickle, too), the file reads as the checkpoint it is."""
    path = tmp_path / "c.safetensors"
    save_checkpoint({"note": "", "t": torch.ones(1)}, path)
    pad = (0x80 - path.read_bytes()[0]) % 256  # each "x" lengthens the header by one byte
    save_checkpoint({"note": "x" * pad, "t": torch.ones(1)}, path)
    assert path.read_bytes()[0] == 0x80
    assert load_checkpoint(path, fix="")["note"] == "x" * pad


def test_restoring_checks_before_it_loads(tmp_path):
    model = torch.nn.Linear(2, 3)
    optimizer = torch.optim.AdamW(model.parameters())
    before = {k: v.clone() for k, v in model.state_dict().items()}
    bad = {"weight": torch.full((3, 2), float("inf")), "bias": torch.zeros(3)}
    with pytest.raises(DataFormatError, match=r"c\.safetensors: its weights hold NaN"):
        restore_weights(model, bad, tmp_path / "c.safetensors", fix="")
    assert all(torch.equal(model.state_dict()[k], before[k]) for k in before)
    restore_optimizer(optimizer, {"state": {}}, tmp_path / "c.safetensors", fix="")  # no step yet


def _fresh_rows(out):
    return [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x]


def _stopped_before_its_first_checkpoint(out):
    out.mkdir()
    (out / "config.json").write_text("{}\n")
    (out / "metrics.jsonl").write_text('{"step": 1, "sampled_tokens": -1}\n')  # then killed


def test_resume_before_the_first_checkpoint_starts_at_step_0_in_the_folder(
    tmp_path, capsys, monkeypatch
):
    """The decision only: the first step is stopped (Ctrl-C) as it samples."""
    import mrt_env.training.loop as loop_module

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(loop_module, "collect", stop)
    out = tmp_path / "run"
    _stopped_before_its_first_checkpoint(out)
    assert main([*ARGS, "--resume", "--out", str(out)]) == 130
    err = capsys.readouterr().err
    assert "holds no checkpoint" in err and "starting from step 0" in err
    assert _fresh_rows(out) == []  # the killed run's step 1 is run again, not kept
    assert json.loads((out / "config.json").read_text())["algorithm"] == "mrt"


@pytest.mark.slow
def test_a_run_stopped_before_its_first_checkpoint_resumes_from_step_0(tmp_path, capsys):
    small = ["--problems-per-step", "1", "--group-size", "2", "--max-blocks", "1"]
    out = tmp_path / "run"
    _stopped_before_its_first_checkpoint(out)
    assert main([*ARGS, *small, "--out", str(out)]) == 1  # without --resume: refused
    assert "holds a run" in capsys.readouterr().err
    assert main([*ARGS, *small, "--resume", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "holds no checkpoint" in err and "starting from step 0" in err
    rows = _fresh_rows(out)
    assert [r["step"] for r in rows] == [1] and rows[0]["sampled_tokens"] > 0
    assert (out / CHECKPOINT).exists()


def test_resume_on_a_folder_without_a_run_is_refused(tmp_path, capsys):
    assert main([*ARGS, "--resume", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert "holds no run to continue" in err and "run without --resume" in err
