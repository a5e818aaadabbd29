"""The torch path's permutations (``train.PermutationFeed``): the CPU kernel's order, drawn ahead or when asked."""

import numpy as np
import pytest
import torch

from fpe_train.engine.config import TrainConfig
from fpe_train.engine.draws import order_key
from fpe_train.engine.mlp import BatchedMLP
from fpe_train.engine.run import seed_entropy
from fpe_train.engine.train import PermutationFeed

MASK = (1 << 64) - 1
GOLDEN, M1, M2 = 0x9E3779B97F4A7C15, 0xBF58476D1CE4E5B9, 0x94D049BB133111EB


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * M1) & MASK
    z = ((z ^ (z >> 27)) * M2) & MASK
    return z ^ (z >> 31)


def plain_permutation(key: int, epoch: int, n: int) -> list[int]:
    """Fisher-Yates driven by splitmix64 of (key, epoch, position), in plain Python integers."""
    out = list(range(n))
    state = _mix(key ^ _mix((epoch * GOLDEN) & MASK))
    for i in range(n - 1, 0, -1):
        state = (state + GOLDEN) & MASK
        j = ((_mix(state) >> 32) * (i + 1)) >> 32
        out[i], out[j] = out[j], out[i]
    return out


def _keys() -> np.ndarray:
    """The order keys of trials 0-2 of two configs, as both paths compute them."""
    configs = [TrainConfig(clauses=2, r=2), TrainConfig(clauses=4, r=8, alpha=4)]
    return np.array([order_key(c, t, seed_entropy(c)) for c in configs for t in range(3)], dtype=np.uint64)


@pytest.mark.parametrize("ahead", [False, True])
def test_the_feed_gives_each_trials_permutation_of_each_epoch_shifted_to_its_rows(ahead):
    keys, n = _keys(), 37
    offset = torch.arange(len(keys), dtype=torch.long) * n
    feed = PermutationFeed(keys, offset, n, "cpu", ahead=ahead)
    try:
        for epoch in range(3, 9):  # one run's epochs, the next one drawn ahead while this one is used
            got = feed.get(epoch, epoch + 1 if epoch < 8 else None).numpy().copy()
            want = [[s * n + i for i in plain_permutation(int(k), epoch, n)] for s, k in enumerate(keys)]
            assert got.tolist() == want
    finally:
        feed.close()
    assert feed.pool is None


def test_the_feed_drawn_ahead_equals_the_feed_drawn_when_asked_in_any_order():
    keys, n = _keys(), 500
    zero = torch.zeros(len(keys), dtype=torch.long)
    now, ahead = PermutationFeed(keys, zero, n, "cpu"), PermutationFeed(keys, zero, n, "cpu", ahead=True)
    try:
        for epoch, following in [(1, 2), (2, 3), (5, 6), (6, None), (2, 9), (9, 10)]:  # a skipped epoch redraws
            a = now.get(epoch).numpy().copy()
            b = ahead.get(epoch, following).numpy().copy()
            assert np.array_equal(a, b)
            assert sorted(a[0].tolist()) == list(range(n)) and not np.array_equal(a[0], a[1])
    finally:
        ahead.close()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")
def test_the_feed_on_cuda_copies_the_same_tables_into_one_device_buffer():
    keys, n = _keys(), 101
    offset = torch.arange(len(keys), dtype=torch.long) * n
    host, dev = PermutationFeed(keys, offset, n, "cpu"), PermutationFeed(keys, offset, n, "cuda", ahead=True)
    try:
        seen = set()
        for epoch in range(1, 6):
            got = dev.get(epoch, epoch + 1)
            seen.add(got.data_ptr())
            assert got.device.type == "cuda" and torch.equal(got.cpu(), host.get(epoch))
        assert len(seen) == 1  # static: a CUDA graph reads the same address every epoch
    finally:
        dev.close()


def test_cuda_graphs_asked_for_on_the_cpu_change_nothing(monkeypatch):
    """FPE_CUDA_GRAPHS=1 on a CPU run: not wanted there, and the rows are the same numbers as without it."""
    from fpe_train.engine import train
    from fpe_train.engine.run import run_batch

    one = TrainConfig(clauses=2, r=2, k=4, epochs=2, warmup_epochs=2, n_train=200, n_test=100, trials=2)
    deep = TrainConfig(**{**one.__dict__, "depth": 2})
    rows = {}
    for flag in ("0", "1"):
        monkeypatch.setenv(train.GRAPHS_ENV, flag)
        rows[flag] = [run_batch([(x, range(2))], path="torch").rows[0] for x in (deep, one)]
    strip = lambda rs: [{k: v for k, v in r.items() if k != "seconds"} for by in rs for t in by for r in by[t]]  # noqa: E731
    assert strip(rows["0"]) == strip(rows["1"])
    net = BatchedMLP.init(2, [4, 3, 1], torch.Generator().manual_seed(0))
    assert not train.graphs_wanted(train.simple_live_batch(net, 1e-2), torch.device("cpu"))
