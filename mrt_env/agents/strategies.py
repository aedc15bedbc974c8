"""Exploration strategies: how to spend a test-time budget, each a small LMAgent.

Each strategy answers one question about test-time compute, in the terms of MRT (Qu et
al., 2025): is it better to keep thinking, to stop as soon as the answer is stable, to
check before committing, to be forced to think longer, or to spend the same tokens on
independent attempts and vote?
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence

from mrt_env import info as keys
from mrt_env.agents.base import Info
from mrt_env.agents.lm_agent import LMAgent
from mrt_env.budget_forcing import AUTHORS_CUES, BudgetForcing
from mrt_env.commitment import THINK_CLOSE, answer_opening, commits
from mrt_env.errors import ConfigError
from mrt_env.grading import extract_answer
from mrt_env.prover import forced_context

__all__ = [
    "BudgetForcingExtend",
    "EarlyExit",
    "ParallelVote",
    "SelfVerify",
    "ThinkToBudget",
    "greedy_answers",
]


def greedy_answers(
    agent: LMAgent,
    prompts: Sequence[str],
    prefixes: Sequence[str],
    forcing_text: str,
    answer_tokens: int,
    think_close: str = THINK_CLOSE,
) -> tuple[list[str | None], list[int]]:
    """The model's greedy answer when forced with ``forcing_text`` after each prompt and
    prefix (None where it gave none), and the tokens each answer took: one batched call
    through ``agent``. The context is laid out as μ's requests are
    (:func:`~mrt_env.prover.forced_context`), so "answer now" asks what μ asks."""
    if not prompts:
        return [], []
    contexts = [
        forced_context(prompt, prefix, forcing_text)
        for prompt, prefix in zip(prompts, prefixes, strict=True)
    ]
    outs = agent.generate(contexts, max_tokens=answer_tokens, stop=(), temperature=0.0)
    tail = answer_opening(forcing_text, think_close)  # the forcing text may open the answer
    return [extract_answer(tail + per[0].text) for per in outs], [per[0].num_tokens for per in outs]


class _CommitAware(LMAgent):
    """Shared by strategies that act when the model's block would commit to an answer."""

    think_close = THINK_CLOSE

    def before_commit(self, block: str) -> str:
        """The part of ``block`` before its commitment."""
        cut = block.find(self.think_close)
        if cut < 0:
            cut = block.find("\\boxed")
        return block[: max(cut, 0)]

    def forced_answers(
        self,
        prompts: list[str],
        prefixes: list[str],
        owners: list[tuple[Info, int]],
        forcing_text: str,
        answer_tokens: int,
    ) -> list[str | None]:
        """The model's greedy answer when forced after each prompt and prefix
        (:func:`greedy_answers`; None if none).

        ``owners``: the (info, slot) of the env each context belongs to, charged with the
        answer's tokens (they are not in its transcript)."""
        answers, spent = greedy_answers(
            self, prompts, prefixes, forcing_text, answer_tokens, self.think_close
        )
        for (info, slot), tokens in zip(owners, spent, strict=True):
            self.charge_hidden(info, slot, tokens)
        return answers

    def hold_commits(
        self,
        observations: list[str],
        infos: list[Info],
        blocks: list[str],
        counts: dict[int, list[int]],
        limit: int,
        instead: Callable[[int], str],
    ) -> list[str]:
        """Up to ``limit`` times per episode, a block that would commit is cut before its
        commitment and ends with ``instead(i)`` (i: the times held before), so the model
        goes on."""
        out = []
        for slot, (obs, info, block) in enumerate(zip(observations, infos, blocks, strict=True)):
            count = self.state_for(counts, slot, info, lambda: [0])
            if commits(obs, block, self.think_close) and count[0] < limit:  # the env's rule
                kept = self.before_commit(block)
                self.charge_hidden(info, slot, self.lm.count_tokens(block[len(kept) :]))
                block = kept + instead(count[0])
                count[0] += 1
            out.append(block)
        return out


class ThinkToBudget(LMAgent):
    """The baseline: the model writes blocks until it commits or the budget runs out.

    Question: what does the model do with the budget on its own? (Long-CoT models mostly
    think until the budget; the env then forces the answer.)
    """

    name = "think-to-budget"


