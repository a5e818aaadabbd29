"""fpe_train.sweeps.plan (counts against plain loops over configs, trials and variants; shapes against the
engine's own expansion) and fpe_train.sweeps.eta (the schedule against brute force, the store's remaining time)."""

import dataclasses
import itertools
import math

import numpy as np
import pytest
import torch

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps import eta as T
from fpe_train.sweeps import plan as P
from fpe_train.sweeps.calibrate import Calibration
from fpe_train.sweeps.sweep import find_sweep, load_sweep


def _shapes_by_engine(config):
    """(dense sizes, FPE sizes) read off real tensors: the task's data and ``expand_mlp`` on random weights."""
    from fpe_train.engine.tasks import load_task
    from fpe_train.fpe.expansion import expand_mlp

    X_tr, y_tr, X_te, y_te, n_out, clauses = load_task(config)
    sizes = [X_tr.shape[1], *[config.r] * config.depth, n_out]
    g = torch.Generator().manual_seed(0)
    ws = [torch.randn(o, i, generator=g) for i, o in zip(sizes[:-1], sizes[1:], strict=False)]
    split = next(s for s in config.splits if s != "dropconnect") if config.splits != ("dropconnect",) else "random"
    new_w, new_b, masks = expand_mlp(ws, [None] * len(ws), config.alpha, split, clauses=clauses, generator=g)
    fpe = [new_w[0].shape[1], *[w.shape[0] for w in new_w]]
    return tuple(sizes), tuple(fpe), len(y_tr), len(y_te), (split, int(masks[0].sum()))


@pytest.mark.parametrize(
    "name,size,pick",
    [
        ("fig3c", "paper", None),
        ("table_a3_depth", "quick", None),
        ("fig5_vision", "quick", None),
        ("controls", "paper", 2),
        ("fig6b_split_timing", "quick", 1),
    ],
)
def test_counts_match_a_plain_loop(name, size, pick):
    sweep = load_sweep(find_sweep(name), size)
    if pick is not None:
        sweep = dataclasses.replace(sweep, configs=sweep.configs[:pick])
    plan = P.plan_sweep(sweep)
    trials = model_epochs = 0
    flops = 0.0
    for c in sweep.configs:
        trials += c.trials
        for variant in c.variants:  # one model per (trial, variant)
            for _ in range(c.trials):
                model_epochs += c.warmup_epochs + c.epochs if variant == "dense" else c.epochs
    for c in plan.configs[:3]:  # FLOPs of a config alone, model by model and epoch by epoch
        dense, fpe, n_train, n_test, (split, kept) = _shapes_by_engine(c.config)
        assert (c.dense_sizes, c.fpe_sizes, c.n_train, c.n_test) == (dense, fpe, n_train, n_test)
        # the plan counts m r unmasked first-layer weights per FPE model (a parent's inputs are split among its
        # children, none repeated): an upper bound of what the engine's expansion keeps
        assert 0 < kept <= dense[0] * dense[1], (split, kept)
        kept = dense[0] * dense[1]
        params = lambda s: sum(s[j + 1] * (s[j] + 1) for j in range(len(s) - 1))  # noqa: E731
        # the CPU kernel (one hidden layer, fixed masks, CPU) trains each model at its own shape and an FPE
        # model's first layer over its unmasked weights up to 2,560 of them; torch pads every model to the FPE
        # shape and multiplies masked weights too
        cfg = c.config
        kernel = cfg.depth == 1 and cfg.rewire_every == 0 and "dropconnect" not in cfg.splits
        total = 0.0
        for variant in cfg.variants:
            at_split = dense if kernel and variant in ("dense", "dense_fresh") else fpe
            trained = params(at_split)
            if kernel and at_split == fpe and kept <= 2560:
                trained -= fpe[0] * fpe[1] - kept  # masked first-layer weights are skipped
            for _ in range(cfg.trials):
                if variant == "dense":
                    total += sum(6 * params(dense) * n_train for _ in range(cfg.warmup_epochs))
                    if cfg.record_warmup:
                        total += 2 * params(dense) * (n_train + n_test)
                total += sum(6 * trained * n_train for _ in range(cfg.epochs))
                total += 2 * params(at_split) * (n_train + n_test)
                total += sum(2 * params(at_split) * n_test for _ in range(c.curve_points))
        assert math.isclose(c.flops, total, rel_tol=1e-12)
        flops += total
    assert (len(plan.configs), plan.trials, plan.model_epochs) == (len(sweep.configs), trials, model_epochs)
    per_batch = sum(t for b in plan.batches for t in b.trials)
    assert per_batch == trials  # every trial in exactly one batch
    assert {id(m.config) for b in plan.batches for m in b.configs} == {id(c) for c in sweep.configs}


