"""Problem sets: AIME 2024/2025, AMC 2023, MATH-500, an AIME training pool, and your own.

>>> from mrt_env.data import load_problems
>>> problems = load_problems("aime24")  # doctest: +SKIP
>>> problems[0].id, problems[0].answer  # doctest: +SKIP
('aime24/60', '204')

Data comes from, in order: ``path=`` (a file or a folder), the folder named by
``$MRT_ENV_DATA_DIR``, then the Hugging Face Hub through ``datasets`` (cached the usual
way). Any JSONL/JSON/Parquet/CSV file with question and answer columns loads out of the
box: ``load_problems("my_set.jsonl")``. Add a set with :func:`register_source`.

Importing this package imports neither ``datasets`` nor ``pyarrow`` nor ``torch``; they are
imported when a Hub or Parquet load needs them.
"""

from __future__ import annotations

import os
from pathlib import Path

from mrt_env.data.files import SUFFIXES
from mrt_env.data.hub import HubSpec
from mrt_env.data.sources import (
    DATA_DIR_ENV,
    LoaderFn,
    Source,
    available_sources,
    get_source,
    load_file,
    load_source,
    register_source,
)
from mrt_env.data.synthetic.sources import register_synthetic_sources
from mrt_env.errors import ArgumentTypeError, ConfigError, DataNotFound
from mrt_env.types import Problem

register_synthetic_sources()

__all__ = [
    "DATA_DIR_ENV",
    "HubSpec",
    "LoaderFn",
    "Source",
    "available_sources",
    "load_problems",
    "register_source",
]


def load_problems(
    name: str | os.PathLike[str],
    *,
    path: str | os.PathLike[str] | None = None,
    split: str | None = None,
    limit: int | None = None,
) -> list[Problem]:
    """Load the problem set ``name`` as a list of :class:`~mrt_env.types.Problem`.

    Args:
        name: a registered set (``aime24``, ``aime25``, ``aime``, ``amc23``, ``math500``,
            ``minerva``, ``aime_1983_2023``, or one added with :func:`register_source`), or
            the path of a JSONL/JSON/Parquet/CSV file, which loads as the set named by the
            file's stem.
            With ``path=`` given, an unregistered name simply names the set.
        path: a local file (any name), or a folder holding the set's file (``aime24.jsonl``
            ...). In a folder without such a file, the files of one split are used: the
            ``split`` argument's, else the Hub copy's (``test.jsonl``,
            ``data/train-00000-of-00001.parquet``: the layout ``hf download --local-dir``
            writes); several shards are read in name order. An explicit path holding
            nothing usable is an error; the other sources are not tried then. For a
            composite set (``aime``) a folder is searched for each part's file, while a
            file is read as the whole set (ids ``aime/...``).
        split: the Hub split to load instead of the set's usual one. Local files hold one
            split each, so it is ignored for them, except to pick split files in a folder
            given as ``path=`` (see above).
        limit: keep only the first ``limit`` problems (after loading and, for ``aime``,
            concatenating).

    Ids are ``"<set>/<raw id>"``, unique, and the same for the same file every time.

    Raises:
        ConfigError: (a ``ValueError``) an unknown name that is not a file (the message
            lists the known names), or a bad ``limit`` (not a positive int) or an empty
            ``name``/``split``.
        ArgumentTypeError: (a ``TypeError``) ``name``, ``path`` or ``split`` of the wrong
            type.
        DataNotFound: no source holds the data; the message lists each place tried and
            why it failed, and the exact ways to provide the data.
        DataFormatError: a file or row is malformed (no question, no answer, duplicate
            ids, ...); the message names the file and row.
    """
    if isinstance(name, os.PathLike):
        name = os.fspath(name)
    if not isinstance(name, str):
        raise ArgumentTypeError(f"name must be a str (a set's name or a file), got {name!r:.80}")
    if not name.strip():
        raise ConfigError("name must be a set's name or a file, got an empty string")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive int or None, got {limit!r}")
    if split is not None and not isinstance(split, str):
        raise ArgumentTypeError(f"split must be a str or None, got {split!r:.80}")
    if split is not None and not split.strip():
        raise ConfigError("split must be a split's name, got an empty string")
    local = None if path is None else Path(os.fspath(path)).expanduser()

    if get_source(name) is not None:
        problems = load_source(name, path=local, split=split)
    elif local is not None:
        problems = _load_unregistered(name, local)
    elif Path(name).expanduser().is_file():
        file = Path(name).expanduser()
        problems = load_file(file, name=file.stem)
    elif Path(name).expanduser().is_dir():
        raise DataNotFound(
            f"{name} is a folder, not a file or a set's name; to load a set from a folder, "
            f"name the set and give the folder as path= (mrt-data NAME --path {name})"
        )
    elif name.lower().endswith(SUFFIXES) or "/" in name or os.sep in name:
        raise DataNotFound(f"{name}: no such file (and not the name of a problem set)")
    else:
        known = ", ".join(available_sources())
        raise ConfigError(
            f"unknown problem set {name!r}; known sets: {known}. "
            "A path to a .jsonl, .json, .parquet or .csv file works too, "
            "and register_source() adds a set."
        )
    return problems[:limit] if limit is not None else problems


def _load_unregistered(name: str, path: Path) -> list[Problem]:
    """An unregistered ``name`` with ``path=``: the file at ``path`` is the set ``name``."""
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        raise DataNotFound(
            f"path={path} {what}; {name!r} is not a registered set, so path= must be a file "
            f"(registered sets: {', '.join(available_sources())})"
        )
    return load_file(path, name=name)