class EarlyExit(_CommitAware):
    """Answer as soon as the meta-prover's answers agree ``m`` times in a row.

    Question: how much of the budget is spent after the answer is already settled?

    The answer after block j is μ's most common forced answer at c_j (``info["answer"]``).
    With a prover that does not sample (the likelihood prover), give ``forcing_text`` and
    the agent forces a greedy answer itself (its tokens count in ``tokens_generated``).

    Args:
        m: consecutive agreeing answers needed (at least 1 block must be written).
        forcing_text: the text that makes the model answer now (only used as above).
        answer_tokens: tokens for such a self-forced answer.
        **kwargs: as :class:`LMAgent`.
    """

    name = "early-exit"

    def __init__(
        self, lm, *, m: int = 2, forcing_text: str | None = None, answer_tokens: int = 16, **kwargs
    ):
        super().__init__(lm, **kwargs)
        if m < 1:
            raise ConfigError(f"m must be >= 1, got {m}")
        self.m = m
        self.forcing_text = forcing_text
        self.answer_tokens = answer_tokens
        self._history: dict[int, list[str | None]] = {}
        self._prompts: dict[int, str] = {}

    def reset(self) -> None:
        super().reset()
        self._history.clear()
        self._prompts.clear()

    def _prompt(self, slot: int, observation: str, info: Info) -> str:
        """The prompt of the stream in ``slot`` (its observation at c_0), which a forced
        answer's layout sets apart from the blocks; "" for a stream first seen past c_0
        (one started from a prefix): its whole observation counts as the prefix."""
        slot = info.get(keys.SLOT, slot)
        if info.get(keys.EPISODE, 0) == 0:
            self._prompts[slot] = observation
        elif not observation.startswith(self._prompts.get(slot, "")):
            self._prompts[slot] = ""
        return self._prompts.get(slot, "")

    def _answers(self, observations: list[str], infos: list[Info]) -> list[str | None]:
        answers = [info.get(keys.ANSWER) for info in infos]
        if self.forcing_text is None:
            return answers
        prompts = [
            self._prompt(i, obs, info)
            for i, (obs, info) in enumerate(zip(observations, infos, strict=True))
        ]
        need = [i for i, info in enumerate(infos) if not info.get(keys.FORCED_ANSWERS)]
        if need:
            forced = self.forced_answers(
                [prompts[i] for i in need],
                [observations[i][len(prompts[i]) :] for i in need],
                [(infos[i], i) for i in need],
                self.forcing_text,
                self.answer_tokens,
            )
            for i, answer in zip(need, forced, strict=True):
                answers[i] = answer
        return answers

    def act_batch(self, observations: Sequence[str], infos: Sequence[Info]) -> list[str]:
        observations, infos = list(observations), list(infos)
        answers = self._answers(observations, infos)
        settled: dict[int, str] = {}
        for slot, (info, answer) in enumerate(zip(infos, answers, strict=True)):
            history = self.state_for(self._history, slot, info, list)
            if info.get(keys.EPISODE, 0) > 0:  # c_0 is the bare prompt: not an answer yet
                history.append(answer)
            recent = history[-self.m :]
            if len(recent) == self.m and recent[0] is not None and len(set(recent)) == 1:
                settled[slot] = recent[0]
        blocks = [""] * len(observations)
        open_slots = [i for i in range(len(observations)) if i not in settled]
        if open_slots:
            generated = super().act_batch(
                [observations[i] for i in open_slots], [infos[i] for i in open_slots]
            )
            for i, block in zip(open_slots, generated, strict=True):
                blocks[i] = block
        for slot, answer in settled.items():
            blocks[slot] = self.commit_block(observations[slot], answer, self.think_close)
        return blocks


class SelfVerify(_CommitAware):
    """Before committing, spend one block checking the candidate answer.

    Question: does one verification block pay for itself? When the model's block would
    commit, the agent writes the part before the commitment followed by ``verify_text``
    (default: the paper's marker "But let me double-check") and lets the model continue;
    the next commitment goes through.
    """

    name = "self-verify"

    def __init__(
        self, lm, *, verify_text: str = "\n\nBut let me double-check this answer.", **kwargs
    ):
        super().__init__(lm, **kwargs)
        self.verify_text = verify_text
        self._checked: dict[int, list[int]] = {}

    def reset(self) -> None:
        super().reset()
        self._checked.clear()

    def revise(self, observations: list[str], infos: list[Info], blocks: list[str]) -> list[str]:
        return self.hold_commits(
            observations, infos, blocks, self._checked, 1, lambda _: self.verify_text
        )


