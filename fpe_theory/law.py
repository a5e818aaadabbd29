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

import math
from collections.abc import Callable
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
    # (factor, multiplicity); empty product = 1. Or a function building them on first use (large problems:
    # the inclusion-exclusion sums cost ~C^2 big-integer operations), described meanwhile by factor_shape.
    all_covered_factors: tuple[tuple[PowerSum, int], ...] | Callable[[], tuple]
    never_all_covered: bool = False  # some clause can never be covered
    pair_miss: Fraction | None = None  # P(one unit misses both of a given pair), when the same for all pairs
    notes: tuple[str, ...] = field(default=())
    factor_shape: tuple[tuple[int, int], ...] = ()  # of a lazy all_covered_factors: (terms, denominator bits)
    build_seconds: float = 0.0  # estimated time to build a lazy all_covered_factors

    def factors(self) -> tuple[tuple[PowerSum, int], ...]:
        """``all_covered_factors``, built now if it was left lazy (then kept)."""
        built = self.all_covered_factors
        if callable(built):
            built = built()
            object.__setattr__(self, "all_covered_factors", built)
            object.__setattr__(self, "build_seconds", 0.0)
        return built

    def shape(self) -> tuple[tuple[int, int], ...]:
        """(number of terms, denominator bits) of each all-covered factor, without building a lazy one."""
        if callable(self.all_covered_factors):
            return self.factor_shape
        return tuple((len(f.numerators), f.denominator.bit_length()) for f, _ in self.all_covered_factors)

    def p_all_covered(self, r: int) -> Fraction:
        """Exact P(every clause covered by at least one of the alpha*r children)."""
        if self.never_all_covered:
            return Fraction(0)
        n = self.units * r
        out = Fraction(1)
        for factor, multiplicity in self.factors():
            out *= factor.value(n) ** multiplicity
        return out

    def p_all_covered_parts(self, r: int) -> tuple[int, int]:
        """Unreduced (numerator, denominator) of ``p_all_covered(r)`` for fast exact comparisons."""
        if self.never_all_covered:
            return 0, 1
        num, den = 1, 1
        for factor, multiplicity in self.factors():
            a, b = factor.parts(self.units * r)
            num, den = num * a**multiplicity, den * b**multiplicity
        return num, den

    def union_bound(self, r: int) -> Fraction:
        """Sum over clauses of P(clause missed by every neuron) (not capped at 1)."""
        n = self.units * r
        return sum((count * q**n for count, q in self.unit_miss), Fraction(0))

    def union_bound_bits(self, r: int) -> int:
        """Bits of the exact union bound's denominator, about: what ``union_bound(r)`` would build."""
        n = self.units * r
        return n * sum(q.denominator.bit_length() for _, q in self.unit_miss if 0 < q < 1)

    def union_bound_log10(self, r: int) -> float | None:
        """log10 of the union bound from logarithms (any r; no big integers); None when it is 0."""
        n = self.units * r
        logs = [math.log10(count) + n * log10_fraction(q) for count, q in self.unit_miss if q > 0]
        return log10_sum(logs)


def log10_fraction(x: Fraction) -> float:
    """log10 of a positive Fraction, exact in range (big numerators and denominators alike)."""
    num, den = x.numerator, x.denominator
    if den < 2 * num < 4 * den:  # 1/2 < x < 2: log1p keeps the digits of x - 1 (a miss probability near 1)
        return math.log1p((num - den) / den) / math.log(10)  # int / int is correctly rounded at any size
    return math.log10(num) - math.log10(den)  # math.log10 takes ints of any size


def log10_sum(logs: list[float]) -> float | None:
    """log10(sum of 10**x) without overflow or underflow; None for an empty sum."""
    if not logs:
        return None
    top = max(logs)
    return top + math.log10(sum(10 ** (x - top) for x in logs))
