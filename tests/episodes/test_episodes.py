"""Episode segmentation: the paper's marker rule, the backtrack rule and token chunks."""

from __future__ import annotations

import contextlib
import functools
import re
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mrt_env.episodes import (
    EPISODE_MARKERS,
    MARKER_STOP_STRINGS,
    RULES,
    EpisodeConfig,
    episode_boundaries,
    prefixes,
    split_episodes,
)

SEP = "\n\n"


def paras(*paragraphs: str) -> str:
    return SEP.join(paragraphs)


# --------------------------------------------------------------------------- constants


def test_markers_are_the_papers_six_in_order():
    assert EPISODE_MARKERS == (
        "Wait",
        "But wait",
        "Alternatively",
        "Is there another way to think about this?",
        "But let me double-check",
        "But hold on",
    )
    assert tuple("\n\n" + m for m in EPISODE_MARKERS) == MARKER_STOP_STRINGS
    assert RULES == ("markers", "backtrack", "lines", "tokens")


def test_importing_the_module_imports_nothing_heavy():
    code = (
        "import sys, mrt_env.episodes\n"
        "heavy = {'torch', 'transformers', 'vllm'} & set(sys.modules)\n"
        "assert not heavy, heavy\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# --------------------------------------------------------------------------- markers rule

# An R1-style trace: three attempts at one problem, with a marker that comes too soon (P8).
DIVISORS = [
    "Okay, so I need to find how many positive divisors 360 has.",
    "First, factor 360: 360 = 2^3 * 3^2 * 5.",
    "The number of divisors is (3+1)(2+1)(1+1) = 4 * 3 * 2 = 24.",
    "Wait, let me make sure the factorization is right. 2^3 = 8, 8 * 9 = 72, 72 * 5 = 360. Yes.",
    "So the exponents are 3, 2 and 1.",
    "Multiplying (3+1)(2+1)(1+1) gives 24 again.",
    "Alternatively, I can pair the divisors: 1 and 360, 2 and 180, 3 and 120, 4 and 90, ...",
    "Counting the pairs gives 12 pairs, so 24 divisors.",
    "But let me double-check that 360 is not a perfect square: 18^2 = 324, 19^2 = 361. It isn't.",
    "So the answer is \\boxed{24}.",
]


def test_r1_trace_splits_at_markers_and_keeps_separators_on_the_left():
    text = paras(*DIVISORS)
    episodes = split_episodes(text)
    assert episodes == [
        paras(*DIVISORS[0:3]) + SEP,
        paras(*DIVISORS[3:6]) + SEP,
        # P8 ("But let me double-check") is only 2 paragraphs after the boundary at P6.
        paras(*DIVISORS[6:10]),
    ]
    assert episodes[1].startswith("Wait, let me")
    assert episodes[2].startswith("Alternatively, I can")
    assert "".join(episodes) == text
    assert episode_boundaries(text) == [0, text.index("Wait, let"), text.index("Alternatively")]


def test_every_marker_opens_an_episode():
    filler = ["Compute the sum.", "It is 10."]
    for marker in EPISODE_MARKERS:
        text = paras("Let me start.", *filler, f"{marker} maybe I misread it.", "Fine.")
        episodes = split_episodes(text)
        assert episodes == [
            paras("Let me start.", *filler) + SEP,
            f"{marker} maybe I misread it.\n\nFine.",
        ]


def test_marker_inside_a_paragraph_never_splits():
    text = paras(
        "Let n be the number of lattice points.",
        "Counting row by row gives 13 points.",
        "Then the answer is 13, I think. Wait, no, the origin was counted twice.",
        "So it is 12. But wait, is the origin even inside? Alternatively, count by symmetry.",
        "Symmetry gives 4 * 3 = 12.",
        "So the answer is 12.",
    )
    assert split_episodes(text) == [text]
    # A marker at a line start that is not a paragraph start does not split either.
    text = paras("a", "b", "c", "The sum is 5.\nWait, 2 + 2 = 4, so 4.", "d")
    assert split_episodes(text) == [text]


def test_three_paragraph_rule_first_episode():
    # Markers at paragraph 0, 1 and 2 are all ignored: the first episode needs 3 paragraphs.
    text = paras("Wait, what is asked?", "Wait, it asks for x.", "But wait, x > 0.", "x = 2.")
    assert split_episodes(text) == [text]
    text = paras("Set up.", "Compute.", "Result 7.", "Wait, check: 7 works.")
    assert split_episodes(text) == [
        paras("Set up.", "Compute.", "Result 7.") + SEP,
        "Wait, check: 7 works.",
    ]


def test_three_paragraph_rule_after_a_boundary():
    p = [
        "p0",
        "p1",
        "p2",
        "Wait, A",
        "p4",
        "Wait, B (2 after A: ignored)",
        "Wait, C (3 after A)",
        "p7",
    ]
    assert split_episodes(paras(*p)) == [
        paras(*p[0:3]) + SEP,
        paras(*p[3:6]) + SEP,
        paras(*p[6:8]),
    ]
    # An ignored marker does not reset the count: C is 3 after A although only 1 after B.


def test_consecutive_markers_every_paragraph():
    text = paras(*(f"Wait, idea {i}." for i in range(10)))
    episodes = split_episodes(text)
    # Boundaries at paragraphs 3, 6 and 9.
    assert [e.split(SEP)[0] for e in episodes] == [
        "Wait, idea 0.",
        "Wait, idea 3.",
        "Wait, idea 6.",
        "Wait, idea 9.",
    ]
    assert [len(e.rstrip("\n").split(SEP)) for e in episodes] == [3, 3, 3, 1]


@pytest.mark.parametrize("min_paragraphs", [1, 2, 4])
def test_min_paragraphs_is_configurable(min_paragraphs):
    text = paras(*(f"Wait, idea {i}." for i in range(8)))
    starts = [
        int(e.split()[2][0])
        for e in split_episodes(text, rule=EpisodeConfig(min_paragraphs=min_paragraphs))
    ]
    assert starts == list(range(0, 8, min_paragraphs))


@pytest.mark.parametrize(
    ("opening", "is_marker"),
    [
        ("Wait, no.", True),
        ("Wait... no.", True),
        ("Wait no.", True),
        ("Wait", True),
        ("Wait!", True),
        ("Wait\nthe next line", True),
        ("   Wait, indented.", True),
        ("\tBut hold on, a tab.", True),
        ("\nWait, after three newlines.", True),  # "\n\n\n" splits as "\n\n" + "\nWait"
        ("Is there another way to think about this? Maybe.", True),
        ("But let me double-check.", True),
        ("Alternatively: use the formula.", True),
        ("Waiting is not a marker.", False),
        ("Waits neither.", False),
        ("Alternatively-minded is fine (non-letter).", True),
        ("Alternativelyx", False),
        ("wait, lowercase is not the paper's marker.", False),
        ("But, wait, commas in between.", False),
        ("Butwait", False),
        ("So. Wait, not at the start.", False),
        ("«Wait», quoted.", False),
    ],
)
def test_what_counts_as_a_marker(opening, is_marker):
    head = paras("p0", "p1", "p2")
    text = paras(head, opening)
    expected = [head + SEP, opening] if is_marker else [text]
    assert split_episodes(text) == expected


def test_max_steps_caps_boundaries_and_keeps_the_tail_whole():
    p = [
        "Start.",
        "a",
        "b",
        "Wait, 1.",
        "c",
        "d",
        "Alternatively, 2.",
        "e",
        "f",
        "But hold on, 3.",
        "g",
        "h",
    ]
    text = paras(*p)
    assert len(split_episodes(text)) == 4
    assert split_episodes(text, rule=EpisodeConfig(max_steps=2)) == [
        paras(*p[0:3]) + SEP,
        paras(*p[3:6]) + SEP,
        paras(*p[6:12]),  # the third marker is not honoured: the rest is one episode
    ]
    assert split_episodes(text, rule=EpisodeConfig(max_steps=0)) == [text]
    assert split_episodes(text, rule=EpisodeConfig(max_steps=3)) == split_episodes(text)
    assert split_episodes(text, rule=EpisodeConfig(max_steps=100)) == split_episodes(text)


def test_group_size_merges_consecutive_episodes():
    p = [f"Wait, attempt {i}." if i % 3 == 0 else f"step {i}" for i in range(15)]
    text = paras(*p)
    singles = split_episodes(text)
    assert len(singles) == 5
    pairs = split_episodes(text, rule=EpisodeConfig(group_size=2))
    assert pairs == [paras(*p[0:6]) + SEP, paras(*p[6:12]) + SEP, paras(*p[12:15])]
    assert pairs == [singles[0] + singles[1], singles[2] + singles[3], singles[4]]
    assert split_episodes(text, rule=EpisodeConfig(group_size=5)) == [text]
    assert split_episodes(text, rule=EpisodeConfig(group_size=50)) == [text]
    # max_steps applies first (3 episodes), then grouping (2 of them, then 1).
    assert split_episodes(text, rule=EpisodeConfig(max_steps=2, group_size=2)) == [
        paras(*p[0:6]) + SEP,
        paras(*p[6:15]),
    ]


def test_edge_texts():
    assert split_episodes("") == []
    assert episode_boundaries("") == []
    assert split_episodes("Wait") == ["Wait"]
    assert split_episodes("\n\n") == ["\n\n"]
    assert split_episodes("\n\n\n\n\n\nWait") == ["\n\n\n\n\n\n", "Wait"]  # 3 empty paragraphs
    # Windows line endings: "\r\n\r\n" is not a blank line in the paper's rule.
    text = "a\r\n\r\nb\r\n\r\nc\r\n\r\nWait, d"
    assert split_episodes(text) == [text]


# --------------------------------------------------------------------------- backtrack rule

BACKTRACK_TRACE = (
    "Line 1: Let x be the number of apples.\n"
    "Line 2: Then 3x + 2 = 17, so x = 6.\n"
    "Line 3: Check: 3 * 6 + 2 = 20, not 17. I should Backtrack to Line 2 here.\n"
    "Backtrack to Line 2\n"
    "Line 2: 3x = 15, so x = 4.\n"
    "Line 3: Check: 3 * 4 + 2 = 14. Still wrong.\n"
    "Backtrack to beginning\n"
    "Line 1: 17 - 2 = 15 apples are in the boxes, 15 / 3 = 5.\n"
    "Line 2: Check: 3 * 5 + 2 = 17. The answer is 5.\n"
)


def test_backtrack_rule_starts_an_attempt_at_each_backtrack_line():
    episodes = split_episodes(BACKTRACK_TRACE, rule="backtrack")
    first_bt = BACKTRACK_TRACE.index("Backtrack to Line 2\n")
    second_bt = BACKTRACK_TRACE.index("Backtrack to beginning")
    assert episodes == [
        BACKTRACK_TRACE[:first_bt],
        BACKTRACK_TRACE[first_bt:second_bt],
        BACKTRACK_TRACE[second_bt:],
    ]
    assert episodes[1].startswith("Backtrack to Line 2\nLine 2: 3x = 15")
    assert episodes[2].startswith("Backtrack to beginning\nLine 1: 17 - 2")
    assert split_episodes(BACKTRACK_TRACE, rule=EpisodeConfig("backtrack", max_steps=1)) == [
        episodes[0],
        episodes[1] + episodes[2],
    ]
    assert split_episodes(BACKTRACK_TRACE, rule=EpisodeConfig("backtrack", group_size=2)) == [
        episodes[0] + episodes[1],
        episodes[2],
    ]


def test_lines_rule_makes_every_line_an_episode():
    assert split_episodes("2+4=6\n1+3=4\n= 46", rule="lines") == ["2+4=6\n", "1+3=4\n", "= 46"]
    assert split_episodes("a\n\nb\n", rule="lines") == ["a\n", "\n", "b\n"]  # ends its line
    assert split_episodes("one line", rule="lines") == ["one line"]
    assert episode_boundaries("x\ny\n", rule="lines") == [0, 2]
    assert prefixes("x\ny\n", rule="lines") == ["", "x\n", "x\ny\n"]


def test_backtrack_rule_edge_cases():
    # On the first line it does not create an empty first attempt.
    assert split_episodes("Backtrack to beginning\nx", rule="backtrack") == [
        "Backtrack to beginning\nx"
    ]
    # Indentation is tolerated; a number is required; "Line" is case-sensitive.
    text = "a\n  Backtrack to Line 12\nb\nBacktrack to Line\nc\nbacktrack to line 3\nd"
    assert split_episodes(text, rule="backtrack") == ["a\n", text[2:]]
    # Backtrack markers mean nothing to the markers rule, and vice versa.
    assert split_episodes(BACKTRACK_TRACE) == [BACKTRACK_TRACE]
    assert split_episodes(paras(*DIVISORS), rule="backtrack") == [paras(*DIVISORS)]
    # min_paragraphs does not apply to the backtrack rule.
    text = "a\nBacktrack to Line 1\nBacktrack to Line 1\n"
    assert split_episodes(text, rule=EpisodeConfig("backtrack", min_paragraphs=5)) == [
        "a\n",
        "Backtrack to Line 1\n",
        "Backtrack to Line 1\n",
    ]


# --------------------------------------------------------------------------- tokens rule


@functools.cache
def char_tokenizer():
    pytest.importorskip("transformers")
    from mrt_env.lm.testing import tiny_tokenizer

    return tiny_tokenizer()


@pytest.mark.parametrize(
    ("chunk", "expected"),
    [
        (4, ["Wait", ", 2+", "2=4.", "\n\nOk"]),
        (5, ["Wait,", " 2+2=", "4.\n\nO", "k"]),
        (14, ["Wait, 2+2=4.\n\n", "Ok"]),
        (16, ["Wait, 2+2=4.\n\nOk"]),
        (100, ["Wait, 2+2=4.\n\nOk"]),
    ],
)
def test_tokens_rule_with_the_character_tokenizer(chunk, expected):
    text = "Wait, 2+2=4.\n\nOk"
    assert split_episodes(
        text, rule=EpisodeConfig("tokens", chunk_tokens=chunk), tokenizer=char_tokenizer()
    ) == (expected)


def test_tokens_rule_max_steps_and_groups():
    text = "abcdefghij"
    tok = char_tokenizer()
    assert split_episodes(text, rule=EpisodeConfig("tokens", chunk_tokens=3), tokenizer=tok) == [
        "abc",
        "def",
        "ghi",
        "j",
    ]
    assert split_episodes(
        text, rule=EpisodeConfig("tokens", chunk_tokens=3, max_steps=1), tokenizer=tok
    ) == [
        "abc",
        "defghij",
    ]
    assert split_episodes(
        text, rule=EpisodeConfig("tokens", chunk_tokens=3, group_size=3), tokenizer=tok
    ) == [
        "abcdefghi",
        "j",
    ]
    assert split_episodes("", rule=EpisodeConfig("tokens", chunk_tokens=3), tokenizer=tok) == []


class WordTokenizer:
    """One token per run of non-space characters: offsets with gaps, like many real tokenizers."""

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=False):
        assert add_special_tokens is False and return_offsets_mapping is True
        offsets = [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]
        return {"input_ids": list(range(len(offsets))), "offset_mapping": offsets}


