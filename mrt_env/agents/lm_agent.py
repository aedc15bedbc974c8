"""LMAgent: a language model writes the next reasoning block (batched over envs)."""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mrt_env import info as keys
from mrt_env.agents.base import Agent, Info
from mrt_env.commitment import THINK_CLOSE, thinking_open
from mrt_env.config import Config
from mrt_env.episodes import MARKER_STOP_STRINGS
from mrt_env.errors import ArgumentTypeError, ConfigError
from mrt_env.lm.base import Completion, LanguageModel
from mrt_env.lm.sampling import Sampling

__all__ = ["BlockSamplingConfig", "LMAgent"]


@dataclass(frozen=True)
class BlockSamplingConfig(Config):
    """How an LM agent samples its blocks, over an env's defaults (the commands'
    ``--agent.*`` flags). None keeps the env's value
    (:func:`~mrt_env.registration.block_settings`).

    >>> BlockSamplingConfig(temperature=0.0).over({"temperature": 1.0, "top_p": 1.0})
    {'temperature': 0.0, 'top_p': 1.0}
    """

    temperature: float | None = None
    """Sampling temperature of the blocks (default: the env's, 1.0 synthetic, 0.6
    otherwise)."""
    top_p: float | None = None
    """Nucleus sampling of the blocks (default: the env's, 1.0 synthetic, 0.95 otherwise)."""
    block_tokens: int | None = None
    """Most tokens per block (default: the env's, 48 synthetic, 2048 otherwise)."""

    def validate(self) -> None:
        if self.block_tokens is not None and self.block_tokens < 1:
            raise ConfigError(f"block_tokens must be >= 1, got {self.block_tokens}")
        # Sampling is where sampling values are checked.
        Sampling(
            max_tokens=1,
            temperature=1.0 if self.temperature is None else self.temperature,
            top_p=1.0 if self.top_p is None else self.top_p,
        )

    def over(self, settings: Mapping[str, Any]) -> dict[str, Any]:
        """``settings`` (:class:`LMAgent` keyword arguments) with the values given here."""
        given = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_block_tokens": self.block_tokens,
        }
        return {**settings, **{k: v for k, v in given.items() if v is not None}}


