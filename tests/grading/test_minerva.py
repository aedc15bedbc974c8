"""MinervaMATH: does the grader accept every way a model writes a Minerva gold answer?

The 272 gold answers (the last ``\\boxed{}`` of each solution) carry scientific notation
(``4.5e33``), units (``\\mathrm{~cm}``), significant figures (``0.10``), formulas and a few
numpy/Python spellings (``np.arcsin(10/13)``, ``-1./3``). For each gold this module writes
the answer the other ways a model plausibly would, generated per kind of answer:

* same-answer variants (must match): ``3 \\times 10^{8}``, ``3\\cdot10^{8}``, ``3E+8``,
  ``3.0e8``, ``300000000``, thousands separators, trailing zeros, ``\\frac`` where a decimal
  is exactly a fraction, the unit from the solution after the number (plain text,
  ``\\mathrm{}``, ``\\text{}``), ``v = ...``; for formulas ``\\dfrac``, ``\\left(``,
  ``$...$``, spacing, the order of terms, ``\\exp``, the LaTeX of a numpy spelling;
* different-answer variants (must never match): a wrong last digit of the mantissa, a
  wrong exponent or exponent sign, a wrong sign, a factor of 10, the mantissa alone,
  ``m e^{n}`` and ``(m*n)e`` (Euler's e), ``10^33`` (TeX reads ``10^{3}3``), a truncated
  decimal of ``-1/3``, a formula with one number or sign changed.

The counts per kind are pinned below (``EXPECTED``); docs/grading.md reports them.
Run ``python tests/grading/test_minerva.py DATA_DIR`` (or set ``MRT_ENV_TEST_DATA``) to
print the table and every misgraded variant.
"""

from __future__ import annotations

import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest

from mrt_env.data import load_problems
from mrt_env.grading import grade_many
from mrt_env.grading.extract import match_braces


@dataclass(frozen=True)
class Variant:
    kind: str
    pid: str
    answer: str  # the answer as a model writes it (boxed into a response for grading)
    gold: str
    same: bool  # True: the same answer (must match); False: a different one (must not)


# A plain number as Minerva writes it: 1.6, 0.10, +2, 4.5e33, 1e-5.
_NUMBER = re.compile(r"^([+-]?)(\d+)(?:\.(\d*))?(?:e([+-]?\d+))?$")

# --------------------------------------------------------------------------------------
# Units: read from the solution text after the box (``\boxed{1.6} \mathrm{~cm}``).

# Unit words seen after Minerva's boxes, as a model would spell them.
_UNIT_WORDS = frozenset(
    re.findall(
        r"\S+",
        "cm m km nm pm mm s sec Hz eV J kJ V Volt K C g kg amu mole mol mL M ergs erg yr years "
        "days minute minutes Gyr parsecs arcsecs arcseconds radians rad r Angstroms angstroms "
        "angstrom magnitudes bits atoms photons pulse kcal bushels dollar per meters second "
        "squared vac",
    )
)
_TAIL_STOP = re.compile(r"\$|\\\]|\\end|\\\\|=|\\simeq|\n|,|\.(?!\d)|\\pm|\[|\\quad \\text \{ or")
_UNIT_WRAP = re.compile(r"\\(?:mathrm|text|operatorname)\s*\{\s*~?\s*([^{}]*?)\s*\}")


def solution_unit(solution: str) -> str | None:
    """The unit written after the last box of ``solution``, in plain form, or None.

    ``\\boxed{4.5e33} \\mathrm{ergs} \\mathrm{s}^{-1}`` -> ``ergs s^{-1}``; ``\\mathrm{~km} /
    \\mathrm{s}`` -> ``km/s``; ``^{\\circ}`` -> ``^{\\circ}``. None when the text after the
    box is prose ("times that of the Sun") or names a substance ("mol Bi_2S_3").
    """
    start = solution.rfind("\\boxed")
    if start < 0:
        return None
    brace = solution.index("{", start)
    tail = solution[match_braces(solution)[brace] + 1 :]
    tail = re.sub(r"^\s*\$?\s*", "", tail)
    stop = _TAIL_STOP.search(tail)
    tail = (tail[: stop.start()] if stop else tail).strip()
    tail = _UNIT_WRAP.sub(r"\1", tail)
    tail = re.sub(r"\{\s*~?\s*([A-Za-z]+)\s*\}", r"\1", tail)  # {~m} -> m
    tail = re.sub(r"\\quad|~|\{\s*\}", " ", tail)
    tail = re.sub(r"\s*/\s*", "/", tail).strip(" /")
    tail = re.sub(r"\s+", " ", tail)
    if not tail or "_" in tail:
        return None
    if tail in ("\\%", "^{\\circ}", "^{\\circ} C", "^{\\prime \\prime}", "\\AA"):
        return tail
    words = re.findall(r"[A-Za-z]+", tail.replace("\\mu", "").replace("\\cdot", ""))
    if not words or any(w not in _UNIT_WORDS for w in words):
        return None
    if re.search(r"[^A-Za-z0-9 /^{}\-\\]", tail):
        return None
    return tail


