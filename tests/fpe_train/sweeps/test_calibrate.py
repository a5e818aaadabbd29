"""fpe_train.sweeps.calibrate: the fit against known coefficients (all terms at once, and per-epoch terms from
pairs of runs first), rates bounded by the GEMM peak, a suite that pins every term of every path, and the ETA of
repeated calibrations of a small sweep within a bound of each other."""

import math
import re

import numpy as np
import pytest
import torch

from fpe_train.sweeps import calibrate as C
from fpe_train.sweeps import eta as T
from fpe_train.sweeps import plan as P
from fpe_train.sweeps.sweep import find_sweep, load_sweep

TRUTH = {  # made-up coefficients of every term of every path (seconds per unit; per FLOP for FLOP terms)
    path: {name: 10.0 ** -(3 + i % 5) * (1 + i / 7) for i, name in enumerate(names)}
    for path, names in C.PATH_TERMS.items()
}


def _truth() -> C.Calibration:
    return C.Calibration("cpu", 1, {p: dict(c) for p, c in TRUTH.items()})


def _suite_samples(truth):
    short = C._suite("cpu")
    longer = C._suite("cpu", C.LONGER)
    samples = [(b, truth.batch_seconds(b)) for b in short]
    terms = [term for _, term, _ in C.SUITE]
    pairs = [(b, s, lb, truth.batch_seconds(lb), t) for (b, s), lb, t in zip(samples, longer, terms, strict=True) if lb]
    return samples, pairs


def test_terms_by_a_plain_count():
    """One config's terms, counted by hand from its fields (the Boolean kernel path)."""
    c = P.config_counts(
        P.TrainConfig(clauses=4, k=2, r=4, splits=("random", "clause"), trials=3, epochs=5, warmup_epochs=2)
    )
    c = P.config_counts(
        P.TrainConfig(**{**c.config.to_dict(), "n_train": 250, "n_test": 40, "batch_size": 100, "device": "cpu"})
    )
    t = P.BatchCounts((c,), (3,)).terms()
    per_epoch = 3  # ceil(250 / 100)
    model_epochs = 3 * (2 + 5) + 3 * 2 * 5  # dense warm-up + fine-tune, two forks fine-tune
    assert t["model_steps"] == model_epochs * per_epoch
    assert t["model_samples"] == model_epochs * 250 and t["multi_samples"] == t["layer_samples"] == 0
    assert t["multi_units"] == 0  # one logit

    assert t["reads"] == 3 * (2 + 5) * 250 * 8  # m = 8 inputs, once per trial and epoch
    assert t["data"] == 3 * (250 + 40) * 8  # each trial its own sample
    assert t["evals"] == 3 * 3 * (250 + 40)  # three models per trial, train and test sets
    assert (t["configs"], t["trials"], t["models"], t["layer_steps"], t["multi_steps"]) == (1, 3, 9, 0, 0)


def test_multiclass_terms_by_a_plain_count():
    """A digits config on the kernel: its model-samples with classes, and its hidden units times rows (the dense
    model at r units through warm-up and fine-tuning, each FPE fork at alpha r units through fine-tuning)."""
    cfg = P.TrainConfig(task="digits", r=8, alpha=4, splits=("random",), trials=2, epochs=3, warmup_epochs=5)
    cfg = P.TrainConfig(**{**cfg.to_dict(), "n_train": 500, "n_test": 100, "batch_size": 100, "device": "cpu"})
    t = P.BatchCounts((P.config_counts(cfg),), (2,)).terms()
    dense_epochs, fpe_epochs = 2 * (5 + 3), 2 * 3
    assert t["multi_samples"] == (dense_epochs + fpe_epochs) * 500
    assert t["multi_units"] == 500 * (dense_epochs * 8 + fpe_epochs * 32)
    assert t["multi_steps"] == (dense_epochs + fpe_epochs) * 5


