"""The registry of problem sets and the order in which their data is looked for.

A registered set is either a :class:`Source` (declarative: file names, Hub copies, parts)
or a loader function of the user's. For a :class:`Source` the data is looked for in order:

1. ``path=``: a file (any name), or a folder holding one of the set's file names. An
   explicit path that holds nothing usable is an error at once: falling through to the
   network would hide a typo.
2. ``$MRT_ENV_DATA_DIR``: a folder holding the set's file names (``aime24.jsonl`` ...). A
   folder without the file falls through to the Hub, since one folder may hold only some sets.
3. The Hugging Face Hub, each :class:`HubSpec` in turn (see :mod:`mrt_env.data.hub`).

When all fail, :class:`~mrt_env.errors.DataNotFound` lists every place tried, one line
each with why it failed, and the exact ways to provide the data.
"""

from __future__ import annotations

import logging
import math
import os
import warnings
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from mrt_env.data.columns import ANSWER_COLUMNS, to_problems
from mrt_env.data.files import SUFFIXES, Rows, read_rows
from mrt_env.data.hub import HubSpec, load_from_hub
from mrt_env.errors import (
    ArgumentTypeError,
    ConfigError,
    DataFormatError,
    DataNotFound,
    DependencyNotInstalled,
    UnknownKey,
)
from mrt_env.grading.extract import find_boxed
from mrt_env.types import Problem

__all__ = [
    "DATA_DIR_ENV",
    "LoaderFn",
    "Source",
    "available_sources",
    "get_source",
    "load_source",
    "register_source",
]

DATA_DIR_ENV = "MRT_ENV_DATA_DIR"
"""The environment variable naming a folder of local copies."""

log = logging.getLogger("mrt_env.data")


class LoaderFn(Protocol):
    """A user's loader: called as ``loader(path=..., split=...)``.

    It returns Problems (used as they are) or row mappings (mapped like a file's rows, with
    ids ``name/<id or row index>``). ``path`` and ``split`` are what the caller of
    :func:`~mrt_env.data.load_problems` passed (``path`` as a ``Path``), or None.
    """

    def __call__(
        self, *, path: Path | None, split: str | None
    ) -> Iterable[Problem | Mapping[str, Any]]: ...


def _as_tuple(owner: str, name: str, value: Any, kind: type) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise ArgumentTypeError(
            f"{owner}.{name} must be a tuple of {kind.__name__}, got {value!r:.80}"
        )
    items = tuple(value)
    for item in items:
        if not isinstance(item, kind) or (isinstance(item, str) and not item):
            raise ArgumentTypeError(
                f"{owner}.{name} must hold non-empty {kind.__name__} values, got {item!r:.80}"
            )
    return items


@dataclass(frozen=True)
class Source:
    """A problem set described by where its data lives.

    Attributes:
        name: the name ``load_problems`` knows it by; ids are ``f"{name}/{raw id}"``.
        files: file names looked up in ``path=`` folders and in ``$MRT_ENV_DATA_DIR``
            (``name`` + any supported suffix is looked up too).
        hub: Hub copies, tried in order; empty when no verified copy exists.
        description: one line for listings; for sets without a Hub copy, say how to get it.
        parts: names of registered sets to concatenate instead (a composite set such as
            ``aime``); a composite has no files or hub of its own and ids keep each part's
            prefix.
        id_fields: columns joined with ``-`` into an id when rows have no id column.
        boxed_answer_in: for local files whose rows have no answer column: columns (in
            order) whose last ``\\boxed{...}`` is the answer (MinervaMATH's copies keep only
            the worked ``solution``). A row that has an answer column keeps it.
    """

    name: str
    files: tuple[str, ...] = ()
    hub: tuple[HubSpec, ...] = ()
    description: str = ""
    parts: tuple[str, ...] = ()
    id_fields: tuple[str, ...] = ()
    boxed_answer_in: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_name(self.name)
        for field_name, kind in (
            ("files", str),
            ("hub", HubSpec),
            ("parts", str),
            ("id_fields", str),
            ("boxed_answer_in", str),
        ):
            object.__setattr__(
                self, field_name, _as_tuple("Source", field_name, getattr(self, field_name), kind)
            )
        if not isinstance(self.description, str):
            raise ArgumentTypeError(
                f"Source.description must be a str, got {self.description!r:.80}"
            )
        if self.parts and (self.files or self.hub):
            raise ConfigError(f"Source {self.name!r}: a composite (parts=) has no files or hub")
        if not (self.parts or self.files or self.hub):
            raise ConfigError(f"Source {self.name!r} needs files, hub copies or parts")
        if self.name in self.parts:
            raise ConfigError(f"Source {self.name!r} cannot be one of its own parts")

    def file_names(self) -> tuple[str, ...]:
        """The names looked up in a folder: ``files``, then ``name`` with each suffix."""
        names = [*self.files, *(f"{self.name}{suffix}" for suffix in SUFFIXES)]
        return tuple(dict.fromkeys(names))


