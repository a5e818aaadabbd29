"""Capacity, cosine and learned coverage against hand computations and plain loops."""

import itertools
import math

import numpy as np
import pytest

from fpe_train.fpe import metrics


def test_orthogonal_features_have_capacity_one_each():
    W = np.zeros((4, 8))
    for j in range(2):  # clause j's literals all feed neuron j only
        W[j, 4 * j : 4 * j + 4] = 1.0
    clauses = [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert metrics.capacity_terms(metrics.feature_vectors(W, clauses)).tolist() == [1.0, 1.0]
    assert metrics.capacity(W, clauses) == 2.0


def test_capacity_hand_computation():
    F = np.array([[1.0, 1.0], [0.0, 1.0]])  # f0 = (1, 0), f1 = (1, 1)
    # C0 = 1 / (1 + 1) ; C1 = 4 / (1 + 4)
    assert metrics.capacity_terms(F) == pytest.approx([0.5, 0.8])


def test_capacity_plain_loop_and_rank_bound():
    rng = np.random.default_rng(0)
    for h, n in [(3, 8), (8, 3), (5, 5), (2, 10)]:
        F = rng.normal(size=(h, n))
        ref = 0.0
        for i in range(n):
            num = sum(F[a, i] * F[a, i] for a in range(h)) ** 2
            den = sum(sum(F[a, i] * F[a, j] for a in range(h)) ** 2 for j in range(n))
            ref += num / den
        got = metrics.capacity_terms(F).sum()
        assert got == pytest.approx(ref)
        assert got <= np.linalg.matrix_rank(F) + 1e-9


def test_capacity_sum_and_mean_agree_and_zero_feature():
    rng = np.random.default_rng(1)
    W = rng.normal(size=(6, 12))
    clauses = [list(range(4 * j, 4 * j + 4)) for j in range(3)]
    assert metrics.capacity(W, clauses, "clause_sum") == pytest.approx(metrics.capacity(W, clauses, "clause_mean"))
    W[:, 0:4] = 0
    assert metrics.capacity_terms(metrics.feature_vectors(W, clauses))[0] == 0.0


def test_cosine_plain_loop_skips_zero_rows():
    rng = np.random.default_rng(2)
    W = rng.normal(size=(5, 7))
    W[2] = 0
    rows = [W[i] for i in range(5) if i != 2]
    pairs = [(a @ b) / (np.linalg.norm(a) * np.linalg.norm(b)) for a, b in itertools.permutations(rows, 2)]
    assert metrics.mean_cosine(W) == pytest.approx(sum(pairs) / len(pairs))
    assert metrics.mean_cosine(W, absolute=True) == pytest.approx(sum(abs(p) for p in pairs) / len(pairs))
    assert metrics.mean_cosine(np.eye(3)) == 0.0
    assert metrics.mean_cosine(np.zeros((3, 3))) is None


def test_learned_support_and_coverage_on_hand_built_weights():
    W = np.array(
        [
            [1.0, 0.9, -0.5, 0.2, 0.05, 0.0, 0.0, 0.0],  # tau 0.1: {0,1,2,3} -> covers clause 0
            [0.0, 0.0, 0.0, 0.0, -2.0, 1.0, 0.5, 0.3],  # {4,5,6,7} (0.3 >= 0.2) -> clause 1
            [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # both -> one collision
            [0.0] * 8,  # empty support
        ]
    )
    clauses = [[0, 1, 2, 3], [4, 5, 6, 7]]
    S = metrics.learned_support(W, 0.1)
    assert S[0].tolist() == [True, True, True, True, False, False, False, False]
    assert S[1].tolist() == [False] * 4 + [True] * 4
    assert not S[3].any()
    assert metrics.coverage(S, clauses) == {"covered": 2, "all_covered": True, "collisions": 1}
    S2 = metrics.learned_support(W, 0.2)  # 0.2 < 0.2*1.0? no: 0.2 >= 0.2 keeps literal 3; 0.3 < 0.4 drops 7
    assert S2[0, 3] and not S2[1, 7]
    assert metrics.coverage(S2[[1]], clauses)["covered"] == 0
    assert math.isclose(metrics.capacity(W, clauses, "literal"), _capacity_by_loops(W.T.tolist()), rel_tol=1e-12)
    assert math.isclose(
        metrics.capacity(W, clauses, "clause_sum"),
        _capacity_by_loops([[sum(row[i] for i in c) for row in W.tolist()] for c in clauses]),
        rel_tol=1e-12,
    )


def _capacity_by_loops(features) -> float:
    """sum_i (f_i.f_i)^2 / sum_j (f_i.f_j)^2 over the feature vectors f_i (paper 3.2), in plain Python."""
    dot = lambda a, b: sum(x * y for x, y in zip(a, b, strict=True))  # noqa: E731
    total = 0.0
    for f in features:
        den = sum(dot(f, g) ** 2 for g in features)
        total += dot(f, f) ** 2 / den if den else 0.0
    return total


def test_capacity_known_answers():
    orthogonal = np.array([[2.0, 0.0, 0.0], [0.0, -1.0, 0.0]])  # features (columns): e1, -e2, 0
    assert metrics.capacity(orthogonal, None, "literal") == 2.0  # each orthogonal feature has capacity 1
    same = np.array([[1.0, 1.0], [1.0, 1.0]])  # two equal features share one dimension: 1/2 each
    assert metrics.capacity(same, None, "literal") == 1.0
