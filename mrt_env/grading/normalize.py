"""Text normalisation of answers, and the exact comparisons that need no sympy.

Models and datasets write the same answer many ways: ``070``, ``1{,}000``, ``\\$32,348``,
``30^\\circ``, ``\\text{(C)}``, ``x = 7``, ``\\dfrac12``, ``4.5e33``,
``4.5 \\times 10^{33}\\,\\mathrm{erg\\,s^{-1}}``. :func:`normalize_answer` maps all of
them to one canonical LaTeX string; :func:`fast_verdict` then settles the common cases
(numbers, choice letters, words, identical strings) exactly and in microseconds, so that
only genuinely symbolic answers pay for a sympy parse in a worker process.

Everything here is plain string work, bounded and linear in the input: it is safe to run
in the caller's thread on any input.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from decimal import Decimal, localcontext
from fractions import Fraction

__all__ = [
    "FastValue",
    "fast_value",
    "fast_verdict",
    "implausible",
    "normalize_answer",
    "split_top_level",
    "strip_outer_braces",
    "too_large",
]

_UNICODE = {
    "\u2212": "-",  # minus sign
    "\u2013": "-",
    "\u00d7": r"\times ",
    "\u00b7": r"\cdot ",
    "\u00f7": r"\div ",
    "\u00b0": "",  # degree sign
    "\u221a": r"\sqrt",
    "\u03c0": r"\pi ",
    "\u221e": r"\infty ",
    "\u2264": r"\le ",
    "\u2265": r"\ge ",
    "\u222a": r"\cup ",
    "\u00a0": " ",
    "\u2009": " ",
    "\u202f": " ",
}
# Control characters, and invisible format characters (zero-width, bidi overrides, BOM).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
# Commands whose argument is plain text to keep (the command itself means nothing here).
_TEXT_CMD = re.compile(
    r"\\(?:text|textbf|textit|textrm|textsf|texttt|textnormal|mathrm|mathbf|mathit|mathsf"
    r"|mathtt|mbox|hbox|boldsymbol|bm|emph|operatorname)\s*\{([^{}]*)\}"
)
_SIZING = re.compile(r"\\(?:left|right|[bB]ig{1,2}[lr]?)(?![a-zA-Z])")
_NULL_DELIM = re.compile(r"(?:\\left|\\right)\s*\.")
_DISPLAY = re.compile(r"\\(?:displaystyle|textstyle|scriptstyle|limits|nolimits)(?![a-zA-Z])")
_DEGREES = re.compile(r"\^\s*\{\s*\\circ\s*\}|\^\s*\\circ|\\circ|\\degree|\^\s*\{\s*\}")
# Thousands groups: 1{,}000, 1\,000, 1~000 or 1 000 000 is 1000000 only when every group
# after the first has exactly three digits, and the first one to three, in the integer part
# (not after a point, a script or another digit). Any other space between digits is not
# taken for nothing: "2 3" is not 23 (see _SPACED_DIGITS).
_GROUP_SEP = r"(?:\{,\}|(?<!\\)\\[,! ]|~| )"
_THOUSANDS_GROUPS = re.compile(
    rf"(?<![\d.^_])\d{{1,3}}(?:{_GROUP_SEP}\d{{3}})+(?!\d|{_GROUP_SEP}\d)"
)
_GROUP_SEP_RE = re.compile(_GROUP_SEP)
# Spacing commands; a row break ``\\`` (two backslashes) is not one.
_SPACES = re.compile(r"(?<!\\)\\[,;:! ]|\\q?quad(?![a-zA-Z])|~")
_FRAC_ALIASES = re.compile(r"\\[dt]frac(?![a-zA-Z])")
_FRAC_SHORT = re.compile(r"\\frac\s*(\d)\s*(\d)")
_FRAC_HALF_SHORT_NUM = re.compile(r"\\frac\s*(\{[^{}]*\})\s*(\d)")
_FRAC_HALF_SHORT_DEN = re.compile(r"\\frac\s*(\d)\s*(\{[^{}]*\})")
_SQRT_SHORT = re.compile(r"\\sqrt\s*([0-9a-zA-Z])")
# x^2 -> x^{2}, a_1 -> a_{1}: one spelling of one-character scripts.
_SHORT_SCRIPT = re.compile(r"([\^_])\s*([0-9a-zA-Z])")
_WS = re.compile(r"\s+")
_UNITS = (
    "units?|square|sq|cubic|cm|mm|km|meters?|metres?|centimeters?|kilometers?|inch(?:es)?|in"
    "|feet|foot|ft|yards?|yd|miles?|mi|mph|kg|grams?|pounds?|lbs?|ounces?|oz|degrees?|deg"
    "|radians?|rad|cents?|dollars?|seconds?|sec|minutes?|min|hours?|hrs?|days?|weeks?"
    "|months?|years?|people|persons?|students?|ways?|times|points?|liters?|litres?|gallons?"
)
# One-letter units (m, g, s, h) only after a space: "2m" may be 2 times a variable m; and
# only after a digit: in "\frac{37}{4} m" the m is a factor (a mass), not metres.
_UNIT = rf"(?:\s*(?:{_UNITS})|\s+[mgsh])(?![a-zA-Z])(?:\s*\^\s*\{{?[23]\}}?)?"
_TRAILING_UNITS = re.compile(rf"(?:(?<=\d)|(?<=\}})(?!\s+[mgsh](?![a-zA-Z])))(?:{_UNIT})+\s*$")
# A unit set upright right after a number: "5\mathrm{m}" is 5 metres, so the wrapper
# counts as a space before it is unwrapped.
_WRAPPED_AFTER_NUMBER = re.compile(r"(?<=\d)(?=\\(?:mathrm|text|textrm|rm|mbox)\s*\{)")

# --- A number with a unit, and scientific notation (MinervaMATH's physics answers) ---
# A whole answer that is a decimal number, optionally in scientific notation (4.5e33,
# 4.5 \times 10^{33}, 3\cdot 10^{8}, 10^{-5}), optionally followed by a unit, becomes the
# plain decimal: "4.5 \times 10^{33} ergs s^{-1}" -> "4500...0" (33 zeros less one).
# Only whole answers: inside a formula "2e-1" may be 2e - 1, and a letter after a formula
# may be a factor. A multi-digit exponent needs braces: 10^33 is TeX's 10^{3}3.
_MANTISSA = r"(\d{1,3}(?:,\d{3})+(?:\.\d*)?|\d+(?:\.\d*)?|\.\d+)"
_POWER_OF_TEN = r"10\s*\^\s*\{\s*([+-]?\d+)\s*\}"
_NUMBER_HEAD = re.compile(
    rf"^([+-]?)\s*(?:{_POWER_OF_TEN}|{_MANTISSA}(?:[eE]([+-]?\d+)(?![\d.])"
    rf"|\s*(?:\\times|\\cdot|\*)\s*{_POWER_OF_TEN})?)"
)
# Exponents up to this are written out as a plain decimal; beyond it a number is written
# in one canonical scientific form (``4.5\times 10^{500}``, ``10^{401}``), which
# fast_value reads back exactly and sympy reads as the same number.
_MAX_SCI_EXPONENT = 400
# An exponent longer than this is no number anyone means: left as written.
_MAX_EXPONENT_DIGITS = 10_000
_SI_PREFIX = r"(?:[yzafpnumcdhkMGTPE]|da|\\mu\s*|\u00b5)"
_UNIT_SYMBOLS = r"m|g|s|K|J|W|N|V|A|C|F|T|L|M|Pa|Hz|eV|mol|bar|erg|ergs|cal|pc|yr|ly|Wb|ohm|\\Omega"
_UNIT_WORDS = (
    r"meters?|metres?|seconds?|sec|grams?|years?|days?|hours?|hrs?|h|min|minutes?|weeks?"
    r"|parsecs?|arcsecs?|arcseconds?|arcmins?|arcminutes?|radians?|rad|degrees?|deg|sr"
    r"|angstroms?|Angstroms?|\\AA|\u00c5|\u212b|amu|Da|atm|Torr|dynes?|dyn|gauss|ohms?"
    r"|kelvins?|joules?|watts?|volts?|Volts?|newtons?|moles?|liters?|litres?|AU|au|mag"
    r"|magnitudes?|atoms?|photons?|molecules?|electrons?|particles?|bits?|bytes?|counts?"
    r"|cycles?|revolutions?|rev|rpm|r(?=\s*/\s*(?:s|sec|min)(?![A-Za-z]))|dollars?|cents?"
    r"|bushels?|units?|light[- ]years?"
    r"|[MLR]_\\odot|\\odot|cm|mm|km|nm|inch(?:es)?|in|feet|foot|ft|miles?|mi|mph|kg"
    r"|pounds?|lbs?|squared|cubed|square|cubic"
)
_UNIT_ATOM = (
    rf"(?:(?:{_UNIT_WORDS})|{_SI_PREFIX}?(?:{_UNIT_SYMBOLS}))(?![A-Za-z])"
    r"(?:\s*\^\s*[+-]?\d+)?"
    r"|\^\s*\\prime(?:\s*\\prime)?|'{1,2}|\\prime{1,2}"
)
_UNIT_JOIN = r"(?:\s*(?:/|\\cdot|\*)\s*|\s+per\s+|\s*)"
# A unit may end "per" a counted thing of any name: eV/vacancy, photons/pulse, kJ/bomb.
_UNIT_EXPR = re.compile(
    rf"(?:(?:/|per\s)\s*)?(?:{_UNIT_ATOM})(?:{_UNIT_JOIN}(?:{_UNIT_ATOM}))*"
    r"(?:\s*(?:/|\s+per\s+)\s*[A-Za-z]{3,})?"
)
# What is dropped from a unit before it is read: wrappers, braces, spacing commands.
_UNIT_NOISE = re.compile(
    r"\\(?:mathrm|text|textrm|rm|mbox|operatorname|mathit)(?![a-zA-Z])|[{}~]"
    r"|(?<!\\)\\[,;:! ]"
)
_ONE_LETTER_FIRST = re.compile(r"[A-Za-z](?![A-Za-z])")

# Python/numpy spellings in datasets' answers: np.arcsin(10/13), -1./3.
_NUMPY_FUNCTION = re.compile(
    r"(?<![\w.\\])np\.(arcsin|arccos|arctan|sinh|cosh|tanh|sin|cos|tan|exp|sqrt|pi)\b"
)
_NUMPY_LOG = re.compile(r"(?<![\w.\\])np\.log\b")
_BARE_POINT = re.compile(r"(?<![\d.])(\d+)\.(?=\s*[/*)])")
_ASSIGNMENT = re.compile(r"^\s*[a-zA-Z](?:_\{?[a-zA-Z0-9]+\}?)?\s*(?:=|\\in)(?!=)\s*")
_THOUSANDS_COMMA = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
_CHOICE = re.compile(r"^\(?\s*([A-Ea-e])\s*\)?(?:\s.*)?$", re.DOTALL)
_GOLD_CHOICE = re.compile(r"^(?:\(\s*([A-Ea-e])\s*\)|([A-E]))$")
_NUMBER = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?$")
# The canonical scientific form _plain_number writes for exponents past _MAX_SCI_EXPONENT.
_SCI_NUMBER = re.compile(
    r"^([+-]?)(?:(\d+(?:\.\d+)?)\\times 10\^\{([+-]?\d+)\}|10\^\{([+-]?\d+)\})$"
)
# Spaces that are not between two digits (those mean nothing in a number).
_LOOSE_SPACE = re.compile(r"(?<!\d) +| +(?!\d)")
# Two digits apart after normalisation (not thousands groups): "2 3", "1 0000", "3.1 4".
_SPACED_DIGITS = re.compile(r"\d (?=\d)")
_FRACTION = re.compile(r"^([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}$|^([+-]?\d+)\s*/\s*([+-]?\d+)$")
_WORD = re.compile(r"^[A-Za-z][A-Za-z' -]*$")
# Words that are mathematics, not prose: left to sympy.
_MATH_WORDS = frozenset({"pi", "e", "i", "infty", "inf", "infinity", "oo", "sqrt", "ln", "log"})
# Above this many digits (or powers of ten) a number is compared by its digits and power
# only, never converted to an int (Python refuses int/str conversions past 4300 digits).
_MAX_EXACT_DIGITS = 4000
# Shapes no real answer has, that only make a parser or sympy slow (checked before parsing).
MAX_ANSWER_CHARS = 2000
_MAX_DEPTH = 20
_MAX_POWERS = 20
_LONG_BANG = re.compile(r"!{7,}")
_HUGE_COMBINATORICS = re.compile(r"\d{7,}\s*!|\\binom\s*\{\s*\d{7,}")


def strip_outer_braces(s: str) -> str:
    """``{{x}}`` -> ``x`` when the braces enclose the whole string.

    Linear in ``len(s)``: one pass records the brace depth after every character, so each
    layer is checked by a lookup instead of a rescan (a rescan per layer was quadratic).

    >>> strip_outer_braces("{ {x} }"), strip_outer_braces("{a}{b}")
    ('x', '{a}{b}')
    """
    if len(s) < 2 or s[0] != "{" or s[-1] != "}":
        return s
    # depth[i]: brace depth after character i; where[d]: the positions with depth d.
    where: dict[int, list[int]] = {}
    depth = 0
    for i, ch in enumerate(s):
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        else:
            continue
        where.setdefault(depth, []).append(i)
    lo, hi, base = 0, len(s), 0  # s[lo:hi] is the candidate; base: the depth before lo
    while hi - lo >= 2 and s[lo] == "{" and s[hi - 1] == "}":
        # The brace at lo encloses the rest unless the depth falls back to base before
        # hi - 1 (depth moves by one per brace, so it cannot skip base on the way down).
        closes = where.get(base, [])
        k = bisect.bisect_left(closes, lo)
        if k < len(closes) and closes[k] < hi - 1:
            break
        lo, hi, base = lo + 1, hi - 1, base + 1
        while lo < hi and s[lo].isspace():
            lo += 1
        while hi > lo and s[hi - 1].isspace():
            hi -= 1
    return s[lo:hi]


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside any (), [], {} (mismatched pairs like ``[0,1)`` count too)."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and s[i + 1] in "{}":
            depth += 1 if s[i + 1] == "{" else -1
            i += 2
            continue
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(s[start:i])
            start = i + 1
        i += 1
    parts.append(s[start:])
    return [p.strip() for p in parts]


def _unwrap_text_commands(s: str) -> str:
    # Innermost first; a bounded number of rounds keeps pathological nesting linear-ish.
    for _ in range(8):
        new = _TEXT_CMD.sub(r"\1", s)
        if new == s:
            break
        s = new
    return s


def normalize_answer(answer: str) -> str:
    """Canonical form of one answer string (not a whole response).

    Removes presentation that does not change the value (math delimiters, ``\\left``,
    spacing commands, ``\\text{}``-like wrappers, degrees, percent and dollar signs,
    trailing units, thousands separators, a leading ``x =``), and rewrites aliases
    (``\\dfrac`` -> ``\\frac``, ``\\frac12`` -> ``\\frac{1}{2}``, ``\\sqrt2`` -> ``\\sqrt{2}``,
    ``np.arcsin`` -> ``\\arcsin``, ``1./3`` -> ``1/3``). A whole answer that is a decimal
    number, in scientific notation or not, with or without a unit after it, becomes the
    plain decimal (``4.5 \\times 10^{3}\\,\\mathrm{m/s}`` -> ``4500``).
    The percent sign is dropped, not divided out: datasets store ``50`` for "50%".
    """
    s = answer
    for bad, good in _UNICODE.items():
        if bad in s:
            s = s.replace(bad, good)
    s = _CONTROL.sub("", s)
    s = s.replace(r"\$", "").replace("$", "")
    s = s.replace(r"\(", "").replace(r"\)", "").replace(r"\[", "").replace(r"\]", "")
    s = _NULL_DELIM.sub("", s)
    s = _SIZING.sub("", s)
    s = _DISPLAY.sub("", s)
    s = _WRAPPED_AFTER_NUMBER.sub(" ", s)
    s = _unwrap_text_commands(s)
    s = s.replace(r"\%", "").replace("%", "")
    s = _DEGREES.sub("", s)
    s = _THOUSANDS_GROUPS.sub(lambda m: _GROUP_SEP_RE.sub("", m.group()), s)
    s = s.replace("{,}", ",")
    s = _SPACES.sub(" ", s)
    s = _FRAC_ALIASES.sub(r"\\frac", s)
    s = _FRAC_SHORT.sub(r"\\frac{\1}{\2}", s)
    s = _FRAC_HALF_SHORT_NUM.sub(r"\\frac\1{\2}", s)
    s = _FRAC_HALF_SHORT_DEN.sub(r"\\frac{\1}\2", s)
    s = _SQRT_SHORT.sub(r"\\sqrt{\1}", s)
    s = _SHORT_SCRIPT.sub(r"\1{\2}", s)
    s = _NUMPY_FUNCTION.sub(r"\\\1", s)
    s = _NUMPY_LOG.sub(r"\\ln", s)
    s = _BARE_POINT.sub(r"\1", s)
    s = _WS.sub(" ", s).strip().rstrip(".").strip()
    # Braces first: in "{{5 students}}" the unit is not trailing until they are gone.
    s = strip_outer_braces(s)
    s = _TRAILING_UNITS.sub("", s).strip()
    s = strip_outer_braces(s)
    if _THOUSANDS_COMMA.match(s):
        s = s.replace(",", "")
    if "," in s and "=" in s:
        s = ",".join(_ASSIGNMENT.sub("", part) for part in split_top_level(s))
    else:
        s = _ASSIGNMENT.sub("", s)
    return _plain_number(strip_outer_braces(s.strip()))


def _is_unit(rest: str) -> bool:
    """Is ``rest``, what follows a number, a unit (``ergs s^{-1}``, ``/cm^{3}``, ``\\AA``)?

    A one-letter unit written against the number is not one: ``2m`` may be 2 times m.
    """
    flat = _WS.sub(" ", _UNIT_NOISE.sub(" ", rest)).strip()
    if not flat or len(flat) > 80:
        return False
    if not rest[0].isspace() and not rest.startswith("\\") and _ONE_LETTER_FIRST.match(flat):
        return False
    return _UNIT_EXPR.fullmatch(flat) is not None


def _plain_number(s: str) -> str:
    """A whole answer that is a number (``_NUMBER_HEAD``), with or without a unit after it,
    as a plain decimal: ``3e8 m/s`` and ``3 \\times 10^{8}`` -> ``300000000``, ``1.60 cm``
    -> ``1.60``; with an exponent past ``_MAX_SCI_EXPONENT``, in the canonical scientific
    form (``1e401`` and ``10\\times10^{400}`` -> ``10^{401}``). Anything else is returned
    unchanged."""
    m = _NUMBER_HEAD.match(s)
    if m is None:
        return s
    has_unit = bool(s[m.end() :].strip())
    if has_unit and not _is_unit(s[m.end() :]):
        return s
    sign, mantissa = m.group(1), (m.group(3) or "1").replace(",", "")
    exponent = m.group(2) or m.group(4) or m.group(5)
    if exponent is None:
        return f"{sign}{mantissa}" if has_unit else s
    if len(exponent) > _MAX_EXPONENT_DIGITS:
        return s
    # Decimal, not int: an exponent of 5000 digits is past int()'s conversion limit.
    power = Decimal(exponent)
    if abs(power) > _MAX_SCI_EXPONENT:
        return _scientific_text(*_scientific(sign, mantissa, exponent))
    # Exact: the digits are kept and only the decimal exponent moves (no float, no rounding).
    value = Decimal(mantissa).as_tuple()
    text = format(Decimal((value.sign, value.digits, value.exponent + int(power))), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return ("-" if sign == "-" and text.strip("0.") else "") + text


def _scientific(sign: str, mantissa: str, exponent: str) -> tuple[bool, str, Decimal]:
    """``sign mantissa × 10^exponent`` as (negative, significant digits, power of ten):
    the value is ``±int(digits) × 10**power``, with no leading or trailing zero in
    ``digits``, so two numbers are equal exactly when these are. Zero is (False, "0", 0)."""
    whole, _, frac = mantissa.partition(".")
    digits = (whole + frac).lstrip("0")
    significant = digits.rstrip("0")
    if not significant:
        return False, "0", Decimal(0)
    shift = len(digits) - len(significant) - len(frac)
    with localcontext() as ctx:  # exact integer arithmetic on an exponent of any length
        ctx.prec = len(exponent) + 30
        ctx.Emax = ctx.prec
        power = Decimal(exponent) + shift
    return sign == "-", significant, power


def _scientific_text(negative: bool, digits: str, power: Decimal) -> str:
    """The canonical LaTeX of a number from :func:`_scientific`: ``-4.5\\times 10^{500}``,
    ``10^{401}``."""
    if digits == "0":
        return "0"
    with localcontext() as ctx:
        ctx.prec = len(str(power)) + 30
        ctx.Emax = ctx.prec
        top = format(power + len(digits) - 1, "f")  # the power of the leading digit
    head = "" if digits == "1" else f"{digits[0]}.{digits[1:]}" if len(digits) > 1 else digits
    body = f"10^{{{top}}}" if not head else f"{head}\\times 10^{{{top}}}"
    return ("-" if negative else "") + body


def implausible(norm: str) -> str | None:
    """Why ``norm`` cannot be a real answer and is not worth parsing, or None.

    These shapes (1000-level nesting, towers of powers, 100k characters) only ever come
    from degenerate generations; refusing them here keeps a worker from spending its whole
    deadline on them. Digits apart ("2 3") are refused too: the parser would add them.
    """
    if len(norm) > MAX_ANSWER_CHARS:
        return f"answer longer than {MAX_ANSWER_CHARS} characters: not parsed"
    depth = deepest = 0
    for ch in norm:
        if ch in "([{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in ")]}":
            depth -= 1
    if deepest > _MAX_DEPTH:
        return f"brackets nested {deepest} deep (more than {_MAX_DEPTH}): not parsed"
    if norm.count("^") > _MAX_POWERS:
        return f"more than {_MAX_POWERS} powers: not parsed"
    if _SPACED_DIGITS.search(norm):
        return "digits separated by a space, not in thousands groups: not a number"
    return None


def too_large(norm: str) -> str | None:
    """Why ``norm``'s value is too large to evaluate (``100000000!``), or None."""
    if _LONG_BANG.search(norm) or _HUGE_COMBINATORICS.search(norm):
        return "factorial or binomial of a huge number: not evaluated"
    return None


