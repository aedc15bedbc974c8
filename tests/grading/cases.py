"""Regression table for mrt_env.grading: what real reasoning models write, and the verdict a careful human grader gives."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GradeCase:
    family: str  # short family name, e.g. "aime_integer", "fraction", "interval", "hostile"
    response: (
        str  # the model's output (or just an answer string), as given to grade(response, gold)
    )
    gold: str  # the reference answer as a dataset stores it
    correct: bool  # expected verdict


@dataclass(frozen=True)
class ExtractCase:
    text: str
    expected: (
        str | None
    )  # what extract_answer(text) must return (the answer's inner text, stripped), or None


# Large hostile strings, built once and shared by GRADE_CASES and HOSTILE_INPUTS.
_DEEP_PARENS_BALANCED = "(" * 500 + "1" + ")" * 500
_DEEP_PARENS_OPEN = "(" * 500
_DIGITS_100K = "7" * 100_000
_FRAC_100K = "\\frac{" * 16_667  # ~100,000 characters of unclosed \frac{
_CONTROL = "\x00\x07\x1b"


GRADE_CASES: list[GradeCase] = [
    # ------------------------------------------------------------------ aime_integer
    GradeCase(
        "aime_integer",
        r"""<think>
Okay, so I need to count the lattice paths that avoid the forbidden square. Total paths from (0,0) to (4,4) is \binom{8}{4} = 70... wait, that ignores the forbidden square. Hmm, let me recheck. The forbidden square is outside the grid in this version of the problem, so nothing is removed.

Wait, let me recheck the statement once more. Yes, the square (5,5) is outside, so all 70 paths count.
</think>

The number of paths is $\binom{8}{4} = 70$.

So the answer is \boxed{070}.""",
        "70",
        True,
    ),
    GradeCase("aime_integer", r"\boxed{70}", "070", True),
    GradeCase("aime_integer", "070", "70", True),
    GradeCase("aime_integer", "70", "070", True),
    GradeCase("aime_integer", "007", "7", True),
    GradeCase("aime_integer", "0", "000", True),
    GradeCase("aime_integer", " 588 ", "588", True),
    GradeCase("aime_integer", "101", "100", False),
    GradeCase("aime_integer", "14", "4", False),
    GradeCase("aime_integer", "-5", "5", False),
    GradeCase("aime_integer", "52", "25", False),
    GradeCase(
        "aime_integer",
        r"""<think>
Let me set up the equation. We have $a + b = 25$ and $ab = 144$... no wait, that gives complex roots. Let me redo this.

Actually $ab = 126$, so $a$ and $b$ are roots of $t^2 - 25t + 126 = 0$, i.e. $t = 7$ or $t = 18$. Then the answer is $7 \cdot 18 + 7 + 18 + ... $ hmm, let me recompute carefully.

$m + n = 71$. Wait, let me recheck: $m = 53$, $n = 18$, so $m+n = 71$.
</think>

We find $m = 53$ and $n = 18$, which are relatively prime, so $m + n = \boxed{071}$.""",
        "70",
        False,
    ),
    GradeCase(
        "aime_integer",
        r"""<think>
First compute the sum of the divisors... 1 + 2 + 3 + ... this gives 204. Let me double-check by another method: pairing divisors $d$ and $n/d$ gives the same 204.
</think>

Summing over all valid divisors gives 204.

