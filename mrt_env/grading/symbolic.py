"""Symbolic comparison of two normalised answers with sympy.

This module does the slow, unbounded work (LaTeX parsing, ``simplify``) and is meant to
run inside a grading worker process (see :mod:`mrt_env.grading.pool`), where an overrun
is ended by killing the process. Its own guards make the common hostile inputs cheap:
numbers whose size would explode (``2^{2^{2^{100}}}``, ``9!!!!!!``) are never evaluated,
only compared as written.

An answer is parsed into a small tagged value:

* ``Scalar``: one sympy expression (decimals are read as exact rationals, so ``0.33`` is
  33/100 and never equals 1/3, and ``6.28`` never equals ``2\\pi``);
* ``Seq``: an ordered tuple ``(a, b, ...)``;
* ``Bag``: an unordered collection: ``\\{a, b\\}``, a bare list ``a, b``, ``a \\pm b``;
* ``Ival``: an interval or union of intervals (also what ``0 < x \\le 1`` becomes);
* ``Mat``: a matrix or vector;
* ``Rel``: an equation or a relation that is not a simple interval.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import sympy
from latex2sympy2_extended import latex2sympy

from mrt_env.errors import AnswerParseError
from mrt_env.grading.normalize import split_top_level, strip_outer_braces

__all__ = ["compare", "parse_value", "values_equal"]

# Numbers with more bits than this are never evaluated (2^(2^100) would take forever).
_MAX_BITS = 200_000
_MAX_ELEMENTS = 64
_DECIMAL = re.compile(r"(?<![\d.])(\d+)\.(\d+)(?![\d.])")
_REL_OPS = re.compile(r"(<=|>=|\\(?:leq?|geq?|lt|gt)(?![a-zA-Z])|<|>)")
_LESS = {"<": True, "\\lt": True, "<=": False, "\\le": False, "\\leq": False}
_GREATER = {">": True, "\\gt": True, ">=": False, "\\ge": False, "\\geq": False}
_MATRIX = re.compile(r"\\begin\{[pbBvV]?matrix\}")
_CUP = "\\cup"
_I = sympy.Symbol("i")
# Spellings latex2sympy misreads, rewritten to ones it reads as the intended symbol:
# \gamma is a variable in answers (a Lorentz factor, an angle), not Euler's constant, and
# "\gamma^{2}-1" must not become gamma(-1)**2; E_{1}, e_{0} are subscripted symbols, not
# Euler's number (latex2sympy cannot parse them); L_{\odot} is a label, not an operator.
_GAMMA = re.compile(r"\\gamma(?![a-zA-Z])")
_SUBSCRIPTED_E = re.compile(r"(?<![\\a-zA-Z])[eE](?=\s*_)")
_LABEL_SUBSCRIPT = re.compile(
    r"_\s*(?:\{\s*\\(odot|oplus|star|ast)\s*\}|\\(odot|oplus|star|ast)(?![a-zA-Z]))"
)
_RNG_SEED = 20250311


class TooLarge(AnswerParseError):
    """An expression whose value is too large to evaluate: the comparison reaches no
    verdict (the two may well be equal)."""


@dataclass(frozen=True)
class Scalar:
    expr: Any


@dataclass(frozen=True)
class Seq:
    items: tuple


@dataclass(frozen=True)
class Bag:
    items: tuple


@dataclass(frozen=True)
class Ival:
    set: Any


@dataclass(frozen=True)
class Mat:
    matrix: Any


@dataclass(frozen=True)
class Rel:
    expr: Any


# ---------------------------------------------------------------------------------------
# Size guard


def _log2_bound(expr: Any) -> float:
    """An upper bound on log2|value| of a numeric expression tree (inf when huge)."""
    if expr.is_Integer or expr.is_Rational:
        return float(max(abs(int(expr.p)).bit_length(), abs(int(expr.q)).bit_length()))
    if expr.is_Float or expr.is_NumberSymbol or expr.is_Symbol or expr.is_Atom:
        return 2.0
    args = [_log2_bound(a) for a in expr.args]
    if any(math.isinf(a) for a in args):
        return math.inf
    if isinstance(expr, sympy.Pow):
        base_bits, exp_bits = args
        if exp_bits > 40:
            return math.inf
        bits = base_bits * _exponent_size(expr.exp, exp_bits)
    elif isinstance(expr, (sympy.factorial, sympy.factorial2, sympy.subfactorial, sympy.gamma)):
        if args[0] > 24:
            return math.inf
        n = 2.0 ** args[0]
        bits = n * math.log2(max(n, 2.0))
    elif isinstance(expr, sympy.binomial):
        bits = args[0] * 2.0 ** min(args[1], 40)
    elif isinstance(expr, sympy.Mul):
        bits = sum(args)
    else:
        bits = max(args, default=0.0) + 1.0
    return math.inf if bits > _MAX_BITS else bits


_ARITHMETIC = (sympy.Rational, sympy.Pow, sympy.Mul, sympy.Add)


def _exponent_size(exp: Any, exp_bits: float) -> float:
    """An upper bound on |exp|, given that it has at most ``exp_bits`` bits: the value
    itself when it is a small rational (cheap to evaluate at that size), so that
    ``2^{2^{10}}`` counts 2^10, not the 2^20 that 20 bits of exponent would allow."""
    # Only arithmetic on numbers: the bound of a Sum or a function says nothing of the
    # work evaluating it takes.
    if exp_bits <= 64 and all(isinstance(n, _ARITHMETIC) for n in sympy.preorder_traversal(exp)):
        value = exp.doit()
        if value.is_Rational:
            return float(abs(value))
    return 2.0**exp_bits


def _check_size(expr: Any) -> None:
    if isinstance(expr, sympy.Basic) and math.isinf(_log2_bound(expr)):
        # Not str(expr): printing the value itself can be what is too large.
        raise TooLarge(f"a {type(expr).__name__} of more than {_MAX_BITS} bits")


# ---------------------------------------------------------------------------------------
# Parsing


def _exact_decimals(s: str) -> str:
    # 0.33 -> \frac{33}{100}: keeps every comparison exact (no float rounding).
    def exact(m: re.Match) -> str:
        whole, frac = m.group(1), m.group(2)
        return rf"\frac{{{whole}{frac}}}{{1{'0' * len(frac)}}}"

    return _DECIMAL.sub(exact, s)


@lru_cache(maxsize=4096)
def _parse_expr(s: str) -> Any:
    s = strip_outer_braces(s.strip())
    if not s:
        raise AnswerParseError("empty expression")
    s = _GAMMA.sub(r"\\mathcal{gamma}", s)
    s = _SUBSCRIPTED_E.sub(r"\\mathbf{E}", s)
    s = _LABEL_SUBSCRIPT.sub(lambda m: "_{" + (m.group(1) or m.group(2)) + "}", s)
    expr = latex2sympy(_exact_decimals(s))
    if isinstance(expr, sympy.Basic) and _I in expr.free_symbols:
        expr = expr.xreplace({_I: sympy.I})  # models write i for the imaginary unit
    return expr


def _wrapped(s: str, left: str, right: str) -> bool:
    """Does the bracket at s[0] close exactly at s[-1]?"""
    if not (s.startswith(left) and s.endswith(right)):
        return False
    depth = 0
    for i, ch in enumerate(s):
        depth += ch in "([{"
        depth -= ch in ")]}"
        if depth == 0 and i < len(s) - 1:
            return False
    return True


def _interval(lo: Any, hi: Any, left_open: bool, right_open: bool) -> Any:
    return sympy.Interval(lo, hi, left_open=left_open, right_open=right_open)


def _inequality(s: str) -> Ival | None:
    """``x > 2``, ``2 < x``, ``0 < x \\le 1`` -> interval; anything else -> None."""
    parts = [p.strip() for p in _REL_OPS.split(s)]
    terms, ops = parts[0::2], parts[1::2]
    if not ops or any(not t for t in terms):
        return None
    is_var = [bool(re.fullmatch(r"[a-zA-Z]", t)) for t in terms]
    if len(ops) == 1 and is_var[0] != is_var[1]:
        var_left, op = is_var[0], ops[0]
        bound = _parse_expr(terms[1] if var_left else terms[0])
        less = op in _LESS
        strict = _LESS.get(op, _GREATER.get(op, False))
        if var_left == less:  # x < b  or  b > x
            return Ival(_interval(-sympy.oo, bound, True, strict))
        return Ival(_interval(bound, sympy.oo, strict, True))
    if len(ops) == 2 and is_var == [False, True, False]:
        lo, hi = _parse_expr(terms[0]), _parse_expr(terms[2])
        if all(o in _LESS for o in ops):
            return Ival(_interval(lo, hi, _LESS[ops[0]], _LESS[ops[1]]))
        if all(o in _GREATER for o in ops):
            return Ival(_interval(hi, lo, _GREATER[ops[1]], _GREATER[ops[0]]))
    return None


def _elements(inner: str) -> tuple:
    items = split_top_level(inner)
    if len(items) > _MAX_ELEMENTS:
        raise TooLarge(f"{len(items)} elements")
    return tuple(parse_value(item) for item in items)


def parse_value(s: str) -> Scalar | Seq | Bag | Ival | Mat | Rel:
    """Parse one normalised answer into a tagged value (see the module docstring)."""
    s = strip_outer_braces(s.strip())
    if not s:
        raise AnswerParseError("empty answer")
    if _CUP in s:
        pieces = [parse_value(p) for p in s.split(_CUP)]
        sets = [_as_set(p) for p in pieces]
        if any(x is None for x in sets):
            raise AnswerParseError("\\cup of something that is not an interval or a set")
        return Ival(sympy.Union(*sets))
    if s.startswith("\\{") and s.endswith("\\}"):
        return Bag(_elements(s[2:-2]) if s[2:-2].strip() else ())
    for left, right in (("(", ")"), ("[", "]"), ("(", "]"), ("[", ")")):
        if _wrapped(s, left, right) and len(split_top_level(s[1:-1])) > 1:
            items = _elements(s[1:-1])
            if len(items) == 2 and (left, right) != ("(", ")"):
                lo, hi = (_scalar_expr(v) for v in items)
                return Ival(_interval(lo, hi, left == "(", right == ")"))
            return Seq(items)
    if "\\pm" in s:
        plus, minus = s.replace("\\pm", "+", 1), s.replace("\\pm", "-", 1)
        return Bag((parse_value(plus), parse_value(minus)))
    items = split_top_level(s)
    if len(items) > 1:
        return Bag(_elements(s))
    if _MATRIX.search(s):
        return Mat(sympy.Matrix(_parse_expr(s)))
    if _REL_OPS.search(s):
        ival = _inequality(s)
        if ival is not None:
            return ival
        return Rel(_parse_expr(s))
    sides = split_top_level(s, "=")  # not the = of \sum_{k=1}
    if len(sides) == 2:
        left, right = sides
        return Rel(sympy.Eq(_parse_expr(left), _parse_expr(right), evaluate=False))
    expr = _parse_expr(s)
    if isinstance(expr, sympy.MatrixBase):
        return Mat(sympy.Matrix(expr))
    if isinstance(expr, (sympy.Interval, sympy.Union)):
        return Ival(expr)
    if isinstance(expr, sympy.FiniteSet):
        return Bag(tuple(Scalar(a) for a in expr.args))
    if isinstance(expr, sympy.Tuple):
        return Seq(tuple(Scalar(a) for a in expr.args))
    if isinstance(expr, sympy.Eq):
        return Rel(expr)
    return Scalar(expr)


def _scalar_expr(v: Any) -> Any:
    if not isinstance(v, Scalar):
        raise AnswerParseError("an interval end point must be a single expression")
    return v.expr


def _as_set(v: Any) -> Any:
    if isinstance(v, Ival):
        return v.set
    if isinstance(v, Seq) and len(v.items) == 2 and all(isinstance(x, Scalar) for x in v.items):
        return _interval(v.items[0].expr, v.items[1].expr, True, True)
    if isinstance(v, Bag) and all(isinstance(x, Scalar) for x in v.items):
        return sympy.FiniteSet(*(x.expr for x in v.items))
    return None


# ---------------------------------------------------------------------------------------
# Equality


def _numeric_close(a: Any, b: Any, *, digits: int = 40, rel_tol: str = "1e-20") -> bool:
    """Do two constant expressions agree? Exact for two rationals, else to ``rel_tol``.

    Relative, in sympy Floats (whose exponent is unbounded), so that 1/2004! and 1/2006!
    are far apart even though both are 0.0 as Python floats. nan, zoo (1/0) and infinities
    are never close to anything.
    """
    if a.is_Rational and b.is_Rational:
        return a == b
    da, db = a.evalf(digits), b.evalf(digits)
    if not all(v.is_number and v.is_finite for v in (da, db)):
        return False
    diff, scale = abs(da - db), max(abs(da), abs(db))
    if scale == 0:
        return True
    return bool(diff <= scale * sympy.Float(rel_tol, digits))


def _evaluable(value: Any) -> bool:
    if value.is_Rational:
        return True
    v = value.evalf(40)
    return bool(v.is_number and v.is_finite)


def _agree_at_random_points(gold: Any, pred: Any, free: set) -> bool | None:
    """Compare at random rational points: False on any disagreement, True if all agree.

    None when too few points could be evaluated (a pole, or something evalf cannot do).
    A non-identity agrees at random points with probability ~0 (and rational functions
    are compared exactly there), so this decides almost every case without ``simplify``.
    """
    rng = random.Random(_RNG_SEED)
    syms = sorted(free, key=lambda x: x.name)
    valid = 0
    for _ in range(5):
        point = {x: sympy.Rational(rng.randint(1, 97), rng.randint(1, 13)) for x in syms}
        a, b = gold.xreplace(point), pred.xreplace(point)
        if not _evaluable(a) or not _evaluable(b):
            continue
        if not _numeric_close(a, b):
            return False
        valid += 1
    return True if valid >= 3 else None


def exprs_equal(gold: Any, pred: Any) -> bool:
    """Mathematical equality of two sympy expressions (gold is the reference).

    Cheap checks first: structural equality, exact rationals, then numeric evaluation
    (at random points when there are free symbols), which settles nearly every case.
    Constants that agree to 20 digits are checked again at 110 digits, so a long decimal
    is still not equal to a fraction it merely approximates (0.33333333333333333333333
    is not 1/3). ``simplify`` only decides what cannot be evaluated.
    """
    if gold == pred:
        return True
    _check_size(gold)
    _check_size(pred)
    if not (isinstance(gold, sympy.Expr) and isinstance(pred, sympy.Expr)):
        return False
    gold, pred = gold.doit(), pred.doit()  # evaluate factorials, binomials: sizes are safe now
    if gold.is_Rational and pred.is_Rational:
        return gold == pred  # exact: no tolerance between two rationals
    free = gold.free_symbols | pred.free_symbols
    if free:
        verdict = _agree_at_random_points(gold, pred, free)
        if verdict is not None:
            return verdict
    elif _evaluable(gold) and _evaluable(pred):
        return _numeric_close(gold, pred) and _numeric_close(
            gold, pred, digits=110, rel_tol="1e-100"
        )
    return sympy.simplify(gold - pred) == 0 or sympy.expand(gold - pred) == 0


def _bag_equal(gold: tuple, pred: tuple) -> bool:
    if len(gold) != len(pred):
        return False
    left = list(pred)
    for g in gold:
        for j, p in enumerate(left):
            if values_equal(g, p):
                del left[j]
                break
        else:
            return False
    return True


def _sets_equal(gold: Any, pred: Any) -> bool:
    if gold == pred:
        return True
    g_parts = gold.args if isinstance(gold, sympy.Union) else (gold,)
    p_parts = pred.args if isinstance(pred, sympy.Union) else (pred,)
    if len(g_parts) != len(p_parts):
        return False

    def same(a: Any, b: Any) -> bool:
        if isinstance(a, sympy.Interval) and isinstance(b, sympy.Interval):
            return (
                a.left_open == b.left_open
                and a.right_open == b.right_open
                and exprs_equal(a.start, b.start)
                and exprs_equal(a.end, b.end)
            )
        return a == b

    remaining = list(p_parts)
    for g in g_parts:
        for j, p in enumerate(remaining):
            if same(g, p):
                del remaining[j]
                break
        else:
            return False
    return True


def _entries(v: Mat | Seq) -> tuple | None:
    """The entries of a vector (a 1-row or 1-column matrix, or a tuple of scalars)."""
    if isinstance(v, Seq):
        return tuple(_scalar_expr(x) for x in v.items)
    return tuple(v.matrix) if 1 in v.matrix.shape else None


def values_equal(gold: Any, pred: Any) -> bool:
    """Equality of two parsed answers; order matters for Seq, not for Bag or Ival."""
    if isinstance(gold, Scalar) and isinstance(pred, Scalar):
        return exprs_equal(gold.expr, pred.expr)
    if isinstance(gold, Seq) and isinstance(pred, Seq):
        return len(gold.items) == len(pred.items) and all(
            values_equal(g, p) for g, p in zip(gold.items, pred.items, strict=True)
        )
    if isinstance(gold, Bag) and isinstance(pred, Bag):
        return _bag_equal(gold.items, pred.items)
    if isinstance(gold, Bag) and len(gold.items) == 1:  # {5} against 5
        return values_equal(gold.items[0], pred)
    if isinstance(pred, Bag) and len(pred.items) == 1:
        return values_equal(gold, pred.items[0])
    if isinstance(gold, Mat) and isinstance(pred, Mat):
        g, p = gold.matrix, pred.matrix
        return g.shape == p.shape and all(exprs_equal(a, b) for a, b in zip(g, p, strict=True))
    if isinstance(gold, (Mat, Seq)) and isinstance(pred, (Mat, Seq)):  # vector vs tuple
        g, p = _entries(gold), _entries(pred)
        return g is not None and p is not None and len(g) == len(p) and all(map(exprs_equal, g, p))
    if isinstance(gold, (Ival, Seq)) and isinstance(pred, (Ival, Seq)):
        g, p = _as_set(gold), _as_set(pred)
        return g is not None and p is not None and _sets_equal(g, p)
    if isinstance(gold, Rel) and isinstance(pred, Rel):
        g, p = gold.expr, pred.expr
        if g == p:
            return True
        if isinstance(g, sympy.Eq) and isinstance(p, sympy.Eq):
            dg, dp = g.lhs - g.rhs, p.lhs - p.rhs
            return exprs_equal(dg, dp) or exprs_equal(dg, -dp)
        return False
    return False


def compare(pred: str, gold: str) -> tuple[bool, str, bool]:
    """Compare two normalised answers: ``(verdict, reason, undecided)``. Raises on parse
    errors.

    Values too large to evaluate give no verdict (``undecided``): ``2^{10^{10}}`` and
    ``4^{5\\cdot10^{9}}`` are equal, and nothing here can tell. The caller (the worker
    loop) turns exceptions into a False verdict with the reason.
    """
    try:
        gold_value = parse_value(gold)
        pred_value = parse_value(pred)
        verdict = values_equal(gold_value, pred_value)
        return verdict, f"sympy: {type(gold_value).__name__}", False
    except TooLarge as exc:
        return False, f"too large to evaluate and not identical ({exc})", True
