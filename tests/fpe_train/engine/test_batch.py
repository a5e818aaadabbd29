"""One batch across configs and independent trials: a batch equals each config trained alone."""

import dataclasses

import numpy as np
import pytest
import torch

from fpe_train.engine import batch as B
from fpe_train.engine.config import TrainConfig
from fpe_train.engine.run import run_batch, run_config, seed_entropy

SCHEDULE = dict(k=4, epochs=3, warmup_epochs=3, n_train=300, n_test=200, batch_size=100, device="cpu")
FLOATS = ("test_accuracy", "train_accuracy", "capacity", "cosine", "abs_cosine")
EXACT = ("trial", "seed", "variant", "nonzero_params", "mask_covered", "mask_all_covered", "mask_collisions", "device")


def mixed(depth: int = 1) -> list[TrainConfig]:
    """Different widths r, alpha, input counts m, splits, lr, l1 and trial counts; one schedule."""
    return [
        TrainConfig(clauses=2, r=2, alpha=2, splits=("random",), trials=2, depth=depth, **SCHEDULE),
        TrainConfig(
            clauses=4, r=4, alpha=4, splits=("random", "clause"), trials=3, lr=2e-3, l1=1e-3, depth=depth, **SCHEDULE
        ),
        TrainConfig(
            clauses=3,
            r=3,
            alpha=2,
            splits=("dropconnect", "overlap"),
            trials=2,
            rewire_every=2,
            l2=1e-3,
            depth=depth,
            **SCHEDULE,
        ),
    ]


def flat(by_trial: dict) -> list[dict]:
    return [r for t in sorted(by_trial) for r in by_trial[t]]


def assert_same_rows(got: list[dict], want: list[dict], tol: float) -> None:
    assert len(got) == len(want)
    for a, b in zip(got, want, strict=True):
        assert {k: a[k] for k in EXACT} == {k: b[k] for k in EXACT}
        for k in FLOATS:
            assert a[k] == pytest.approx(b[k], abs=tol), (k, a["variant"], a["trial"])


@pytest.mark.parametrize("depth", [1, 2])
def test_a_mixed_batch_equals_each_config_alone(depth):
    configs = mixed(depth)
    together = run_batch([(c, range(c.trials)) for c in configs])
    for c, by_trial in zip(configs, together.rows, strict=True):
        assert_same_rows(flat(by_trial), run_config(c), tol=1e-6)


def test_a_trial_does_not_depend_on_the_trial_count_or_its_neighbours():
    c = mixed()[1]
    full = run_config(c)
    alone = run_batch([(dataclasses.replace(c, trials=7), (2,))]).rows[0][2]  # trial 2 alone, of a 7-trial config
    assert_same_rows(alone, [r for r in full if r["trial"] == 2], tol=1e-6)
    reordered = run_batch([(c, (2, 0))]).rows[0]
    assert_same_rows(flat(reordered), [r for r in full if r["trial"] in (0, 2)], tol=1e-6)


def test_configs_differing_only_in_alpha_get_different_dense_trials():
    a = TrainConfig(clauses=4, r=4, alpha=2, splits=("random",), trials=2, **SCHEDULE)
    b = dataclasses.replace(a, alpha=4)
    assert seed_entropy(a) != seed_entropy(b)
    assert seed_entropy(a) == seed_entropy(dataclasses.replace(a, trials=9, device="auto", tau=0.3))
    dense = lambda rows: [r["capacity"] for r in rows if r["variant"] == "dense"]  # noqa: E731
    da, db = dense(run_config(a)), dense(run_config(b))
    assert da[0] != da[1] and all(x != y for x, y in zip(da, db, strict=True))


def test_a_diverging_config_fails_alone_inside_a_batch():
    good = mixed()[0]
    bad = dataclasses.replace(good, clauses=4, lr=1e30)
    got = run_batch([(good, range(good.trials)), (bad, range(bad.trials))], on_error="record")
    assert got.rows[1] == {} and set(got.failed[1]) == set(range(bad.trials))
    assert all("diverged" in v for v in got.failed[1].values()) and got.failed[0] == {}
    assert_same_rows(flat(got.rows[0]), run_config(good), tol=1e-6)
    with pytest.raises(ValueError, match="loss is not finite"):
        run_batch([(bad, (0,))])


def test_padding_is_never_counted():
    c = mixed()[0]
    small = flat(run_batch([(c, range(c.trials)), (mixed()[1], (0,))]).rows[0])
    assert {r["nonzero_params"] for r in small} == {c.m * c.r + c.r}  # the dense budget of the small config