@pytest.mark.parametrize("peak", [0.0, 1e7])
def test_fit_recovers_known_coefficients(peak):
    """The suite's timings made from known coefficients give those coefficients back when all terms are fitted
    at once (the FLOP coefficients are all at least 1 / peak here, so the bound is inactive)."""
    truth = _truth()
    samples, _ = _suite_samples(truth)
    got = C.fit(samples, "cpu", 1, "test", peak=peak)
    for path, coef in TRUTH.items():
        for name, want in coef.items():
            assert math.isclose(got.coefficients[path][name], want, rel_tol=1e-6), (path, name)


REALISTIC = {  # seconds per unit, of the order this machine's calibrations give (per FLOP: 1 / FLOP rate)
    "kernel": dict(configs=5e-3, trials=5e-4, data=25e-9, evals=2e-8, model_steps=1e-6, model_samples=8e-9),
    "deep": dict(configs=4e-3, trials=5e-4, evals=5e-8, model_steps=4e-6, model_samples=7e-8, layer_steps=1e-6),
    "torch": dict(configs=5e-3, models=5e-4, steps=2e-4, model_steps=3e-6, model_samples=6e-8, dynamic_steps=3e-5),
}
REALISTIC["kernel"].update(multi_steps=2e-6, multi_samples=7e-8, flops=1 / 80e9, flops_masked=1 / 60e9)
REALISTIC["kernel"].update(flops_multi=1 / 50e9, multi_units=3e-9)
REALISTIC["deep"].update(layer_samples=5e-9, flops=1 / 40e9)
REALISTIC["torch"].update(rewires=1e-4, layer_steps=5e-5, flops=1 / 30e9)


def test_per_epoch_terms_one_by_one_recover_realistic_coefficients():
    """Per-epoch terms taken one pair at a time (each pair's own term after the ones known before it) from
    timings made with realistic coefficients: each within 30 % of the truth, and the ETA of the paper's fig3c
    and Table A3 within 5 %."""
    truth = C.Calibration("cpu", 1, {p: dict(c) for p, c in REALISTIC.items()})
    samples, pairs = _suite_samples(truth)
    got = C.fit(samples, "cpu", 1, "test", 1e11, pairs)
    for path, coef in REALISTIC.items():
        for name in (n for n in coef if n in C.EPOCH_TERMS):
            assert got.coefficients[path][name] == pytest.approx(coef[name], rel=0.3), (path, name)
    for sweep in ("fig3c", "table_a3_depth"):
        plan = P.plan_sweep(load_sweep(find_sweep(sweep), "paper"))
        assert T.sweep_eta(plan, got, 2) == pytest.approx(T.sweep_eta(plan, truth, 2), rel=0.05), sweep


def test_the_rate_never_exceeds_the_peak_and_is_never_infinite():
    """Timings with no FLOP-bound part, or faster than the peak allows: every rate is the peak, not above it."""
    batches = C._suite("cpu")
    flat = [(b, 0.5) for b in batches]  # seconds that do not grow with FLOPs
    fast = [(b, b.terms()["flops"] / 1e13) for b in batches]  # 10 TFLOP/s: more than a core can do
    for samples in (flat, fast):
        got = C.fit(samples, "cpu", 1, "test", peak=5e10)
        for path, coef in got.coefficients.items():
            assert min(coef.values()) >= 0
            for name in C.FLOP_TERMS:
                if name in coef:
                    rate = got.flop_rate(path, name)
                    assert math.isfinite(rate) and rate <= 5e10 * (1 + 1e-12), (path, name)