def test_paper_preset_counts():
    """The paper preset's trials and model-epochs, by a plain loop over its configs (dense: warm-up + fine-tune;
    dense_fresh where stored and each split: fine-tune)."""
    from reports.presets import get_preset, load_sweeps

    sweeps = load_sweeps(get_preset("paper"))
    plans = [P.plan_sweep(s) for s in sweeps]
    loop = sum(
        c.trials * (c.warmup_epochs + c.epochs) + c.trials * (len(c.splits) + c.dense_fresh) * c.epochs
        for s in sweeps
        for c in s.configs
    )
    assert sum(p.model_epochs for p in plans) == loop
    assert sum(p.trials for p in plans) == sum(c.trials for s in sweeps for c in s.configs)


def test_distinct_counts_count_a_shared_config_once():
    """Configs that two sweeps share count once: a set over (config fields but trials), the largest trial count."""
    from reports.presets import get_preset, load_sweeps

    sweeps = load_sweeps(get_preset("paper"))
    by_key = {}
    for s in sweeps:
        for c in s.configs:
            key = tuple(sorted((k, str(v)) for k, v in dataclasses.asdict(c).items() if k != "trials"))
            by_key[key] = max(by_key.get(key, 0), c.trials)
    got = P.distinct_counts([P.plan_sweep(s) for s in sweeps])
    assert got == {"configs": len(by_key), "trials": sum(by_key.values())}
    assert got["configs"] < sum(len(s.configs) for s in sweeps)  # fig3a/fig3b/fig3c share configs


@pytest.mark.parametrize("kernel", [True, False])
def test_padded_batch_is_at_least_the_sum_of_its_configs(kernel):
    a = P.config_counts(
        TrainConfig(
            clauses=4,
            k=2,
            r=4,
            splits=("random",),
            trials=2,
            epochs=3,
            warmup_epochs=2,
            n_train=100,
            n_test=50,
            device="cpu" if kernel else "cuda",
        )
    )
    b = P.config_counts(dataclasses.replace(a.config, r=8, clauses=8))
    if kernel:  # the CPU kernel does not pad: a batch costs the sum of its configs
        both = P.BatchCounts((a, b), (2, 2))
        assert math.isclose(both.flops, P.BatchCounts((a,), (2,)).flops + P.BatchCounts((b,), (2,)).flops)
        return
    alone = P.BatchCounts((a,), (2,)).flops + P.BatchCounts((b,), (2,)).flops
    both = P.BatchCounts((a, b), (2, 2))
    assert both.flops > alone  # the small config padded to the large one's shape
    # padded: both configs at b's shapes
    assert math.isclose(both.flops, 2 * P.BatchCounts((b,), (2,)).flops)


def test_memory_estimate_covers_the_real_tensors():
    """Parameters, gradients, Adam moments and masks of a real batch fit inside the estimate."""
    from fpe_train.engine.mlp import BatchedMLP

    c = P.config_counts(
        TrainConfig(
            clauses=8,
            k=4,
            r=16,
            splits=("random",),
            trials=4,
            epochs=1,
            warmup_epochs=1,
            n_train=500,
            n_test=100,
            batch_size=100,
        )
    )
    real = 0
    for E, sizes in ((4, c.dense_sizes), (4, c.fpe_sizes)):
        net = BatchedMLP.init(E, list(sizes), torch.Generator().manual_seed(0))
        real += sum(4 * p.numel() * p.element_size() for p in net.parameters())  # value, grad, 2 moments
        real += sum(m.numel() * m.element_size() for m in net.masks)
    est = P.BatchCounts((c,), (4,)).memory_bytes
    assert real <= est <= 50 * real


