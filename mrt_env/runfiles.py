"""Run folders that survive a kill: JSONL rows written one at a time and read back after a
crash, a settings file that stops a resume under other settings, and checkpoints saved
atomically in a format that cannot run code when it is read (safetensors, with the state
that is not a tensor as JSON in its header)."""

from __future__ import annotations

import json
import os
import sys
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from mrt_env.errors import ArgumentTypeError, DataFormatError, RunStateError
from mrt_env.extras import require

__all__ = [
    "CHECKPOINT_FORMAT",
    "LOCK_FILE",
    "SETTINGS_FILE",
    "append_row",
    "changed_settings",
    "check_settings",
    "checkpoint_number",
    "load_checkpoint",
    "locked",
    "read_rows",
    "restore_optimizer",
    "restore_weights",
    "save_checkpoint",
    "write_text_atomic",
]

SETTINGS_FILE = "settings.json"
LOCK_FILE = ".lock"


def read_rows(path: Path, *, key: str, tool: str) -> list[dict[str, Any]]:
    """The rows already in ``path`` (each a JSON object with ``key``); [] if there is none.

    A torn last line (the run was killed mid-write) is cut off the file, so the next append
    starts on a clean line; a complete last row whose newline was not yet written gets it.
    Any other bad line means the file is not ``tool``'s: a :class:`DataFormatError`.
    """
    if not path.exists():
        return []
    data = path.read_bytes()
    rows: list[dict[str, Any]] = []
    lines = data.split(b"\n")  # the last item is b"" when the file ends with a newline
    for i, raw in enumerate(lines):
        if not raw.strip():
            continue
        try:
            row = json.loads(raw)
            if not isinstance(row, dict) or key not in row:
                raise DataFormatError("not a row")
        except ValueError:
            if i == len(lines) - 1:  # the last line, without its newline: torn by a kill
                print(f"note: dropping an incomplete last line of {path}", file=sys.stderr)
                with path.open("r+b") as f:
                    f.truncate(len(data) - len(raw))
                break
            raise DataFormatError(
                f"{path}:{i + 1}: not a row of {tool}; pass --overwrite or another --out"
            ) from None
        rows.append(row)
    else:
        if data and not data.endswith(b"\n"):  # complete last row, newline not yet written
            with path.open("ab") as f:
                f.write(b"\n")
    return rows


def append_row(f: IO[str], row: Mapping[str, Any]) -> None:
    """Append one row and make it durable before going on (a kill loses no finished row)."""
    f.write(json.dumps(row, ensure_ascii=False) + "\n")
    f.flush()
    os.fsync(f.fileno())


