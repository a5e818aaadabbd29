"""Monte Carlo in bounded memory and time: streamed exact sums, refusals with the estimate, within seconds."""

import numpy as np
import pytest
from helpers import assert_one_line_error
from scipy import stats

from fpe_theory import Problem
from simulations.montecarlo import BLOCK_TRIALS, _run_blocks, _setup, simulate
from simulations.stats import MeanAccumulator, mean_estimate


def test_accumulator_equals_numpy_on_blocks():
    """Blocks of integers with shifts, as the kernels fill them, against numpy's mean and ddof=1 variance."""
    rng = np.random.default_rng(0)
    x = rng.integers(0, 10**6, 5000)  # large values: a float sum of squares would cancel
    sizes = [1024, 1024, 1024, 1024, 904]
    acc, at = MeanAccumulator(), 0
    for n in sizes:
        block = x[at : at + n]
        at += n
        shift = int(block[0])
        dev = block - shift
        acc.add(np.array([n]), np.array([shift]), np.array([dev.sum()]), np.array([float((dev * dev).sum())]))
    est = acc.estimate()
    sem = x.std(ddof=1) / np.sqrt(len(x))
    half = stats.t.ppf(0.975, len(x) - 1) * sem
    assert est.estimate == pytest.approx(x.mean(), rel=1e-15)
    assert est.stderr == pytest.approx(sem, rel=1e-12)
    assert (est.ci_low, est.ci_high) == pytest.approx((x.mean() - half, x.mean() + half), rel=1e-12)


def test_streamed_estimates_equal_the_per_block_formula():
    """simulate's streamed sums give the estimates of the (previous) per-block arrays formula."""
    problem, family, trials, seed = Problem(m=16, k=2, alpha=2), "random", 5 * BLOCK_TRIALS + 17, 3
    res = simulate(problem, family, 2, trials, seed)
    n_blocks = -(-trials // BLOCK_TRIALS)
    counts, ints, shifts, sq, _ = _run_blocks(_setup(problem, family, 2), seed, 0, n_blocks, trials)
    for q, name in enumerate(("expected_covered", "expected_collisions", "neurons_cover_ge1", "neurons_cover_ge2")):
        ref = mean_estimate(counts, shifts[:, q], ints[:, 1 + q], sq[:, q])
        got = getattr(res, name)
        assert got.estimate == pytest.approx(ref.estimate, rel=1e-12)
        assert got.stderr == pytest.approx(ref.stderr, rel=1e-9)
    assert res.p_all_covered.estimate == ints[:, 0].sum() / trials


def test_same_numbers_whatever_the_thread_count():
    problem = Problem(m=16, k=2, alpha=2)
    a = simulate(problem, "overlap", 2, 3 * BLOCK_TRIALS, 1, threads=1)
    b = simulate(problem, "overlap", 2, 3 * BLOCK_TRIALS, 1)
    assert a == b


@pytest.mark.parametrize("trials", [10**12, 10**30])
def test_huge_trials_refused_within_seconds(invoke, trials):
    result = invoke("simulate", "--trials", trials, "--family", "random", "--no-progress")
    line = assert_one_line_error(result, f"trials={trials}:")
    assert line.startswith(f"Error: trials={trials}:") and "MemoryError" not in result.stderr


def test_measured_rate_refuses_a_run_past_max_seconds(monkeypatch):
    """With the a-priori estimate out of the way, the rate measured on the first blocks stops the run."""
    import simulations.montecarlo

    monkeypatch.setattr(simulations.montecarlo, "A_PRIORI_RATE", 1e30)
    with pytest.raises(ValueError, match=r"trials=10000000: about .* s \(at the measured .* trials/s\)"):
        simulate(Problem(m=128, k=4, alpha=4), "random", 8, 10**7, 0, max_seconds=0.5)


def test_max_seconds_nan_refused(invoke):
    line = assert_one_line_error(invoke("simulate", "--trials", 1000, "--max-seconds", "nan"), "max_seconds=nan")
    assert line.startswith("Error: max_seconds=nan")