class RepeatingOffsetsTokenizer:
    """Byte-level style: each character is two tokens that share its offsets."""

    def __call__(self, text, add_special_tokens=True, return_offsets_mapping=False):
        offsets = [(i, i + 1) for i in range(len(text)) for _ in range(2)]
        return {"input_ids": [0] * len(offsets), "offset_mapping": offsets}


def test_tokens_rule_with_gaps_and_repeated_offsets_stays_exact():
    text = "  alpha beta  gamma delta\n\nepsilon "
    episodes = split_episodes(
        text, rule=EpisodeConfig("tokens", chunk_tokens=2), tokenizer=WordTokenizer()
    )
    # Text between tokens stays with the earlier chunk; leading spaces belong to the first.
    assert episodes == ["  alpha beta  ", "gamma delta\n\n", "epsilon "]
    tok = RepeatingOffsetsTokenizer()
    # Tokens 3, 6, 9 start at characters 1, 3, 4.
    assert split_episodes("abcde", rule=EpisodeConfig("tokens", chunk_tokens=3), tokenizer=tok) == [
        "a",
        "bc",
        "d",
        "e",
    ]
    # Two tokens at one offset never make an empty piece.
    assert split_episodes("abc", rule=EpisodeConfig("tokens", chunk_tokens=1), tokenizer=tok) == [
        "a",
        "b",
        "c",
    ]