class BudgetForcingExtend(_CommitAware):
    """At the model's own end, append a cue such as "Wait" and continue (s1-style), up to
    ``n`` times.

    Question: does forcing more thinking after the model wanted to stop help? (s1:
    Muennighoff et al., 2025, "budget forcing".) The cues are those of ``mrt-regret``'s
    extrapolation (:class:`~mrt_env.budget_forcing.BudgetForcing`; by default the MRT
    authors' "Wait", "But wait", "Alternatively", "But hold on" in turn, each after one
    newline).

    Args:
        n: extensions per episode at most.
        cues, separator: as :class:`~mrt_env.budget_forcing.BudgetForcing`.
        **kwargs: as :class:`LMAgent`.
    """

    name = "budget-forcing"

    def __init__(
        self,
        lm,
        *,
        n: int = 1,
        cues: Sequence[str] = AUTHORS_CUES,
        separator: str = "\n",
        **kwargs,
    ):
        super().__init__(lm, **kwargs)
        if n < 0:
            raise ConfigError(f"n must be >= 0, got {n}")
        self.n = n
        self.forcing = BudgetForcing(tuple(cues), separator)
        self._extended: dict[int, list[int]] = {}

    def reset(self) -> None:
        super().reset()
        self._extended.clear()

    def revise(self, observations: list[str], infos: list[Info], blocks: list[str]) -> list[str]:
        return self.hold_commits(
            observations, infos, blocks, self._extended, self.n, self.forcing.cue
        )


class ParallelVote(_CommitAware):
    """``n`` independent shorter streams with the same total budget, then a majority vote.

    Question: is sequential thinking better than the same tokens spent in parallel? (The
    non-sequential comparator of the paper's analysis.) At the first step the agent samples
    ``n`` streams of at most ``(total_tokens - n · answer_tokens) / n`` tokens each, forces
    an answer after any stream that gave none (with ``forcing_text``), votes, and commits
    with one block. The streams are not in the env's transcript; ``tokens_generated`` and
    :meth:`take_hidden_tokens` count them, and never exceed ``total_tokens`` per episode.
    """

    name = "parallel-vote"

    def __init__(
        self,
        lm,
        *,
        n: int = 4,
        total_tokens: int = 4096,
        forcing_text: str | None = None,
        answer_tokens: int = 16,
        **kwargs,
    ):
        super().__init__(lm, **kwargs)
        if n < 1:
            raise ConfigError(f"n must be >= 1, got {n}")
        per_stream = (total_tokens - n * answer_tokens) // n
        if per_stream < 1:
            raise ConfigError(
                f"total_tokens={total_tokens} leaves no tokens per stream for n={n} streams "
                f"of answer_tokens={answer_tokens}"
            )
        self.n = n
        self.total_tokens = total_tokens
        self.per_stream = per_stream
        self.forcing_text = forcing_text
        self.answer_tokens = answer_tokens

    def act_batch(self, observations: Sequence[str], infos: Sequence[Info]) -> list[str]:
        observations = list(observations)
        streams = self.generate(observations, max_tokens=self.per_stream, n=self.n, stop=())
        blocks = []
        for slot, (obs, info, per) in enumerate(zip(observations, infos, streams, strict=True)):
            self.charge_hidden(info, slot, sum(c.num_tokens for c in per))  # votes, not blocks
            answers = [extract_answer(c.text) for c in per]
            missing = [i for i, a in enumerate(answers) if a is None]
            if missing and self.forcing_text is not None:
                forced = self.forced_answers(  # each stream continues the observation
                    [obs] * len(missing),
                    [per[i].text for i in missing],
                    [(info, slot)] * len(missing),
                    self.forcing_text,
                    self.answer_tokens,
                )
                for i, answer in zip(missing, forced, strict=True):
                    answers[i] = answer
            votes = Counter(a for a in answers if a is not None)
            voted = votes.most_common(1)[0][0] if votes else ""
            blocks.append(self.commit_block(obs, voted, self.think_close))
        return blocks
