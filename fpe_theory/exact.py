"""Exact coverage and collision numbers of every mask family, beside the paper's approximations (A.5).

Binding API (docs/interfaces.md): ``family_exact``, ``FamilyExact``, ``dense_collisions``,
``paper_approximations``, ``r_min``. All results are ``fractions.Fraction`` or int; floats
appear only in ``PaperApproximations`` fields that the paper itself states with e/ln.

>>> from fpe_theory import Problem
>>> fe = family_exact(Problem(m=8, k=2, alpha=2), "random", r=1)
>>> (fe.p_cover, fe.p_all_covered)
(Fraction(3, 14), Fraction(3, 35))
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from math import comb

from fpe_theory.bigint import power
from fpe_theory.families import check_family
from fpe_theory.law import CoverageLaw, log10_fraction
from fpe_theory.problem import Problem
from fpe_theory.structured import clause_law, structured_law
from fpe_theory.subsets import independent_law, p_cover_subset, partition_law
from fpe_theory.validate import check_int

EXACT_BITS = 4_000_000  # exact fractions whose denominators would pass this many bits are left to logarithms
DECIDE_MARGIN = 1e-6  # log10 margin beyond which a comparison decided in floats is certain (float error ~1e-12)


@dataclass(frozen=True)
class FamilyExact:
    """Exact numbers of one family at one r (fields as in docs/interfaces.md)."""

    family: str
    r: int
    p_cover: Fraction  # one child covers a given clause (mean over clauses)
    p_pair: Fraction  # one child covers a given pair of clauses (mean over pairs)
    p_parent_cover: Fraction  # one parent (some child of it) covers a given clause (mean)
    p_clause_missed: Fraction  # a given clause missed by every neuron (mean over clauses)
    union_bound: Fraction  # sum over clauses of their miss probabilities (not capped)
    p_all_covered: Fraction
    expected_covered: Fraction
    expected_collisions: Fraction
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class PaperApproximations:
    """The paper's approximations (A.5) for one problem and r."""

    p_cover: Fraction  # (1/alpha)^k
    p_cover_binomial: Fraction  # C(m-k,d-k)/C(m,d), the paper's own exact p
    union_bound: Fraction | None  # C (1-p)^(alpha r) with the binomial p; None beyond EXACT_BITS (see the log10)
    union_bound_exp: float  # C exp(-r / alpha^(k-1))
    p_pair: Fraction  # (1/alpha)^(2k)
    collision_ratio: Fraction  # alpha^-(2k-1)
    r_min_paper: int | None  # smallest integer r > alpha^(k-1) ln(C/eps); None without eps
    eps: Fraction | None
    union_bound_log10: float | None = None  # log10 of union_bound, from logarithms (any r)


def as_fraction_eps(eps) -> Fraction:
    """eps as an exact Fraction in (0, 1); floats via their shortest repr (0.01 -> 1/100)."""
    if isinstance(eps, bool):
        raise ValueError(f"eps={eps!r}: must be a number in (0, 1)")
    try:
        value = eps if isinstance(eps, Fraction) else Fraction(repr(float(eps)) if isinstance(eps, float) else eps)
    except (TypeError, ValueError, ZeroDivisionError):
        raise ValueError(f"eps={eps!r}: must be a number in (0, 1)") from None
    if not 0 < value < 1:
        raise ValueError(f"eps={eps!r}: must be a number in (0, 1)")
    return value


def law(problem: Problem, family: str) -> CoverageLaw:
    """The cached r-free law of ``family`` on ``problem`` (raises ValueError if undefined)."""
    check_family(problem, family)
    if family == "overlap":
        return independent_law(problem)
    if family == "random":
        return partition_law(problem)

    return structured_law(problem) if family == "structured_2_4" else clause_law(problem)


def family_exact(problem: Problem, family: str, r: int) -> FamilyExact:
    """Exact coverage/collision numbers of ``family`` with r parents (alpha*r children)."""
    r = check_int("r", r, minimum=1)
    lw = law(problem, family)
    c = problem.clauses
    union = lw.union_bound(r)
    missed = union / c
    n_miss_one_unit = sum((count * q for count, q in lw.unit_miss), Fraction(0)) / c
    notes = lw.notes
    return FamilyExact(
        family=family,
        r=r,
        p_cover=lw.p_cover,
        p_pair=lw.p_pair,
        p_parent_cover=1 - (n_miss_one_unit if lw.units == 1 else _mean_pow(lw, lw.units)),
        p_clause_missed=missed,
        union_bound=union,
        p_all_covered=lw.p_all_covered(r),
        expected_covered=c - union,
        expected_collisions=r * lw.collisions_per_parent,
        notes=notes,
    )