def test_the_suite_pins_every_term_of_every_path():
    """Per path, the suite's runs (and, for the per-epoch terms, the differences of its longer runs) have full
    column rank, so no term is left free to absorb another's time; each run is on the path it is meant for."""
    short, longer = C._suite("cpu"), C._suite("cpu", C.LONGER)
    assert [b.path for b in short] == [p for p, _, _ in C.SUITE]
    for path, names in C.PATH_TERMS.items():
        rows = [b.terms() for b in short if b.path == path]
        A = np.array([[r[n] for n in names] for r in rows], dtype=float)
        assert np.linalg.matrix_rank(A / A.max(axis=0)) == len(names), path
        per_epoch = [n for n in names if n in C.EPOCH_TERMS]
        pairs = [(b, lb) for b, lb in zip(short, longer, strict=True) if lb and b.path == path]
        D = np.array([[lb.terms()[n] - b.terms()[n] for n in per_epoch] for b, lb in pairs])
        assert np.linalg.matrix_rank(D / D.max(axis=0)) == len(per_epoch), path


def test_a_path_without_timings_borrows_the_nearest():
    cal = C.Calibration("cpu", 1, {"torch": {"configs": 2.0}})
    batch = P.BatchCounts((P.config_counts(P.TrainConfig(clauses=2, k=2, r=2, device="cpu")),), (1,))
    assert batch.path == "kernel" and cal.batch_seconds(batch) == 2.0


def test_describe_and_dict_round_trip():
    cal = _truth()
    back = C.Calibration.from_dict(cal.to_dict())
    assert back.coefficients == cal.coefficients and back.describe() == cal.describe()
    assert re.search(r"thread: [\d.]+ GFLOP/s on the kernel path", cal.describe())


def test_peak_is_a_plausible_gemm_rate():
    peak = C.peak_flop_rate("cpu", n=256, repeats=3)
    assert 1e8 < peak < 1e13  # between a slow core and more than any single core reaches


def test_repeated_plans_of_a_small_sweep_agree_and_print_no_rate_above_the_peak():
    """Two calibrations in a row (each timed afresh): their ETAs of one sweep lie within 2x of each other, a
    bound far outside what the robust statistic allows and far inside the 16x disagreements of a fit to
    single wall-clock timings; no rate exceeds the GEMM peak."""
    plan = P.plan_sweep(load_sweep(find_sweep("fig3c"), "quick"))
    etas = []
    for _ in range(2):
        cal = C.calibrate("cpu", 1, repeats=1, fresh=True)
        peak = cal.peak_flop_rate * cal.threads
        for path, coef in cal.coefficients.items():
            for name in (n for n in C.FLOP_TERMS if n in coef):
                assert cal.flop_rate(path, name) <= peak * (1 + 1e-12), (path, name)
        assert cal.clock == "cpu" and cal.cores >= 1 and len(cal.load) == 2
        text = T.format_plan(T.plan_dict([plan], cal, workers=2))
        rate, peak_printed = map(float, re.search(r"thread: ([\d.]+) GFLOP/s \(GEMM peak ([\d.]+)\)", text).groups())
        assert rate <= peak_printed
        assert "the ETA assumes: each of 2 workers" in text
        if (C.os.cpu_count() or 1) > 1:  # the second process runs where there is a second core
            assert cal.worker_start > 0 and f"{cal.worker_start:.1f} s to start a worker (measured)" in text
        assert cal.spread >= 1.0
        etas.append(T.sweep_eta(plan, cal, 2))
    assert max(etas) <= 2 * min(etas), etas


def test_one_calibration_per_process():
    a = C.calibrate("cpu", 1, repeats=1)
    assert C.calibrate("cpu", 1) is a  # every plan of a process uses the same one


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_cuda_without_a_gpu_is_one_line():
    with pytest.raises(ValueError, match=r"device='cuda': no CUDA GPU"):
        C.resolve_plan_device("cuda")
    with pytest.raises(ValueError, match=r"device='tpu'"):
        C.resolve_plan_device("tpu")