def _check_name(name: Any) -> None:
    if not isinstance(name, str) or not name.strip() or name != name.strip():
        raise ConfigError(f"a source name must be a non-empty str, no outer spaces, got {name!r}")


_REGISTRY: dict[str, Source | LoaderFn] = {}


def register_source(name: str, loader: Source | LoaderFn, *, replace: bool = False) -> None:
    """Make ``load_problems(name)`` load from ``loader``.

    ``loader`` is a :class:`Source` (its ``name`` must equal ``name``) or a function
    ``loader(*, path, split)`` returning Problems or row mappings (see :class:`LoaderFn`).
    Registering a taken name raises ``ValueError`` unless ``replace=True``, so a typo cannot
    silently shadow a built-in set.
    """
    _check_name(name)
    if isinstance(loader, Source):
        if loader.name != name:
            raise ConfigError(f"register_source({name!r}, ...) got a Source named {loader.name!r}")
    elif not callable(loader):
        raise ArgumentTypeError(
            f"loader must be a Source or a callable, got {type(loader).__name__}: {loader!r:.80}"
        )
    if name in _REGISTRY and not replace:
        raise ConfigError(
            f"a problem source named {name!r} exists; pass replace=True to replace it"
        )
    _REGISTRY[name] = loader


def get_source(name: str) -> Source | LoaderFn | None:
    """The registered Source or loader called ``name``, or None."""
    return _REGISTRY.get(name)


def available_sources() -> dict[str, str]:
    """Registered names with their one-line descriptions, built-in sets first."""
    out: dict[str, str] = {}
    for name, entry in _REGISTRY.items():
        if isinstance(entry, Source):
            out[name] = entry.description
        else:
            doc = (getattr(entry, "__doc__", None) or "").strip()
            out[name] = doc.splitlines()[0] if doc else "user loader"
    return out


def load_source(name: str, *, path: Path | None = None, split: str | None = None) -> list[Problem]:
    """Load the registered set ``name`` (see the module docstring for the order)."""
    entry = _REGISTRY.get(name)
    if entry is None:
        raise UnknownKey(f"unknown problem set {name!r}; registered sets: {', '.join(_REGISTRY)}")
    if not isinstance(entry, Source):
        return _from_loader(name, entry, path=path, split=split)
    if entry.parts and not (path is not None and path.is_file()):
        problems = [p for part in entry.parts for p in load_source(part, path=path, split=split)]
        _check_unique_ids(name, problems)
        return problems
    return _from_source(entry, path=path, split=split)


def load_file(
    file: Path,
    *,
    name: str,
    id_fields: Sequence[str] = (),
    boxed_answer_in: Sequence[str] = (),
) -> list[Problem]:
    """Load one local file as the set ``name`` (see :class:`Source` for the options)."""
    rows = _with_boxed_answers(read_rows(file), boxed_answer_in)
    problems = to_problems(rows, source=name, id_fields=id_fields)
    log.info("%s: %d problems from %s", name, len(problems), file)
    return problems


def _load_source_file(file: Path, source: Source) -> list[Problem]:
    return load_file(
        file,
        name=source.name,
        id_fields=source.id_fields,
        boxed_answer_in=source.boxed_answer_in,
    )