def changed_settings(before: Mapping[str, Any], after: Mapping[str, Any]) -> str:
    """The settings that differ, as ``name: old -> new, ...`` ('' when none do); nested
    groups are compared field by field (``model.name: ...``)."""

    def flat(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in d.items():
            if isinstance(v, Mapping):
                out |= flat(v, f"{prefix}{k}.")
            else:
                out[f"{prefix}{k}"] = v
        return out

    # Compared as they read back from JSON (tuples -> lists).
    a, b = flat(json.loads(json.dumps(before))), flat(json.loads(json.dumps(after)))
    changed = [k for k in sorted(set(a) | set(b)) if a.get(k) != b.get(k)]
    return ", ".join(f"{k}: {a.get(k)!r} -> {b.get(k)!r}" for k in changed)


def check_settings(out: Path, settings: Mapping[str, Any], *, resuming: bool) -> None:
    """Refuse to resume rows made under other ``settings``, naming them; then record the
    settings."""
    path = out / SETTINGS_FILE
    if resuming and path.exists():
        try:
            before = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            before = exc
        if not isinstance(before, dict):  # damaged, or not ours: say so, not a traceback
            what = before if isinstance(before, Exception) else f"a JSON {type(before).__name__}"
            raise RunStateError(
                f"{path} is not a settings file of this tool ({what}); pass --overwrite "
                "to start afresh or choose another --out"
            )
        if what := changed_settings(before, settings):
            raise RunStateError(
                f"{out} holds rows computed with other settings ({what}); "
                "pass --overwrite to start afresh or choose another --out"
            )
    text = json.dumps(json.loads(json.dumps(settings)), indent=2)
    write_text_atomic(path, text + "\n")  # a kill mid-write leaves the old file whole


@contextmanager
def locked(out: Path, tool: str) -> Iterator[None]:
    """Hold ``out`` for one run of ``tool``: a second run on the same folder is refused at
    once instead of interleaving its rows. The lock is the operating system's (``flock``),
    so a killed run leaves no stale lock. Where ``fcntl`` is missing (Windows) it is a no-op.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    out.mkdir(parents=True, exist_ok=True)
    with (out / LOCK_FILE).open("a+", encoding="utf-8") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise RunStateError(
                f"{out} is in use by another {tool} run ({holder}); wait for it to finish "
                "or choose another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}\n")
        handle.flush()
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def sibling_tmp(path: Path) -> Path:
    """Where to write ``path``'s next version before renaming it over ``path``: beside it
    (a rename within one folder is atomic) and named for this process, so two runs that
    write the same file (two experiments sharing an ``--out``) never rename each other's
    half-written file or find theirs gone."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_text_atomic(path: Path, text: str) -> None:
    """Write ``text`` beside ``path`` and rename it over ``path``: a kill at any moment
    leaves the old file or the new one, never half of one."""
    tmp = sibling_tmp(path)
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


# --------------------------------------------------------------------------------------------
# Checkpoints

CHECKPOINT_FORMAT = "mrt-env-checkpoint/1"
"""The ``format`` entry of a checkpoint's header (what :func:`load_checkpoint` reads)."""

# JSON objects with one of these keys stand for what JSON has no word for.
_TENSOR, _TUPLE, _DICT = "__tensor__", "__tuple__", "__dict__"


def save_checkpoint(state: Mapping[str, Any], path: Path) -> None:
    """Write ``state`` (nested dicts, lists and tuples of tensors, numbers, strings, booleans
    and None) to ``path`` as one safetensors file: the tensors as its tensors, the rest as
    JSON in its header. Reading it back (:func:`load_checkpoint`) runs no code, unlike a
    pickle. Written beside ``path``, synced, then renamed over it: a kill at any moment
    leaves the previous checkpoint or the new one, whole."""
    torch = require("torch", extra="hf", feature="checkpoints")
    from safetensors.torch import save_file

    tensors: dict[str, Any] = {}
    views: dict[tuple, str] = {}  # a tensor seen before (a tied weight) -> its stored name
    storages: set[tuple] = set()

    def tensor(value: Any, where: str) -> dict[str, str]:
        t = value.detach()
        if t.numel():
            storage = (t.device, t.untyped_storage().data_ptr())
            view = (*storage, t.storage_offset(), tuple(t.shape), t.stride(), t.dtype)
            if view in views:  # stored once, named twice
                return {_TENSOR: views[view]}
            # safetensors refuses two tensors over one memory: another view gets its own copy.
            t = t.clone() if storage in storages else t.contiguous()
            storages.add(storage)
            views[view] = where
        tensors[where] = t
        return {_TENSOR: where}

    def encode(value: Any, where: str) -> Any:
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, torch.Tensor):
            return tensor(value, where)
        if isinstance(value, tuple):
            return {_TUPLE: [encode(v, f"{where}/{i}") for i, v in enumerate(value)]}
        if isinstance(value, list):
            return [encode(v, f"{where}/{i}") for i, v in enumerate(value)]
        if isinstance(value, Mapping):
            plain = all(isinstance(k, str) for k in value) and not (
                len(value) == 1 and next(iter(value)) in (_TENSOR, _TUPLE, _DICT)
            )
            if plain:
                return {k: encode(v, f"{where}/{k}") for k, v in value.items()}
            pairs = [[encode(k, where), encode(v, f"{where}/{k}")] for k, v in value.items()]
            return {_DICT: pairs}
        raise ArgumentTypeError(
            f"a checkpoint holds tensors, numbers, strings, lists, tuples and dicts; "
            f"{where} is a {type(value).__name__}"
        )

    header = {"format": CHECKPOINT_FORMAT, "state": json.dumps(encode(dict(state), "state"))}
    tmp = sibling_tmp(path)
    save_file(tensors, tmp, metadata=header)
    with tmp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def load_checkpoint(path: Path, *, fix: str) -> dict[str, Any]:
    """The state :func:`save_checkpoint` wrote to ``path``, its tensors on the CPU.

    A file ``torch.save`` wrote (mrt-env's checkpoints before this format) is read with
    ``torch.load(weights_only=True)``: tensors and plain values only, never a pickled call.

    Raises:
        DataFormatError: one line naming ``path`` and ending with ``fix`` (how to go on):
            the file is empty, cut short or not a checkpoint, or it is a pickle that holds
            more than tensors and plain values (which could run code, so it is not read).
    """
    with path.open("rb") as f:
        head = f.read(9)
    # safetensors: the header's length (8 bytes) and the header's "{". torch.save writes a
    # zip archive (or, before torch 1.6, a bare pickle): never unpickled beyond torch's
    # allow-list of tensors and plain values.
    if head[8:] != b"{" and (head.startswith(b"PK\x03\x04") or head.startswith(b"\x80")):
        state = _load_torch_file(path, fix)
    else:
        try:
            state = _load_safetensors(path)
        except DataFormatError as exc:
            raise DataFormatError(f"{path}: {exc}; {fix}") from None
        except Exception as exc:  # noqa: BLE001 - safetensors and json raise many types
            raise DataFormatError(
                f"{path} is not a readable checkpoint ({_one_line(exc)}); {fix}"
            ) from None
    if not isinstance(state, dict):
        raise DataFormatError(f"{path} is not a checkpoint (no dict of state in it); {fix}")
    return state