def _mathrm_unit(unit: str) -> str:
    """``ergs s^{-1}`` -> ``\\mathrm{ergs}\\,\\mathrm{s}^{-1}``, as the solutions write it."""
    if unit.startswith(("^", "\\%", "\\AA")):
        return unit
    return re.sub(r"(?<!\\)\b([A-Za-z]+)", r"\\mathrm{\1}", unit).replace(" ", "\\,")


def _unit_variants(x: str, unit: str, *, kind: str = "unit") -> list[tuple[str, str]]:
    """A number ``x`` followed by ``unit``: plain text, ``\\mathrm{}``, ``\\text{}``."""
    if unit.startswith("^") or unit == "\\%":
        return [(f"{kind}_plain", f"{x}{unit}")]
    out = [
        (f"{kind}_plain", f"{x} {unit}"),
        (f"{kind}_mathrm", f"{x}\\ {_mathrm_unit(unit)}"),
        (f"{kind}_one_mathrm", f"{x}\\,\\mathrm{{{unit.replace(' ', '~')}}}"),
    ]
    if re.fullmatch(r"[A-Za-z /]+", unit):
        out.append((f"{kind}_text", f"{x}\\text{{ {unit}}}"))
    return out


# --------------------------------------------------------------------------------------
# Numbers


def _scientific(gold: str) -> tuple[str, int] | None:
    """(mantissa as written, exponent): ``4.5e33`` -> ("4.5", 33); ``0.006`` -> ("6", -3).

    Digits are kept as written, so the significant figures do not change (``0.10`` ->
    ("1.0", -1)); None for zero.
    """
    m = _NUMBER.match(gold)
    if m.group(4) is not None:
        mantissa = gold.split("e")[0].lstrip("+")
        return mantissa, int(m.group(4))
    digits = (m.group(2) + (m.group(3) or "")).lstrip("0")
    if not digits:
        return None
    point = len(m.group(2).lstrip("0")) or -(len(m.group(3) or "") - len(digits))
    exponent = point - 1
    mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
    return m.group(1).replace("+", "") + mantissa, exponent


def _plain(value: Decimal) -> str:
    return format(value, "f")  # 4.5E+33 -> 4500...0, never in exponent form


def _bump_last_digit(text: str) -> str:
    """``4.5`` -> ``4.6``, ``0.10`` -> ``0.11``, ``19`` -> ``10``: a different number."""
    for i in range(len(text) - 1, -1, -1):
        if text[i].isdigit():
            return text[:i] + str((int(text[i]) + 1) % 10) + text[i + 1 :]
    raise ValueError(text)


