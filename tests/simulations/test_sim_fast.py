"""The bitset fast path (simulations/bitsets.py): exact uniformity of its samplers, agreement with the
exact theory, the numpy oracle and the general kernel; reproducibility."""

from __future__ import annotations

import math
from collections import Counter

import numba
import numpy as np
import pytest
from scipy import stats

from fpe_theory import Problem
from fpe_theory.exact import family_exact
from simulations import bitsets
from simulations.montecarlo import _setup, compare, simulate
from simulations.oracle import simulate_numpy

P_MIN = 1e-4  # chi-square p-value below which a sampler is called non-uniform
Z_MAX = 4.0


def _positions(row):
    """Set bits of a bitset row (list of uint64 words), as a tuple of positions."""
    return tuple(64 * i + p for i, w in enumerate(row) for p in range(64) if int(w) >> p & 1)


# ---------- the samplers are exactly uniform ----------


@pytest.mark.parametrize("n,d", [(8, 3), (8, 4), (16, 3)])  # (16, 3): bits of p = 1/4 from two words
def test_subset_sampler_is_uniform_over_all_subsets(n, d):
    count = 200 * math.comb(n, d)
    seen = Counter(_positions(row) for row in bitsets.sample_subsets(n, d, count, 5))
    assert all(len(s) == d for s in seen)
    assert len(seen) == math.comb(n, d)
    assert stats.chisquare(list(seen.values())).pvalue > P_MIN


def test_subset_sampler_across_words():
    # m=100 (two words, the last partial), d=25: each position 1/4, each pair d(d-1)/(m(m-1))
    m, d, count = 100, 25, 40_000
    rows = bitsets.sample_subsets(m, d, count, 9)
    member = np.array([[int(w) >> p & 1 for w in row for p in range(64)][:m] for row in rows])  # (count, m)
    assert (member.sum(axis=1) == d).all()
    assert stats.chisquare(member.sum(axis=0)).pvalue > P_MIN
    pair = d * (d - 1) / (m * (m - 1))
    for i, j in [(0, 1), (63, 64), (0, 99), (40, 90)]:
        both = int((member[:, i] & member[:, j]).sum())
        assert abs(both - count * pair) < Z_MAX * math.sqrt(count * pair * (1 - pair)), (i, j, both)


@pytest.mark.parametrize("m,alpha", [(8, 4), (10, 2), (9, 3), (6, 3)])
def test_partition_sampler_is_uniform_over_all_labellings(m, alpha):
    d = m // alpha
    n_labellings = math.factorial(m) // math.factorial(d) ** alpha
    count = 40 * n_labellings
    labels = bitsets.sample_labels(m, alpha, count, 3)
    assert all((np.bincount(row, minlength=alpha) == d).all() for row in labels[:1000])
    seen = Counter(map(tuple, labels.tolist()))
    assert all(sorted(key) == sorted(np.repeat(range(alpha), d).tolist()) for key in seen)
    assert len(seen) == n_labellings
    assert stats.chisquare(list(seen.values())).pvalue > P_MIN