def test_a_neighbour_stretches_the_eta_of_more_than_one_worker_only():
    """``Calibration.neighbour`` (what a worker loses to the one beside it) multiplies the schedule of two or more
    workers, not of one; a store's own times are never stretched (they were taken with the workers that ran)."""
    plan = P.plan_sweep(load_sweep(find_sweep("fig3a"), "quick"), "cpu", 2)
    alone = C.Calibration("cpu", 1, {p: dict(c) for p, c in REALISTIC.items()}, cores=2)
    beside = C.Calibration("cpu", 1, alone.coefficients, cores=2, neighbour=1.25)
    assert T.sweep_eta(plan, beside, 1) == T.sweep_eta(plan, alone, 1)
    assert T.sweep_eta(plan, beside, 2) == pytest.approx(1.25 * T.sweep_eta(plan, alone, 2))
    store = C.Calibration("cpu", 1, alone.coefficients, source="store", cores=2, neighbour=1.25)
    assert T.sweep_eta(plan, store, 2) == T.sweep_eta(plan, alone, 2)
    assert "1.25x slower beside another" in beside.assumes(2) and "beside" not in beside.assumes(1)


def test_the_neighbour_is_measured_beside_a_real_second_process():
    """A real second process (spawned like a worker) runs the suite's run while this one times it: the ratio
    lies in its bounds, and the other process is gone afterwards."""
    import multiprocessing

    batch = C._suite("cpu")[[t for _, t, _ in C.SUITE].index("model_samples")]
    C._run(batch)  # first use (data, compiled kernel) out of the windows, as in ``calibrate``

    def timed() -> float:
        start = C.time.process_time()
        C._run(batch)
        return C.time.process_time() - start

    alone = min(timed() for _ in range(2))
    other = C.neighbour_run(batch, C.time.process_time, alternations=1, best_of=1)
    (ratio,) = other.ratios  # one window pair ran
    assert 0.5 < ratio < 4.0  # beside another process: about as fast, never far faster, and not stuck
    assert not multiprocessing.active_children()
    # its start: a fresh interpreter, the toolkit's imports and the compiled kernel before its first run
    assert other.ready > alone and 0.0 < other.start(alone) == other.ready - alone < 60.0
    assert C.NeighbourRun([]).slowdown() == 1.0 and C.NeighbourRun([], math.nan).start(1.0) == 0.0
    assert C.NeighbourRun([0.5, 3.0, 1.2]).slowdown() == 1.2 and C.NeighbourRun([3.0]).slowdown() == 2.0
    assert 1.0 <= C.beside_a_neighbour(batch, C.time.process_time, alternations=1, best_of=1) <= 2.0


def test_the_plan_says_when_the_machines_speed_changed_while_it_was_timed():
    """``repeat_spread``: the median over runs of slowest / fastest repeat (a hand count); from ``UNSTEADY`` on,
    what the ETA assumes says the machine was changing and by how much; the figure survives the JSON round trip."""
    assert C.repeat_spread([[1.0, 2.0, 1.5], [3.0, 3.0], [2.0], [0.0, 1.0], [4.0, 5.0]]) == 1.25  # of 2.0, 1.0, 1.25
    assert C.repeat_spread([]) == 1.0 and C.repeat_spread([[1.0]]) == 1.0
    coef = {p: dict(c) for p, c in REALISTIC.items()}
    steady, unsteady = (C.Calibration("cpu", 1, coef, cores=2, spread=x) for x in (1.1, 1.55))
    assert "differed" not in steady.assumes(2)
    assert "a run's repeats differed by 1.55x (median over the suite)" in unsteady.assumes(2)
    assert C.Calibration.from_dict(unsteady.to_dict()).spread == 1.55
    plan = P.plan_sweep(load_sweep(find_sweep("fig3a"), "quick"), "cpu", 2)
    for cal, shown in ((steady, False), (unsteady, True)):
        data = T.plan_dict([plan], cal, 2)
        assert data["total"]["eta_slow_seconds"] == pytest.approx(data["total"]["eta_seconds"] * cal.spread)
        slow = T.duration(data["total"]["eta_slow_seconds"])
        assert (f"at the pace of the slower repeats (x1.55): {slow}" in T.format_plan(data)) is shown