@dataclass(frozen=True)
class FastValue:
    """What a normalised answer is, when it can be told without sympy.

    kind: ``"number"`` (``key``: a decimal number's sign, significant digits and power of
    ten, equal exactly when the numbers are, whatever their size; ``value``: the Fraction,
    when it is small enough to build), ``"choice"`` (``text`` the upper-case letter),
    ``"word"`` (``text`` case-folded), or ``"other"`` (leave it to sympy).
    """

    kind: str
    value: Fraction | None = None
    key: tuple[bool, str, Decimal] | None = None
    text: str | None = None


_OTHER = FastValue("other")


def _number(s: str) -> FastValue | None:
    s = _LOOSE_SPACE.sub("", s)  # "- 5" is -5; "2 3" stays apart and is no number
    m = _NUMBER.match(s)
    if m and (m.group(2) or m.group(3)):
        key = _scientific(m.group(1), f"{m.group(2)}.{m.group(3) or ''}", "0")
        return FastValue("number", value=_exact(key), key=key)
    m = _SCI_NUMBER.match(s)
    if m and len(m.group(3) or m.group(4)) <= _MAX_EXPONENT_DIGITS:
        key = _scientific(m.group(1), m.group(2) or "1", m.group(3) or m.group(4))
        return FastValue("number", value=_exact(key), key=key)
    m = _FRACTION.match(s)
    if m:
        if m.group(2):
            sign, num, den = m.group(1), m.group(2), m.group(3)
        else:
            sign, num, den = "", m.group(4), m.group(5)
        if len(num) + len(den) > _MAX_EXACT_DIGITS or int(den) == 0:
            return None
        value = Fraction(int(num), int(den))
        return FastValue("number", value=-value if sign == "-" else value)
    return None