def _numeric_variants(gold: str, unit: str | None) -> list[tuple[str, str, bool]]:
    value = Decimal(gold)
    out: list[tuple[str, str, bool]] = []
    sci = _scientific(gold)
    plain = _plain(value)
    if plain != gold.lstrip("+"):
        out.append(("plain_decimal", plain, True))
    if gold.startswith("+"):
        out.append(("no_plus_sign", gold[1:], True))
    head, _, tail = gold.partition("e")
    zero = head + ("0" if "." in head else ".0") + ("e" + tail if tail else "")
    out.append(("trailing_zero", zero, True))  # 1.60, 4.50e33: the same value
    if 1000 <= abs(value) < 10**12 and value == value.to_integral_value():
        out.append(("thousands_separator", f"{int(value):,}".replace(",", "{,}"), True))
    frac = Fraction(value)
    if frac.denominator != 1 and frac.denominator <= 100:
        sign = "-" if frac < 0 else ""
        num, den = abs(frac.numerator), frac.denominator
        out.append(("fraction", f"{sign}\\frac{{{num}}}{{{den}}}", True))
    if sci is not None and sci[1] != 0:  # nobody writes 1.6 \times 10^{0}
        mantissa, exponent = sci
        out += [
            ("sci_times", f"{mantissa} \\times 10^{{{exponent}}}", True),
            ("sci_cdot", f"{mantissa}\\cdot10^{{{exponent}}}", True),
            ("sci_e", f"{mantissa}e{exponent}", True),
            ("sci_E_signed", f"{mantissa}E{exponent:+d}", True),
            ("sci_unicode_times", f"{mantissa} \u00d7 10^{{{exponent}}}", True),
            ("sci_trailing_zero", f"{mantissa}{'0' if '.' in mantissa else '.0'}e{exponent}", True),
            ("assignment", f"v = {mantissa} \\times 10^{{{exponent}}}", True),
        ]
        if len(str(abs(exponent))) > 1 or exponent < 0:
            # TeX reads 10^-5 as 10^{-}5 and 10^33 as 10^{3}3: a different number.
            out.append(("unbraced_exponent_tex", f"{mantissa} \\times 10^{exponent}", False))
        wrong = _bump_last_digit(mantissa)
        out += [
            ("wrong_mantissa", f"{wrong} \\times 10^{{{exponent}}}", False),
            ("wrong_mantissa", f"{wrong}e{exponent}", False),
            ("wrong_exponent", f"{mantissa} \\times 10^{{{exponent + 1}}}", False),
            ("wrong_exponent", f"{mantissa}e{exponent - 1}", False),
        ]
        out += [
            ("euler_e", f"{mantissa} e^{{{exponent}}}", False),
            ("mantissa_only", mantissa, False),
            ("wrong_exponent_sign", f"{mantissa} \\times 10^{{{-exponent}}}", False),
        ]
        if "e" in gold:  # 2e27 once read as 2 * e * 27 = 54e
            product = Decimal(mantissa) * exponent
            if product:
                out.append(("euler_product", f"{_plain(product)}e", False))
        if unit:
            sci_text = f"{mantissa} \\times 10^{{{exponent}}}"
            out += [(k, a, True) for k, a in _unit_variants(sci_text, unit, kind="sci_unit")]
            out.append(("wrong_with_unit", f"{wrong} \\times 10^{{{exponent}}} {unit}", False))
    wrong_gold = _bump_last_digit(head) + ("e" + tail if tail else "")
    out.append(("wrong_last_digit", wrong_gold, False))
    if value:
        out.append(("wrong_sign", "-" + gold.lstrip("+") if value > 0 else gold[1:], False))
        out.append(("wrong_factor_10", _plain(value * 10), False))
    if unit:
        out += [(k, a, True) for k, a in _unit_variants(gold, unit)]
        out.append(("assignment", f"T_{{e}} = {gold}\\,{_mathrm_unit(unit)}", True))
        out.append(("wrong_with_unit", f"{wrong_gold} {unit}", False))
    return out


# --------------------------------------------------------------------------------------
# Formulas and the numpy/Python spellings


def _code_to_latex(gold: str) -> str:
    """``np.arcsin(10/13)`` -> ``\\arcsin(\\frac{10}{13})``, ``-1./3`` -> ``-\\frac{1}{3}``,
    ``\\exp{a*t}`` -> ``e^{a t}``: how a model writes these golds in LaTeX."""
    s = re.sub(r"\bnp\.([a-z]+)", r"\\\1", gold)
    s = re.sub(r"(\d+)\.(?!\d)", r"\1", s)
    s = re.sub(r"\\exp\{([^{}]*)\}", r"e^{\1}", s)
    s = s.replace("*", " ")
    return re.sub(r"(?<![\w.])(\d+)\s*/\s*(\d+)(?![\w.])", r"\\frac{\1}{\2}", s)


def _perturb(gold: str) -> str | None:
    """A formula that is a different answer: the first number changed, else a sign flipped."""
    m = re.search(r"(?<![_^{\\a-zA-Z])\d+", gold)
    if m:
        return gold[: m.start()] + str(int(m.group()) + 1) + gold[m.end() :]
    if "+" in gold:
        return gold.replace("+", "-", 1)
    return None


def _top_level_terms(expr: str) -> list[str]:
    """``a+b-c`` -> ["a", "+b", "-c"]: the summands outside any bracket, with their signs."""
    terms, depth, start = [], 0, 0
    for i, ch in enumerate(expr):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch in "+-" and depth == 0 and i > start and expr[i - 1] not in "^_{(":
            terms.append(expr[start:i].strip())
            start = i
    terms.append(expr[start:].strip())
    return [t for t in terms if t]