def test_batch_configs_by_schedule_path_and_bucket():
    a, b, c = mixed()
    other = dataclasses.replace(a, epochs=5)
    batches = B.batch_configs([a, other, b, c], device="cpu")
    assert batches == [[a], [b], [other], [c]]  # the kernel's configs (ragged: one batch each), another schedule, torch
    assert sorted(map(len, B.batch_configs([a, other, b, c], device="cuda"))) == [1, 1, 2]
    a, b, c = mixed(depth=2)  # the torch path on CPU: shape buckets
    other = dataclasses.replace(a, epochs=5)
    batches = B.batch_configs([a, other, b, c], device="cpu")
    assert batches == [[b, c, a], [other]]  # tiny shapes: padding is cheaper than a second batch; largest first
    big = dataclasses.replace(a, clauses=64, r=64, trials=1, n_train=10000, batch_size=500)
    tiny = dataclasses.replace(big, clauses=2, r=2, trials=50)
    assert len(B.batch_configs([big, tiny])) == 2  # padding 50 tiny models to the big shape would not pay
    assert len(B.batch_configs([dataclasses.replace(x, depth=1) for x in (big, tiny)])) == 2  # the kernel: one each


def test_group_cost_model_against_a_plain_count():
    a, b, _ = mixed()
    steps = 3 * 3  # 3 steps per epoch (300 / 100)
    weights = lambda m, h: m * h + h * 1  # noqa: E731 - padded weight entries of one model
    per = lambda E, w: B.STEP_OVERHEAD_FLOP + E * (100 * 6 * w + B.ADAM_FLOP_PER_PARAM * w)  # noqa: E731
    m, hw, hf = 16, 4, 16  # padded to b: m = 16, warm-up r = 4, FPE alpha*r = 16
    want = steps * per(5, weights(m, hw)) + steps * per(2 * 2 + 3 * 3, weights(m, hf))
    assert B.bucket_cost([(a, 2), (b, 3)]) == pytest.approx(want)


def test_a_batch_too_big_for_memory_is_split_by_trials_and_still_equal():
    c = mixed()[1]
    one = B.batch_bytes([(c, 1)])
    batches = B.batch_jobs([(c, range(c.trials))], budget=int(one * 1.5))
    assert [len(t) for b in batches for _, t in b] == [1, 1, 1]
    rows = [r for b in batches for (cfg, t) in b for r in flat(run_batch([(cfg, t)]).rows[0])]
    assert_same_rows(rows, run_config(c), tol=1e-6)


def test_memory_estimate_covers_the_real_tensors():
    c = mixed()[1]
    from fpe_train.engine.torch_batch import _assemble, _dense_model

    models = [_dense_model(c, c.m, 1, np.random.default_rng(0)) for _ in range(c.trials * 4)]
    net = _assemble(models, False, torch.device("cpu"))
    real = sum(4 * p.numel() * p.element_size() for p in net.parameters()) + sum(m.numel() for m in net.masks)
    assert real <= B.batch_bytes([(c, c.trials)])


def test_spread_gives_one_batch_per_worker():
    c = mixed()[1]
    assert len(B.batch_jobs([(c, range(c.trials))], min_batches=3)) == 3
    assert len(B.batch_jobs([(c, (0,))], min_batches=3)) == 1  # one trial cannot be split


def _partitions(items: list) -> list[list[list]]:
    """Every partition of ``items`` into non-empty groups (brute force)."""
    if not items:
        return [[]]
    first, rest = items[0], items[1:]
    out = []
    for p in _partitions(rest):
        out.append([[first], *p])
        for i in range(len(p)):
            out.append([*p[:i], [first, *p[i]], *p[i + 1 :]])
    return out


