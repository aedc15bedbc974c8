"""Read the rows of one local data file: JSONL, JSON, Parquet or CSV.

This module knows file formats and nothing about problems: it returns plain dicts, each
with a label ("line 12", "row 3") so that whoever maps columns can name the exact place of a
bad row. Every failure names the file; a malformed JSONL line is named by its line number.
Parquet needs pyarrow, imported only when a Parquet file is read.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mrt_env.errors import ConfigError, DataFormatError, DataNotFound
from mrt_env.extras import require

__all__ = ["SUFFIXES", "Rows", "json_value", "lone_surrogate", "read_rows"]

SUFFIXES: tuple[str, ...] = (".jsonl", ".json", ".parquet", ".csv")
"""The file suffixes :func:`read_rows` understands (``.ndjson`` is read as JSONL too)."""


@dataclass(frozen=True)
class Rows:
    """The records of one table and where each came from.

    Attributes:
        origin: the file path (or a Hub description) that error messages name.
        records: one dict per row, columns as keys, values as the format decoded them.
        labels: for each record, where it is inside ``origin`` ("line 7", "row 3 (0-based)").
    """

    origin: str
    records: tuple[dict[str, Any], ...]
    labels: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.records) != len(self.labels):
            raise ConfigError(
                f"Rows needs one label per record, got {len(self.records)} records "
                f"and {len(self.labels)} labels"
            )

    @classmethod
    def indexed(cls, origin: str, records: list[dict[str, Any]]) -> Rows:
        """Rows labelled by their 0-based position (for formats without line numbers)."""
        labels = tuple(f"row {i} (0-based)" for i in range(len(records)))
        return cls(origin, tuple(records), labels)


def read_rows(path: str | Path) -> Rows:
    """Read every row of the file at ``path``; the format follows the file's suffix.

    Raises:
        DataNotFound: the file does not exist.
        DataFormatError: the file is empty, cannot be decoded, has an unknown suffix, or a
            row is not a JSON object; the message names the file (and the line or row).
    """
    file = Path(path)
    if not file.is_file():
        what = "is a folder, not a file" if file.is_dir() else "does not exist"
        raise DataNotFound(f"{file}: {what}")
    suffix = file.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        rows = _read_jsonl(file)
    elif suffix == ".json":
        rows = _read_json(file)
    elif suffix == ".parquet":
        rows = _read_parquet(file)
    elif suffix == ".csv":
        rows = _read_csv(file)
    else:
        raise DataFormatError(
            f"{file}: unsupported file type {file.suffix!r}; use one of {', '.join(SUFFIXES)}"
        )
    if not rows.records:
        raise DataFormatError(f"{file}: the file holds no rows")
    return rows


def _object(value: Any, file: Path, label: str) -> dict[str, Any]:
    if not isinstance(value, Mapping):
        raise DataFormatError(
            f"{file}, {label}: expected a JSON object with question and answer fields, "
            f"got {type(value).__name__}: {value!r:.80}"
        )
    if (where := lone_surrogate(value)) is not None:
        raise DataFormatError(
            f"{file}, {label}: {where} holds a lone surrogate escape (such as \\ud800), "
            "which is not text; fix or drop that escape"
        )
    return dict(value)


def _text(file: Path) -> str:
    """The file as text (UTF-8, a byte-order mark allowed); a DataFormatError naming the
    line and byte offset of the first byte that is not UTF-8."""
    data = file.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DataFormatError(
            f"{file}, line {line} (byte {exc.start}): not UTF-8 text "
            f"({data[exc.start : exc.start + 1]!r}); save the file as UTF-8"
        ) from None


def _loads(text: str, file: Path, label: str) -> Any:
    return json_value(text, f"{file}, {label}")


def _int(digits: str) -> int | str:
    # Python reads at most sys.get_int_max_str_digits() (4300) digits into an int; a longer
    # integer is kept as its digits (a string), not lost and not a traceback.
    try:
        return int(digits)
    except ValueError:
        return digits


def json_value(text: str, where: str) -> Any:
    """``json.loads`` for data files: an integer too long for ``int()`` stays a string of
    its digits, and a value nested too deeply to parse (the parser recurses) is a
    :class:`DataFormatError` starting with ``where``. Malformed JSON is a
    ``json.JSONDecodeError``, for the caller to word."""
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError:
        raise DataFormatError(f"{where}: a JSON value nested too deeply to read") from None


_SURROGATE = re.compile("[\ud800-\udfff]")


def lone_surrogate(value: Any, name: str = "") -> str | None:
    """Where in a decoded JSON ``value`` a string holds a lone surrogate (JSON's
    ``"\\ud800"`` escape decodes to one; it cannot be encoded as UTF-8, so a tokenizer, a
    file write or a print fails on it later): ``'question'``, ``'meta'[2]``, ...; None when
    no string does. Pairs of escapes that make one character decode to that character."""
    stack: list[tuple[str, Any]] = [(name, value)]
    while stack:  # depth first, in the file's order; no recursion (values nest deeply)
        here, item = stack.pop()
        if isinstance(item, str):
            if _SURROGATE.search(item):
                return here or "the value"
        elif isinstance(item, Mapping):
            for key in item:
                if isinstance(key, str) and _SURROGATE.search(key):
                    return f"a key of {here or 'the object'}"
            named = [(f"{here}[{k!r}]" if here else repr(k), v) for k, v in item.items()]
            stack.extend(reversed(named))
        elif isinstance(item, list):
            stack.extend(reversed([(f"{here}[{i}]", v) for i, v in enumerate(item)]))
    return None


def _read_jsonl(file: Path) -> Rows:
    records: list[dict[str, Any]] = []
    labels: list[str] = []
    for number, line in enumerate(_text(file).split("\n"), start=1):
        if not line.strip():
            continue
        label = f"line {number}"
        try:
            value = _loads(line, file, label)
        except json.JSONDecodeError as exc:
            raise DataFormatError(f"{file}, {label}: not valid JSON ({exc.msg})") from exc
        records.append(_object(value, file, label))
        labels.append(label)
    return Rows(str(file), tuple(records), tuple(labels))


def _read_json(file: Path) -> Rows:
    """A JSON list of objects, ``{"data": [...]}``-style wrappers, or JSON lines named .json."""
    text = _text(file)
    if not text.strip():
        return Rows(str(file), (), ())
    try:
        value = _loads(text, file, "the document")
    except json.JSONDecodeError as exc:
        if exc.msg == "Extra data":  # several top-level values: JSON lines under a .json name
            return _read_jsonl(file)
        raise DataFormatError(
            f"{file}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})"
        ) from exc
    if isinstance(value, Mapping):
        lists = [v for v in value.values() if isinstance(v, list)]
        if len(value) == 1 and len(lists) == 1:
            value = lists[0]
        else:
            raise DataFormatError(
                f"{file}: expected a JSON list of objects (or one key holding such a list), "
                f"got an object with keys {sorted(value)[:10]}"
            )
    if not isinstance(value, list):
        raise DataFormatError(
            f"{file}: expected a JSON list of objects, got {type(value).__name__}"
        )
    records = [_object(item, file, f"row {i} (0-based)") for i, item in enumerate(value)]
    return Rows.indexed(str(file), records)


def _read_parquet(file: Path) -> Rows:
    parquet = require("pyarrow.parquet", extra="hf", feature="reading Parquet files")
    try:
        table = parquet.read_table(file)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise DataFormatError(f"{file}: not a readable Parquet file ({exc})") from exc
    return Rows.indexed(str(file), table.to_pylist())


def _read_csv(file: Path) -> Rows:
    """CSV with a header row; every value is a string and an empty cell means no value."""
    records: list[dict[str, Any]] = []
    labels: list[str] = []
    with io.StringIO(_text(file), newline="") as handle:
        reader = csv.DictReader(handle)
        start = 2  # line 1 is the header
        try:
            for row in reader:
                if None in row:  # DictReader files surplus cells under the key None
                    raise DataFormatError(
                        f"{file}, line {start}: more cells than the header has columns"
                    )
                cells = {k: (v if v != "" else None) for k, v in row.items()}
                records.append(cells)
                labels.append(f"line {start}")
                start = reader.line_num + 1
        except csv.Error as exc:
            raise DataFormatError(f"{file}, line {reader.line_num}: bad CSV ({exc})") from exc
    return Rows(str(file), tuple(records), tuple(labels))
