"""Stand-ins for components that cannot show a behaviour here (named as fakes)."""

import math
import re

from mrt_env.lm.base import Completion

# ---------------------------------------------------------------------------------------
# A SCRIPTED FAKE backend: it answers with the last \boxed{...} of its context (or "0").
# A random tiny model cannot show that J rises once the prefix holds the answer; this
# stand-in isolates the prover's logic (forcing, batching, grading, averaging) from the
# model's skill.


class CopyLastBoxedFakeLM:
    name = "copy-last-boxed-fake"

    def __init__(self):
        self.generate_calls = []
        self.score_calls = []

    def _last_boxed(self, text):
        found = re.findall(r"\\boxed\{([^{}]*)\}", text)
        return found[-1] if found else "0"

    def generate(self, prompts, sampling):
        self.generate_calls.append(list(prompts))
        return [
            [Completion(f"The answer is \\boxed{{{self._last_boxed(p)}}}.", 8, "stop")] * sampling.n
            for p in prompts
        ]

    def score(self, prompts, continuations):
        self.score_calls.append(list(prompts))
        return [
            math.log(0.9) if c.startswith(self._last_boxed(p)) else math.log(0.01)
            for p, c in zip(prompts, continuations, strict=True)
        ]

    def count_tokens(self, text):
        return len(text)

    def chat_prompt(self, messages):
        return None
