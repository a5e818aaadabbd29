"""Exact laws of the uniform d-subset families ``independent`` and ``partition`` (paper A.5).

Every child of both families is marginally a uniform d-subset of the m inputs, so

    p  = C(m-k, d-k) / C(m, d)     (one child covers a given clause; paper: ~ alpha^-k)
    p' = C(m-2k, d-2k) / C(m, d)   (one child covers a given pair; paper: ~ alpha^-2k)

and E[collisions] = alpha r C(C,2) p' for both. They differ in P(all covered):

independent (alpha*r independent children):
    P(all) = sum_j (-1)^j C(C,j) q_j^(alpha r),
    q_j = P(a child covers none of j given clauses) = sum_i (-1)^i C(j,i) C(m-ik, d-ik) / C(m,d).

partition (r independent parents, each an ordered split into alpha blocks of d):
    P(all) = sum_j (-1)^j C(C,j) Q_j^r,   Q_j = sum_i (-1)^i C(j,i) P_i,
    P_i = P(i given clauses each inside one block)
        = i! (m-ik)! / m! * [x^i] (sum_n d! / (n! (d-nk)!) x^n)^alpha.
    Derivation: put n_b of the i (labelled) clauses into block b (i!/prod n_b! ways), fill
    the other m-ik slots ((m-ik)!/prod (d - n_b k)! ways), divide by m!/(d!)^alpha splits.

>>> from fpe_theory import Problem
>>> independent_law(Problem(m=8, k=2, alpha=2)).p_cover
Fraction(3, 14)
"""

from __future__ import annotations

import math
from fractions import Fraction
from functools import lru_cache
from math import comb, factorial

from fpe_theory.bigint import multiply
from fpe_theory.law import CoverageLaw, PowerSum
from fpe_theory.problem import Problem


def _binom(n: int, j: int) -> int:
    return comb(n, j) if 0 <= j <= n else 0


def falling(n: int, j: int) -> int:
    """n (n-1) ... (n-j+1), the falling factorial [n]_j (0 when j > n)."""
    if j > n:
        return 0
    return math.prod(range(n - j + 1, n + 1))


def p_cover_subset(m: int, k: int, d: int) -> Fraction:
    """p = C(m-k, d-k) / C(m, d) = [d]_k / [m]_k: a uniform d-subset contains k given inputs."""
    return Fraction(falling(d, k), falling(m, k))


def p_two_blocks(m: int, k: int, d: int) -> Fraction:
    """P(clause 1 inside block 0 and clause 2 inside block 1) of a uniform ordered split: [d]_k^2 / [m]_2k."""
    return Fraction(falling(d, k) ** 2, falling(m, 2 * k))


def log2_comb(n: int, j: int) -> float:
    """log2 C(n, j) from lgamma (a size estimate, not an exact value)."""
    return (math.lgamma(n + 1) - math.lgamma(j + 1) - math.lgamma(n - j + 1)) / math.log(2)


def build_seconds(c: int, bits: float) -> float:
    """Rough time of an inclusion-exclusion law over C clauses with ``bits``-bit counts (difference table).

    About C^2 / 2 big-integer operations of ``bits`` bits; calibrated on one CPU core (within ~2x
    for m = 1024..4096).
    """
    return 0.01 + (c + 1) ** 2 / 2 * (6e-8 + bits * 1e-10)


def _binomial_transform(a: list[int]) -> list[int]:
    """out[j] = sum_i (-1)^i C(j,i) a[i], via a difference table (additions only)."""
    out, row = [], list(a)
    while row:
        out.append(row[0])
        row = [x - y for x, y in zip(row, row[1:], strict=False)]
    return out


def _notes(problem: Problem) -> tuple[str, ...]:
    k, d, c = problem.k, problem.d, problem.clauses
    notes = []
    if d < k:
        notes.append(f"d={d} < k={k}: no child can cover a clause (p = 0); nothing is ever covered")
    if c < 2:
        notes.append(f"C={c}: a single clause has no pairs; collisions are impossible")
    elif d < 2 * k:
        notes.append(f"d={d} < 2k={2 * k}: no child can hold two clauses; collisions are impossible")
    return tuple(notes)


def _pair_terms(problem: Problem) -> tuple[Fraction, Fraction]:
    m, k, d, c = problem.m, problem.k, problem.d, problem.clauses
    p_pair = p_cover_subset(m, 2 * k, d) if c >= 2 else Fraction(0)
    return p_pair, problem.alpha * comb(c, 2) * p_pair


def _inclusion_exclusion(c: int, counts: list[int], denominator: int) -> tuple[PowerSum, Fraction | None]:
    """(sum_j (-1)^j C(C,j) (Q_j)^n, Q_2) with Q_j = binomial transform of counts / denominator.

    Q_j = P(one unit covers none of j given clauses); Q_2 feeds the Bonferroni bound of r_min.
    """
    counts = counts + [0] * (c + 1 - len(counts))
    q = _binomial_transform(counts[: c + 1])
    weights = [(-1) ** j * comb(c, j) for j in range(c + 1)]
    pair_miss = Fraction(q[2], denominator) if c >= 2 else None
    return PowerSum.collect(weights, q, denominator), pair_miss