**Final Answer**
\[
\boxed{204}
\]""",
        "204",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""<think>
Counting the cases: case 1 gives 120, case 2 gives 84, total \boxed{204}? Hmm, wait. Case 2 was double counted with case 3. Let me redo: case 2 should be 120 as well, so the total is 240.
</think>

Adding the two cases, $120 + 120 = 240$.

Therefore, the final answer is $\boxed{240}$.""",
        "204",
        False,
    ),
    GradeCase(
        "aime_integer",
        r"""We need the remainder when $2^{2023}$ is divided by $1000$. By the Chinese Remainder Theorem, $2^{2023} \equiv 0 \pmod 8$ and $2^{2023} \equiv 2^{23} \pmod{125}$.

Combining these, the remainder is $\boxed{12}$.

Wait, that contradicts the mod 8 condition check. Recomputing $2^{23} \bmod 125$: $2^{23} = 8388608$, and $8388608 \bmod 125 = 108$. Combining with $0 \pmod 8$ gives $608$.

So the remainder is $\boxed{608}$.""",
        "608",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""We need the remainder when $2^{2023}$ is divided by $1000$. A first guess from the pattern of last digits gives $\boxed{12}$, but this ignores the period mod 125.

Recomputing with the correct period, the remainder is $\boxed{608}$.""",
        "12",
        False,
    ),
    GradeCase(
        "aime_integer",
        r"""Since the hexagon splits into $6$ congruent triangles each of area $\frac{11}{2}$, the total is $33$.

Therefore, the final answer is $\boxed{33}$. This matches the bound found earlier.""",
        "033",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""<think>
The probability is 9/32, so m = 9, n = 32, m+n = 41. Wait, is 9/32 reduced? gcd(9,32)=1, yes.
</think>

The probability is $\frac{9}{32}$, so $m + n = 9 + 32 = \boxed{41}$.""",
        "14",
        False,
    ),
    # ------------------------------------------------------------------ amc_decimal
    GradeCase("amc_decimal", "27", "27.0", True),
    GradeCase("amc_decimal", "27.0", "27", True),
    GradeCase("amc_decimal", "27.00", "27.0", True),
    GradeCase("amc_decimal", "27.5", "27", False),
    GradeCase("amc_decimal", "28", "27.0", False),
    GradeCase("amc_decimal", "-3", "-3.0", True),
    GradeCase("amc_decimal", "3", "-3.0", False),
    GradeCase("amc_decimal", "12.5", "12.50", True),
    GradeCase("amc_decimal", "12.05", "12.5", False),
    GradeCase(
        "amc_decimal",
        r"""<think>
The volume of the box is $3 \times 3 \times 3 = 27$. Hmm, but the question asks for the number of unit cubes that touch the surface... no, re-reading, it asks for the total number of unit cubes. So 27.
</think>

The box is a $3 \times 3 \times 3$ cube, so it contains $27$ unit cubes. Thus the answer is $\boxed{27}$.""",
        "27.0",
        True,
    ),
    GradeCase(
        "amc_decimal",
        r"""Only the cubes on the surface are painted. The interior cube is unpainted, so $27 - 1 = 26$ cubes have paint.

The answer is $\boxed{26}$.""",
        "27.0",
        False,
    ),
    # ------------------------------------------------------------------ integer_format
    GradeCase("integer_format", "1,000", "1000", True),
    GradeCase("integer_format", r"1{,}000", "1000", True),
    GradeCase("integer_format", r"1\,000", "1000", True),
    GradeCase("integer_format", r"1\!000", "1000", True),
    GradeCase("integer_format", "1,000,000", "1000000", True),
    GradeCase("integer_format", r"1{,}000{,}000", "10^6", True),
    GradeCase("integer_format", r"2{,}016", "2016", True),
    GradeCase("integer_format", r"2{,}017", "2016", False),
    GradeCase("integer_format", "10,000", "1000", False),
    GradeCase("integer_format", "1000", r"1{,}000", True),
    GradeCase(
        "integer_format",
        r"""Each of the $4$ positions can be filled in $6$ ways independently, so there are $6^4 = 1296$ arrangements.

So there are $\boxed{1{,}296}$ arrangements.""",
        "1296",
        True,
    ),
    GradeCase(
        "integer_format",
        r"""Each of the $4$ positions can be filled in $6$ ways, but the first position cannot be $0$, so there are $5 \cdot 6^3 = 1080$ arrangements.

So there are $\boxed{1{,}080}$ arrangements.""",
        "1296",
        False,
    ),
    # ------------------------------------------------------------------ fraction
    GradeCase("fraction", r"\dfrac{3}{4}", r"\frac{3}{4}", True),
    GradeCase("fraction", r"\tfrac34", "3/4", True),
    GradeCase("fraction", r"\frac12", r"\frac{1}{2}", True),
    GradeCase("fraction", r"\frac{2}{4}", r"\frac12", True),
    GradeCase("fraction", r"\frac{6}{8}", "3/4", True),
    GradeCase("fraction", r"\frac{4}{3}", r"\frac{3}{4}", False),
    GradeCase("fraction", r"-\frac{1}{2}", r"\frac{-1}{2}", True),
    GradeCase("fraction", r"\frac{1}{2}", r"-\frac{1}{2}", False),
    GradeCase("fraction", "14/3", r"\frac{14}{3}", True),
    GradeCase("fraction", r"\frac{13}{3}", r"\frac{14}{3}", False),
    GradeCase("fraction", r"\dfrac{-3}{5}", r"-\frac35", True),
    GradeCase("fraction", r"\frac{16}{9}", r"\frac{9}{16}", False),
    GradeCase(
        "fraction",
        r"""Therefore, the probability that the two chosen points are closer than $1$ unit is $1 - \frac{1}{4} = \frac{3}{4}$.

Therefore, the final answer is $\boxed{\dfrac{3}{4}}$.""",
        r"\frac34",
        True,
    ),
    GradeCase(
        "fraction",
        r"""<think>
The centroid divides the median in ratio 2:1, so the distance is 2/3 of 7 = 14/3. Let me double check: median length is 7, two-thirds is 14/3 \approx 4.67. Yes.
</think>

The required distance is two-thirds of the median, namely $\frac{2}{3}\cdot 7$.

$$\boxed{\frac{14}{3}}$$""",
        r"\frac{14}{3}",
        True,
    ),
    GradeCase(
        "fraction",
        r"""<think>
There are 12 equally likely outcomes and 5 favorable ones... wait, I should also count (6,1). That gives 6. Hmm, no, (6,1) was already included. So 5.
</think>

There are $5$ favorable outcomes out of $12$, so the probability is $\boxed{\frac{5}{12}}$.""",
        r"\frac{7}{12}",
        False,
    ),
    # ------------------------------------------------------------------ decimal_fraction
    GradeCase("decimal_fraction", "0.5", r"\frac{1}{2}", True),
    GradeCase("decimal_fraction", "0.25", "1/4", True),
    GradeCase("decimal_fraction", "1/4", "0.25", True),
    GradeCase("decimal_fraction", "0.33", "1/3", False),
    GradeCase("decimal_fraction", "0.333", r"\frac13", False),
    GradeCase("decimal_fraction", r"\frac{5}{2}", "2.5", True),
    GradeCase("decimal_fraction", "0.125", r"\frac{1}{8}", True),
    GradeCase("decimal_fraction", "0.2", r"\frac14", False),
    GradeCase("decimal_fraction", "1.5", r"\dfrac{3}{2}", True),
    GradeCase("decimal_fraction", "0.667", r"\frac{2}{3}", False),
    GradeCase("decimal_fraction", "0.6", r"\frac{3}{5}", True),
    GradeCase(
        "decimal_fraction",
        r"""The expected number of heads in the three flips is $3 \cdot \frac{1}{4} = 0.75$.

So the answer is $\boxed{0.75}$.""",
        r"\frac{3}{4}",
        True,
    ),
    GradeCase(
        "decimal_fraction",
        r"""<think>
Probability that at least one of them wins is 1 - (1/3)(1) ... that's 2/3, which is about 0.67.
</think>

The probability is approximately $\boxed{0.67}$.""",
        r"\frac{2}{3}",
        False,
    ),
    # ------------------------------------------------------------------ irrational
    GradeCase("irrational", "6.28", r"2\pi", False),
    GradeCase("irrational", "1.414", r"\sqrt{2}", False),
    GradeCase("irrational", "3.14", r"\pi", False),
    GradeCase("irrational", "3.1416", r"\pi", False),
    GradeCase("irrational", "1.732", r"\sqrt{3}", False),
    GradeCase("irrational", "2.718", "e", False),
    GradeCase(
        "irrational",
        r"""The circle has radius $2$, so its area is $\pi r^2 = 4\pi \approx 12.57$.

The area is approximately $\boxed{12.57}$.""",
        r"4\pi",
        False,
    ),
    # ------------------------------------------------------------------ radical
    GradeCase("radical", r"\sqrt2", r"\sqrt{2}", True),
    GradeCase("radical", r"2^{1/2}", r"\sqrt{2}", True),
    GradeCase("radical", r"\sqrt{8}", r"2\sqrt{2}", True),
    GradeCase("radical", r"\sqrt[3]{2}", r"2^{1/3}", True),
    GradeCase("radical", r"\sqrt{3}/3", r"\frac{1}{\sqrt{3}}", True),
    GradeCase("radical", r"\sqrt{3}", r"\sqrt{2}", False),
    GradeCase("radical", r"\sqrt{12}", r"2\sqrt{3}", True),
    GradeCase("radical", r"3\sqrt{2}", r"2\sqrt{3}", False),
    GradeCase("radical", r"\frac{\sqrt{2}}{2}", r"\frac{1}{\sqrt{2}}", True),
    GradeCase("radical", r"\sqrt[3]{2}", r"\sqrt{2}", False),
    GradeCase("radical", r"\sqrt{50}", r"5\sqrt{2}", True),
    GradeCase("radical", r"1+\sqrt{5}", r"\sqrt{5}+1", True),
    GradeCase("radical", r"\sqrt{2}+\sqrt{3}", r"\sqrt{5}", False),
    GradeCase(
        "radical",
        r"""The diagonal of a square with side $4$ is $4\sqrt{2}$.

Therefore, the final answer is $\boxed{4\sqrt{2}}$.""",
        r"\sqrt{32}",
        True,
    ),
    GradeCase(
        "radical",
        r"""<think>
Solving $x^2 - x - 1 = 0$ gives $x = \frac{1 \pm \sqrt{5}}{2}$. We need the negative root since $x<0$... wait, the problem says $x > 0$. Hmm, but I'll go with the root I computed first.
</think>

The root is $\boxed{\frac{1-\sqrt{5}}{2}}$.""",
        r"\frac{1+\sqrt{5}}{2}",
        False,
    ),
    GradeCase(
        "radical",
        r"""<think>
Area = (1/2)ab sin C = (1/2)(4)(6) sin 30... no, angle C is such that sin C = sqrt(6)/6... Let me redo. Area = 2\sqrt{6}.
</think>

Using the formula $\frac{1}{2}ab\sin C$, the area is $\boxed{2\sqrt{6}}$.""",
        r"\sqrt{24}",
        True,
    ),
    # ------------------------------------------------------------------ pi_e
    GradeCase("pi_e", r"2\pi", r"\pi \cdot 2", True),
    GradeCase("pi_e", r"2\pi", r"\pi", False),
    GradeCase("pi_e", r"\frac{\pi}{2}", r"\pi/2", True),
    GradeCase("pi_e", r"\frac{\pi}{3}", r"\frac{\pi}{6}", False),
    GradeCase("pi_e", r"\frac{3}{4}\pi", r"\frac{3\pi}{4}", True),
    GradeCase("pi_e", r"e^{-1}", r"\frac{1}{e}", True),
    GradeCase("pi_e", "e^2", "e^{2}", True),
    GradeCase("pi_e", "e^3", "e^2", False),
    GradeCase("pi_e", r"\pi^2", r"\pi^{2}", True),
    GradeCase("pi_e", r"2\pi - 4", r"-4+2\pi", True),
    GradeCase(
        "pi_e",
        r"""The region is a disk of radius $4$, so the area is $\pi \cdot 4^2$.

The area is $\boxed{16\pi}$.""",
        r"16 \pi",
        True,
    ),
    GradeCase(
        "pi_e",
        r"""<think>
Radius is 4... wait, diameter is 4? No, the distance from center to vertex is 4, so radius is 4. Hmm, actually the problem says the square has side 4, so the inscribed circle has radius 2 and area 4pi, and the region is twice that.
</think>

The area of the region is $2 \cdot 4\pi = \boxed{8\pi}$.""",
        r"16\pi",
        False,
    ),
    # ------------------------------------------------------------------ power_factorial
    GradeCase("power_factorial", "2^{10}", "1024", True),
    GradeCase("power_factorial", "2^{10}", "1000", False),
    GradeCase("power_factorial", "5!", "120", True),
    GradeCase("power_factorial", "6!", "120", False),
    GradeCase("power_factorial", r"\binom{5}{2}", "10", True),
    GradeCase("power_factorial", r"\binom{6}{2}", "10", False),
    GradeCase("power_factorial", r"\binom{5}{3}", r"\binom{5}{2}", True),
    GradeCase("power_factorial", r"\log_2 8", "3", True),
    GradeCase("power_factorial", r"\log_2 16", "3", False),
    GradeCase("power_factorial", r"\log_{3} 81", "4", True),
    GradeCase("power_factorial", r"\frac{1}{2004!}", r"\frac{1}{2006!}", False),
    GradeCase("power_factorial", r"\frac{1}{2006!}", r"\frac{1}{2006!}", True),
    GradeCase("power_factorial", "3^4", "81", True),
    GradeCase("power_factorial", "4^3", "3^4", False),
    GradeCase("power_factorial", "10!", "3628800", True),
    GradeCase("power_factorial", "2^{100}", "1267650600228229401496703205376", True),
    GradeCase("power_factorial", "1267650600228229401496703205377", "2^{100}", False),
    GradeCase(
        "power_factorial",
        r"""We choose $3$ of the $10$ people to form the committee, and order does not matter.

The number of committees is $\boxed{\dbinom{10}{3}}$.""",
        "120",
        True,
    ),
    GradeCase(
        "power_factorial",
        r"""<think>
Each of the 12 bits is 0 or 1, so 2^12 strings. Wait, do we need to exclude anything? No restriction, so 2^12 = 4096.
</think>

Each of the $12$ positions has $2$ choices, so the answer is $\boxed{2^{12}}$.""",
        "4096",
        True,
    ),
    # ------------------------------------------------------------------ units
    GradeCase("units", r"30^\circ", "30", True),
    GradeCase("units", r"30^{\circ}", "30", True),
    GradeCase("units", r"30^\circ", "60", False),
    GradeCase("units", r"90^\circ", r"90^{\circ}", True),
    GradeCase("units", r"120^\circ", r"60^\circ", False),
    GradeCase("units", r"50\%", "50", True),
    GradeCase("units", r"50\%", "0.5", False),
    GradeCase("units", r"45\%", "54", False),
    GradeCase("units", r"\$32,348", "32348", True),
    GradeCase("units", "32348", r"\$32,348", True),
    GradeCase("units", r"\$32,384", r"\$32,348", False),
    GradeCase("units", "18.9", r"\$18.90", True),
    GradeCase("units", r"5\text{ cm}", "5", True),
    GradeCase("units", r"\text{5 inches}", "5", True),
    GradeCase("units", r"\textbf{12}", "12", True),
    GradeCase("units", r"12\mbox{ units}", "12", True),
    GradeCase("units", r"10 \text{ meters}", "10", True),
    GradeCase("units", r"6\text{ cm}", "5", False),
    GradeCase(
        "units",
        r"""<think>
Angles in a triangle sum to 180. So angle C = 180 - 50 - 55 = 75 degrees.
</think>

Since the angles of a triangle sum to $180^\circ$, we get $\angle C = 180^\circ - 50^\circ - 55^\circ$.

The angle measures $\boxed{75^\circ}$.""",
        "75",
        True,
    ),
    GradeCase(
        "units",
        r"""The sale price is $60$ dollars on an original price of $100$ dollars, so the discount is $40\%$.

Therefore, the final answer is $\boxed{40\%}$.""",
        "40",
        True,
    ),
    GradeCase(
        "units",
        r"""She works $25$ hours per week for $5$ weeks at $\$10$ per hour, so she earns $25 \cdot 5 \cdot 10 = 1250$ dollars.

So she earned $\boxed{\$1{,}250}$.""",
        "1250",
        True,
    ),
    GradeCase(
        "units",
        r"""She works $25$ hours per week for $5$ weeks at $\$10$ per hour, plus a one-time bonus of $\$100$.

So she earned $\boxed{\$1{,}350}$.""",
        "1250",
        False,
    ),
    # ------------------------------------------------------------------ multiple_choice
    GradeCase("multiple_choice", "C", r"\text{(C)}", True),
    GradeCase("multiple_choice", "(C)", r"\text{(C)}", True),
    GradeCase("multiple_choice", r"\text{(C)}", "C", True),
    GradeCase("multiple_choice", r"\textbf{(C)}", r"\text{(C)}", True),
    GradeCase("multiple_choice", r"\textbf{(C) }12", r"\text{(C)}", True),
    GradeCase("multiple_choice", "B", r"\text{(C)}", False),
    GradeCase("multiple_choice", "c", "C", True),
    GradeCase("multiple_choice", r"\textbf{(D)}", r"\text{(B)}", False),
    GradeCase("multiple_choice", "C", "(C)", True),
    GradeCase("multiple_choice", r"\textbf{(E) }2\sqrt{3}", "E", True),
    GradeCase("multiple_choice", r"\text{(A)}", "(A)", True),
    GradeCase("multiple_choice", "(A)", r"\text{(B)}", False),
    GradeCase(
        "multiple_choice",
        r"""<think>
Let me check each option. (A) 10 is too small. (B) 11... (C) 12 works since 12 = 3 * 4. Let me verify (D) 13 fails. Yes.
</think>

Checking the options, only $12$ satisfies both conditions.

Thus the answer is $\boxed{\textbf{(C)}}$.""",
        "C",
        True,
    ),
    GradeCase(
        "multiple_choice",
        r"""Only option (B) gives a perimeter less than $20$.

$\boxed{B}$""",
        r"\text{(E)}",
        False,
    ),
    GradeCase(
        "multiple_choice",
        r"""Comparing the five values, the largest is $\sqrt[3]{30}$, which corresponds to choice (D).

**Answer:** (D)""",
        "D",
        True,
    ),
    # ------------------------------------------------------------------ equation
    GradeCase("equation", "x = 7", "7", True),
    GradeCase("equation", "x=7", "8", False),
    GradeCase("equation", "x=1, x=2", "1,2", True),
    GradeCase("equation", "x=1, x=2", "1,2,3", False),
    GradeCase("equation", "x = -2, x = 3", "3, -2", True),
    GradeCase("equation", "y = 2x + 3", "2x+3", True),
    GradeCase("equation", "y = 2x+3", "y=3+2x", True),
    GradeCase("equation", "y=2x+3", "2x-3", False),
    GradeCase("equation", "x = -3", "3", False),
    GradeCase("equation", "k = 5", "5", True),
    GradeCase(
        "equation",
        r"""Solving $2x - 5 = 0$ gives $x = \frac{5}{2}$.

Therefore, the final answer is $\boxed{x = \frac{5}{2}}$.""",
        r"\frac52",
        True,
    ),
    GradeCase(
        "equation",
        r"""<think>
Slope is (2-4)/(4-0) = -1/2, intercept 4. So y = -x/2 + 4.
</think>

The line through $(0,4)$ and $(4,2)$ has slope $-\frac{1}{2}$, so the answer is $\boxed{y = -\frac{1}{2}x + 4}$.""",
        r"-\frac{1}{2}x+4",
        True,
    ),
    # ------------------------------------------------------------------ complex
    GradeCase("complex", "3+4i", "4i+3", True),
    GradeCase("complex", "3-4i", "3+4i", False),
    GradeCase("complex", r"\frac{1}{2} + \frac{\sqrt{3}}{2}i", r"\frac{1+i\sqrt{3}}{2}", True),
    GradeCase("complex", "-i", "i", False),
    GradeCase("complex", "1 - i", "-i+1", True),
    GradeCase("complex", "(1+i)^2", "2i", True),
    GradeCase("complex", "5-12i", "5+12i", False),
    GradeCase("complex", r"\frac{3}{5}+\frac{4}{5}i", r"\frac{3+4i}{5}", True),
    GradeCase("complex", "4i", "4", False),
    GradeCase(
        "complex",
        r"""Multiplying numerator and denominator by the conjugate $1 - 2i$ simplifies the quotient.

So the answer is $\boxed{-1+2i}$.""",
        "2i-1",
        True,
    ),
    GradeCase(
        "complex",
        r"""<think>
Multiply numerator and denominator by the conjugate of the denominator... I get 2 + i. Hmm wait, sign... I'll keep 2 + i.
</think>

Therefore, $z = \boxed{2+i}$.""",
        "2-i",
        False,
    ),
    # ------------------------------------------------------------------ symbolic
    GradeCase("symbolic", "x^2+2x+1", "(x+1)^2", True),
    GradeCase("symbolic", "x^2-2x+1", "(x+1)^2", False),
    GradeCase("symbolic", "-q+p", "p - q", True),
    GradeCase("symbolic", "q - p", "p - q", False),
    GradeCase("symbolic", "p+q", "p - q", False),
    GradeCase("symbolic", "2x", "x", False),
    GradeCase("symbolic", "3x(x-2)", "3x^2 - 6x", True),
    GradeCase("symbolic", r"\frac{x-1}{x+1}", r"\frac{x+1}{x-1}", False),
    GradeCase("symbolic", "(a-b)(a+b)", "a^2 - b^2", True),
    GradeCase("symbolic", "(x-1)(x^2+x+1)", "x^3-1", True),
    GradeCase("symbolic", "b+2a", "2a+b", True),
    GradeCase("symbolic", "(x-2)(x-3)", "x^2 - 5x + 6", True),
    GradeCase("symbolic", "(x+2)(x+3)", "x^2-5x+6", False),
    GradeCase("symbolic", "2x^{-1}", r"\frac{2}{x}", True),
    GradeCase(
        "symbolic",
        r"""<think>
We want to factor 6x^2 + x - 2. Product ac = -12, need factors summing to 1: 4 and -3. So 6x^2 + 4x - 3x - 2 = 2x(3x+2) - (3x+2) = (2x-1)(3x+2).
</think>

Splitting the middle term, $6x^2 + x - 2 = (2x-1)(3x+2)$.

The factored form is $\boxed{(2x-1)(3x+2)}$.""",
        "6x^2+x-2",
        True,
    ),
    GradeCase(
        "symbolic",
        r"""Expanding $(x+2)^2$ directly gives the polynomial.

Therefore, the final answer is $\boxed{x^2+4x+4}$.""",
        "(x+2)^2",
        True,
    ),
    GradeCase(
        "symbolic",
        r"""<think>
f(x) = x(2x - 3) = 2x^2 - 3x. Hmm, the problem has x(2x+3)? Let me reread... I'll trust my first reading.
</think>

Expanding, $f(x) = \boxed{2x^2 - 3x}$.""",
        "2x^2+3x",
        False,
    ),
    # ------------------------------------------------------------------ tuple
    GradeCase("tuple", "(1, 2)", "(1,2)", True),
    GradeCase("tuple", "(2,1)", "(1,2)", False),
    GradeCase("tuple", r"(3, \pi/2)", r"\left( 3, \frac{\pi}{2} \right)", True),
    GradeCase("tuple", r"\left( 3, \frac{\pi}{2} \right)", r"(3, \frac{\pi}{2})", True),
    GradeCase("tuple", r"(3, \frac{\pi}{3})", r"\left( 3, \frac{\pi}{2} \right)", False),
    GradeCase("tuple", "(1,2,3)", "(1,2)", False),
    GradeCase("tuple", r"\left(\frac{1}{2}, -\frac{3}{4}\right)", "(0.5, -0.75)", True),
    GradeCase("tuple", "(-2, 5)", "(2,-5)", False),
    GradeCase("tuple", "(-1, 4)", r"\left( -1, 4 \right)", True),
    GradeCase(
        "tuple",
        r"""<think>
Convert (2, 2, 3) to cylindrical: r = sqrt(4+4) = 2sqrt2, theta = arctan(1) = pi/4 since the point is in the first quadrant, z = 3.
</think>

We have $r = \sqrt{2^2 + 2^2} = 2\sqrt{2}$, $\theta = \frac{\pi}{4}$, and $z = 3$.

Therefore, the final answer is $\boxed{(2\sqrt{2}, \frac{\pi}{4}, 3)}$.""",
        r"\left( 2 \sqrt{2}, \frac{\pi}{4}, 3 \right)",
        True,
    ),
    GradeCase(
        "tuple",
        r"""Solving the system, subtracting the equations gives $y = -1$, and substituting back gives $x = 6$.

So the solution is $\boxed{(6, -1)}$.""",
        "(6,1)",
        False,
    ),
    # ------------------------------------------------------------------ set_list
    GradeCase("set_list", r"\{1,2\}", r"\{2,1\}", True),
    GradeCase("set_list", "2, 1", "1, 2", True),
    GradeCase("set_list", "1,2,3", "1,2", False),
    GradeCase("set_list", r"\pm 2", "-2, 2", True),
    GradeCase("set_list", "5, -3", "-3, 5", True),
    GradeCase("set_list", "3, -5", "-3, 5", False),
    GradeCase("set_list", r"\{1,3\}", r"\{1, 3, 5\}", False),
    GradeCase("set_list", r"\{-1, 0\}", r"\{0, 1\}", False),
    GradeCase("set_list", "3, 0.5", r"\frac{1}{2}, 3", True),
    GradeCase("set_list", r"-\sqrt{2}, \sqrt{2}", r"\sqrt{2}, -\sqrt{2}", True),
    GradeCase(
        "set_list",
        r"""<think>
Factor: (x-1)(x+1)(x-2) = 0, so x = 1, -1, 2. Let me verify x = 2: 8 - 8 - 2 + 2 = 0. Good.
</think>

The polynomial factors as $(x-1)(x+1)(x-2)$.

The solutions are $\boxed{-1, 1, 2}$.""",
        "1, -1, 2",
        True,
    ),
    GradeCase(
        "set_list",
        r"""The integer values of $n$ for which $\frac{4}{n}$ is a positive integer are found by listing positive divisors of $4$, but we exclude $n = 2$ since it makes the denominator of the second fraction zero.

So the answer is $\boxed{1, 4}$.""",
        "1, 2, 4",
        False,
    ),
    # ------------------------------------------------------------------ interval
    GradeCase("interval", "(0,1]", "[0,1)", False),
    GradeCase("interval", "[0,1]", "[0,1]", True),
    GradeCase("interval", r"(-\infty, 3)", r"(-\infty,3)", True),
    GradeCase("interval", r"(1,\infty)\cup(-\infty,0)", r"(-\infty,0)\cup(1,\infty)", True),
    GradeCase("interval", r"(-\infty,0]\cup(1,\infty)", r"(-\infty,0)\cup(1,\infty)", False),
    GradeCase("interval", "[-2, 7]", "[-2,7]", True),
    GradeCase("interval", "(-2,7]", "[-2,7]", False),
    GradeCase("interval", "[-2,8]", "[-2,7]", False),
    GradeCase("interval", r"\left[-2, 7\right]", "[-2,7]", True),
    GradeCase("interval", r"(-\infty, 3]", r"(-\infty, 3)", False),
    GradeCase("interval", r"[\frac{1}{2}, 4)", "[0.5, 4)", True),
    GradeCase(
        "interval",
        r"""<think>
The expression under the square root must be nonnegative: (x+2)(7-x) >= 0, so -2 <= x <= 7. Endpoints are included since sqrt(0) = 0 is defined.
</think>

We need $(x+2)(7-x) \ge 0$, which holds exactly for $-2 \le x \le 7$.

Therefore, the domain is $\boxed{\left[ -2, 7 \right]}$.""",
        "[-2,7]",
        True,
    ),
    GradeCase(
        "interval",
        r"""We need $x^2 - 9 > 0$, i.e. $|x| > 3$.

Therefore, the final answer is $\boxed{(-\infty, -3) \cup (3, \infty)}$.""",
        r"(-\infty,-3)\cup(3,\infty)",
        True,
    ),
    GradeCase(
        "interval",
        r"""<think>
x^2 - 9 > 0 means ... -3 < x < 3? Wait, x^2 > 9 means |x| > 3. Hmm, I wrote the inside. Let me just go with the interval between the roots.
</think>

The solution set is $\boxed{(-3, 3)}$.""",
        r"(-\infty,-3)\cup(3,\infty)",
        False,
    ),
    # ------------------------------------------------------------------ inequality
    GradeCase("inequality", "x > 2", r"(2,\infty)", True),
    GradeCase("inequality", r"0 < x \le 1", "(0,1]", True),
    GradeCase("inequality", r"x \geq 2", r"(2, \infty)", False),
    GradeCase("inequality", r"x \ge 2", r"[2,\infty)", True),
    GradeCase("inequality", "x < 3", r"(-\infty, 3)", True),
    GradeCase("inequality", r"-2 \le x \le 7", "[-2,7]", True),
    GradeCase("inequality", r"x \leq 3", r"(-\infty, 3)", False),
    GradeCase("inequality", r"-2 < x \le 7", "[-2,7]", False),
    GradeCase(
        "inequality",
        r"""Subtracting $5$ from both sides and dividing by $2$ gives the solution set.

So the answer is $\boxed{x > 5}$.""",
        r"(5, \infty)",
        True,
    ),
    # ------------------------------------------------------------------ matrix
    GradeCase(
        "matrix", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}", r"\begin{bmatrix}1\\2\end{bmatrix}", True
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} 1 \\ 3 \end{pmatrix}",
        r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
        False,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix}1&2\\3&4\end{pmatrix}",
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        True,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} 1 & 3 \\ 2 & 4 \end{pmatrix}",
        r"\begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}",
        False,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} 1/2 \\ -1 \end{pmatrix}",
        r"\begin{pmatrix} \frac{1}{2} \\ -1 \end{pmatrix}",
        True,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} -1 \\ 2 \end{pmatrix}",
        r"\begin{pmatrix} 1 \\ -2 \end{pmatrix}",
        False,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} 2 \\ 4 \end{pmatrix}",
        r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}",
        False,
    ),
    GradeCase(
        "matrix",
        r"\begin{pmatrix} 0.5 \\ 1 \end{pmatrix}",
        r"\begin{pmatrix} 1/2 \\ 1 \end{pmatrix}",
        True,
    ),
    GradeCase(
        "matrix",
        r"""<think>
Projection of (1, 5) onto (-2, 3)... dot product = -2 + 15 = 13, |v|^2 = 4 + 9 = 13, so projection = (-2, 3).
</think>

The projection is $\frac{13}{13}\begin{pmatrix} -2 \\ 3 \end{pmatrix}$, so

$$\boxed{\begin{pmatrix} -2 \\ 3 \end{pmatrix}}$$""",
        r"\begin{pmatrix} -2 \\ 3 \end{pmatrix}",
        True,
    ),
    GradeCase(
        "matrix",
        r"""A reflection across the $x$-axis followed by a scaling by $2$ gives the matrix below.

Therefore, the final answer is $\boxed{\begin{pmatrix} 2 & 0 \\ 0 & 2 \end{pmatrix}}$.""",
        r"\begin{pmatrix} 2 & 0 \\ 0 & -2 \end{pmatrix}",
        False,
    ),
    # ------------------------------------------------------------------ text_word
    GradeCase("text_word", r"\text{Evelyn}", "Evelyn", True),
    GradeCase("text_word", "yes", "Yes", True),
    GradeCase("text_word", "odd", "even", False),
    GradeCase("text_word", r"\text{Even}", r"\text{even}", True),
    GradeCase("text_word", "Monday", r"\text{Tuesday}", False),
    GradeCase("text_word", r"\text{no}", "No", True),
    GradeCase("text_word", r"\text{Devon}", r"\text{Evelyn}", False),
    GradeCase(
        "text_word",
        r"""<think>
Day 0 is Wednesday. 200 mod 7 = 4, so 4 days after Wednesday is Sunday.
</think>

Since $200 \equiv 4 \pmod 7$, the day is four days after Wednesday.

$\boxed{\text{Sunday}}$""",
        r"\text{Sunday}",
        True,
    ),
    GradeCase(
        "text_word",
        r"""<think>
Is it possible? Suppose the sum is odd... then parity contradiction. So it is not possible.
</think>

By a parity argument, such an arrangement cannot exist, so the answer is $\boxed{\text{No}}$.""",
        "Yes",
        False,
    ),
    # ------------------------------------------------------------------ extraction (mechanics of extract-then-grade)
    GradeCase(
        "extraction",
        r"""<think>
Let me try small cases: n=1 gives 2, n=2 gives 5, so for n=3... \boxed{5}? Wait, no, that's n=2. For n=3 I get 6.
</think>

For $n = 3$ the count is $\boxed{6}$.""",
        "6",
        True,
    ),
    GradeCase(
        "extraction",
        r"""<think>
Let me try small cases: n=1 gives 2, n=2 gives 5, so the answer is \boxed{5}. Hmm, the question is for n=3 though.
</think>

For $n = 3$ the count is $\boxed{6}$.""",
        "5",
        False,
    ),
    GradeCase(
        "extraction",
        r"""<think>
Computing: 3 + 1 = 4. Hmm, maybe \boxed{3}? No, 4.
</think>

The answer is 4.""",
        "4",
        True,
    ),
    GradeCase(
        "extraction",
        r"""<think>
Computing: 3 + 1 = 4. Hmm, maybe \boxed{3}? No, 4.
</think>

The answer is 4.""",
        "3",
        False,
    ),
    GradeCase(
        "extraction",
        r"""The sum of the digits is $2 + 0 + 4 = 6$, and the number itself is the answer.

Answer: 204""",
        "204",
        True,
    ),
    GradeCase("extraction", "**Answer:** 17", "17", True),
    GradeCase("extraction", r"\fbox{42}", "42", True),
    GradeCase("extraction", r"\boxed {9}", "9", True),
    GradeCase(
        "extraction",
        r"""I will put the result in a box: \boxed{}

Answer: 7""",
        "7",
        True,
    ),
    GradeCase(
        "extraction",
        r"""Adding the three contributions, $4 + 4 + 4 = 12$.

Therefore, the final answer is 12.""",
        "12",
        True,
    ),
    GradeCase(
        "extraction",
        r"""<think>
</think>

The perimeter is $3 \cdot 9 = 27$, so the answer is $\boxed{27}$.""",
        "27",
        True,
    ),
    # ------------------------------------------------------------------ empty (no extractable answer)
    GradeCase("empty", "", "4", False),
    GradeCase("empty", "   ", "0", False),
    GradeCase("empty", "<think>The answer is 4.</think>", "4", False),
    GradeCase("empty", r"\boxed{}", "4", False),
    GradeCase("empty", r"\boxed{4", "4", False),
    GradeCase(
        "empty",
        r"""<think>
Let me compute 2 + 2. That is 4.
\boxed{4}
</think>""",
        "4",
        False,
    ),
    GradeCase(
        "empty",
        r"""<think>
Okay, let's see. We need the number of ordered pairs $(a, b)$ of positive integers with $a + b = 13$ and $\gcd(a, b) = 1$. Since 13 is prime, every pair with $1 \le a \le 12$ works, which gives twelve pairs. Hmm, but wait, the problem might also restrict $a < b$. Let me reread the problem statement carefully before committing to anything, because if $a < b$ is required then only half of them""",
        "12",
        False,
    ),
    GradeCase(
        "empty",
        r"""I am not certain how to proceed with this problem. The constraint on the sum of the squares seems to conflict with the constraint on the product, and I could not find a configuration of the four numbers that satisfies every condition simultaneously, so I will stop here without committing to a value.""",
        "12",
        False,
    ),
    # ------------------------------------------------------------------ more full responses (families as above)
    GradeCase(
        "aime_integer",
        r"""<think>
Alright, we need the number of subsets... Inclusion-exclusion: 128 - 11 = 117. Let me double-check the subtracted term: sets containing both 1 and 2 number 2^5 = 32? Hmm, no, the condition is different. Recounting directly gives 11 bad subsets. So 117.
</think>

To solve the problem, we count all subsets and remove the bad ones:

1. There are $2^7 = 128$ subsets in total.
2. Exactly $11$ of them violate the condition.

Thus, the number of valid subsets is \(\boxed{117}\).""",
        "117",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""<think>
The sequence repeats every 6 terms, and 2024 = 6*337 + 2, so the term equals the second term, which is 80.
</think>

**Step 1:** The sequence is periodic with period $6$.

**Step 2:** Since $2024 \equiv 2 \pmod 6$, $a_{2024} = a_2$.

**Final Answer**
\boxed{080}""",
        "80",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""Reducing modulo $1000$ at each step, we find $N \equiv 9 \pmod{1000}$.

So the remainder is $\boxed{9}$.""",
        "009",
        True,
    ),
    GradeCase(
        "aime_integer",
        r"""<think>
Count the triangles: C(12,3) = 220, minus collinear triples 110... wait, that's too many collinear triples. Let me recount: 4 rows of 3 give 4, 3 columns of 4 give 3*4 = 12... total collinear = 111? Hmm. So 220 - 111 = 109.
</think>

Subtracting the degenerate triples from $\binom{12}{3} = 220$ gives $\boxed{109}$.""",
        "110",
        False,
    ),
    GradeCase(
        "amc_decimal",
        r"""<think>
Three notebooks at 4 dollars and two pens at 3 dollars: 12 + 6 = 18.
</think>

The total cost is $3 \cdot 4 + 2 \cdot 3 = 18$, so the total is $\boxed{18}$ dollars.""",
        "18.0",
        True,
    ),
    GradeCase(
        "amc_decimal",
        r"""The total cost is $3 \cdot 4.5 + 2 \cdot 2.5 = 18.5$.

Therefore, the final answer is $\boxed{18.5}$.""",
        "18.0",
        False,
    ),
    GradeCase(
        "fraction",
        r"""<think>
Two dice, sum 7: (1,6),(2,5),(3,4),(4,3),(5,2),(6,1) = 6 outcomes out of 36, so 1/6.
</think>

There are $6$ favorable outcomes out of $36$, so the probability is \(\boxed{\dfrac{1}{6}}\).""",
        r"\frac16",
        True,
    ),
    GradeCase(
        "fraction",
        r"""Out of the $6$ faces, $2$ are multiples of $3$.

The probability is $\boxed{\frac{2}{6}}$.""",
        r"\frac13",
        True,
    ),
    GradeCase(
        "fraction",
        r"""<think>
P(not rolling a six) = 5/6. The question asks for the probability of rolling a six, hmm, or not? "at least one non-six"... I'll answer the probability of a six.
</think>

The probability is $\boxed{\frac{1}{6}}$.""",
        r"\frac{5}{6}",
        False,
    ),
    GradeCase(
        "decimal_fraction",
        r"""Working together, their combined rate is $\frac{1}{5} + \frac{1}{5} = \frac{2}{5}$ of the job per hour, so the job takes $\frac{5}{2}$ hours.

Thus it takes $\boxed{2.5}$ hours.""",
        r"\frac52",
        True,
    ),
    GradeCase(
        "radical",
        r"""<think>
sqrt(3/2) = sqrt(6)/2 after rationalizing. Let me verify: (sqrt6/2)^2 = 6/4 = 3/2. Yes.
</think>

Rationalizing the denominator, the length is $\boxed{\dfrac{\sqrt{6}}{2}}$.""",
        r"\sqrt{\frac{3}{2}}",
        True,
    ),
    GradeCase(
        "radical",
        r"""The altitude of an equilateral triangle with side $6$ is $3\sqrt{3}$.

Therefore, the final answer is $\boxed{3\sqrt{3}}$.""",
        r"\sqrt{27}",
        True,
    ),
    GradeCase(
        "radical",
        r"""<think>
Side length 6, so the altitude is 6 * sqrt(3)... hmm, no, it should be (sqrt3/2)*6. I'll keep 6sqrt3 for now.
</think>

The altitude is $\boxed{6\sqrt{3}}$.""",
        r"3\sqrt{6}",
        False,
    ),
    GradeCase(
        "pi_e",
        r"""The central angle subtending the arc is one third of the full circle.

So the angle is $\boxed{\frac{2\pi}{3}}$.""",
        r"\frac{2}{3}\pi",
        True,
    ),
    GradeCase(
        "pi_e",
        r"""<think>
Volume of a sphere of radius 2 is (4/3) pi r^3 = (4/3) pi * 8 = 32pi/3. Hmm wait, I wrote r = 1 earlier. Let me just use (4/3)pi.
</think>

The volume is $\boxed{\frac{4}{3}\pi}$.""",
        r"\frac{32\pi}{3}",
        False,
    ),
    GradeCase(
        "power_factorial",
        r"""<think>
Paths on a 4x4 grid: choose which 4 of the 8 steps are right moves: C(8,4) = 70.
</think>

Each path consists of $4$ right moves and $4$ up moves in some order.

The number of paths is $\boxed{\binom{8}{4}}$.""",
        "70",
        True,
    ),
    GradeCase(
        "power_factorial",
        r"""Each of the $5$ questions has $3$ possible answers, so there are $3^5$ answer sheets.

Therefore, the final answer is $\boxed{3^{5}}$.""",
        "243",
        True,
    ),
    GradeCase(
        "power_factorial",
        r"""<think>
10 coins, each heads or tails: 2^10. Hmm, but the first coin is fixed? Then 2^9.
</think>

The number of outcomes is $\boxed{2^{9}}$.""",
        "1024",
        False,
    ),
    GradeCase(
        "units",
        r"""<think>
The rectangle is 4 by 9, so area 36.
</think>

The area of the rectangle is $4 \times 9 = 36$.

$\boxed{36 \text{ square units}}$""",
        "36",
        True,
    ),
    GradeCase(
        "units",
        r"""Three apples at $\$1.50$ each cost $3 \times 1.50 = 4.50$ dollars.

So the total cost is $\boxed{\$4.50}$.""",
        "4.50",
        True,
    ),
    GradeCase(
        "units",
        r"""<think>
Interior angle of a regular pentagon: 180*3/5 = 108. Exterior angle: 72. The question asks for the interior angle... I'll give 72.
</think>

Each angle measures $\boxed{72^\circ}$.""",
        "108",
        False,
    ),
    GradeCase(
        "multiple_choice",
        r"""<think>
Options: (A) 6, (B) 8, ... The area is 6, which is option (A).
</think>

The area of the triangle is $\frac{1}{2} \cdot 3 \cdot 4 = 6$.

$\boxed{\text{(A)}}$""",
        "A",
        True,
    ),
    GradeCase(
        "multiple_choice",
        r"""The number of handshakes is $\binom{4}{2} \cdot 4 = 24$.

$\boxed{\textbf{(D)}\ 24}$""",
        "D",
        True,
    ),
    GradeCase(
        "multiple_choice",
        r"""<think>
Largest of the five numbers... E is 2^{1/2} ≈ 1.414, which beats the others.
</think>

The largest value is option E, so the answer is $\boxed{E}$.""",
        r"\text{(E)}",
        True,
    ),
    GradeCase(
        "multiple_choice",
        r"""Testing each choice, only choice (A) satisfies the inequality.

Therefore, the final answer is $\boxed{(A)}$.""",
        r"\text{(C)}",
        False,
    ),
    GradeCase(
        "equation",
        r"""<think>
3x - 5 = 7, so 3x = 12, x = 4. Check: 12 - 5 = 7. Yes.
</think>

Adding $5$ to both sides gives $3x = 12$.

So $\boxed{x = 4}$.""",
        "4",
        True,
    ),
    GradeCase(
        "equation",
        r"""<think>
3x + 5 = -7? or 3x - 5 = 7... I'll go with 3x = -12, so x = -4.
</think>

Therefore, the final answer is $\boxed{x=-4}$.""",
        "4",
        False,
    ),
    GradeCase(
        "complex",
        r"""Expanding, $(2+i)i = 2i + i^2 = -1 + 2i$, and adding $2$ gives the result.

So the answer is $\boxed{2i + 1}$.""",
        "1+2i",
        True,
    ),
    GradeCase(
        "complex",
        r"""<think>
(1+i)^3 = (1+i)(2i) = 2i + 2i^2 = -2 + 2i. Hmm, then I need the conjugate? No... I'll write -2 - 2i.
</think>

Therefore, $(1+i)^3 = \boxed{-2 - 2i}$.""",
        "-2+2i",
        False,
    ),
    GradeCase(
        "symbolic",
        r"""This is a difference of squares.

Therefore, the final answer is $\boxed{(x-4)(x+4)}$.""",
        "x^2-16",
        True,
    ),
    GradeCase(
        "symbolic",
        r"""<think>
x^2 - 8x + 16 = (x-4)^2. The given polynomial is x^2 - 16... I'll factor what I have.
</think>

The factorization is $\boxed{(x-4)^2}$.""",
        "x^2-16",
        False,
    ),
    GradeCase(
        "tuple",
        r"""<think>
From the first equation x = 1 - ... substituting: y = -2, then x = 1.
</think>

Solving the system by substitution, we get $x = 1$ and $y = -2$.

The solution is $\boxed{(1, -2)}$.""",
        "(1,-2)",
        True,
    ),
    GradeCase(
        "tuple",
        r"""The point lies on the negative $y$-axis at distance $5$ from the origin.

Therefore, the polar coordinates are $\boxed{\left( 5, \frac{3\pi}{2} \right)}$.""",
        r"\left( 5, \frac{\pi}{2} \right)",
        False,
    ),
    GradeCase(
        "set_list",
        r"""<think>
x^2 - x - 6 = (x-3)(x+2), roots 3 and -2.
</think>

Factoring gives $(x-3)(x+2) = 0$. The solutions are $\boxed{3, -2}$.""",
        "-2, 3",
        True,
    ),
    GradeCase(
        "set_list",
        r"""The even numbers in the set that divide $24$ are listed below.

So the answer is $\boxed{\{2, 4, 6\}}$.""",
        r"\{2, 4, 8\}",
        False,
    ),
    GradeCase(
        "interval",
        r"""<think>
sqrt(x - 3) needs x >= 3. Endpoint included.
</think>

The expression $\sqrt{x-3}$ is defined exactly when $x \ge 3$.

The domain is $\boxed{[3, \infty)}$.""",
        r"[3,\infty)",
        True,
    ),
    GradeCase(
        "interval",
        r"""<think>
x - 3 > 0 so x > 3. Hmm, sqrt(0) is fine though... whatever, open interval.
</think>

The domain is $\boxed{(3, \infty)}$.""",
        r"[3,\infty)",
        False,
    ),
    GradeCase(
        "matrix",
        r"""<think>
Rotation by 90 degrees counterclockwise: (x, y) -> (-y, x). Matrix [[0,-1],[1,0]].
</think>

The matrix for a $90^\circ$ counterclockwise rotation is

$$\boxed{\begin{pmatrix} 0 & -1 \\ 1 & 0 \end{pmatrix}}$$""",
        r"\begin{pmatrix}0&-1\\1&0\end{pmatrix}",
        True,
    ),
    GradeCase(
        "text_word",
        r"""<think>
f(-x) = -x^3 + x... = -f(x). So f is odd.
</think>

Since $f(-x) = -f(x)$ for all $x$, the function is $\boxed{\text{odd}}$.""",
        r"\text{odd}",
        True,
    ),
    GradeCase(
        "extraction",
        r"""<think>
Area of the trapezoid: (3 + 2)/2 * 1 ... = 5/2.
</think>

The answer is $\frac{5}{2}$.""",
        r"\frac{5}{2}",
        True,
    ),
    GradeCase(
        "empty",
        r"""<think>
Let me compute: the total is 8... so \boxed{8}. Hmm, wait.
</think>

I need to double-check this computation before giving a result, but I have run out of time.""",
        "8",
        False,
    ),
    # ------------------------------------------------------------------ hostile
    GradeCase("hostile", r"2^{2^{2^{100}}}", "4", False),
    GradeCase("hostile", r"\boxed{2^{2^{2^{100}}}}", "4", False),
    GradeCase("hostile", "9!!!!!!", "9", False),
    GradeCase("hostile", r"10^{10^{10^{10}}}", "1", False),
    GradeCase("hostile", _DEEP_PARENS_BALANCED, "4", False),
    GradeCase("hostile", _DEEP_PARENS_OPEN, "4", False),
    GradeCase("hostile", _DIGITS_100K, "4", False),
    GradeCase("hostile", _FRAC_100K, "4", False),
    GradeCase("hostile", _CONTROL, "4", False),
    GradeCase("hostile", r"\frac{1}{", "4", False),
    GradeCase("hostile", r"\sqrt{", "4", False),
    GradeCase("hostile", "}}}{{{", "4", False),
    GradeCase("hostile", r"\begin{pmatrix}", "4", False),
    GradeCase("hostile", "__import__('os').system('echo hi')", "4", False),
    GradeCase("hostile", "lambda: 1", "4", False),
    GradeCase("hostile", 'exec("1")', "4", False),
    GradeCase("hostile", r"\boxed{__import__('os').system('echo hi')}", "4", False),
    GradeCase("hostile", r"\boxed{2^{2^{2^{100}}}}", r"2^{2^{2^{100}}}", True),
    GradeCase("hostile", r"10^{10^{10^{10}}}", r"10^{10^{10^{10}}}", True),
    # ------------------------------------------------------------------ minerva
    # MinervaMATH golds (tests/grading/test_minerva.py measures all 272): scientific
    # notation, units after a number, numpy/Python spellings.
    GradeCase("minerva", r"\boxed{4.5 \times 10^{33}\ \mathrm{erg\,s^{-1}}}", "4.5e33", True),
    GradeCase("minerva", "4500000000000000000000000000000000", "4.5e33", True),
    GradeCase("minerva", r"3\cdot10^8", "3e8", True),
    GradeCase("minerva", "3.0E+8 m/s", "3e8", True),
    GradeCase("minerva", r"L = 7 \times 10^{37}~\mathrm{erg/s}", "7e37", True),
    GradeCase("minerva", r"6 \times 10^{-3}", "0.006", True),
    GradeCase("minerva", r"1.70 \times 10^{4}", "1.70e4", True),
    GradeCase("minerva", r"2.88 \times 10^{16} / \mathrm{cm}^{3}", "2.88e16", True),
    GradeCase("minerva", r"1.6\,\mathrm{cm}", "1.6", True),
    GradeCase("minerva", r"5\mathrm{m}", "5", True),
    GradeCase("minerva", r"9.6\ \AA", "9.6", True),
    GradeCase("minerva", r"50\ \mu\mathrm{m}", "50", True),
    GradeCase("minerva", r"-\frac{1}{3}", "-1./3", True),
    GradeCase("minerva", r"\arcsin\left(\frac{10}{13}\right)", "np.arcsin(10/13)", True),
    GradeCase("minerva", r"4.6 \times 10^{33}", "4.5e33", False),
    GradeCase("minerva", r"4.5 \times 10^{34}", "4.5e33", False),
    GradeCase("minerva", r"4.5 \times 10^{-33}", "4.5e33", False),
    GradeCase("minerva", r"4.5 \times 10^33", "4.5e33", False),  # TeX: 10^{3}3
    GradeCase("minerva", "148.5e", "4.5e33", False),  # once read as 4.5 * e * 33
    GradeCase("minerva", r"4.5 e^{33}", "4.5e33", False),
    GradeCase("minerva", "2e-5", "1e-5", False),
    GradeCase("minerva", r"6 \times 10^{-2}", "0.006", False),
    GradeCase("minerva", r"1.7\ \mathrm{cm}", "1.6", False),
    GradeCase("minerva", "-0.33", "-1./3", False),
    GradeCase("minerva", "2e+1", "2e + 1", False),  # a number then e: scientific notation
    GradeCase("symbolic", r"\frac{37 m}{4}", r"\frac{37}{4} m", True),
    GradeCase("symbolic", r"\frac{37}{4}", r"\frac{37}{4} m", False),  # m is a mass
    GradeCase(
        "symbolic",
        r"\frac{1}{3}E_{1}+\frac{2}{3}E_{2}",
        r"\frac{1}{3} E_{1}+\frac{2}{3} E_{2}",
        True,
    ),
    GradeCase(
        "symbolic",
        r"(\gamma^{2}-1) m_{p} c^{2} \sin^{2}\theta",
        r"m_{p} c^{2}\left(\gamma^{2}-1\right) \sin ^{2} \theta",
        True,
    ),
    GradeCase(
        "symbolic",
        r"m_{p} c^{2}\left(\gamma^{2}-2\right) \sin ^{2} \theta",
        r"m_{p} c^{2}\left(\gamma^{2}-1\right) \sin ^{2} \theta",
        False,
    ),
    GradeCase(
        "symbolic",
        r"\frac{10^{5}L_{\odot}M^{6}}{0.007c^{2}M_{\odot}^{6}}",
        r"\frac{10^{5} L_{\odot}}{0.007 c^{2} M_{\odot}^{6}} M^{6}",
        True,
    ),
]