def _symbolic_variants(gold: str) -> list[tuple[str, str, bool]]:
    out: list[tuple[str, str, bool]] = []
    code = _code_to_latex(gold)
    if code != gold:
        out.append(("latex_of_code", code, True))
        gold = code  # the other forms start from the LaTeX spelling
    if "\\frac" in gold:
        out.append(("dfrac", gold.replace("\\frac", "\\dfrac"), True))
    if "(" in gold:
        out.append(("left_right", gold.replace("(", "\\left(").replace(")", "\\right)"), True))
    out.append(("dollars", f"${gold}$", True))
    tight = re.sub(r"(?<![a-zA-Z])\s+|\s+(?![a-zA-Z])", "", gold)
    if tight != gold:
        out.append(("no_spaces", tight, True))
    out.append(("display_style", f"\\displaystyle {gold}", True))
    if "=" not in gold:
        out.append(("assignment", f"k = {gold}", True))
        terms = _top_level_terms(gold)
        if len(terms) > 1 and not terms[1].startswith("-"):
            first = terms[0] if terms[0].startswith("-") else "+" + terms[0]
            swapped = " ".join([terms[1].lstrip("+ "), first, *terms[2:]])
            out.append(("reordered_sum", swapped, True))
    # e^{-2 t} -> \exp\left(-2 t\right); not e^{2} (in a formula e may be a charge).
    power = re.compile(r"(?<![a-zA-Z\\])e\^\{([^{}]*[a-z][^{}]*)\}")
    if power.search(gold):
        out.append(("exp_function", power.sub(r"\\exp\\left(\1\\right)", gold), True))
    if re.fullmatch(r"[A-Z]+=[A-Z]+", gold):
        left, right = gold.split("=")
        out.append(("text_words", f"\\text{{{left}}} = \\text{{{right}}}", True))
    wrong = _perturb(gold)
    if wrong is not None:
        out.append(("perturbed_formula", wrong, False))
    return out


def variants(problem) -> list[Variant]:
    """Every variant of one problem's gold; kind ``self`` is the gold itself."""
    gold = problem.answer
    rows: list[tuple[str, str, bool]] = [("self", gold, True)]
    if _NUMBER.match(gold):
        rows += _numeric_variants(gold, solution_unit(problem.metadata.get("solution", "")))
    else:
        rows += _symbolic_variants(gold)
    if gold == "-1./3":  # a decimal that only approximates the fraction
        rows += [("truncated_decimal", "-0.33", False), ("truncated_decimal", "-0.333", False)]
    return [Variant(kind, problem.id, answer, gold, same) for kind, answer, same in rows]


def measure(problems) -> tuple[dict[str, tuple[int, int]], list[tuple[Variant, object]]]:
    """Grade every variant boxed in a response, and every reference solution (kind
    ``solution``): ({kind: (matched, total)}, the misgraded variants with their results)."""
    every = [v for p in problems for v in variants(p)]
    pairs = [(f"So the answer is $\\boxed{{{v.answer}}}$.", v.gold) for v in every]
    for p in problems:
        every.append(Variant("solution", p.id, "(the reference solution)", p.answer, True))
        pairs.append((p.metadata["solution"], p.answer))
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    misgraded = []
    for v, r in zip(every, grade_many(pairs, workers=2), strict=True):
        counts[v.kind][0] += r.correct
        counts[v.kind][1] += 1
        if r.correct is not v.same:
            misgraded.append((v, r))
    return {k: (a, n) for k, (a, n) in sorted(counts.items())}, misgraded


# --------------------------------------------------------------------------------------
# The measurement, pinned: {kind: (graded equal, variants)}. Positive kinds must match,
# negative kinds (NEGATIVE) must never match. docs/grading.md reports these numbers.