def test_tokens_rule_slow_tokenizer_without_offsets():
    def slow(text, add_special_tokens=True, return_offsets_mapping=False):
        raise NotImplementedError(
            "return_offset_mapping is not available when using Python tokenizers"
        )

    with pytest.raises(ValueError, match="offsets"):
        split_episodes("abc", rule=EpisodeConfig("tokens", chunk_tokens=1), tokenizer=slow)


# --------------------------------------------------------------------------- prefixes


def test_prefixes_are_the_contexts_the_meta_prover_scores():
    text = paras(*DIVISORS)
    episodes = split_episodes(text)
    pre = prefixes(text)
    assert len(pre) == len(episodes) + 1 == 4
    assert pre[0] == ""
    assert pre[-1] == text
    assert pre == ["", episodes[0], episodes[0] + episodes[1], text]
    assert prefixes(text, rule=EpisodeConfig(max_steps=0)) == ["", text]
    assert prefixes("") == [""]
    assert prefixes(BACKTRACK_TRACE, rule=EpisodeConfig("backtrack", group_size=2)) == [
        "",
        BACKTRACK_TRACE[: BACKTRACK_TRACE.index("Backtrack to beginning")],
        BACKTRACK_TRACE,
    ]
    tok = char_tokenizer()
    assert prefixes("abcde", rule=EpisodeConfig("tokens", chunk_tokens=2), tokenizer=tok) == [
        "",
        "ab",
        "abcd",
        "abcde",
    ]


