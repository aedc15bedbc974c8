"""When a reasoning stream commits to an answer, and where a forced answer begins.

One place for the rules that the env applies and that agents must predict, so the two
cannot drift apart (agents may not import the env):

* the thinking is *open* while the last ``<think>`` comes after the last ``think_close``;
* a block *commits* when it writes ``think_close``, or, with no thinking open, when it
  gives a ``\\boxed{}``/``\\fbox{}`` answer the grader can extract;
* a forcing text ends the thinking and may already open the answer (the paper's ends in
  ``"1. **"``, ours in ``"\\boxed{"``): that tail, after ``think_close``, is read together
  with the forced completion.
"""

from __future__ import annotations

from mrt_env.grading.extract import THINK_CLOSE, extract_answer

__all__ = ["THINK_CLOSE", "answer_opening", "commits", "thinking", "thinking_open"]


def thinking(text: str, think_close: str = THINK_CLOSE) -> str:
    """The thinking part of ``text``: everything before its first ``think_close`` (all of it
    when there is none). μ is asked about this part of a stream; extrapolation extends it."""
    return text.split(think_close, 1)[0]


def thinking_open(text: str, think_close: str = THINK_CLOSE) -> bool:
    """Whether ``text`` has a ``<think>`` that is not closed yet."""
    return text.rfind("<think>") > text.rfind(think_close)


def commits(context: str, block: str, think_close: str = THINK_CLOSE) -> bool:
    """Whether ``block``, written after ``context``, commits to an answer."""
    if think_close in block:
        return True
    return (
        not thinking_open(context, think_close)
        and ("\\boxed" in block or "\\fbox" in block)
        and extract_answer(block) is not None
    )


def answer_opening(forcing_text: str, think_close: str = THINK_CLOSE) -> str:
    """The part of ``forcing_text`` that belongs to the answer (after ``think_close``)."""
    return forcing_text.rpartition(think_close)[2]
