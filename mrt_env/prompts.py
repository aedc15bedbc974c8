"""The prompt a reasoning stream starts from: the model's chat template, else a plain one."""

from __future__ import annotations

from typing import Any

__all__ = ["PLAIN_TEMPLATE", "problem_prompt"]

PLAIN_TEMPLATE = "Problem: {question}\n\nSolution:\n"
"""The prompt of a problem when the model has no chat template and none is given."""


def problem_prompt(question: str, *, lm: Any = None, template: str | None = None) -> str:
    """``question`` in ``template`` (with ``{question}``) if one is given, else in ``lm``'s
    chat template if it has one, else in :data:`PLAIN_TEMPLATE`.

    >>> problem_prompt("2 + 2?")
    'Problem: 2 + 2?\\n\\nSolution:\\n'
    """
    if template is None:
        chat = lm.chat_prompt(question) if lm is not None else None
        if chat is not None:
            return chat
        template = PLAIN_TEMPLATE
    return template.replace("{question}", question)