NEGATIVE = frozenset(
    {
        "euler_e",
        "euler_product",
        "mantissa_only",
        "perturbed_formula",
        "truncated_decimal",
        "unbraced_exponent_tex",
        "wrong_exponent",
        "wrong_exponent_sign",
        "wrong_factor_10",
        "wrong_last_digit",
        "wrong_mantissa",
        "wrong_sign",
        "wrong_with_unit",
    }
)
EXPECTED: dict[str, tuple[int, int]] = {
    "assignment": (341, 341),
    "dfrac": (52, 52),
    "display_style": (84, 84),
    "dollars": (84, 84),
    "euler_e": (0, 145),
    "euler_product": (0, 58),
    "exp_function": (18, 18),
    "fraction": (52, 52),
    "latex_of_code": (10, 10),
    "left_right": (32, 32),
    "mantissa_only": (0, 145),
    "no_plus_sign": (1, 1),
    "no_spaces": (59, 59),
    "perturbed_formula": (0, 59),
    "plain_decimal": (58, 58),
    "reordered_sum": (13, 13),
    "sci_E_signed": (145, 145),
    "sci_cdot": (145, 145),
    "sci_e": (145, 145),
    "sci_times": (145, 145),
    "sci_trailing_zero": (145, 145),
    "sci_unicode_times": (145, 145),
    "sci_unit_mathrm": (96, 96),
    "sci_unit_one_mathrm": (96, 96),
    "sci_unit_plain": (103, 103),
    "sci_unit_text": (78, 78),
    "self": (272, 272),
    "solution": (272, 272),
    "text_words": (3, 3),
    "thousands_separator": (35, 35),
    "trailing_zero": (188, 188),
    "truncated_decimal": (0, 2),
    "unbraced_exponent_tex": (0, 65),
    "unit_mathrm": (117, 117),
    "unit_one_mathrm": (117, 117),
    "unit_plain": (124, 124),
    "unit_text": (95, 95),
    "wrong_exponent": (0, 290),
    "wrong_exponent_sign": (0, 145),
    "wrong_factor_10": (0, 187),
    "wrong_last_digit": (0, 188),
    "wrong_mantissa": (0, 290),
    "wrong_sign": (0, 187),
    "wrong_with_unit": (0, 227),
}


@pytest.fixture(scope="module")
def minerva(shared_data):
    return load_problems("minerva", path=shared_data)


@pytest.fixture(scope="module")
def measured(minerva):
    return measure(minerva)


def test_the_set_has_272_problems_with_answers_from_the_last_box(minerva):
    assert len(minerva) == 272
    assert [p.id for p in minerva] == [f"minerva/{i}" for i in range(272)]
    first = minerva[0]
    assert first.answer == "1.6" and first.metadata["solution"].endswith("\\mathrm{~cm}\n\\]")
    assert minerva[1].answer == "4.5e33" and minerva[5].answer == "np.arcsin(10/13)"


def test_every_gold_grades_equal_to_itself_and_to_its_solution(measured):
    table, misgraded = measured
    assert table["self"] == (272, 272)
    assert table["solution"] == (272, 272)
    assert not [v for v, _ in misgraded if v.kind in ("self", "solution")]


def test_negative_variants_never_match(measured):
    table, misgraded = measured
    wrongly_accepted = [(v.pid, v.kind, v.answer, v.gold) for v, _ in misgraded if not v.same]
    assert not wrongly_accepted, wrongly_accepted[:10]
    assert all(table[kind][0] == 0 for kind in NEGATIVE & set(table))
    assert sum(table[kind][1] for kind in NEGATIVE) >= 1900


def test_variant_agreement_by_kind(measured):
    table, misgraded = measured
    missed = [(v.pid, v.kind, v.answer, v.gold) for v, _ in misgraded if v.same]
    assert table == EXPECTED, missed[:10]


def test_units_are_read_from_the_solution_text():
    assert solution_unit(r"s=\boxed{1.6} \mathrm{~cm}") == "cm"
    assert solution_unit(r"L \simeq \boxed{4.5e33} \mathrm{ergs} \mathrm{s}^{-1}") == (
        "ergs s^{-1}"
    )
    assert solution_unit(r"$\boxed{300} \mathrm{~km} / \mathrm{s}$.") == "km/s"
    assert solution_unit(r"$\boxed{15625}$ times that of the Sun.") is None
    assert solution_unit(r"\boxed{5.3e-9} \mathrm{~mol} \mathrm{Bi}_{2}") is None


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["MRT_ENV_TEST_DATA"])
    table, misgraded = measure(load_problems("minerva", path=folder))
    for kind, (agree, total) in table.items():
        print(f"{kind:24s} {agree:4d} / {total:4d}{'   (must be 0)' if kind in NEGATIVE else ''}")
    for v, r in misgraded:
        print(f"MISGRADED {v.kind} {v.pid} gold={v.gold!r} answer={v.answer!r}: {r.reason}")
