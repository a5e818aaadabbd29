"""Algorithm A2 data: every stated property checked on generated samples (plain loops as reference)."""

import numpy as np
import pytest

from fpe_train.engine.data import BROKEN, POSITIVE, RANDOM, boolean_data, boolean_splits, ones_range


def _satisfied(bits_row, m, k):
    """Plain loop: clauses j with all of jk..jk+k-1 on."""
    return [j for j in range(m // k) if all(bits_row[j * k + i] for i in range(k))]


@pytest.fixture(scope="module", params=[(32, 4), (128, 4), (24, 3)])
def data(request):
    m, k = request.param
    return m, k, boolean_data(1001, m, k, seed=7)


def test_balance_and_labels(data):
    m, k, d = data
    n_pos = int(d.y.sum())
    assert n_pos == 1001 // 2 and len(d.y) - n_pos == 1001 - 1001 // 2
    assert set(np.unique(d.y)) == {0.0, 1.0}
    assert ((d.kind == POSITIVE) == (d.y == 1)).all()


def test_negative_kinds_half_half(data):
    m, k, d = data
    n_neg = int((d.y == 0).sum())
    assert (d.kind == BROKEN).sum() == n_neg // 2
    assert (d.kind == RANDOM).sum() == n_neg - n_neg // 2


def test_positives_satisfy_and_active_count(data):
    m, k, d = data
    lo, hi = ones_range(m)
    for row in d.bits[d.y == 1]:
        assert len(_satisfied(row, m, k)) >= 1
        assert max(lo, k) <= row.sum() <= max(hi, k)


def test_every_negative_violates_every_clause(data):
    m, k, d = data
    for row in d.bits[d.y == 0]:
        assert _satisfied(row, m, k) == []


def test_negative_active_counts(data):
    m, k, d = data
    lo, hi = ones_range(m)
    counts = d.bits.sum(axis=1)
    random_counts = counts[d.kind == RANDOM]
    assert random_counts.min() >= lo and random_counts.max() <= hi
    broken_counts = counts[d.kind == BROKEN]  # built like a positive, minus one clause literal
    assert broken_counts.min() >= max(lo, k) - 1 and broken_counts.max() <= max(hi, k) - 1


def test_value_ranges(data):
    m, k, d = data
    on, off = d.X[d.bits], d.X[~d.bits]
    assert d.X.dtype == np.float32
    assert on.min() >= 3.0 and on.max() <= 3.5 and off.min() >= 0.0 and off.max() <= 0.5
    assert on.std() > 0.1 and off.std() > 0.1  # continuous, not constant


def test_same_seed_same_data_and_independent_splits():
    a, b = boolean_data(500, 32, 4, seed=3), boolean_data(500, 32, 4, seed=3)
    assert np.array_equal(a.X, b.X) and np.array_equal(a.y, b.y)
    assert not np.array_equal(a.X, boolean_data(500, 32, 4, seed=4).X)
    tr, te = boolean_splits(400, 400, 32, 4, seed=1)
    assert not np.array_equal(tr.bits, te.bits)


def test_random_negative_active_count_uniform():
    """A rejected draw is retried with the same s (A2's u), so s stays uniform over [lo, hi]."""
    m, k = 32, 4
    d = boolean_data(20000, m, k, seed=0)
    counts = d.bits[d.kind == RANDOM].sum(axis=1)
    lo, hi = ones_range(m)
    freq = np.bincount(counts, minlength=hi + 1)[lo:] / len(counts)
    assert np.allclose(freq, 1 / (hi - lo + 1), atol=0.02)


def test_bad_input():
    with pytest.raises(ValueError, match="k=3: must divide m=32"):
        boolean_data(10, 32, 3)
    with pytest.raises(ValueError, match="n=1"):
        boolean_data(1, 32, 4)


def test_a_process_draws_a_boolean_dataset_once_and_hands_it_out_read_only(monkeypatch):
    from fpe_train.engine import tasks
    from fpe_train.engine.config import TrainConfig

    monkeypatch.setattr(tasks, "_KEPT", {})
    a = TrainConfig(clauses=2, k=4, r=2, n_train=300, n_test=200, seed=5)
    b = TrainConfig(clauses=2, k=4, r=8, splits=("random",), n_train=300, n_test=200, seed=5)  # same data fields
    got = tasks.load_task(a, 1)
    tr, te = boolean_splits(300, 200, 8, 4, 5, 1)  # drawn afresh: the reference
    for x, want in zip(got[:4], (tr.X, tr.y, te.X, te.y), strict=True):
        np.testing.assert_array_equal(x, want)
        assert not x.flags.writeable
    again = tasks.load_task(b, 1)
    assert all(x is y for x, y in zip(got[:4], again[:4], strict=True))  # not drawn twice
    assert tasks.load_task(a, 2)[0] is not got[0]  # another trial, another sample
    with pytest.raises(ValueError):
        got[0][0, 0] = 1.0  # no reader changes another's data
    monkeypatch.setattr(tasks, "KEEP_BYTES", 1)  # room for the latest only
    tasks.load_task(a, 3)
    assert list(tasks._KEPT) == [(300, 200, 8, 4, 5, 3)]