# --------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        (
            {"rule": "paragraphs"},
            ValueError,
            r"unknown rule 'paragraphs'.*'markers', 'backtrack', 'lines', 'tokens'",
        ),
        ({"max_steps": -1}, ValueError, "max_steps must be >= 0, got -1"),
        ({"group_size": 0}, ValueError, "group_size must be >= 1, got 0"),
        ({"min_paragraphs": 0}, ValueError, "min_paragraphs must be >= 1, got 0"),
        ({"max_steps": 2.0}, TypeError, "max_steps must be an int, got float"),
        ({"group_size": True}, TypeError, "group_size must be an int, got bool"),
        ({"rule": "tokens"}, ValueError, "rule 'tokens' needs chunk_tokens"),
        ({"rule": "tokens", "chunk_tokens": 0}, ValueError, "chunk_tokens must be >= 1, got 0"),
    ],
)
def test_a_bad_rule_fails_when_it_is_built(kwargs, error, match):
    with pytest.raises(error, match=match):
        EpisodeConfig(**kwargs)


@pytest.mark.parametrize("func", [split_episodes, episode_boundaries, prefixes])
def test_argument_validation(func):
    with pytest.raises(TypeError, match="text must be a str, got bytes"):
        func(b"Wait")
    with pytest.raises(TypeError, match="got NoneType"):
        func(None)
    with pytest.raises(TypeError, match="got list"):
        func(["a", "b"])
    # A rule's name is its default rule, checked the same way.
    with pytest.raises(ValueError, match="unknown rule 'paragraphs'"):
        func("x", rule="paragraphs")
    with pytest.raises(TypeError, match="rule must be an EpisodeConfig or a rule's name"):
        func("x", rule={"rule": "markers"})
    # The tokens rule needs a tokenizer, even for an empty text.
    with pytest.raises(ValueError, match="needs tokenizer="):
        func("", rule=EpisodeConfig("tokens", chunk_tokens=4))