def _mean_pow(lw: CoverageLaw, n: int) -> Fraction:
    return sum((count * q**n for count, q in lw.unit_miss), Fraction(0)) / lw.clauses


def dense_collisions(problem: Problem, r: int) -> int:
    """r C(C,2): every dense neuron covers every pair of clauses."""
    r = check_int("r", r, minimum=1)
    return r * comb(problem.clauses, 2)


def collision_ratio(problem: Problem, family: str = "overlap") -> Fraction | None:
    """E_FPE / E_dense = alpha p' for independent/partition (r cancels); None when C < 2."""
    if problem.clauses < 2:
        return None
    lw = law(problem, family)
    return lw.collisions_per_parent / comb(problem.clauses, 2)


def paper_r_min(problem: Problem, eps) -> int:
    """Smallest integer r > alpha^(k-1) ln(C/eps) (the paper's requirement, A.5)."""
    eps = as_fraction_eps(eps)
    x = problem.alpha ** (problem.k - 1) * (math.log(problem.clauses) - math.log(eps))
    return math.floor(x) + 1


def paper_approximations(problem: Problem, r: int, eps=None) -> PaperApproximations:
    """The paper's p ~ alpha^-k, union bounds, ratio alpha^-(2k-1) and r_min (A.5)."""
    r = check_int("r", r, minimum=1)
    m, k, alpha, c = problem.m, problem.k, problem.alpha, problem.clauses
    p = p_cover_subset(m, k, problem.d)
    eps_f = None if eps is None else as_fraction_eps(eps)
    n, q = alpha * r, 1 - p
    exact = q == 0 or n * q.denominator.bit_length() <= EXACT_BITS
    return PaperApproximations(
        p_cover=Fraction(1, alpha**k),
        p_cover_binomial=p,
        union_bound=c * q**n if exact else None,
        union_bound_exp=c * math.exp(-r / alpha ** (k - 1)),
        p_pair=Fraction(1, alpha ** (2 * k)),
        collision_ratio=Fraction(1, alpha ** (2 * k - 1)),
        r_min_paper=None if eps_f is None else paper_r_min(problem, eps_f),
        eps=eps_f,
        union_bound_log10=None if q == 0 else math.log10(c) + n * log10_fraction(q),
    )


def r_min(problem: Problem, family: str, eps, r_max: int = 1 << 20) -> int | None:
    """Smallest r with exact P(all covered) >= 1 - eps; None if no r <= r_max reaches it.

    P(all covered) is non-decreasing in r (adding a parent can only cover more), so a
    doubling search followed by bisection on the exact value finds the smallest r.
    """
    eps = as_fraction_eps(eps)
    lw = law(problem, family)
    if lw.never_all_covered:
        return None

    def ok(r: int) -> bool:  # P(all) >= 1 - eps, compared in integers
        num, den = lw.p_all_covered_parts(r)
        return num * eps.denominator >= (eps.denominator - eps.numerator) * den

    lo, hi = _bracket(lw, eps)  # exact: not ok(lo) (or lo = 0), ok(hi)
    if hi > r_max:
        return None
    if hi == lo + 1:  # the bounds alone decide it: no all-covered sum needed
        return hi
    lo, hi = _gallop(ok, lo, hi, _guess(lw, eps, lo, hi))
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def r_min_bounds(problem: Problem, family: str, eps) -> tuple[int, int] | None:
    """Exact cheap bounds (lower, upper) on ``r_min`` without the all-covered sum; None if never reached.

    lower: the first r where every single clause is missed w.p. <= eps (needed, as
    P(all) <= 1 - P(clause missed)); upper: the first r where the union bound is <= eps.
    """
    eps = as_fraction_eps(eps)
    lw = law(problem, family)
    if lw.never_all_covered:
        return None
    lo, hi = _bracket(lw, eps)
    return lo + 1, hi


