"""Brute-force reference for tiny problems: enumerate EVERY mask, count, divide.

No formula from ``fpe_theory.exact`` is used here: a *unit* (one child for ``independent``,
one parent for the other families) is enumerated over all its equally likely masks, each
mask is measured with ``fpe_theory.definitions.measure_supports``, and r parents are the
product of independent units (``brute_exact`` folds the product as a distribution over
(covered clause set, collisions); ``brute_direct`` walks every tuple of masks literally).

>>> from fpe_theory import Problem
>>> brute_exact(Problem(m=4, k=2, alpha=2), "random", 1).p_all_covered
Fraction(1, 3)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from itertools import combinations, product

from fpe_theory.definitions import covers, measure_supports
from fpe_theory.families import check_family
from fpe_theory.problem import Problem


@dataclass(frozen=True)
class BruteResult:
    """Exact numbers obtained by enumeration (same meaning as ``exact.FamilyExact``)."""

    p_cover: Fraction
    p_pair: Fraction
    p_clause_missed: Fraction
    union_bound: Fraction
    p_all_covered: Fraction
    expected_covered: Fraction
    expected_collisions: Fraction


def _ordered_splits(items: tuple[int, ...], blocks: int, size: int):
    """Every ordered split of ``items`` into ``blocks`` blocks of ``size``."""
    if blocks == 0:
        yield ()
        return
    for first in combinations(items, size):
        rest = tuple(i for i in items if i not in first)
        for tail in _ordered_splits(rest, blocks - 1, size):
            yield (first, *tail)


def unit_masks(problem: Problem, family: str):
    """Every equally likely mask of one unit, as a tuple of children supports."""
    check_family(problem, family)
    m, alpha, d = problem.m, problem.alpha, problem.d
    if family == "overlap":
        for child in combinations(range(m), d):
            yield (child,)
    elif family == "random":
        yield from _ordered_splits(tuple(range(m)), alpha, d)
    elif family == "structured_2_4":
        pairs = list(combinations(range(4), 2))
        for choice in product(pairs, repeat=m // 4):
            child0 = tuple(4 * g + i for g, pair in enumerate(choice) for i in pair)
            yield child0, tuple(i for i in range(m) if i not in child0)
    else:  # clause: deal whole clauses, C/alpha to each child (every ordered deal)
        clauses = problem.clause_list()
        for deal in _ordered_splits(tuple(range(len(clauses))), alpha, len(clauses) // alpha):
            yield tuple(tuple(i for j in block for i in clauses[j]) for block in deal)


def _unit_outcomes(problem: Problem, family: str):
    """(children supports, covered clause set, collisions) for every mask of one unit."""
    clauses = problem.clause_list()
    for children in unit_masks(problem, family):
        covered = frozenset(j for j, c in enumerate(clauses) for ch in children if covers(ch, c))
        yield children, covered, measure_supports(children, clauses).collisions


def _per_child(problem: Problem, family: str) -> tuple[Fraction, Fraction]:
    """Mean over children (and clauses / pairs) of P(child covers a clause / a pair)."""
    clauses = problem.clause_list()
    pairs = list(combinations(clauses, 2))
    n = hit1 = hit2 = 0
    for children in unit_masks(problem, family):
        for ch in children:
            n += 1
            hit1 += sum(covers(ch, c) for c in clauses)
            hit2 += sum(covers(ch, a) and covers(ch, b) for a, b in pairs)
    p_pair = Fraction(hit2, n * len(pairs)) if pairs else Fraction(0)
    return Fraction(hit1, n * len(clauses)), p_pair


def _summarize(problem: Problem, family: str, dist: dict) -> BruteResult:
    c = problem.clauses
    total = sum(dist.values())
    p_all = Fraction(sum(w for (s, _), w in dist.items() if len(s) == c), total)
    covered = Fraction(sum(w * len(s) for (s, _), w in dist.items()), total)
    collisions = Fraction(sum(w * x for (_, x), w in dist.items()), total)
    missed = [Fraction(sum(w for (s, _), w in dist.items() if j not in s), total) for j in range(c)]
    p_cover, p_pair = _per_child(problem, family)
    return BruteResult(p_cover, p_pair, sum(missed) / c, sum(missed), p_all, covered, collisions)


def brute_exact(problem: Problem, family: str, r: int) -> BruteResult:
    """Enumerate one unit, then fold r parents as a distribution over (covered set, collisions)."""
    unit: dict = {}
    for _, covered, coll in _unit_outcomes(problem, family):
        unit[(covered, coll)] = unit.get((covered, coll), 0) + 1
    n_units = r * (problem.alpha if family == "overlap" else 1)
    dist = {(frozenset(), 0): 1}
    for _ in range(n_units):
        nxt: dict = {}
        for (s, x), w in dist.items():
            for (t, y), v in unit.items():
                key = (s | t, x + y)
                nxt[key] = nxt.get(key, 0) + w * v
        dist = nxt
    return _summarize(problem, family, dist)


def brute_direct(problem: Problem, family: str, r: int) -> BruteResult:
    """Walk every tuple of unit masks and measure all alpha*r supports at once (tiny cases only)."""
    masks = list(unit_masks(problem, family))
    n_units = r * (problem.alpha if family == "overlap" else 1)
    clauses = problem.clause_list()
    dist: dict = {}
    for combo in product(masks, repeat=n_units):
        supports = [ch for unit in combo for ch in unit]
        covered = frozenset(j for j, c in enumerate(clauses) if any(covers(s, c) for s in supports))
        key = (covered, measure_supports(supports, clauses).collisions)
        dist[key] = dist.get(key, 0) + 1
    return _summarize(problem, family, dist)


def count_masks(problem: Problem, family: str) -> int:
    """How many equally likely masks one unit has (for sizing brute-force tests)."""
    return sum(1 for _ in unit_masks(problem, family))


__all__ = ["BruteResult", "brute_direct", "brute_exact", "count_masks", "unit_masks"]