# --------------------------------------------------------------------------- properties

_MARKER_RE = re.compile(r"\s*(" + "|".join(map(re.escape, EPISODE_MARKERS)) + ")")
_BACKTRACK_LINE = re.compile(r"[ \t]*(Backtrack to Line \d+|Backtrack to beginning)")


def reference_markers(text, max_steps=None, group_size=1, min_paragraphs=3):
    """The authors' break_into_meta_steps + merge_meta_steps, written over paragraph lists.

    Two documented changes: a marker must be a whole word (optionally indented), and every
    episode but the last keeps its trailing blank line instead of being rstrip-ed.
    """
    steps = text.split(SEP)
    starts = [0]
    prev_i = 0
    remaining = float("inf") if max_steps is None else max_steps
    for i, step in enumerate(steps):
        if remaining == 0:
            break
        m = _MARKER_RE.match(step)
        if m and not step[m.end() : m.end() + 1].isalpha():
            if i - prev_i < min_paragraphs:
                continue
            starts.append(i)
            remaining -= 1
            prev_i = i
    ends = [*starts[1:], len(steps)]
    episodes = [SEP.join(steps[a:b]) for a, b in zip(starts, ends, strict=True)]
    episodes = [e + SEP for e in episodes[:-1]] + episodes[-1:]
    return ["".join(episodes[i : i + group_size]) for i in range(0, len(episodes), group_size)]