def _exact(key: tuple[bool, str, Decimal]) -> Fraction | None:
    """The Fraction of a number from :func:`_scientific`; None when it would be too large
    to build (more than ``_MAX_EXACT_DIGITS`` digits, or as many zeros)."""
    negative, digits, power = key
    if len(digits) > _MAX_EXACT_DIGITS or abs(power) > _MAX_EXACT_DIGITS:
        return None
    n = int(power)
    value = Fraction(int(digits) * 10**n) if n >= 0 else Fraction(int(digits), 10**-n)
    return -value if negative else value


def fast_value(norm: str, *, as_gold: bool = False) -> FastValue:
    """Classify a normalised answer for :func:`fast_verdict`.

    A lone letter A-E is a multiple-choice answer only on the gold side (in parentheses,
    or upper case): on its own a ``c`` or ``e`` in a prediction may be a constant.
    """
    number = _number(norm)
    if number is not None:
        return number
    if as_gold:
        m = _GOLD_CHOICE.match(norm)
        if m:
            return FastValue("choice", text=(m.group(1) or m.group(2)).upper())
    if _WORD.match(norm):
        folded = _WS.sub(" ", norm.casefold().strip())
        if len(folded) >= 2 and folded not in _MATH_WORDS:
            return FastValue("word", text=folded)
    return _OTHER


