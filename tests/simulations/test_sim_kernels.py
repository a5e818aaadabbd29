"""Numba Monte Carlo kernels against brute-force enumeration and the numpy oracle; reproducibility."""

from __future__ import annotations

import itertools
import math
from collections import Counter
from fractions import Fraction

import numpy as np
import pytest
from scipy import stats

from fpe_theory import Problem
from simulations import kernels
from simulations.montecarlo import simulate
from simulations.oracle import simulate_numpy

Z_MAX = 4.5  # a few dozen z-tests per run: 4.5 sigma keeps false alarms below 1e-4


# ---------- brute force, written here independently of fpe_theory and of the kernels ----------


def _measure(children, clauses):
    """(all covered, covered, collisions, ge1, ge2) of a list of input sets (plain loops)."""
    covered = set()
    coll = ge1 = ge2 = 0
    for child in children:
        c = 0
        for j, clause in enumerate(clauses):
            if all(i in child for i in clause):
                c += 1
                covered.add(j)
        coll += c * (c - 1) // 2
        ge1 += c >= 1
        ge2 += c >= 2
    return (int(len(covered) == len(clauses)), len(covered), coll, ge1, ge2)


def _arrangements(items):
    """Distinct orderings of a multiset (each once)."""
    if not items:
        yield ()
        return
    for x in sorted(set(items)):
        rest = list(items)
        rest.remove(x)
        for tail in _arrangements(rest):
            yield (x, *tail)


