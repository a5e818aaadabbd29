"""Exact laws of the ``structured_2_4`` and ``clause`` families.

structured_2_4 (alpha = 2): in every group of 4 consecutive inputs child 0 gets 2 of the
4 (each of the 6 ways equally likely) and child 1 the other 2. A clause meeting a group in
s literals lies inside child 0 there w.p. C(4-s, 2-s)/6 = 1, 1/2, 1/6, 0 for s = 0, 1, 2, >=3;
the child covers it with the product over groups, and the parent (child 0 or child 1,
disjoint events) with twice that. Clauses that share a group are dependent, so the exact
law works on *components*: clauses linked through shared groups. Components are independent;
inside one, all 6^g splits of its g groups are enumerated. With the default consecutive
clause order every component has at most lcm(4, k)/4 <= 3 groups (k <= 3; for k >= 4 every
clause puts >= 3 literals into one group and can never be covered). Permuted clause orders are
handled the same way while every component has at most ``MAX_GROUPS`` groups; beyond that
the exact law raises ValueError.

clause: whole clauses dealt to the alpha children, C/alpha each; deterministic coverage
(P(all covered) = 1) and exactly alpha r C(C/alpha, 2) collisions.

>>> from fpe_theory import Problem
>>> structured_law(Problem(m=8, k=2, alpha=2)).p_cover
Fraction(1, 6)
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from itertools import combinations, product
from math import comb

from fpe_theory.law import CoverageLaw, PowerSum
from fpe_theory.problem import Problem

MAX_GROUPS = 6  # 6^6 = 46656 splits per component
MAX_COMPONENT_CLAUSES = 14  # 2^14 inclusion-exclusion subsets per component
_PAIRS = tuple(combinations(range(4), 2))  # the 6 ways child 0 takes 2 of a 4-group
_INSIDE = {0: Fraction(1), 1: Fraction(1, 2), 2: Fraction(1, 6)}  # P(s literals all in child 0)


def child_cover(clause: tuple[int, ...]) -> Fraction:
    """P(child 0 covers ``clause``) = prod over groups of C(4-s, 2-s)/6."""
    out = Fraction(1)
    for s in _group_sizes(clause).values():
        out *= _INSIDE.get(s, Fraction(0))
    return out


def _group_sizes(clause) -> dict[int, int]:
    sizes: dict[int, int] = {}
    for i in clause:
        sizes[i // 4] = sizes.get(i // 4, 0) + 1
    return sizes


def _components(clauses: list[tuple[int, ...]]) -> list[list[int]]:
    """Indices of clauses linked through shared 4-groups (union-find over groups)."""
    parent: dict[int, int] = {}

    def find(g: int) -> int:
        while parent.setdefault(g, g) != g:
            g = parent[g]
        return g

    for clause in clauses:
        groups = [i // 4 for i in clause]
        for g in groups[1:]:
            parent[find(g)] = find(groups[0])
    comps: dict[int, list[int]] = {}
    for j, clause in enumerate(clauses):
        comps.setdefault(find(clause[0] // 4), []).append(j)
    return list(comps.values())


def _shape(clauses: list[tuple[int, ...]]) -> tuple[tuple[tuple[int, int], ...], ...]:
    """The component relabelled as (local group, position in group) pairs: equal shapes, equal laws."""
    groups = sorted({i // 4 for c in clauses for i in c})
    local = {g: n for n, g in enumerate(groups)}
    return tuple(tuple((local[i // 4], i % 4) for i in c) for c in clauses)


@lru_cache(maxsize=256)
def _component_law(shape) -> tuple[dict[int, int], int]:
    """Enumerate the 6^g splits of one component: (parent-covered bitmask -> count, 6^g)."""
    g = 1 + max(gl for c in shape for gl, _ in c)
    if g > MAX_GROUPS:
        raise ValueError(
            f"structured_2_4: {g} groups linked by shared clauses: exact law enumerates 6^g splits and allows "
            f"g <= {MAX_GROUPS} (always true for consecutive clauses)"
        )
    parent_counts: dict[int, int] = {}
    for choice in product(_PAIRS, repeat=g):
        mask = 0
        for j, c in enumerate(shape):
            in0 = [pos in choice[gl] for gl, pos in c]
            if all(in0) or not any(in0):  # inside child 0 or inside child 1
                mask |= 1 << j
        parent_counts[mask] = parent_counts.get(mask, 0) + 1
    return parent_counts, 6**g


def _component_all_covered(parent_counts: dict[int, int], n: int, splits: int) -> PowerSum:
    """sum_S (-1)^|S| Q_S^r, Q_S = P(parent covers none of S) (inclusion-exclusion over S)."""
    if n > MAX_COMPONENT_CLAUSES:
        raise ValueError(f"structured_2_4: a component of {n} clauses exceeds {MAX_COMPONENT_CLAUSES} (exact limit)")
    weights, nums = [], []
    for s in range(1 << n):
        weights.append(-1 if bin(s).count("1") % 2 else 1)
        nums.append(sum(cnt for mask, cnt in parent_counts.items() if not mask & s))
    return PowerSum.collect(weights, nums, splits)


@lru_cache(maxsize=64)
def structured_law(problem: Problem) -> CoverageLaw:
    """Exact law of ``structured_2_4`` for any clause order with small components."""
    clauses = problem.clause_list()
    c = len(clauses)
    a = [child_cover(cl) for cl in clauses]
    dead = [j for j in range(c) if a[j] == 0]
    live = [cl for j, cl in enumerate(clauses) if a[j] > 0]
    factors: dict[PowerSum, int] = {}
    within = Fraction(0)  # sum over linked pairs of P(child 0 covers both) - a_x a_y
    for comp in _components(live):
        members = [live[j] for j in comp]
        for x, y in combinations(members, 2):
            within += child_cover(x + y) - child_cover(x) * child_cover(y)
        if not dead:
            parent_counts, splits = _component_law(_shape(members))
            ps = _component_all_covered(parent_counts, len(members), splits)
            factors[ps] = factors.get(ps, 0) + 1
    total_a = sum(a, Fraction(0))
    pair_sum = ((total_a**2 - sum(x * x for x in a)) / 2) + within  # per child, over all pairs
    miss: dict[Fraction, int] = {}
    for x in a:
        miss[1 - 2 * x] = miss.get(1 - 2 * x, 0) + 1
    return CoverageLaw(
        family="structured_2_4",
        clauses=c,
        p_cover=total_a / c,
        p_pair=pair_sum / comb(c, 2) if c >= 2 else Fraction(0),
        units=1,
        unit_miss=tuple((cnt, q) for q, cnt in miss.items()),
        collisions_per_parent=2 * pair_sum,
        all_covered_factors=tuple(factors.items()),
        never_all_covered=bool(dead),
        notes=_structured_notes(problem, len(dead), c),
    )


def _structured_notes(problem: Problem, n_dead: int, c: int) -> tuple[str, ...]:
    notes = []
    if n_dead == c:
        notes.append(
            f"k={problem.k}: every clause puts >= 3 literals into one 4-group and a child holds exactly 2 of every "
            "group, so no clause can ever be covered (p = 0, P(all covered) = 0 for every r)"
        )
    elif n_dead:
        notes.append(f"{n_dead} of {c} clauses put >= 3 literals into one 4-group: never covered, P(all covered) = 0")
    if c < 2:
        notes.append(f"C={c}: a single clause has no pairs; collisions are impossible")
    return tuple(notes)


@lru_cache(maxsize=64)
def clause_law(problem: Problem) -> CoverageLaw:
    """Exact law of ``clause``: each child gets C/alpha whole clauses."""
    c, alpha = problem.clauses, problem.alpha
    per_child = c // alpha
    p_pair = Fraction(comb(per_child, 2), comb(c, 2)) if c >= 2 else Fraction(0)
    notes = ["clause: deterministic coverage; every parent covers every clause, P(all covered) = 1 for every r >= 1"]
    if per_child < 2:
        notes.append(f"C/alpha={per_child}: a child holds one clause; collisions are impossible")
    return CoverageLaw(
        family="clause",
        clauses=c,
        p_cover=Fraction(1, alpha),
        p_pair=p_pair,
        units=1,
        unit_miss=((c, Fraction(0)),),
        collisions_per_parent=Fraction(alpha * comb(per_child, 2)),
        all_covered_factors=(),
        notes=tuple(notes),
    )