EXTRACT_CASES: list[ExtractCase] = [
    ExtractCase(r"\boxed{\frac{1}{2}}", r"\frac{1}{2}"),
    ExtractCase(r"So the answer is \boxed{070}.", "070"),
    ExtractCase(
        r"First I got \boxed{3}, but after fixing the sign error the result is \boxed{5}.", "5"
    ),
    ExtractCase(
        r"""<think>
Maybe \boxed{3}? Let me recheck... it is 4.
</think>

The answer is \boxed{4}.""",
        "4",
    ),
    ExtractCase(
        r"""<think>
Maybe \boxed{3}? Let me recheck... it is 4.
</think>

The answer is 4.""",
        "4",
    ),
    ExtractCase("<think>\nThe answer is 4\n</think>", None),
    ExtractCase("<think>\nSo we get \\boxed{3}.\n</think>", None),
    ExtractCase("<think>\nSo we get \\boxed{3}.\n</think>\n\n", None),
    ExtractCase(
        r"""<think>
first pass \boxed{1}
</think>
hmm, \boxed{2}
</think>

The answer is 3.""",
        "3",
    ),
    ExtractCase("<think>\n</think>\n\n\\boxed{7}", "7"),
    ExtractCase(r"\fbox{42}", "42"),
    ExtractCase(r"\boxed {x}", "x"),
    ExtractCase(r"The result is \boxed{a} and, written differently, \fbox{b}.", "b"),
    ExtractCase(r"\fbox{a} was my first guess; the correct one is \boxed{b}.", "b"),
    ExtractCase(r"\boxed{12", None),
    ExtractCase(r"\boxed{}", None),
    ExtractCase("I will box it: \\boxed{}\n\nAnswer: 7", "7"),
    ExtractCase("So far we have \\boxed{12\n\nThe answer is 12.", "12"),
    ExtractCase(r"Therefore, the final answer is $\frac{3}{4}$.", r"\frac{3}{4}"),
    ExtractCase("The answer is 5.", "5"),
    ExtractCase("The answer is 3.14.", "3.14"),
    ExtractCase("Answer: 204", "204"),
    ExtractCase("Answer: **12**", "12"),
    ExtractCase(r"Answer: $-\frac{1}{2}$", r"-\frac{1}{2}"),
    ExtractCase("**Answer:** 17", "17"),
    ExtractCase("So the final answer is **42**.", "42"),
    ExtractCase("First, the answer is 3.\nOn reflection, the answer is 4.", "4"),
    ExtractCase("THE ANSWER IS 8", "8"),
    ExtractCase("The answer is 5\nThis is because 2 + 3 = 5.", "5"),
    ExtractCase(r"The answer is $\dfrac{7}{2}$.", r"\dfrac{7}{2}"),
    ExtractCase("We get $\\boxed{5}$.\n\nThe answer is 6.", "5"),
    ExtractCase("No conclusion here, just some thoughts about triangles.", None),
    ExtractCase("", None),
    ExtractCase(r"Thus the answer is $\boxed{\text{(C)}}$.", r"\text{(C)}"),
    ExtractCase(r"$\boxed{ 42 }$", "42"),
    ExtractCase(
        r"In polar coordinates the point is $\boxed{\left( 3, \frac{\pi}{2} \right)}$.",
        r"\left( 3, \frac{\pi}{2} \right)",
    ),
    ExtractCase(
        r"$$\boxed{\begin{pmatrix} 1 \\ 2 \end{pmatrix}}$$", r"\begin{pmatrix} 1 \\ 2 \end{pmatrix}"
    ),
    ExtractCase(r"Simplifying, $f(x) = \boxed{x^{2}+\frac{1}{x}}$.", r"x^{2}+\frac{1}{x}"),
    ExtractCase(
        r"""<think>
Compute the sum... 35 + 35 = 70.
</think>

So the answer is \boxed{070}.""",
        "070",
    ),
    ExtractCase("<think>\nLet me see, 2 + 3 = 5, so \\boxed{5}", "5"),
]