@pytest.mark.parametrize("m,alpha", [(16, 8), (136, 8), (96, 3)])
def test_partition_sampler_marginals_and_pairs(m, alpha):
    d, count = m // alpha, 30_000
    labels = bitsets.sample_labels(m, alpha, count, 4)  # (count, m)
    assert all((np.bincount(row, minlength=alpha) == d).all() for row in labels)
    for e in (0, m // 2, m - 1):
        assert stats.chisquare(np.bincount(labels[:, e], minlength=alpha)).pvalue > P_MIN
    same = (d - 1) / (m - 1)  # P(two positions share a label)
    for i, j in [(0, 1), (0, m - 1), (m // 2 - 1, m // 2)]:
        hits = int((labels[:, i] == labels[:, j]).sum())
        assert abs(hits - count * same) < Z_MAX * math.sqrt(count * same * (1 - same)), (i, j, hits)


def test_select_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    words = rng.integers(0, 2**63, 300, dtype=np.uint64) * np.uint64(2) + rng.integers(0, 2, 300, dtype=np.uint64)
    fns = [bitsets._select_table] + ([bitsets._select_pdep] if bitsets._host_has_bmi2() else [])
    for w in words:
        ones = [p for p in range(64) if int(w) >> p & 1]
        for j in sorted({0, len(ones) - 1, len(ones) // 2, int(rng.integers(len(ones)))}):
            for fn in fns:
                assert int(fn(w, j)) == 1 << ones[j], (fn, int(w), j)
    count_bits = numba.njit(lambda w: bitsets.popcount(w))
    for w in words[:50]:
        assert count_bits(w) == int(w).bit_count()


# ---------- simulate on the fast path: exact theory, numpy oracle, general kernel ----------

FAST_CASES = [(8, 2, 2, 2), (72, 4, 2, 3), (96, 4, 3, 2), (128, 4, 4, 8), (192, 4, 8, 2), (200, 2, 4, 1)]


@pytest.mark.parametrize("m,k,alpha,r", FAST_CASES)
def test_fast_path_agrees_with_exact_theory(m, k, alpha, r):
    problem = Problem(m, k, alpha)
    for family in ("random", "overlap"):
        assert _setup(problem, family, r)["kernel"] is bitsets.run_blocks
        res = simulate(problem, family, r, trials=100_000, seed=21)
        rows = [c for c in compare(res, family_exact(problem, family, r)) if c.exact is not None]
        bad = [(c.quantity, float(c.exact), c.estimate, c.z) for c in rows if c.flag]
        assert not bad, (family, bad)


def _two_sample_z(a, b, name):
    """z of two estimates with their standard errors (equal means expected)."""
    se = math.hypot(a.stderr, b.stderr)
    if se == 0:
        assert a.estimate == b.estimate, name
        return 0.0
    return (a.estimate - b.estimate) / se


@pytest.mark.parametrize("problem,r", [(Problem(64, 4, 4), 3), (Problem(80, 2, 2), 2), (Problem(48, 4, 3), 2)])
def test_fast_path_agrees_with_general_kernel_and_oracle(problem, r, monkeypatch):
    for family in ("random", "overlap"):
        fast = simulate(problem, family, r, trials=100_000, seed=2)
        with monkeypatch.context() as patch:
            patch.setattr(bitsets, "applies", lambda *_: False)
            assert _setup(problem, family, r)["kernel"] is not bitsets.run_blocks
            general = simulate(problem, family, r, trials=100_000, seed=3)
        ref = simulate_numpy(problem, family, r, trials=10_000, seed=4)
        for (name, est), key in zip(fast.estimates().items(), list(ref), strict=True):
            assert abs(_two_sample_z(est, general.estimates()[name], name)) < Z_MAX, (family, name)
            b = ref[key]
            se = math.hypot(est.stderr, b.std(ddof=1) / math.sqrt(len(b)))
            z = 0.0 if se == 0 and est.estimate == b.mean() else (est.estimate - b.mean()) / se
            assert abs(z) < Z_MAX, (family, name, est.estimate, b.mean())
        assert fast.collision_histogram and sum(fast.collision_histogram) == fast.trials


def test_general_kernel_still_serves_the_other_cases():
    assert _setup(Problem(12, 3, 2), "random", 1)["kernel"] is not bitsets.run_blocks  # 3 does not divide 64
    assert _setup(Problem(16, 2, 2), "clause", 1)["kernel"] is not bitsets.run_blocks
    assert _setup(Problem(16, 2, 2), "structured_2_4", 1)["kernel"] is not bitsets.run_blocks
    full, pattern = bitsets.words(200, 8)
    assert [int(w).bit_count() for w in full] == [64, 64, 64, 8]
    assert sum(int(w).bit_count() for w in pattern) == 25
    assert all(int(p) & ~int(f) == 0 for p, f in zip(pattern, full, strict=True))


# ---------- reproducibility ----------


@pytest.mark.parametrize("family", ["random", "overlap"])
def test_fast_path_same_seed_same_numbers_any_thread_count(family):
    problem = Problem(136, 4, 4)
    threads = [1, numba.config.NUMBA_NUM_THREADS]
    runs = [simulate(problem, family, 2, trials=5_000, seed=8, threads=t) for t in threads]
    again = simulate(problem, family, 2, trials=5_000, seed=8, threads=1)
    assert runs[0] == runs[1] == again
    assert simulate(problem, family, 2, trials=5_000, seed=9) != runs[0]


def test_samplers_are_reproducible():
    assert (bitsets.sample_labels(16, 4, 50, 1) == bitsets.sample_labels(16, 4, 50, 1)).all()
    assert not (bitsets.sample_labels(16, 4, 50, 1) == bitsets.sample_labels(16, 4, 50, 2)).all()
    assert (bitsets.sample_subsets(70, 9, 20, 4) == bitsets.sample_subsets(70, 9, 20, 4)).all()