def _brute_makespan(jobs, workers):
    best = math.inf
    for assign in itertools.product(range(workers), repeat=len(jobs)):
        loads = [0.0] * workers
        for j, w in zip(jobs, assign, strict=True):
            loads[w] += j
        best = min(best, max(loads))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_makespan_is_within_grahams_bound_of_the_optimum(seed):
    rng = np.random.default_rng(seed)
    jobs = list(rng.uniform(0.1, 5.0, size=int(rng.integers(1, 8))))
    for workers in (1, 2, 3):
        opt = _brute_makespan(jobs, workers)
        got = T.makespan(jobs, workers)
        assert opt - 1e-9 <= got <= (4 / 3 - 1 / (3 * workers)) * opt + 1e-9  # LPT bound (Graham 1969)
    assert math.isclose(T.makespan(jobs, 1), sum(jobs))
    assert math.isclose(T.makespan(jobs, len(jobs)), max(jobs))


def test_remaining_from_the_stores_own_times(tmp_path):
    """Two configs of one shape, one done in 3 s: the other's remaining estimate is 3 s."""
    from fpe_train.engine.rows import ROW_FIELDS
    from fpe_train.sweeps.store import ResultsStore, RunRecord, config_hash

    a = TrainConfig(
        clauses=4, k=2, r=2, alpha=2, splits=("random",), trials=2, epochs=2, warmup_epochs=2, record_warmup=False
    )
    b = dataclasses.replace(a, seed=1)
    with ResultsStore(tmp_path / "s.db") as s:
        s.register("demo", "quick", [a, b])
        for t in range(2):  # 4 rows in all, 0.75 s each: a run of 3 s
            rows = [
                {**dict.fromkeys(ROW_FIELDS), "trial": t, "variant": v, "seconds": 0.75, "device": "cpu"}
                for v in ("dense", "random")
            ]
            s.record(RunRecord(config_hash(a), t, "done", seed=0, metrics=rows))
        left = T.remaining(s)
    assert left[("demo", "quick")] == pytest.approx(3.0, rel=1e-6)


def test_eta_counts_only_what_each_sweep_adds_to_the_store():
    """Sweeps run one after another into one store: a config an earlier sweep trained is not trained again."""
    from reports.presets import get_preset, load_sweeps

    sweeps = load_sweeps(get_preset("paper"))
    fresh = P.unshared(sweeps)
    new_trials = [sum(c.trials for c in s.configs) for s in fresh]
    assert sum(new_trials) == P.distinct_counts([P.plan_sweep(s) for s in sweeps])["trials"]
    names = [s.name for s in sweeps]
    assert new_trials[names.index("fig3b")] < sum(c.trials for c in sweeps[names.index("fig3b")].configs)
    cal = Calibration("cpu", 1, {path: {"configs": 1.0} for path in ("kernel", "deep", "torch")})
    data = T.plan_dict([P.plan_sweep(s) for s in sweeps], cal, 1, [P.plan_sweep(s) for s in fresh])
    etas = {r["sweep"]: r["eta_seconds"] for r in data["sweeps"]}
    # one second per config of a batch, one worker: the ETA is the number of new configs
    assert etas == {s.name: float(len(s.configs)) for s in fresh}