_openers = st.sampled_from(
    [
        *EPISODE_MARKERS,
        "Waiting",
        "wait",
        "Wait",
        "Wait,",
        "Alternatively",
        "But",
        "Backtrack to Line 3",
        "Backtrack to beginning",
        "So",
        "",
    ]
)
_paragraph = st.tuples(
    st.sampled_from(["", "", " ", "  ", "\t", "\n"]),
    _openers,
    st.text(alphabet=" ,.!?abWx0\n\t", max_size=12),
).map("".join)
_separator = st.sampled_from(["\n\n", "\n\n", "\n\n", "\n\n\n", "\n\n\n\n", "\n", " "])
_structured = st.lists(st.tuples(_separator, _paragraph), max_size=25).map(
    lambda parts: "".join(sep + p for sep, p in parts)
)
texts = st.one_of(_structured, st.text(max_size=200))
max_steps_st = st.one_of(st.none(), st.integers(0, 6))
group_st = st.integers(1, 4)
min_par_st = st.integers(1, 5)
PROPS = settings(max_examples=200, deadline=None, derandomize=True)


def _tokenizers():
    toks = [WordTokenizer(), RepeatingOffsetsTokenizer()]
    # Without transformers the fake tokenizers still run.
    with contextlib.suppress(pytest.skip.Exception):
        toks.append(char_tokenizer())
    return toks