def p_all_covered_bounds(problem: Problem, family: str, r: int) -> tuple[Fraction, Fraction]:
    """Cheap exact bounds on P(all covered) (Bonferroni): 1 - S1 <= P <= 1 - S1 + S2.

    S1 = union bound; S2 = C(C,2) Q_2^n where the pair law is shared by all pairs
    (independent, partition), else the upper bound is 1 - max_c P(clause c missed).
    """
    r = check_int("r", r, minimum=1)
    lw = law(problem, family)
    if lw.never_all_covered:
        return Fraction(0), Fraction(0)
    n = lw.units * r
    s1 = lw.union_bound(r)
    if lw.pair_miss is not None and len(lw.unit_miss) == 1:
        upper = 1 - s1 + comb(lw.clauses, 2) * lw.pair_miss**n
    else:
        upper = 1 - max(q for _, q in lw.unit_miss) ** n
    return max(Fraction(0), 1 - s1), min(Fraction(1), upper)


def _guess(lw: CoverageLaw, eps: Fraction, lo: int, hi: int) -> int:
    """Float guess: the r where prod over clauses of (1 - miss) reaches 1 - eps."""

    def approx_fail(r: int) -> float:
        return -sum(cnt * math.log1p(-(float(q) ** (lw.units * r))) for cnt, q in lw.unit_miss if q > 0)

    target = -math.log1p(-float(eps))
    a, b = lo, hi
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (a, mid) if approx_fail(mid) <= target else (mid, b)
    return b


def _gallop(ok, lo: int, hi: int, guess: int) -> tuple[int, int]:
    """Shrink (lo, hi) around ``guess`` with steps 1, 2, 4, ...; keeps: lo not ok (or 0), hi ok."""
    guess = min(max(guess, lo + 1), hi)
    step = 1
    if guess == hi or ok(guess):
        hi = guess
        while hi - step > lo:
            if not ok(hi - step):
                return hi - step, hi
            hi, step = hi - step, 2 * step
        return lo, hi
    lo = guess
    while lo + step < hi:
        if ok(lo + step):
            return lo, lo + step
        lo, step = lo + step, 2 * step
    return lo, hi


def _bracket(lw: CoverageLaw, eps: Fraction) -> tuple[int, int]:
    """(lo, hi) with P(all covered) < 1-eps at lo (or lo = 0) and >= 1-eps at hi, checked exactly.

    hi: the union bound S1 <= eps. lo: a clause is still missed w.p. > eps, or, sharper, the
    Bonferroni bound P(some clause missed) >= S1 - S2 > eps (S2 = C(C,2) Q_2^n over pairs).
    """
    worst = max(q for _, q in lw.unit_miss)
    if worst == 0:
        return 0, 1
    u = lw.units
    log_eps, log_worst = log10_fraction(eps), log10_fraction(worst)

    def lo_ok(r: int) -> bool:  # certainly worst^(u r) > eps (a clause is missed w.p. > eps), or r = 0
        bits = u * r * worst.denominator.bit_length()
        return r == 0 or _decide(u * r * log_worst, log_eps, lambda: worst ** (u * r) > eps, bits) is True

    def hi_ok(r: int) -> bool:  # certainly S1(r) <= eps
        log_s1 = lw.union_bound_log10(r)
        return _decide(log_s1, log_eps, lambda: lw.union_bound(r) > eps, lw.union_bound_bits(r)) is False

    guess_lo = max(0, math.floor(log_eps / (u * log_worst)))
    guess_hi = max(guess_lo + 1, math.ceil((log_eps - math.log10(lw.clauses)) / (u * log_worst)))
    lo = _last_true(lo_ok, _gallop_down(lo_ok, guess_lo), guess_lo + 1)
    hi = _first_true(hi_ok, lo + 1, _gallop_up(hi_ok, guess_hi))
    return _bonferroni_lo(lw, eps, lo, hi), hi


def _gallop_down(pred, r: int) -> int:
    """An r' <= r with pred(r') (pred(0) must hold), stepping 1, 2, 4, ... down."""
    step = 1
    while r > 0 and not pred(r):
        r, step = max(0, r - step), 2 * step
    return r


def _gallop_up(pred, r: int) -> int:
    """An r' >= r with pred(r'), stepping 1, 2, 4, ... up (pred holds for all large r)."""
    step = 1
    while not pred(r):
        r, step = r + step, 2 * step
    return r


