"""The run folder of ``mrt-train``: what is written to it, read back on ``--resume``, and
cleared on ``--overwrite``, so that :func:`mrt_env.training.loop.train` reads as the loop.

=========================  =======================================================
file in ``--out``          what
=========================  =======================================================
``checkpoint.safetensors`` weights, optimizer, step, tokens sampled (atomically)
``checkpoint.pt``          where older versions wrote it: resumed from, then replaced
``metrics.jsonl``          one row per step and one per evaluation
``rollouts.jsonl``         with ``--save-rollouts``: every trace sampled for training
``config.json``            the settings a checkpoint belongs to
``tensorboard/``           the rows as TensorBoard scalars, if it is installed
=========================  =======================================================

A resumed run continues from the checkpoint with the same next step as an uninterrupted
run: the rows logged after the checkpoint are dropped (their steps run again).
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mrt_env.errors import DataFormatError, RunStateError
from mrt_env.prover import ProverConfig
from mrt_env.runfiles import (
    append_row,
    changed_settings,
    checkpoint_number,
    load_checkpoint,
    read_rows,
    restore_optimizer,
    restore_weights,
    save_checkpoint,
    write_text_atomic,
)
from mrt_env.training.config import TrainConfig

if TYPE_CHECKING:
    from mrt_env.types import EpisodeRecord

__all__ = [
    "CHECKPOINT",
    "METRICS",
    "OLD_CHECKPOINT",
    "ROLLOUTS",
    "RunLog",
    "Start",
    "has_eval",
    "prepare_out",
    "rewind_logs",
    "write_checkpoint",
    "write_settings",
]

CHECKPOINT = "checkpoint.safetensors"
OLD_CHECKPOINT = "checkpoint.pt"
"""Where mrt-env wrote its checkpoints before (torch.save): read only if it holds nothing
but tensors and plain values (``torch.load(weights_only=True)``)."""
METRICS = "metrics.jsonl"
ROLLOUTS = "rollouts.jsonl"
"""With ``save_rollouts``: one row per trace sampled for training."""

_BAD_CHECKPOINT = "pass --overwrite to start afresh, or choose another --out"


# --------------------------------------------------------------------------------------------
# Where a run starts


@dataclass(frozen=True)
class Start:
    """Where a run starts: step 0, or on ``--resume`` the step of the checkpoint read."""

    step: int = 0
    sampled_tokens: int = 0
    state: dict[str, Any] | None = None
    """The checkpoint's contents, checked (None: nothing to load)."""
    path: Path | None = None
    """The checkpoint file they were read from."""

    def restore(self, model: Any, optimizer: Any) -> None:
        """Load the checkpoint's weights and optimizer state (nothing to do without one)."""
        if self.state is None:
            return
        restore_weights(model, self.state.get("model"), self.path, fix=_BAD_CHECKPOINT)
        restore_optimizer(optimizer, self.state.get("optimizer"), self.path, fix=_BAD_CHECKPOINT)


def prepare_out(config: TrainConfig) -> Start:
    """Make ``config.out`` ready for the run and say where it starts.

    A folder that already holds a run is refused unless the command says what to do with
    it: ``--overwrite`` deletes its log and checkpoint; ``--resume`` reads its checkpoint
    (before the model loads, so a bad one fails fast), or starts from step 0 in the same
    folder when the run stopped before its first checkpoint."""
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    files = (out / CHECKPOINT, out / OLD_CHECKPOINT, out / METRICS, out / ROLLOUTS)
    held = [p for p in files if p.exists() and p.stat().st_size]
    if held and not config.resume:
        if not config.overwrite:
            raise RunStateError(
                f"{out} holds a run ({', '.join(p.name for p in held)}); pass --resume to "
                "continue it, --overwrite to start afresh, or choose another --out"
            )
        for path in held:
            path.unlink()
    found = [p for p in (out / CHECKPOINT, out / OLD_CHECKPOINT) if p.exists()]
    if config.resume and found:  # the file is read and checked before the model loads
        state = _read_checkpoint(found[0], config)
        return Start(state["step"], state["sampled_tokens"], state, found[0])
    if config.resume and not held:
        raise RunStateError(
            f"--resume: {out} holds no run to continue (no {CHECKPOINT}, no {METRICS}); "
            "run without --resume"
        )
    if config.resume:  # stopped before its first checkpoint: nothing to load, folder kept
        print(
            f"note: {out} holds no checkpoint (the run stopped before its first); "
            "starting from step 0 in the same folder",
            file=sys.stderr,
        )
    return Start()