@PROPS
@given(
    text=texts,
    rule=st.sampled_from(RULES),
    max_steps=max_steps_st,
    group_size=group_st,
    min_paragraphs=min_par_st,
    tok_index=st.integers(0, 2),
    chunk_tokens=st.integers(1, 9),
)
def test_property_episodes_join_back_to_the_text(
    text, rule, max_steps, group_size, min_paragraphs, tok_index, chunk_tokens
):
    toks = _tokenizers()
    kwargs = dict(
        rule=EpisodeConfig(
            rule,
            max_steps=max_steps,
            group_size=group_size,
            min_paragraphs=min_paragraphs,
            chunk_tokens=chunk_tokens,
        ),
        tokenizer=toks[tok_index % len(toks)],
    )
    episodes = split_episodes(text, **kwargs)
    bounds = episode_boundaries(text, **kwargs)
    pre = prefixes(text, **kwargs)

    assert "".join(episodes) == text
    assert all(episodes), episodes  # no empty episode
    assert (episodes == []) == (text == "")
    assert len(bounds) == len(episodes)
    assert bounds == sorted(set(bounds)) and bounds[:1] == ([0] if text else [])
    assert [text[b : b + len(e)] for b, e in zip(bounds, episodes, strict=True)] == episodes
    if max_steps is not None:
        assert len(episodes) <= max_steps + 1
    assert len(pre) == len(episodes) + 1
    assert pre[0] == "" and pre[-1] == text
    assert all(pre[j] + episodes[j] == pre[j + 1] for j in range(len(episodes)))


@PROPS
@given(text=texts, max_steps=max_steps_st, group_size=group_st, min_paragraphs=min_par_st)
def test_property_markers_rule_matches_the_reference(text, max_steps, group_size, min_paragraphs):
    kwargs = dict(max_steps=max_steps, group_size=group_size, min_paragraphs=min_paragraphs)
    expected = reference_markers(text, **kwargs) if text else []
    assert split_episodes(text, rule=EpisodeConfig(**kwargs)) == expected


@PROPS
@given(text=texts, max_steps=max_steps_st, group_size=group_st, min_paragraphs=min_par_st)
def test_property_markers_episode_shape(text, max_steps, group_size, min_paragraphs):
    """Under the markers rule, with paragraphs = ``episode.split("\\n\\n")`` after removing the
    trailing blank line: every episode except the last ends with that blank line and has at
    least ``group_size * min_paragraphs`` paragraphs; every episode except the first opens with
    a paragraph that starts (after whitespace) with a marker as a whole word."""
    episodes = split_episodes(
        text,
        rule=EpisodeConfig(
            max_steps=max_steps, group_size=group_size, min_paragraphs=min_paragraphs
        ),
    )
    for ep in episodes[:-1]:
        assert ep.endswith(SEP)
        assert len(ep[: -len(SEP)].split(SEP)) >= group_size * min_paragraphs, ep
    for ep in episodes[1:]:
        first = ep.split(SEP)[0]
        m = _MARKER_RE.match(first)
        assert m and not first[m.end() : m.end() + 1].isalpha(), ep


@PROPS
@given(
    text=texts,
    rule=st.sampled_from(RULES),
    max_steps=st.integers(0, 6),
    group_size=group_st,
    chunk_tokens=st.integers(1, 9),
)
def test_property_max_steps_and_group_size_are_merges_of_the_plain_split(
    text, rule, max_steps, group_size, chunk_tokens
):
    tok = WordTokenizer()
    plain = split_episodes(text, rule=EpisodeConfig(rule, chunk_tokens=chunk_tokens), tokenizer=tok)
    capped = split_episodes(
        text,
        rule=EpisodeConfig(rule, chunk_tokens=chunk_tokens, max_steps=max_steps),
        tokenizer=tok,
    )
    expected = (
        plain if len(plain) <= max_steps + 1 else [*plain[:max_steps], "".join(plain[max_steps:])]
    )
    assert capped == expected
    grouped = split_episodes(
        text,
        rule=EpisodeConfig(rule, chunk_tokens=chunk_tokens, group_size=group_size),
        tokenizer=tok,
    )
    assert grouped == ["".join(plain[i : i + group_size]) for i in range(0, len(plain), group_size)]


@PROPS
@given(text=texts)
def test_property_backtrack_episodes_are_attempts(text):
    episodes = split_episodes(text, rule="backtrack")
    for ep in episodes[1:]:
        assert _BACKTRACK_LINE.match(ep), ep
    for ep in episodes:
        # No other line inside an episode opens a new attempt.
        for line_start in (m.end() for m in re.finditer("\n", ep)):
            assert not _BACKTRACK_LINE.match(ep, line_start), ep