@lru_cache(maxsize=64)
def independent_law(problem: Problem) -> CoverageLaw:
    """Exact law of ``independent``: alpha*r independent uniform d-subsets.

    p, p' and Q_2 = 1 - 2p + p' are closed forms; the all-covered sum is built on first use.
    """
    m, k, d, c = problem.m, problem.k, problem.d, problem.clauses
    p = p_cover_subset(m, k, d)
    p_pair, per_parent = _pair_terms(problem)

    def build():
        # counts[i] = number of d-subsets containing i given disjoint clauses.
        counts = [comb(m - i * k, d - i * k) for i in range(min(c, d // k) + 1)]
        return ((_inclusion_exclusion(c, counts, comb(m, d))[0], 1),)

    bits = log2_comb(m, d)
    return CoverageLaw(
        family="overlap",
        clauses=c,
        p_cover=p,
        p_pair=p_pair,
        units=problem.alpha,
        unit_miss=((c, 1 - p),),
        collisions_per_parent=per_parent,
        all_covered_factors=build,
        pair_miss=1 - 2 * p + p_pair if c >= 2 else None,
        never_all_covered=p == 0,
        notes=_notes(problem),
        factor_shape=((c + 1, int(bits) + 1),),
        build_seconds=build_seconds(c, bits),
    )


def _poly_power(a: list[int], power: int, degree: int) -> list[int]:
    """Coefficients 0..degree of (sum_n a[n] x^n)^power, integers."""
    result = [1]
    base = a[: degree + 1]
    while power:
        if power & 1:
            result = _poly_mul(result, base, degree)
        power >>= 1
        if power:
            base = _poly_mul(base, base, degree)
    return result


def _poly_mul(a: list[int], b: list[int], degree: int) -> list[int]:
    """Product of two polynomials with non-negative integer coefficients, truncated to ``degree``.

    Kronecker substitution: pack each coefficient list into one big integer (fixed-width
    slots wide enough for any product coefficient), multiply once, unpack.
    """
    slot = max(a).bit_length() + max(b).bit_length() + min(len(a), len(b)).bit_length() + 1
    width = (slot + 7) // 8
    big_a = int.from_bytes(b"".join(x.to_bytes(width, "little") for x in a), "little")
    if a is b:
        packed = multiply(big_a, big_a)  # squaring: one FFT
    else:
        packed = multiply(big_a, int.from_bytes(b"".join(x.to_bytes(width, "little") for x in b), "little"))
    n = min(len(a) + len(b) - 1, degree + 1)
    raw = packed.to_bytes(width * (len(a) + len(b)), "little")
    return [int.from_bytes(raw[i * width : (i + 1) * width], "little") for i in range(n)]


def block_counts(m: int, k: int, alpha: int) -> list[int]:
    """counts[i] = number of ordered splits (alpha blocks of d) with i given clauses each in one block."""
    d = m // alpha
    top = alpha * (d // k)
    a = [factorial(d) // (factorial(n) * factorial(d - n * k)) for n in range(d // k + 1)]
    coef = _poly_power(a, alpha, top)
    scale = factorial(d) ** alpha
    counts = []
    for i, x in enumerate(coef):
        num = factorial(i) * factorial(m - i * k) * x
        assert num % scale == 0  # an integer count of splits
        counts.append(num // scale)
    return counts


@lru_cache(maxsize=64)
def partition_law(problem: Problem) -> CoverageLaw:
    """Exact law of ``partition``: r independent uniform ordered splits into alpha blocks of d."""
    m, k, d, c, alpha = problem.m, problem.k, problem.d, problem.clauses, problem.alpha
    p = p_cover_subset(m, k, d)
    p_pair, per_parent = _pair_terms(problem)

    def build():
        splits = factorial(m) // factorial(d) ** alpha
        return ((_inclusion_exclusion(c, block_counts(m, k, alpha), splits)[0], 1),)

    # Q_2 = 1 - 2 P_1 + P_2: P_1 = alpha p (the clause inside one block),
    # P_2 = alpha p' + alpha (alpha - 1) [d]_k^2 / [m]_2k (both inside one block, or inside two)
    p2 = alpha * p_pair + alpha * (alpha - 1) * p_two_blocks(m, k, d) if c >= 2 else None
    bits = (math.lgamma(m + 1) - alpha * math.lgamma(d + 1)) / math.log(2)
    return CoverageLaw(
        family="random",
        clauses=c,
        p_cover=p,
        p_pair=p_pair,
        units=1,
        unit_miss=((c, 1 - alpha * p),),
        collisions_per_parent=per_parent,
        all_covered_factors=build,
        pair_miss=None if p2 is None else 1 - 2 * alpha * p + p2,
        never_all_covered=p == 0,
        notes=_notes(problem),
        factor_shape=((c + 1, int(bits) + 1),),
        build_seconds=build_seconds(c, 1.5 * m * math.log2(m)),  # block_counts works with ~m log m-bit factorials
    )