class LMAgent(Agent):
    """Continues the observation with ``lm`` until an episode boundary or a token cap.

    Args:
        lm: any :class:`~mrt_env.lm.LanguageModel` (the env's prover model can be reused:
            ``env.unwrapped.prover.lm``).
        stop: where a block ends. Default: the paper's episode markers
            (:data:`mrt_env.episodes.MARKER_STOP_STRINGS`, ``"\\n\\nWait"`` ...); for the
            synthetic tasks, their delimiter ``("\\n",)``.
        keep_stop: append the stop string that ended a block to it. Off for markers (a
            marker *opens* the next episode, so the model writes it again there); on for
            a delimiter that *closes* a block, such as a newline.
        max_block_tokens: most tokens per block.
        temperature, top_p: sampling.
        seed: sampling seed. A block is a pure function of (seed, observation) on the
            seeded backends, so batched and one-by-one runs give the same blocks; envs of
            one batch that show the same text get distinct samples (:meth:`sample_distinct`).

    One call of :meth:`act_batch` is one batched ``generate`` call for all envs.
    """

    name = "lm"

    def __init__(
        self,
        lm: LanguageModel,
        *,
        stop: Sequence[str] = MARKER_STOP_STRINGS,
        keep_stop: bool = False,
        max_block_tokens: int = 512,
        temperature: float = 0.6,
        top_p: float = 0.95,
        seed: int = 0,
    ):
        if isinstance(stop, str):
            raise ArgumentTypeError(f"stop must be a sequence of strings, got the string {stop!r}")
        if max_block_tokens < 1:
            raise ConfigError(f"max_block_tokens must be >= 1, got {max_block_tokens}")
        # Checked now, not at the first block: Sampling checks every sampling setting.
        Sampling(
            max_tokens=max_block_tokens, stop=stop, temperature=temperature, top_p=top_p, seed=seed
        )
        self.lm = lm
        self.stop = tuple(stop)
        self.keep_stop = keep_stop
        self.max_block_tokens = max_block_tokens
        self.temperature = temperature
        self.top_p = top_p
        self.seed = seed
        self.tokens_generated = 0
        """Tokens this agent has had the model generate (for budget accounting)."""
        self._hidden: Counter[int] = Counter()  # slot -> generated tokens not in its blocks

    def reset(self) -> None:
        self._hidden.clear()

    def charge_hidden(self, info: Info, slot: int, tokens: int) -> None:
        """Count ``tokens`` generated for the env in batch slot ``slot`` that do not go into
        its transcript (see :meth:`take_hidden_tokens`)."""
        self._hidden[info.get(keys.SLOT, slot)] += tokens

    def take_hidden_tokens(self, slot: int) -> int:
        return self._hidden.pop(slot, 0)

    def generate(
        self,
        prompts: Sequence[str],
        *,
        max_tokens: int | None = None,
        n: int = 1,
        stop: Sequence[str] | None = None,
        temperature: float | None = None,
        seed: int | Sequence[int] | None = None,
    ) -> list[list[Completion]]:
        """One batched generation with this agent's settings unless overridden (counted)."""
        sampling = Sampling(
            max_tokens=max_tokens or self.max_block_tokens,
            stop=self.stop if stop is None else tuple(stop),
            n=n,
            temperature=self.temperature if temperature is None else temperature,
            top_p=self.top_p,
            seed=self.seed if seed is None else seed,
        )
        outs = self.lm.generate(list(prompts), sampling)
        self.tokens_generated += sum(c.num_tokens for per in outs for c in per)
        return outs

    def block_of(self, completion: Completion) -> str:
        """The block a completion makes (the stop string kept if ``keep_stop``)."""
        if self.keep_stop and completion.stop is not None:
            return completion.text + completion.stop
        return completion.text

    def act_batch(self, observations: Sequence[str], infos: Sequence[Info]) -> list[str]:
        completions = self.sample_distinct(list(observations))
        blocks = [self.block_of(c) for c in completions]
        return self.revise(list(observations), list(infos), blocks)

    def sample_distinct(self, observations: list[str]) -> list[Completion]:
        """One completion per observation; envs that show the *same* text get different
        samples (the 1st, 2nd, ... of ``n``), as a group of rollouts of one problem must.

        A completion is a pure function of (seed, observation, its rank among the equal
        observations of the batch); a text seen once samples as it would alone. A backend
        that takes a seed per prompt does it in one ``generate`` call; otherwise equal
        texts are asked for ``n`` samples, one call per multiplicity.
        """
        if self.temperature == 0:  # greedy: equal texts give equal blocks whatever is done
            return [per[0] for per in self.generate(observations)]
        if getattr(self.lm, "seed_per_prompt", False):
            # One call: the r-th copy of a text gets a seed of its own (the first keeps the
            # agent's seed, so a text seen once samples as it would alone).
            rank: Counter[str] = Counter()
            seeds = []
            for text in observations:
                seeds.append(self.seed if not rank[text] else _copy_seed(self.seed, rank[text]))
                rank[text] += 1
            return [per[0] for per in self.generate(observations, seed=seeds)]
        counts = Counter(observations)
        by_multiplicity: dict[int, list[str]] = {}
        for text, count in counts.items():
            by_multiplicity.setdefault(count, []).append(text)
        samples: dict[str, list[Completion]] = {}
        for count, texts in by_multiplicity.items():
            for text, per in zip(texts, self.generate(texts, n=count), strict=True):
                samples[text] = list(per)
        return [samples[text].pop(0) for text in observations]

    def revise(self, observations: list[str], infos: list[Info], blocks: list[str]) -> list[str]:
        """Strategies override this to change the model's blocks (default: keep them)."""
        return blocks

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lm={getattr(self.lm, 'name', self.lm)!r}, seed={self.seed})"

    def commit_block(self, observation: str, answer: str, think_close: str = THINK_CLOSE) -> str:
        """A block that commits to ``answer`` in the env's terms: close the thinking if it is
        open, then give the answer boxed."""
        if thinking_open(observation, think_close):
            return f"\n{think_close}\n\nThe final answer is $\\boxed{{{answer}}}$."
        return f"\\boxed{{{answer}}}\n"

    def state_for(self, states: dict[int, Any], slot: int, info: Info, fresh: Any) -> Any:
        """Per-env state for batch slot ``slot``, reset at the start of an episode."""
        slot = info.get(keys.SLOT, slot)
        if info.get(keys.EPISODE, 0) == 0 or slot not in states:
            states[slot] = fresh() if callable(fresh) else fresh
        return states[slot]


def _copy_seed(seed: int, rank: int) -> int:
    """The seed of the ``rank``-th extra copy of one observation in a batch."""
    digest = hashlib.sha256(f"{seed}\0copy\0{rank}".encode()).digest()
    return int.from_bytes(digest[:7], "little")
