"""The r-free description of a mask family on one problem (shared by every family module).

A family draws ``units`` independent *units* per parent (alpha independent children for
``independent``, one parent for the others). Everything exact then follows from:

- ``unit_miss``: for each distinct clause law, (number of clauses, P(one unit misses it));
  P(clause missed by all r parents) = miss ** (units * r).
- ``all_covered``: P(all clauses covered) as a product of inclusion-exclusion sums
  ``sum_j w_j (N_j / D) ** n`` in integers (``PowerSum``), n = units * r.
- ``collisions_per_parent``: E[collisions of the alpha children of one parent].
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from math import gcd

from fpe_theory.bigint import power


def gcd_with_power(x: int, base: int, n: int) -> int:
    """gcd(x, base**n) using only gcds with the small ``base`` (CPython's gcd of huge ints is quadratic).

    Each round removes min(v_p(rest), v_p(base)) of every prime p, so after at most n rounds
    the product of the removed parts is prod_p p^min(v_p(x), n v_p(base)).

    >>> gcd_with_power(2**5 * 9 * 7, 6, 3)
    72
    """
    g, rest = 1, abs(x)
    if rest == 0:
        return base**n
    for _ in range(n):
        h = gcd(rest, base)
        if h == 1:
            break
        g, rest = g * h, rest // h
    return g


def coprime_fraction(num: int, den: int) -> Fraction:
    """Fraction(num, den) for coprime num, den > 0, skipping the (quadratic) gcd of huge ints."""
    maker = getattr(Fraction, "_from_coprime_ints", None)  # Python >= 3.12
    if maker is not None:
        return maker(num, den)
    try:
        return Fraction(num, den, _normalize=False)  # Python <= 3.11
    except TypeError:
        return Fraction(num, den)


@dataclass(frozen=True)
class PowerSum:
    """``sum_j weights[j] * (numerators[j] / denominator) ** n`` with integers only.

    >>> PowerSum((1, -1), (2, 1), 2).value(3)  # 1 - (1/2)^3
    Fraction(7, 8)
    """

    weights: tuple[int, ...]
    numerators: tuple[int, ...]
    denominator: int

    def value(self, n: int) -> Fraction:
        """The exact sum at exponent ``n >= 1`` (one Fraction built at the end)."""
        num, den = self.parts(n)
        g = gcd_with_power(num, self.denominator, n)
        return coprime_fraction(num // g, den // g)

    def parts(self, n: int) -> tuple[int, int]:
        """(numerator, denominator) of the sum at exponent n, unreduced (no gcd of huge ints)."""
        total = sum(w * power(num, n) for w, num in zip(self.weights, self.numerators, strict=True))
        return total, power(self.denominator, n)

    @staticmethod
    def collect(weights, numerators, denominator: int) -> PowerSum:
        """Merge terms with equal numerators and drop zero terms (fewer big powers)."""
        merged: dict[int, int] = {}
        for w, num in zip(weights, numerators, strict=True):
            if w and num:
                merged[num] = merged.get(num, 0) + w
        items = [(w, num) for num, w in merged.items() if w]
        return PowerSum(tuple(w for w, _ in items), tuple(n for _, n in items), denominator)


@dataclass(frozen=True)
class CoverageLaw:
    """Exact, r-free law of one family on one problem; ``fpe_theory.exact`` turns it into numbers."""

    family: str
    clauses: int
    p_cover: Fraction  # one child covers a given clause (mean over clauses)
    p_pair: Fraction  # one child covers a given pair of clauses (mean over pairs)
    units: int  # independent draws per parent
    unit_miss: tuple[tuple[int, Fraction], ...]  # (clause count, P(one unit misses such a clause))
    collisions_per_parent: Fraction
    all_covered_factors: tuple[tuple[PowerSum, int], ...]  # (factor, multiplicity); empty product = 1
    never_all_covered: bool = False  # some clause can never be covered
    pair_miss: Fraction | None = None  # P(one unit misses both of a given pair), when the same for all pairs
    notes: tuple[str, ...] = field(default=())

    def p_all_covered(self, r: int) -> Fraction:
        """Exact P(every clause covered by at least one of the alpha*r children)."""
        if self.never_all_covered:
            return Fraction(0)
        n = self.units * r
        out = Fraction(1)
        for factor, multiplicity in self.all_covered_factors:
            out *= factor.value(n) ** multiplicity
        return out

    def p_all_covered_parts(self, r: int) -> tuple[int, int]:
        """Unreduced (numerator, denominator) of ``p_all_covered(r)`` for fast exact comparisons."""
        if self.never_all_covered:
            return 0, 1
        num, den = 1, 1
        for factor, multiplicity in self.all_covered_factors:
            a, b = factor.parts(self.units * r)
            num, den = num * a**multiplicity, den * b**multiplicity
        return num, den

    def union_bound(self, r: int) -> Fraction:
        """Sum over clauses of P(clause missed by every neuron) (not capped at 1)."""
        n = self.units * r
        return sum((count * q**n for count, q in self.unit_miss), Fraction(0))
