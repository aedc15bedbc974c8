"""Turn table rows into :class:`~mrt_env.types.Problem` objects.

Benchmark copies disagree on column names (``problem`` / ``question`` / ``Problem``), on
answer types (``"204"``, ``204``, ``27.0``, ``"27.0"``) and on ids (an ``id`` column, a
``unique_id`` path, nothing at all). This module is the one place that knows those layouts,
so that a file from any copy and the Hub's version of the same set give the same answers.

A row without a question or an answer is an error that names the file and row: silently
dropping it would change a benchmark's size and every score computed on it.
"""

from __future__ import annotations

import math
import numbers
import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from mrt_env.data.files import Rows
from mrt_env.errors import ArgumentTypeError, DataFormatError
from mrt_env.types import Problem

__all__ = [
    "ANSWER_COLUMNS",
    "ID_COLUMNS",
    "QUESTION_COLUMNS",
    "answer_text",
    "to_problems",
]

QUESTION_COLUMNS: tuple[str, ...] = ("problem", "question", "Problem", "Question", "prompt")
"""Columns that may hold the question, in order of preference (the first filled one wins)."""
ANSWER_COLUMNS: tuple[str, ...] = ("answer", "Answer", "final_answer", "gold")
"""Columns that may hold the gold answer, in order of preference."""
ID_COLUMNS: tuple[str, ...] = ("id", "unique_id", "ID", "problem_id")
"""Columns that may hold a row's own id, in order of preference."""

_INTEGRAL_FLOAT = re.compile(r"([+-]?)(\d+)\.0*")


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):  # pandas/CSV tools write NaN for empty
        return True
    return isinstance(value, str) and not value.strip()


def answer_text(value: Any) -> tuple[str, bool]:
    """Return ``(answer as a string, whether a float form was rewritten)``.

    Integers become their decimal digits; an integral float or float string (``27.0``,
    ``"27.0"``) becomes ``"27"`` because AMC copies store integer answers as floats and the
    grader, rightly, treats ``27.0`` and ``27`` alike but a reader of the data should not
    have to; other strings are stripped and otherwise kept (``"025"`` stays ``"025"``).

    Raises:
        TypeError: a value that is not a number or a string (a list, a bool, ...).
        ValueError: a missing value, NaN or infinity.
    """
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Number)):
        raise ArgumentTypeError(
            f"an answer must be a string or a number, got {type(value).__name__}"
        )
    if _missing(value):
        raise DataFormatError("the answer is empty")
    if isinstance(value, numbers.Integral):
        return str(int(value)), False
    if isinstance(value, str):
        text = value.strip()
        match = _INTEGRAL_FLOAT.fullmatch(text)
        if match is None:
            return text, False
        sign = "-" if match.group(1) == "-" and int(match.group(2)) else ""
        return sign + str(int(match.group(2))), True
    number = float(value)  # type: ignore[arg-type]  # numbers.Real, Decimal, numpy floats
    if not math.isfinite(number):
        raise DataFormatError(f"the answer is {number}")
    if number.is_integer():
        return str(int(number)), True
    return str(value), False


def _id_text(value: Any) -> str:
    if isinstance(value, float) and value.is_integer():  # ids read back from CSV/pandas
        return str(int(value))
    return str(value).strip()


def _pick(record: Mapping[str, Any], columns: Sequence[str]) -> tuple[str | None, Any]:
    for column in columns:
        if column in record and not _missing(record[column]):
            return column, record[column]
    return None, None


def _id_scheme(
    records: Sequence[Mapping[str, Any]], id_fields: Sequence[str]
) -> str | tuple[str, ...] | None:
    """The id column every row fills, else ``id_fields`` if every row fills them, else None.

    Chosen for the whole table, never per row, so that two schemes cannot collide and the
    same file always gets the same ids.
    """
    for column in ID_COLUMNS:
        if all(column in r and not _missing(r[column]) for r in records):
            return column
    if id_fields and all(all(f in r and not _missing(r[f]) for f in id_fields) for r in records):
        return tuple(id_fields)
    return None


def to_problems(rows: Rows, *, source: str, id_fields: Sequence[str] = ()) -> list[Problem]:
    """Map every row of ``rows`` to a Problem of ``source``; see the module docstring.

    Ids are ``f"{source}/{raw}"`` where raw is the row's id column (``id``, ``unique_id``,
    ``ID``, ``problem_id``) when every row has one, else the ``id_fields`` joined with
    ``-``, else the 0-based row index. Columns other than the chosen question and answer
    go into ``metadata``; a rewritten float answer keeps its original in
    ``metadata["raw_answer"]``.

    Raises:
        DataFormatError: a row lacks a question or an answer, holds one of the wrong type,
            or two rows get the same id; the message names ``rows.origin`` and the row.
    """
    scheme = _id_scheme(rows.records, id_fields)
    problems: list[Problem] = []
    for index, (record, label) in enumerate(zip(rows.records, rows.labels, strict=True)):
        where = f"{rows.origin}, {label}"
        has = ", ".join(map(str, record)) or "none"
        q_col, question = _pick(record, QUESTION_COLUMNS)
        if q_col is None:
            raise DataFormatError(
                f"{where}: no question (looked for columns {', '.join(QUESTION_COLUMNS)}; "
                f"the row has columns: {has})"
            )
        if not isinstance(question, str):
            raise DataFormatError(
                f"{where}: column {q_col!r} must hold text, got {type(question).__name__}"
            )
        a_col, raw_answer = _pick(record, ANSWER_COLUMNS)
        if a_col is None:
            raise DataFormatError(
                f"{where}: no answer (looked for columns {', '.join(ANSWER_COLUMNS)}; "
                f"the row has columns: {has})"
            )
        try:
            answer, rewritten = answer_text(raw_answer)
        except (TypeError, ValueError) as exc:
            raise DataFormatError(f"{where}: bad answer in column {a_col!r}: {exc}") from exc
        if scheme is None:
            raw_id = str(index)
        elif isinstance(scheme, str):
            raw_id = _id_text(record[scheme])
        else:
            raw_id = "-".join(_id_text(record[f]) for f in scheme)
        metadata = {k: v for k, v in record.items() if k not in (q_col, a_col)}
        if rewritten:
            metadata["raw_answer"] = raw_answer
        problems.append(
            Problem(
                id=f"{source}/{raw_id}",
                question=question.strip(),
                answer=answer,
                source=source,
                metadata=metadata,
            )
        )
    _check_unique(problems, rows)
    return problems


def _check_unique(problems: Sequence[Problem], rows: Rows) -> None:
    where: defaultdict[str, list[str]] = defaultdict(list)
    for problem, label in zip(problems, rows.labels, strict=True):
        where[problem.id].append(label)
    duplicated = {pid: labels for pid, labels in where.items() if len(labels) > 1}
    if duplicated:
        shown = "; ".join(
            f"{pid!r} at {', '.join(labels)}" for pid, labels in list(duplicated.items())[:5]
        )
        more = f" (and {len(duplicated) - 5} more)" if len(duplicated) > 5 else ""
        raise DataFormatError(
            f"{rows.origin}: {len(duplicated)} duplicate id(s): {shown}{more}; "
            "ids must be unique within a set"
        )