def _last_true(pred, a: int, b: int) -> int:
    """Largest r in [a, b) with pred(r), for pred true up to a threshold (pred(a) holds)."""
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (mid, b) if pred(mid) else (a, mid)
    return a


def _first_true(pred, a: int, b: int) -> int:
    """Smallest r in [a, b] with pred(r), for pred false up to a threshold (pred(b) holds)."""
    if pred(a):
        return a
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (a, mid) if pred(mid) else (mid, b)
    return b


def _decide(log_lhs: float | None, log_rhs: float, exact, bits: int) -> bool | None:
    """lhs > rhs, from their log10s when they differ by more than DECIDE_MARGIN, else by ``exact()``.

    None (undecided) for a comparison too close for floats whose exact sides would exceed EXACT_BITS;
    the callers then keep a wider, still valid bracket.
    """
    if log_lhs is None:  # lhs = 0
        return False
    if abs(log_lhs - log_rhs) > DECIDE_MARGIN:
        return log_lhs > log_rhs
    return exact() if bits <= EXACT_BITS else None


def _bonferroni_lo(lw: CoverageLaw, eps: Fraction, lo: int, hi: int) -> int:
    """Largest r in (lo, hi) found by bisection with S1(r) - S2(r) > eps (exactly verified), else lo."""
    if lw.pair_miss is None:
        return lo

    (count, q1), q2 = lw.unit_miss[0], lw.pair_miss
    if len(lw.unit_miss) != 1:
        return lo

    pairs = comb(lw.clauses, 2)
    log_eps = log10_fraction(eps)

    def fails_exact(r: int) -> bool:  # exact integers: S1 - S2 > eps, so P(all) <= 1 - S1 + S2 < 1 - eps
        n = lw.units * r
        a, b = power(q1.numerator, n), power(q1.denominator, n)
        c, e = power(q2.numerator, n), power(q2.denominator, n)
        lhs = (count * a * e - pairs * c * b) * eps.denominator
        return lhs > eps.numerator * b * e

    def fails(r: int) -> bool:  # the same, decided in logarithms when far from the threshold
        n = lw.units * r
        log_s1 = math.log10(count) + n * log10_fraction(q1)
        log_s2 = math.log10(pairs) + n * log10_fraction(q2) if q2 > 0 else None
        if log_s2 is not None and log_s2 >= log_s1:
            log_diff = None  # S1 - S2 <= 0 up to rounding: decide exactly (or say no)
        else:
            ratio = 0.0 if log_s2 is None else 10 ** (log_s2 - log_s1)
            log_diff = log_s1 + math.log10(1 - ratio) if ratio < 1 - 1e-9 else None
        bits = n * (q1.denominator.bit_length() + q2.denominator.bit_length())
        if log_diff is None:
            return fails_exact(r) if bits <= EXACT_BITS else False
        return _decide(log_diff, log_eps, lambda: fails_exact(r), bits) is True

    a, b = lo, hi  # bisection on a predicate that is monotone near the threshold; the result is re-checked
    while b - a > 1:
        mid = (a + b) // 2
        a, b = (mid, b) if fails(mid) else (a, mid)
    return a if a > lo and fails(a) else lo


def estimate_seconds(problem: Problem, family: str, r: int, evaluations: int = 1) -> float:
    """Rough wall time of ``evaluations`` exact P(all covered) at r, plus building the law's sums if not yet built.

    Big-integer powers of n = units * r; calibrated on one CPU core.
    """
    lw = law(problem, family)
    if lw.never_all_covered:
        return 0.0
    total = 0.0
    for terms, den_bits in lw.shape():
        bits = lw.units * r * max(1, den_bits)
        total += 1.4e-3 * terms * (bits / 1e5) ** 1.585
    return lw.build_seconds + evaluations * total


def r_min_seconds(problem: Problem, family: str, eps) -> float:
    """Rough wall time of ``r_min``: a gallop and a bisection between the exact bounds, at the upper bound's cost."""
    bounds = r_min_bounds(problem, family, eps)
    if bounds is None or bounds[0] == bounds[1]:
        return 0.0
    steps = 2 * max(1, math.ceil(math.log2(bounds[1] - bounds[0] + 1))) + 2
    return estimate_seconds(problem, family, bounds[1], evaluations=steps)