def _parent_options(problem, family):
    """Every equally likely way one parent (or, for independent, one child) is dealt: lists of child sets."""
    m, d, alpha = problem.m, problem.d, problem.alpha
    if family == "overlap":
        return [[set(s)] for s in itertools.combinations(range(m), d)]
    if family == "random":
        out = []
        for labels in _arrangements(np.repeat(range(alpha), d).tolist()):
            out.append([{i for i in range(m) if labels[i] == a} for a in range(alpha)])
        return out
    if family == "structured_2_4":
        out = []
        for picks in itertools.product(itertools.combinations(range(4), 2), repeat=m // 4):
            one = {4 * g + b for g, pick in enumerate(picks) for b in pick}
            out.append([set(range(m)) - one, one])
        return out
    clauses = problem.clause_list()
    per = problem.clauses // alpha
    out = []
    for labels in _arrangements(np.repeat(range(alpha), per).tolist()):
        out.append([{i for j, cl in enumerate(clauses) if labels[j] == a for i in cl} for a in range(alpha)])
    return out


def brute_distribution(problem, family, r):
    """Exact law of the 5 measurements: Counter of tuples -> Fraction probability."""
    options = _parent_options(problem, family)
    units = problem.alpha * r if family == "overlap" else r
    counts = Counter()
    for combo in itertools.product(options, repeat=units):
        counts[_measure([c for unit in combo for c in unit], problem.clause_list())] += 1
    total = sum(counts.values())
    return {key: Fraction(v, total) for key, v in counts.items()}


CASES = [
    (Problem(8, 2, 2), "overlap", 1),
    (Problem(8, 2, 2), "random", 2),
    (Problem(12, 3, 3), "random", 1),
    (Problem(8, 2, 2), "structured_2_4", 2),
    (Problem(8, 2, 2, permutation=(3, 6, 0, 5, 1, 2, 7, 4)), "structured_2_4", 1),
    (Problem(8, 2, 2), "clause", 1),
    (Problem(12, 2, 3, permutation=tuple(reversed(range(12)))), "clause", 2),
]


@pytest.mark.parametrize("problem,family,r", CASES, ids=lambda x: str(x))
def test_kernel_matches_brute_force(problem, family, r):
    law = brute_distribution(problem, family, r)
    res = simulate(problem, family, r, trials=30_000, seed=11)
    n = res.trials
    names = ["p_all_covered", "expected_covered", "expected_collisions", "neurons_cover_ge1", "neurons_cover_ge2"]
    for q, name in enumerate(names):
        mean = sum(p * key[q] for key, p in law.items())
        var = sum(p * key[q] ** 2 for key, p in law.items()) - mean**2
        est = getattr(res, name).estimate
        if var == 0:
            assert est == float(mean), name
            continue
        z = (est - float(mean)) / math.sqrt(float(var) / n)
        assert abs(z) < Z_MAX, (name, est, float(mean), z)
    # collision histogram: chi-square goodness of fit to the exact law
    law_coll = Counter()
    for key, p in law.items():
        law_coll[key[2]] += p
    observed = np.array([res.collision_histogram[c] if c < len(res.collision_histogram) else 0 for c in law_coll])
    assert observed.sum() == n  # no trial outside the possible values
    expected = np.array([float(p) * n for p in law_coll.values()])
    if len(expected) > 1:
        assert stats.chisquare(observed, expected).pvalue > 1e-4


# ---------- kernels vs the numpy oracle (two-sample z-tests) ----------

ORACLE_CASES = [
    (Problem(16, 2, 2, permutation=tuple(np.random.default_rng(3).permutation(16).tolist())), 2),
    (Problem(24, 3, 4), 3),
    (Problem(64, 4, 4), 4),
]


@pytest.mark.parametrize("problem,r", ORACLE_CASES, ids=lambda x: str(x))
def test_kernel_matches_numpy_oracle(problem, r):
    from fpe_theory.families import defined_families

    for family in defined_families(problem):
        res = simulate(problem, family, r, trials=100_000, seed=5)
        ref = simulate_numpy(problem, family, r, trials=10_000, seed=6)
        for name, key in [
            ("p_all_covered", "all_covered"),
            ("expected_covered", "covered"),
            ("expected_collisions", "collisions"),
            ("neurons_cover_ge1", "neurons_cover_ge1"),
            ("neurons_cover_ge2", "neurons_cover_ge2"),
        ]:
            a, b = getattr(res, name), ref[key]
            se_b = b.std(ddof=1) / math.sqrt(len(b))
            se = math.hypot(a.stderr, se_b)
            if se == 0:
                assert a.estimate == b.mean(), (family, name)
                continue
            z = (a.estimate - b.mean()) / se
            assert abs(z) < Z_MAX, (family, name, a.estimate, b.mean(), z)


# ---------- the random draws themselves ----------


def _draw_many(ranges, calls, seed=12345):
    rt, lt = kernels.lane_schedule(np.array(ranges, np.uint64))
    lanes, dt = np.zeros(lt.shape[0], np.uint64), np.zeros(rt.size, np.int64)
    state = np.uint64(seed)
    out = []
    for _ in range(calls):
        state = np.uint64(kernels._draws(rt, lt, lanes, dt, state))  # numba returns a Python int
        out.append(dt[: len(ranges)].copy())
    return np.array(out)


def test_batched_draws_are_uniform_and_independent():
    ranges = [5, 7, 6, 100, 3, 2, 255, 6]
    draws = _draw_many(ranges, 20_000)
    for i, n in enumerate(ranges):
        counts = np.bincount(draws[:, i], minlength=n)
        assert len(counts) == n  # never out of range
        assert stats.chisquare(counts).pvalue > 1e-4
    # draws from one lane and from two lanes of one word: joint laws uniform
    for a, b in [(0, 1), (1, 2), (2, 3)]:
        joint = np.bincount(draws[:, a] * ranges[b] + draws[:, b], minlength=ranges[a] * ranges[b])
        assert stats.chisquare(joint).pvalue > 1e-4


def test_rejected_lanes_are_redrawn_exactly():
    # 3 draws of range 255 per lane: P = 255^3, 2^32 mod P = 4,244,555 -> ~0.1% of lanes rejected
    ranges = [255] * 6
    rt, lt = kernels.lane_schedule(np.array(ranges, np.uint64))
    assert rt.shape == (3, 2) and int(lt[0]) == (1 << 32) % 255**3
    draws = _draw_many(ranges, 20_000, seed=3)
    for i in range(len(ranges)):
        assert stats.chisquare(np.bincount(draws[:, i], minlength=255)).pvalue > 1e-4


def test_lane_schedule_products_and_thresholds():
    ranges = np.arange(33, 129).astype(np.uint64)
    rt, lt = kernels.lane_schedule(ranges)
    width, n_lanes = rt.shape
    assert n_lanes % 2 == 0 and rt.size >= len(ranges)
    flat = rt.T.ravel()  # draw q = lane * width + t
    assert flat[: len(ranges)].tolist() == ranges.tolist() and set(flat[len(ranges) :].tolist()) <= {1}
    for lane in range(n_lanes):
        prod = math.prod(int(x) for x in rt[:, lane])
        assert prod <= kernels.LANE_LIMIT and int(lt[lane]) == (1 << 32) % prod


def test_deal_gives_uniform_arrangements():
    items = np.array([0, 0, 1, 1, 2], np.int64)
    rt, lt = kernels.lane_schedule(np.arange(3, 6).astype(np.uint64))  # the first 2 items are free
    lanes, dt, out = np.zeros(lt.shape[0], np.uint64), np.zeros(rt.size, np.int64), np.zeros(5, np.int64)
    state = np.uint64(7)
    seen = Counter()
    for _ in range(30_000):
        state = np.uint64(kernels._draws(rt, lt, lanes, dt, state))
        kernels._deal(items, 2, dt, out)
        seen[tuple(out)] += 1
    assert len(seen) == 30  # 5! / (2! 2! 1!) arrangements, all reached
    assert all(sorted(key) == [0, 0, 1, 1, 2] for key in seen)
    assert stats.chisquare(list(seen.values())).pvalue > 1e-4


# ---------- reproducibility ----------


def test_same_seed_same_numbers_any_thread_count():
    import numba

    problem = Problem(32, 2, 2)
    runs = [
        simulate(problem, "random", 3, trials=5_000, seed=9, threads=t) for t in (1, numba.config.NUMBA_NUM_THREADS)
    ]
    again = simulate(problem, "random", 3, trials=5_000, seed=9, threads=1)
    assert runs[0] == runs[1] == again
    assert runs[0].collision_histogram == runs[1].collision_histogram
    other = simulate(problem, "random", 3, trials=5_000, seed=10)
    assert other != runs[0]


def _one_block(problem, family, r, seed, block, trials):
    """Histogram of block ``block`` alone: the setup's kernel run on that block's seed only (a plain loop)."""
    from simulations import kernels
    from simulations.montecarlo import _setup, block_seeds

    setup = _setup(problem, family, r)
    hist = np.zeros((1, setup["bins"]), np.int64)
    ints = np.zeros((1, 1 + kernels.N_MEANS), np.int64)
    shifts, sq = np.zeros((1, kernels.N_MEANS), np.int64), np.zeros((1, kernels.N_MEANS))
    counts = np.array([trials], np.int64)
    setup["kernel"](*setup["args"], block_seeds(seed, block, block + 1), counts, setup["width"], ints, shifts, sq, hist)
    return hist[0]


def _trim(hist) -> tuple[int, ...]:
    nonzero = np.flatnonzero(hist)
    return tuple(int(x) for x in hist[: nonzero[-1] + 1]) if nonzero.size else ()


@pytest.mark.parametrize("family", ["overlap", "random", "clause"])
def test_first_blocks_do_not_depend_on_the_total(family):
    problem = Problem(16, 2, 2)
    block = 1024
    first, second = (_one_block(problem, family, 2, 4, b, block) for b in (0, 1))
    small = simulate(problem, family, 2, trials=block, seed=4)
    big = simulate(problem, family, 2, trials=2 * block + 100, seed=4)
    third = _one_block(problem, family, 2, 4, 2, 100)  # the last, partial block
    assert small.collision_histogram == _trim(first)
    assert big.collision_histogram == _trim(first + second + third)
    assert sum(big.collision_histogram) == 2 * block + 100


def test_bad_arguments_are_one_line_value_errors():
    problem = Problem(16, 2, 2)
    for kwargs, needle in [
        ({"family": "nope"}, "family='nope'"),
        ({"r": 0}, "r=0"),
        ({"trials": 0}, "trials=0"),
        ({"seed": -1}, "seed=-1"),
        ({"threads": 0}, "threads=0"),
    ]:
        args = {"problem": problem, "family": "random", "r": 1, "trials": 10, "seed": 0} | kwargs
        with pytest.raises(ValueError, match=needle) as err:
            simulate(**args)
        assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="alpha=4"):
        simulate(Problem(16, 2, 4), "structured_2_4", 1, 10, 0)