@pytest.mark.parametrize(
    ("starts", "paid"),
    [("sweep", "every sweep that trains"), ("once", "the first sweep that trains"), ("none", "no sweep")],
)
def test_the_workers_start_is_paid_once_per_pool(starts, paid):
    """``sweep run`` starts a pool per sweep, ``report`` one pool for all its sweeps (or none with one worker):
    the ETA adds ``worker_start`` to each sweep that starts a pool and trains something, once."""
    from reports.presets import get_preset, load_sweeps

    sweeps = load_sweeps(get_preset("paper"))[:4]
    fresh = P.unshared(sweeps)
    plans, to_train = [P.plan_sweep(s) for s in sweeps], [P.plan_sweep(s) for s in fresh]
    to_train[0] = dataclasses.replace(to_train[0], batches=())  # the first sweep finds everything stored
    coef = {path: {"configs": 1.0} for path in ("kernel", "deep", "torch")}
    without = T.plan_dict(plans, Calibration("cpu", 1, coef), 1, to_train, starts)
    got = T.plan_dict(plans, Calibration("cpu", 1, coef, worker_start=7.0), 1, to_train, starts)
    rows = list(zip(without["sweeps"], got["sweeps"], strict=True))
    added = [b["eta_seconds"] - a["eta_seconds"] for a, b in rows]
    alone = [b["eta_alone_seconds"] - a["eta_alone_seconds"] for a, b in rows]
    expected = {
        "every sweep that trains": [0.0, 7.0, 7.0, 7.0],
        "the first sweep that trains": [0.0, 7.0, 0.0, 0.0],
        "no sweep": [0.0] * 4,
    }[paid]
    assert added == expected
    assert alone == ([0.0] * 4 if starts == "none" else [7.0] * 4)  # a sweep alone starts its own workers
    assert got["total"]["eta_seconds"] - without["total"]["eta_seconds"] == sum(expected)
    with pytest.raises(ValueError, match="starts='twice': must be one of sweep, once, none"):
        T.plan_dict(plans, Calibration("cpu", 1, coef), 1, to_train, "twice")


@pytest.mark.parametrize("device", ["cpu", "cuda"])
def test_dense_fresh_adds_one_model_per_trial_from_the_split(device):
    """The fresh-Adam dense arm: one more model per trial, trained ``epochs`` after the split, at the dense
    shape on the CPU kernel and padded to the FPE shape on torch (CUDA)."""
    c = TrainConfig(
        clauses=4, k=2, r=4, splits=("random",), trials=3, epochs=5, warmup_epochs=2, n_train=100, n_test=40
    )
    c = dataclasses.replace(c, device=device)
    a, b = P.config_counts(c), P.config_counts(dataclasses.replace(c, dense_fresh=True))
    sizes = a.dense_sizes if device == "cpu" else a.fpe_sizes
    Pm = sum(o * (i + 1) for i, o in zip(sizes[:-1], sizes[1:], strict=True))
    assert (b.models - a.models, b.model_epochs - a.model_epochs) == (3, 3 * 5)
    assert math.isclose(b.flops - a.flops, 3 * (6 * Pm * 100 * 5 + 2 * Pm * 140))


def _greedy_makespan(costs, workers):
    """Largest first, each job to the least loaded worker: a plain loop."""
    load = [0.0] * workers
    for c in sorted(costs, reverse=True):
        i = load.index(min(load))
        load[i] += c
    return max(load)


def test_a_kernel_sweep_is_cut_so_two_workers_share_it_evenly(tmp_path):
    """fig3c at paper size runs on the CPU kernel (ragged: a batch costs the sum of its configs): its batches,
    in the order the sweep runs them, are largest first, and two workers finish within 10 % of half the work
    (the lower bound); two batches per sweep, halved by config count, left one worker idle for long."""
    from fpe_train.engine.batch import bucket_cost
    from fpe_train.sweeps.store import ResultsStore, config_hash
    from fpe_train.sweeps.sweep import pending_batches

    sweep = load_sweep(find_sweep("fig3c"), "paper")
    total = sum(bucket_cost([(c, c.trials)]) for c in sweep.configs)  # each config at its own shape
    with ResultsStore(tmp_path / "s.db") as store:
        batches, done, left = pending_batches(sweep, store, workers=2)
    assert (done, left) == (0, 0)
    by_hash = {b.config_hash: b for b in batches}
    assert len(by_hash) == len(batches) == len(sweep.configs)  # one config per batch
    cost = {config_hash(c): bucket_cost([(c, c.trials)]) for c in sweep.configs}
    costs = [cost[b.config_hash] for b in batches]
    assert costs == sorted(costs, reverse=True)
    assert sum(costs) == pytest.approx(total)
    assert _greedy_makespan(costs, 2) <= 1.10 * total / 2