def _choice_letter(norm: str) -> str | None:
    m = _CHOICE.match(norm)
    return m.group(1).upper() if m else None


def fast_verdict(pred_norm: str, gold_norm: str) -> tuple[bool, str] | None:
    """(verdict, reason) when the answers can be judged without sympy, else None."""
    if pred_norm == gold_norm:
        return (bool(gold_norm), "identical after normalisation" if gold_norm else "empty")
    if not pred_norm:
        return (False, "empty answer")
    gold = fast_value(gold_norm, as_gold=True)
    if gold.kind == "choice":
        letter = _choice_letter(pred_norm)
        return (letter == gold.text, f"choice {letter} vs {gold.text}")
    if gold.kind == "other":
        return None
    pred = fast_value(pred_norm)
    if gold.kind == "number" and pred.kind == "number":
        if gold.key is not None and pred.key is not None:  # two decimals, of any size
            return (gold.key == pred.key, "exact number comparison")
        if gold.value is not None and pred.value is not None:
            return (gold.value == pred.value, "exact number comparison")
        return None  # a fraction against a decimal too large to build: sympy decides
    if gold.kind == "word" and pred.kind == "word":
        return (gold.text == pred.text, "word comparison (case-insensitive)")
    if gold.kind == "number" and pred.kind == "word":
        return (False, "word against a number")
    return None