def _read_checkpoint(path: Path, config: TrainConfig) -> dict[str, Any]:
    """The checkpoint at ``path``, its settings checked against ``config`` and its step and
    tokens sampled against their types (the weights and optimizer state are checked as
    they load). Every way a checkpoint can be bad is one :class:`DataFormatError` (or a
    :class:`RunStateError` for other settings) naming the file."""
    fix = _BAD_CHECKPOINT
    state = load_checkpoint(path, fix=fix)
    saved = state.get("config")
    try:
        what = changed_settings(saved, _comparable(config)) if isinstance(saved, dict) else None
    except (TypeError, ValueError):  # settings that are not plain JSON values
        what = None
    if what is None:
        raise DataFormatError(f"{path}: its settings (config) are missing or unreadable; {fix}")
    if what:
        raise RunStateError(f"--resume: {path} was written by a run with other settings ({what})")
    checkpoint_number(state, "step", path, fix=fix)
    checkpoint_number(state, "sampled_tokens", path, fix=fix)
    return state


def rewind_logs(out: Path, step: int) -> None:
    """Keep the log rows of steps up to ``step`` (the checkpoint's): the steps after it are
    run again on resume, and must not be logged twice."""
    for path in (out / METRICS, out / ROLLOUTS):
        if path.exists():
            rows = [r for r in read_rows(path, key="step", tool="mrt-train") if r["step"] <= step]
            write_text_atomic(path, "".join(json.dumps(r) + "\n" for r in rows))


def has_eval(out: Path, step: int) -> bool:
    """Whether the metrics log holds the evaluation row of ``step``."""
    return any(
        r.get("eval") and r["step"] == step
        for r in read_rows(out / METRICS, key="step", tool="mrt-train")
    )


# --------------------------------------------------------------------------------------------
# What a run writes


def write_settings(out: Path, config: TrainConfig) -> None:
    """``config.json``: the settings a checkpoint belongs to."""
    (out / "config.json").write_text(json.dumps(_comparable(config), indent=2) + "\n")


def write_checkpoint(
    out: Path,
    config: TrainConfig,
    model: Any,
    optimizer: Any,
    *,
    step: int,
    sampled_tokens: int,
) -> None:
    """``checkpoint.safetensors`` (atomically), superseding an old-format one."""
    save_checkpoint(
        {
            "config": _comparable(config),
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "step": step,
            "sampled_tokens": sampled_tokens,
        },
        out / CHECKPOINT,
    )
    (out / OLD_CHECKPOINT).unlink(missing_ok=True)  # resumed from, now superseded


class RunLog:
    """``metrics.jsonl`` (and TensorBoard, if installed), and with ``traces``
    ``rollouts.jsonl``: appended to a row at a time, flushed as written."""

    def __init__(self, out: Path, *, traces: bool):
        self.writer = _tensorboard(out)
        self.metrics = (out / METRICS).open("a", encoding="utf-8")
        self.traces = (out / ROLLOUTS).open("a", encoding="utf-8") if traces else None

    def add_step(self, row: dict[str, Any], step: int) -> None:
        """A training step's row."""
        append_row(self.metrics, row)
        _scalars(self.writer, row, step)

    def add_eval(self, result: dict[str, Any], step: int) -> None:
        """An evaluation's row (its TensorBoard scalars under ``eval/``)."""
        append_row(self.metrics, result)
        _scalars(self.writer, {f"eval/{k}": v for k, v in result.items()}, step)

    def add_traces(self, step: int, traces: list[EpisodeRecord]) -> None:
        """The traces sampled for ``step`` (with ``traces`` only)."""
        if self.traces is None:
            return
        lines = (json.dumps({"step": step, **t.to_row()}) for t in traces)
        self.traces.write("".join(f"{line}\n" for line in lines))
        self.traces.flush()

    def close(self) -> None:
        self.metrics.close()
        if self.traces is not None:
            self.traces.close()
        if self.writer is not None:
            self.writer.close()


def _comparable(config: TrainConfig) -> dict[str, Any]:
    """The settings a checkpoint belongs to (what may change on resume is left out)."""
    # A resumed run may change these.
    free = (
        "resume",
        "overwrite",
        "out",
        "steps",
        "token_budget",
        "eval_every",
        "eval_problems",
        "checkpoint_every",
        "save_rollouts",
        "threads",
    )
    settings = {k: v for k, v in asdict(config).items() if k not in free}
    # The credit's settings were top-level flags once: kept flat, older runs still resume
    # (the scheme as the run credits it, outcome for grpo and mrt-star, was never written).
    credit = settings.pop("credit")
    scheme = credit.pop("scheme")
    settings.update(credit, scheme="block" if config.algorithm != "mrt" else scheme)
    if settings["prover"] == asdict(ProverConfig()):  # added later: absent at its default
        del settings["prover"]
    # Settings added later are left out at their defaults, so older runs still resume.
    for name, default in _LATER_DEFAULTS.items():
        if settings.get(name) == default:
            del settings[name]
    return json.loads(json.dumps(settings, default=str))


_LATER_DEFAULTS = {"scheme": "block", "cut": "uniform", "length_penalty": 0.0, "weight_decay": 0.0}


def _tensorboard(out: Path) -> Any:
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # tensorboard is optional: metrics.jsonl has everything
        return None
    return SummaryWriter(str(out / "tensorboard"))


def _scalars(writer: Any, row: dict[str, Any], step: int) -> None:
    if writer is None:
        return
    for key, value in row.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            writer.add_scalar(key, value, step)