def _plain_cuda_cost(jobs: list[tuple]) -> float:
    """The CUDA cost model counted by hand: steps x (launch overhead + per model 6 B W + Adam W), W padded."""
    m = max(c.m for c, _ in jobs)
    warm_h = max(c.r for c, _ in jobs)
    fine_h = max(c.r * (c.alpha if c.splits else 1) for c, _ in jobs)
    c0 = jobs[0][0]
    per_epoch = -(-c0.n_train // c0.batch_size)
    e_warm = sum(t for _, t in jobs)
    e_fine = sum(t * (1 + len(c.splits)) for c, t in jobs)

    def per(E, h):
        w = m * h + h
        return B.CUDA_STEP_OVERHEAD_FLOP + E * (6 * c0.batch_size * w + B.ADAM_FLOP_PER_PARAM * w)

    return c0.warmup_epochs * per_epoch * per(e_warm, warm_h) + c0.epochs * per_epoch * per(e_fine, fine_h)


def _fig3c_like() -> list[TrainConfig]:
    """fig3c's mix at a short schedule: m = 16..128 (4 literals per clause), widths r = 4..24, alpha 4."""
    base = dict(k=4, epochs=5, warmup_epochs=5, n_train=10000, n_test=100, batch_size=500, device="cuda", trials=5)
    return [
        TrainConfig(clauses=c, r=r, alpha=4, splits=("random", "clause"), **base)
        for c in (4, 8, 16, 32)
        for r in (4, 8, 16, 24)
    ]


def _two_scales() -> list[TrainConfig]:
    """Three small configs and three large ones (m = 16 vs 128), 40 trials each: padding the small ones to the
    large shape costs more than the launches of a second batch, under any overhead near the estimate."""
    base = dict(k=4, epochs=5, warmup_epochs=5, n_train=10000, n_test=100, batch_size=500, device="cuda", trials=40)
    small = [TrainConfig(clauses=4, r=r, alpha=2, splits=("random",), **base) for r in (2, 3, 4)]
    return small + [TrainConfig(clauses=32, r=r, alpha=2, splits=("random",), **base) for r in (24, 28, 32)]


def test_cuda_cost_model_against_a_plain_count():
    a, b, c = _fig3c_like()[0], _fig3c_like()[5], _fig3c_like()[15]
    for jobs in ([(a, 5)], [(a, 2), (b, 3)], [(a, 5), (b, 1), (c, 4)]):
        assert B.bucket_cost(jobs, "cuda") == pytest.approx(_plain_cuda_cost(jobs))
        assert B.bucket_cost(jobs, "cuda") > B.bucket_cost(jobs, "cpu")  # the launches cost more on CUDA


@pytest.mark.parametrize("mix", [_fig3c_like, _two_scales])
def test_cuda_buckets_cost_no_more_than_one_padded_batch_or_config_by_config(mix):
    configs = mix()
    jobs = [(c, range(c.trials)) for c in configs]
    batches = B.batch_jobs(jobs, device="cuda", budget=1 << 62)
    assert sorted((id(c), t) for b in batches for c, ts in b for t in ts) == sorted(
        (id(c), t) for c in configs for t in range(c.trials)
    )  # every trial once
    cost = lambda b: _plain_cuda_cost([(c, len(t)) for c, t in b])  # noqa: E731
    total = sum(map(cost, batches))
    one = _plain_cuda_cost([(c, c.trials) for c in configs])
    each = sum(_plain_cuda_cost([(c, c.trials)]) for c in configs)
    assert total <= one * (1 + 1e-12) and total <= each * (1 + 1e-12)
    assert len(batches) < len(configs)
    if mix is _two_scales:
        assert len(batches) == 2 and total < one  # the small configs apart from the large ones
        assert {len({c.m for c, _ in b}) for b in batches} == {1}


def test_cuda_buckets_against_every_partition_of_a_small_mix():
    """Brute force over all 52 partitions of 5 configs: the greedy buckets cost no more than one padded batch
    or config by config, and within 1.5x of the best partition under the same cost model."""
    configs = [_fig3c_like()[i] for i in (0, 3, 6, 12, 15)]
    jobs = [(c, tuple(range(c.trials))) for c in configs]
    cost = lambda b: _plain_cuda_cost([(c, len(t)) for c, t in b])  # noqa: E731
    best = min(sum(map(cost, p)) for p in _partitions(jobs))
    got = sum(map(cost, B.batch_jobs(jobs, device="cuda", budget=1 << 62)))
    assert got <= cost(jobs) * (1 + 1e-12) and got <= sum(cost([j]) for j in jobs) * (1 + 1e-12)
    assert best <= got <= 1.5 * best
    assert len(_partitions(jobs)) == 52  # Bell(5): the enumeration is complete


def test_cuda_buckets_give_the_same_rows_as_config_by_config_on_cpu():
    """The CUDA grouping, trained on the CPU torch path: a config's rows do not depend on its bucket."""
    configs = [dataclasses.replace(c, device="cpu", depth=2) for c in mixed()[:2]]
    batches = B.batch_jobs([(c, range(c.trials)) for c in configs], device="cuda", budget=1 << 62)
    for batch in batches:
        got = run_batch(batch, path="torch").rows
        for (c, _), by_trial in zip(batch, got, strict=True):
            assert_same_rows(flat(by_trial), run_config(c, path="torch"), tol=1e-6)