def _load_safetensors(path: Path) -> Any:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt", device="cpu") as f:
        header = f.metadata() or {}
        if header.get("format") != CHECKPOINT_FORMAT:
            raise DataFormatError(f"not a checkpoint of mrt-env ({CHECKPOINT_FORMAT})")
        names = set(f.keys())

        def tensor(name: Any) -> Any:
            if name not in names:
                raise DataFormatError(f"its state names a tensor {name!r} the file lacks")
            return f.get_tensor(name)

        return _decode(json.loads(header["state"]), tensor)


def _decode(value: Any, tensor: Callable[[Any], Any]) -> Any:
    """What :func:`save_checkpoint`'s ``encode`` made of a value: data only, no code."""
    if isinstance(value, list):
        return [_decode(v, tensor) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1 and _TENSOR in value:
        return tensor(value[_TENSOR])
    if len(value) == 1 and _TUPLE in value:
        return tuple(_decode(v, tensor) for v in value[_TUPLE])
    if len(value) == 1 and _DICT in value:
        return {_decode(k, tensor): _decode(v, tensor) for k, v in value[_DICT]}
    return {k: _decode(v, tensor) for k, v in value.items()}


def _load_torch_file(path: Path, fix: str) -> Any:
    import pickle

    torch = require("torch", extra="hf", feature="checkpoints")
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols it reads anyway
            warnings.simplefilter("ignore")
            return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise DataFormatError(
            f"{path} is a pickle that holds more than tensors and plain values (an old "
            "checkpoint with other objects, or a file made to run code when it is loaded); "
            f"it was not loaded; {fix}"
        ) from None
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise DataFormatError(
            f"{path} is not a readable checkpoint ({_one_line(exc)}); {fix}"
        ) from None


def _one_line(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def checkpoint_number(
    state: Mapping[str, Any], key: str, path: Path, *, fix: str, low: int = 0
) -> int:
    """``state[key]``, an integer >= ``low``; else a :class:`DataFormatError` naming it."""
    value = state.get(key)
    if isinstance(value, int) and not isinstance(value, bool) and value >= low:
        return value
    raise DataFormatError(f"{path}: {key} must be an integer >= {low}, got {_brief(value)}; {fix}")


def _brief(value: Any) -> str:
    text = repr(value) if not hasattr(value, "shape") else f"a tensor of shape {list(value.shape)}"
    return text if len(text) <= 60 else text[:57] + "..."


def restore_weights(module: Any, weights: Any, path: Path, *, fix: str) -> None:
    """Load ``weights`` into ``module`` after checking they fit it (names, shapes) and are
    finite: a checkpoint of a diverged run is refused, not trained on."""
    torch = require("torch", extra="hf", feature="checkpoints")
    if not isinstance(weights, Mapping) or not all(
        isinstance(v, torch.Tensor) for v in weights.values()
    ):
        raise DataFormatError(f"{path}: its weights are not a mapping of tensors; {fix}")
    own = module.state_dict()
    missing = [k for k in own if k not in weights]
    unknown = [k for k in weights if k not in own]
    resized = [k for k in own if k in weights and weights[k].shape != own[k].shape]
    for what, names in (("lack", missing), ("have unknown", unknown), ("misshape", resized)):
        if names:
            more = f" and {len(names) - 1} more" if len(names) > 1 else ""
            raise DataFormatError(
                f"{path}: its weights {what} {names[0]}{more} for this model; {fix}"
            )
    _check_finite(weights.items(), path, "weights hold", fix)
    module.load_state_dict(weights)


def restore_optimizer(
    optimizer: Any,
    saved: Any,
    path: Path,
    *,
    fix: str,
    keys: tuple[str, ...] = ("step", "exp_avg", "exp_avg_sq"),
) -> None:
    """Load the per-parameter state of ``saved`` (an optimizer's ``state_dict()``) into
    ``optimizer``, after checking it: each entry holds ``keys`` (AdamW's by default), of
    its parameter's shape (``step``: one number), all finite.

    The hyperparameters (``param_groups``) stay ``optimizer``'s own: they come from the
    run's settings, which the caller has checked against the checkpoint's."""
    torch = require("torch", extra="hf", feature="checkpoints")
    params = [p for group in optimizer.param_groups for p in group["params"]]
    state = saved.get("state") if isinstance(saved, Mapping) else None
    if not isinstance(state, Mapping):
        raise DataFormatError(f"{path}: its optimizer state is missing; {fix}")
    for index, entry in state.items():
        where = f"optimizer state {index!r}"
        if not (isinstance(index, int) and 0 <= index < len(params)):
            raise DataFormatError(f"{path}: {where} is not one of {len(params)} parameters; {fix}")
        if not isinstance(entry, Mapping) or sorted(entry) != sorted(keys):
            got = sorted(entry) if isinstance(entry, Mapping) else _brief(entry)
            raise DataFormatError(f"{path}: {where} must hold {list(keys)}, got {got}; {fix}")
        for name, value in entry.items():
            shape = () if name == "step" else tuple(params[index].shape)
            if not isinstance(value, torch.Tensor) or tuple(value.shape) != shape:
                raise DataFormatError(
                    f"{path}: {where} {name} must be a tensor of shape {list(shape)}, "
                    f"got {_brief(value)}; {fix}"
                )
        _check_finite(((f"{where} {k}", v) for k, v in entry.items()), path, "optimizer holds", fix)
    optimizer.load_state_dict(
        {"state": dict(state), "param_groups": optimizer.state_dict()["param_groups"]}
    )


def _check_finite(named: Any, path: Path, what: str, fix: str) -> None:
    torch = require("torch", extra="hf", feature="checkpoints")
    for name, value in named:
        if value.is_floating_point() and not bool(torch.isfinite(value).all()):
            raise DataFormatError(
                f"{path}: its {what} NaN or infinite values ({name}): the run diverged "
                f"before this checkpoint, which is not trained on; {fix}"
            )
