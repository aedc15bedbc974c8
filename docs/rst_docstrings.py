"""A griffe extension for the API reference: our docstrings' reStructuredText, as Markdown.

The docstrings are written to read well in ``help()`` and in an editor, so they use a few
reStructuredText habits that Markdown renders badly: Sphinx roles (``:class:`X```, also
split over two lines), simple tables (``====  ====`` rules), ``>>>`` examples (Markdown
reads ``>`` as a quote, and ``<think>`` in them as an HTML tag) and ``::`` before a literal
block. mkdocstrings renders docstrings as Markdown, so this extension rewrites those four
forms before the docstrings are parsed; nothing in the package changes. mkdocs.yml loads
it. Math is written ``$...$`` in docstrings and pages alike (pymdownx.arithmatex).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

# :class:`~mrt_env.envs.ReasoningEnv`, :func:`.play`, :meth:`Agent.act` ... A target may
# be wrapped onto the next line (``:class:`~mrt_env.agents.`` / ``BudgetForcingExtend```).
ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const):`([^`]+)`")
RULE = re.compile(r"^(\s*)(=+)((?:\s+=+)+)\s*$")  # a simple table's border: "====  ===="


def role_to_code(match: re.Match[str]) -> str:
    """``:class:`~a.b.C``` becomes ```C```; without ``~`` the name is kept as written."""
    target = "".join(match.group(1).split())  # a target wrapped over two lines is one name
    if target.startswith("~"):
        target = target[1:].rsplit(".", 1)[-1]
    return f"`{target.lstrip('.')}`"


def table_to_markdown(lines: list[str], start: int) -> tuple[list[str], int] | None:
    """The simple table whose top border is ``lines[start]``, as Markdown rows, and the
    index after its bottom border; None when the lines there are not such a table."""
    border = RULE.match(lines[start])
    if border is None:
        return None
    indent = border.group(1)
    spans = [m.span() for m in re.finditer(r"=+", lines[start])]
    rules = [i for i in range(start, len(lines)) if lines[i].strip() == lines[start].strip()]
    if len(rules) < 3 or rules[1] != start + 2:  # top border, one header row, border, ..., end
        return None
    end = rules[2]

    def cells(line: str) -> list[str]:
        # Columns are two or more spaces apart; a name that overruns its rule (a role is
        # longer than the name it shows) still ends at such a gap.
        parts = re.split(r"\s{2,}", line.strip(), maxsplit=len(spans) - 1)
        if len(parts) == len(spans):
            return [ROLE.sub(role_to_code, part) for part in parts]
        bounds = [a for a, _ in spans[1:]] + [len(line)]
        return [
            ROLE.sub(role_to_code, line[a:b].strip())
            for (a, _), b in zip(spans, bounds, strict=True)
        ]

    rows = [cells(lines[start + 1])] + [cells(line) for line in lines[start + 3 : end]]
    markdown = [indent + "| " + " | ".join(rows[0]) + " |"]
    markdown.append(indent + "|" + "---|" * len(spans))
    markdown += [indent + "| " + " | ".join(row) + " |" for row in rows[1:] if any(row)]
    return ["", *markdown, ""], end + 1


def to_markdown(text: str) -> str:
    """The docstring ``text`` with roles, simple tables, doctests and ``::`` rewritten."""
    # A role wrapped onto the next line first (the others are rewritten line by line, after
    # the simple tables have been cut into cells at their rules' columns).
    wrapped = ROLE.sub(lambda m: role_to_code(m) if "\n" in m.group(1) else m.group(0), text)
    lines = wrapped.split("\n")
    out: list[str] = []
    literal_indent: str | None = None  # indent of the paragraph that ended in "::"
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        table = table_to_markdown(lines, i) if RULE.match(line) else None
        if table is not None:
            rows, i = table
            out += rows
            continue
        if stripped.startswith(">>>"):  # a doctest: up to the next blank line
            indent = line[: len(line) - len(line.lstrip())]
            block = []
            while i < len(lines) and lines[i].strip():
                block.append(lines[i])
                i += 1
            # A doctest indented under "...::" is a literal block in reST; in Markdown those
            # four spaces would make the fence itself an indented code block, shown as text.
            if literal_indent is not None and len(indent) > len(literal_indent):
                cut = len(indent) - len(literal_indent)
                block = [b[cut:] if b[:cut].isspace() else b.lstrip() for b in block]
                indent = literal_indent
            out += ["", indent + "```pycon", *block, indent + "```", ""]
            literal_indent = None
            continue
        if stripped.endswith("::"):
            literal_indent = line[: len(line) - len(line.lstrip())]
            line = "" if stripped == "::" else line.rstrip()[:-1]
        elif stripped:
            literal_indent = None
        out.append(ROLE.sub(role_to_code, line))
        i += 1
    return "\n".join(out)


class RstDocstrings(griffe.Extension):
    """Rewrite every docstring with :func:`to_markdown` as griffe loads it."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