def _with_boxed_answers(rows: Rows, columns: Sequence[str]) -> Rows:
    """``rows`` with an ``answer`` taken from the last ``\\boxed{...}`` of ``columns``.

    Only rows without a filled answer column (see
    :data:`~mrt_env.data.columns.ANSWER_COLUMNS`) get one; the first of ``columns`` holding
    a complete, non-empty box wins (braces balanced, as the grader extracts a model's box).

    Raises:
        DataFormatError: a row has no answer column and no box in any of ``columns``.
    """
    if not columns:
        return rows
    records = []
    for record, label in zip(rows.records, rows.labels, strict=True):
        if any(_filled(record.get(c)) for c in ANSWER_COLUMNS):
            records.append(record)
            continue
        answer = next(
            (
                boxed
                for c in columns
                if isinstance(record.get(c), str) and (boxed := find_boxed(record[c])) is not None
            ),
            None,
        )
        if answer is None:
            raise DataFormatError(
                f"{rows.origin}, {label}: no answer (no column {', '.join(ANSWER_COLUMNS)}, "
                f"and no \\boxed{{...}} in column {' or '.join(map(repr, columns))})"
            )
        records.append({**record, "answer": answer})
    return Rows(rows.origin, tuple(records), rows.labels)


def _filled(value: Any) -> bool:
    """Not None, NaN (what pandas and CSV tools write for empty) or a blank string."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return False
    return not (isinstance(value, str) and not value.strip())


def _from_loader(
    name: str, loader: LoaderFn, *, path: Path | None, split: str | None
) -> list[Problem]:
    items = list(loader(path=path, split=split))
    origin = f"source {name!r} ({getattr(loader, '__qualname__', type(loader).__name__)})"
    if not items:
        raise DataFormatError(f"{origin}: the loader returned no problems")
    if all(isinstance(item, Problem) for item in items):
        _check_unique_ids(name, items)
        return items
    if all(isinstance(item, Mapping) for item in items):
        return to_problems(Rows.indexed(origin, [dict(i) for i in items]), source=name)
    kinds = sorted({type(item).__name__ for item in items})
    raise DataFormatError(f"{origin}: expected Problems or mappings, got {', '.join(kinds)}")


def _check_unique_ids(name: str, problems: Sequence[Problem]) -> None:
    counts = Counter(p.id for p in problems)
    duplicated = [pid for pid, n in counts.items() if n > 1]
    if duplicated:
        raise DataFormatError(
            f"source {name!r}: duplicate ids {sorted(duplicated)[:5]}; ids must be unique"
        )


def _from_source(source: Source, *, path: Path | None, split: str | None) -> list[Problem]:
    if path is not None:
        return _from_path(source, path, split)
    tried = ["path=: not given"]
    env = os.environ.get(DATA_DIR_ENV, "")
    if not env:
        tried.append(f"{DATA_DIR_ENV}: not set")
    else:
        folder = Path(env).expanduser()
        if not folder.is_dir():
            tried.append(f"{DATA_DIR_ENV}={env}: not a folder")
            warnings.warn(f"{DATA_DIR_ENV}={env} is not a folder; ignoring it", stacklevel=4)
        else:
            file = _named_file(folder, source)
            if file is not None:
                return _load_source_file(file, source)
            first, *others = source.file_names()
            tried.append(
                f"{DATA_DIR_ENV}: no file {first} in {folder} (also looked for {', '.join(others)})"
            )
    cause: BaseException | None = None
    if not source.hub:
        tried.append("hub: no verified copy of this set on the Hugging Face Hub")
    for spec in source.hub:
        try:
            return load_from_hub(spec, source=source.name, split=split, id_fields=source.id_fields)
        except DataNotFound as exc:
            tried.append(str(exc))
            cause = exc
        except DependencyNotInstalled as exc:
            tried.append(f"{spec.describe(split)}: {exc}")
            cause = exc
            break
    raise DataNotFound(_not_found_message(source, tried)) from cause


def _named_file(folder: Path, source: Source) -> Path | None:
    for name in source.file_names():
        if (folder / name).is_file():
            return folder / name
    return None


def _split_files(folder: Path, split: str) -> list[Path]:
    """Files of one split in a Hub-style folder.

    ``test.jsonl`` or ``data/train-00000-of-00001.parquet``: what ``hf download`` writes.
    """
    found: list[Path] = []
    for base in (folder, folder / "data"):
        if not base.is_dir():
            continue
        for file in sorted(base.iterdir()):
            suffix = file.suffix.lower()
            stem = file.name[: -len(suffix)] if suffix else file.name
            if (
                file.is_file()
                and suffix in SUFFIXES
                and (stem == split or stem.startswith(f"{split}-"))
            ):
                found.append(file)
        if found:
            break
    return found


def _from_path(source: Source, path: Path, split: str | None) -> list[Problem]:
    """Read an explicit ``path=``; nothing usable there is an error, never a fall-through."""
    if path.is_file():
        return _load_source_file(path, source)
    if not path.is_dir():
        raise DataNotFound(f"path={path}: no such file or folder (while loading {source.name!r})")
    file = _named_file(path, source)
    if file is not None:
        return _load_source_file(file, source)
    split = split or (source.hub[0].split if source.hub else None)
    shards = _split_files(path, split) if split else []
    if not shards:
        looked = ", ".join(source.file_names())
        if split:
            looked += f", or {split}.* / {split}-*.* (also under data/)"
        raise DataNotFound(
            f"path={path}: no data for {source.name!r} in this folder (looked for {looked}; "
            f"supported formats: {', '.join(SUFFIXES)})"
        )
    if len(shards) == 1:
        return _load_source_file(shards[0], source)
    parts = [_with_boxed_answers(read_rows(file), source.boxed_answer_in) for file in shards]
    rows = Rows(
        origin=str(path),
        records=tuple(r for part in parts for r in part.records),
        labels=tuple(
            f"{Path(part.origin).name}, {label}" for part in parts for label in part.labels
        ),
    )
    problems = to_problems(rows, source=source.name, id_fields=source.id_fields)
    log.info("%s: %d problems from %d files in %s", source.name, len(problems), len(parts), path)
    return problems


def _not_found_message(source: Source, tried: Sequence[str]) -> str:
    about = f" ({source.description})" if source.description else ""
    first = source.files[0] if source.files else f"{source.name}.jsonl"
    lines = [f"Could not load the problem set {source.name!r}{about}.", "Tried, in order:"]
    lines += [f"  - {line}" for line in tried]
    lines += [
        "Provide the data in one of these ways:",
        f'  - load_problems("{source.name}", path="/path/to/{first}")'
        "   (a JSONL, JSON, Parquet or CSV file, or a folder holding it)",
        f"  - export {DATA_DIR_ENV}=/path/to/folder   (a folder holding {first})",
    ]
    for spec in source.hub:
        args = f"--repo-type dataset {spec.repo}"
        if spec.revision:
            args += f" --revision {spec.revision}"
        lines += [
            f"  - hf download {args} --local-dir /path/to/folder"
            f'   then load_problems("{source.name}", path="/path/to/folder")',
            f"    (with huggingface_hub < 1.0: huggingface-cli download {args}"
            " --local-dir /path/to/folder)",
        ]
    if source.hub:
        lines.append(
            "  - or load it once with network access: datasets caches it and later loads "
            "work offline too"
        )
    return "\n".join(lines)


def _register_builtins() -> None:
    builtins = (
        Source(
            "aime24",
            files=("aime24.jsonl",),
            hub=(HubSpec("HuggingFaceH4/aime_2024", split="train"),),
            description="AIME 2024 I and II, 30 problems",
        ),
        Source(
            "aime25",
            files=("aime25.jsonl",),
            hub=(HubSpec("math-ai/aime25", split="test"),),
            description="AIME 2025 I and II, 30 problems",
        ),
        Source(
            "aime",
            parts=("aime24", "aime25"),
            description="AIME 2024 and 2025 together, 60 problems",
        ),
        Source(
            "amc23",
            files=("amc23.jsonl",),
            hub=(HubSpec("math-ai/amc23", split="test"),),
            description="AMC 2023, 40 problems",
        ),
        Source(
            "math500",
            files=("math_500.jsonl",),
            hub=(HubSpec("HuggingFaceH4/MATH-500", split="test"),),
            description="MATH-500, 500 problems",
        ),
        Source(
            "minerva",
            files=("minerva_math.jsonl",),
            hub=(HubSpec("math-ai/minervamath", split="test"),),
            id_fields=("idx",),
            boxed_answer_in=("solution",),
            description=(
                "MinervaMATH, 272 MIT OpenCourseWare science problems (answers with units, "
                "scientific notation, formulas)"
            ),
        ),
        Source(
            "aime_1983_2023",
            files=("aime_1983_2023.json",),
            id_fields=("year", "aime_number", "problem_number"),
            description=(
                "AIME 1983-2023, 975 problems, a training pool; get deepscaler/data/train/"
                "aime.json from https://github.com/agentica-project/deepscaler"
            ),
        ),
    )
    for source in builtins:
        register_source(source.name, source)


_register_builtins()
