"""fpe_train.sweeps.calibrate: the fit against known coefficients, rates bounded by the GEMM peak, and the ETA of
repeated calibrations of a small sweep within a bound of each other."""

import dataclasses
import math
import re

import pytest
import torch

from fpe_train.engine.config import TrainConfig
from fpe_train.sweeps import calibrate as C
from fpe_train.sweeps import eta as T
from fpe_train.sweeps import plan as P
from fpe_train.sweeps.sweep import find_sweep, load_sweep


def _batches():
    base = TrainConfig(clauses=4, k=2, r=4, splits=("random",), trials=2, epochs=3, warmup_epochs=2, n_train=400)
    configs = [
        base,
        dataclasses.replace(base, r=64, trials=8),
        dataclasses.replace(base, epochs=40, batch_size=10),
        dataclasses.replace(base, clauses=16, r=32, n_train=4000),
        dataclasses.replace(base, trials=30, epochs=1, warmup_epochs=1),
        dataclasses.replace(base, depth=4, batch_size=20),
        dataclasses.replace(base, depth=2, r=16),
    ]
    return [P.BatchCounts((P.config_counts(c),), (c.trials,)) for c in configs]


@pytest.mark.parametrize("peak", [0.0, 1e11])
def test_fit_recovers_known_coefficients(peak):
    truth = C.Calibration("cpu", 1, per_config=0.05, per_step=2e-4, flop_rate=2e10, per_model=0.01, per_deep_step=3e-4)
    samples = [(b, truth.batch_seconds(b)) for b in _batches()]
    got = C.fit(samples, "cpu", 1, "test", peak=peak)
    for name in ("per_config", "per_step", "flop_rate", "per_model", "per_deep_step"):
        assert math.isclose(getattr(got, name), getattr(truth, name), rel_tol=1e-6), name


def test_the_rate_never_exceeds_the_peak_and_is_never_infinite():
    """Timings with no FLOP-bound part, or faster than the peak allows: the rate is the peak, not above it."""
    batches = _batches()
    flat = [(b, 0.5) for b in batches]  # seconds that do not grow with FLOPs
    fast = [(b, b.flops / 1e13) for b in batches]  # 10 TFLOP/s: more than a core can do
    for samples in (flat, fast):
        got = C.fit(samples, "cpu", 1, "test", peak=5e10)
        assert math.isfinite(got.flop_rate) and got.flop_rate <= 5e10 * (1 + 1e-12)
        assert min(got.per_config, got.per_step, got.per_model, got.per_deep_step) >= 0


def test_the_suite_pins_every_term():
    """The suite's design (configs, models, steps, deeper-layer steps, FLOPs per run) has full column rank, so no
    term of the fit is left free to absorb another's time."""
    import numpy as np

    A = np.array([C._terms(b) for b in C._suite("cpu")], dtype=float)
    A = A / A.max(axis=0)
    assert np.linalg.matrix_rank(A) == A.shape[1] == 5
    truth = C.Calibration("cpu", 1, per_config=0.02, per_step=1e-4, flop_rate=3e10, per_model=1e-3, per_deep_step=5e-4)
    got = C.fit([(b, truth.batch_seconds(b)) for b in C._suite("cpu")], "cpu", 1, "test", peak=1e11)
    assert math.isclose(got.flop_rate, truth.flop_rate, rel_tol=1e-6)
    assert math.isclose(got.per_deep_step, truth.per_deep_step, rel_tol=1e-6)


def test_peak_is_a_plausible_gemm_rate():
    peak = C.peak_flop_rate("cpu", n=256, repeats=3)
    assert 1e8 < peak < 1e13  # between a slow core and more than any single core reaches


def test_repeated_plans_of_a_small_sweep_agree_and_print_no_rate_above_the_peak():
    """Three calibrations in a row (each timed afresh): their ETAs of one sweep lie within 2x of each other, a
    bound far outside what the robust statistic allows and far inside the 16x disagreements of a fit to
    single wall-clock timings; no printed rate exceeds the GEMM peak."""
    plan = P.plan_sweep(load_sweep(find_sweep("fig3c"), "quick"))
    etas = []
    for _ in range(3):
        cal = C.calibrate("cpu", 1, repeats=2, fresh=True)
        assert cal.flop_rate <= cal.peak_flop_rate * cal.threads * (1 + 1e-12)
        assert cal.clock == "cpu" and cal.cores >= 1 and len(cal.load) == 2
        text = T.format_plan(T.plan_dict([plan], cal, workers=2))
        rate, peak = map(float, re.search(r"thread: ([\d.]+) GFLOP/s \(GEMM peak ([\d.]+)\)", text).groups())
        assert rate <= peak
        assert "the ETA assumes: each of 2 workers" in text
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