HOSTILE_INPUTS: list[str] = [
    r"2^{2^{2^{100}}}",
    "9!!!!!!",
    r"10^{10^{10^{10}}}",
    _DEEP_PARENS_BALANCED,
    _DEEP_PARENS_OPEN,
    "{" * 500,
    "\\sqrt{" * 500 + "2" + "}" * 500,
    "\\left(" * 500,
    _DIGITS_100K,
    _FRAC_100K,
    "a" * 100_000,
    "\\boxed{" * 1000,
    "</think>" * 1000,
    _CONTROL,
    "\x00" * 1000,
    r"\frac{1}{",
    r"\sqrt{",
    "}}}{{{",
    r"\begin{pmatrix}",
    "\\begin{pmatrix}" + "1 & " * 10_000,
    "__import__('os').system('echo hi')",
    "lambda: 1",
    'exec("1")',
    "eval('2+2')",
    "().__class__.__bases__[0].__subclasses__()",
    "9" + "!" * 1000,
    "2^" * 500 + "2",
    "9" * 5000 + "/" + "7" * 5000,
    r"\sqrt[1000000]{2}",
    r"\binom{100000000}{50000000}",
    "100000000!",
    r"\frac{0}{0}",
    r"\frac{1}{0}",
    "1e999999999",
    "nan",
    "-inf",
    "\u202e\u200b\ufeff",
    "\\\\" * 1000,
    "$$$$$$$$",
    r"x^{x^{x^{x^{x^{x}}}}}",
    "\\textbf{" * 300,
]
