"""The report's Monte Carlo is stored as rows: simulated by the run step, read back equal, not computed by --no-run."""

import dataclasses

import pytest

import simulations
from fpe_theory import Problem
from fpe_train.sweeps.store import ResultsStore
from reports import montecarlo
from reports.build import build_report
from reports.presets import Preset

CASES = ((16, 2, 2, "random", 2), (16, 2, 2, "overlap", 1), (16, 2, 4, "structured_2_4", 1))


@pytest.fixture(scope="module")
def preset(tiny_preset):
    """The tiny preset with three Monte Carlo cases (three families, two alphas)."""
    return dataclasses.replace(tiny_preset, mc_cases=CASES, r_min_problems=((8, 2, 2),))


def test_record_round_trip_equals_a_fresh_simulation():
    problem = Problem(m=16, k=2, alpha=2)
    res = simulations.simulate(problem, "random", r=2, trials=500, seed=1, threads=1)
    again = montecarlo.from_record(problem, "random", 2, 500, 1, montecarlo.to_record(res))
    assert again == res  # every estimate, the histogram, the bin width (threads and seconds aside)


def test_keys_separate_every_field():
    p = Problem(m=16, k=2, alpha=2)
    base = ("random", 2, 500, 1)
    keys = {montecarlo.mc_key(p, *base)}
    for i, other in enumerate(("overlap", 3, 501, 2)):
        changed = list(base)
        changed[i] = other
        keys.add(montecarlo.mc_key(p, *changed))
    keys.add(montecarlo.mc_key(Problem(m=16, k=2, alpha=4), *base))
    keys.add(montecarlo.mc_key(Problem(m=16, k=2, alpha=2, permutation=tuple(range(15, -1, -1))), *base))
    assert len(keys) == 7


def test_run_step_stores_once_and_reads_back_what_simulate_gives(preset, tmp_path):
    path = tmp_path / "results.db"
    cases = montecarlo.required_cases(preset, None)
    assert [c.family for c in cases] == ["random", "overlap", "structured_2_4"]
    assert montecarlo.run_monte_carlo(cases, path) == 2  # structured_2_4 needs alpha = 2: left out
    assert montecarlo.run_monte_carlo(cases, path) == 0  # all stored
    with ResultsStore(path) as store:
        assert len(store.monte_carlo()) == 2
    stored = montecarlo.StoredMonteCarlo(path)
    problem = Problem(m=16, k=2, alpha=2)
    fresh = simulations.simulate(problem, "overlap", r=1, trials=300, seed=0, threads=1)
    assert stored(problem, "overlap", r=1, trials=300, seed=0) == fresh
    assert stored(problem, "overlap", r=1, trials=301, seed=0) is None and stored.missing == 1


def _trained_store(path):
    """A store with one tiny real Boolean training config (2 clauses of k = 2, r = 2, random split)."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.sweeps.sweep import Sweep, run_sweep

    config = TrainConfig(
        clauses=2,
        k=2,
        r=2,
        alpha=2,
        splits=("random",),
        trials=2,
        epochs=1,
        warmup_epochs=1,
        n_train=64,
        n_test=32,
        batch_size=32,
        device="cpu",
    )
    with ResultsStore(path) as s:
        run_sweep(Sweep("tiny", "quick", (config,), path=""), s, executor="serial", progress=False)
    return path


def test_no_run_reads_the_store_and_simulates_nothing(preset, tmp_path, monkeypatch):
    from reports.compute import theory

    out, store = tmp_path / "out", _trained_store(tmp_path / "results.db")
    with ResultsStore(store) as s:
        cases = montecarlo.required_cases(preset, s.frame())
    assert montecarlo.Case(4, 2, 2, "random", 2, 300, 0) in cases  # the trained configuration's family
    first = build_report(out, preset=preset, store=store, run=True, progress=False)
    assert all(name != "monte_carlo" for name, _ in first.skipped)
    live = theory.monte_carlo_table(preset.mc_cases, mc_trials=300, seed=0)  # simulated here, the reference
    monkeypatch.setattr(simulations, "simulate", _no_simulation)
    monkeypatch.setattr("simulations.montecarlo.simulate", _no_simulation)
    again = build_report(out, preset=preset, store=store, run=False, progress=False)
    assert all(name != "monte_carlo" for name, _ in again.skipped)
    read = theory.monte_carlo_table(preset.mc_cases, mc_trials=300, seed=0, simulate=montecarlo.StoredMonteCarlo(store))
    assert read.equals(live) and len(read) > 0


def _no_simulation(*args, **kwargs):
    raise AssertionError("report --no-run simulated")


def test_no_run_without_stored_monte_carlo_says_so(preset, tmp_path, monkeypatch):
    out, store = tmp_path / "out", _trained_store(tmp_path / "results.db")
    build_report(out, preset=preset, store=store, run=True, progress=False)
    monkeypatch.setattr(simulations, "simulate", _no_simulation)
    monkeypatch.setattr("simulations.montecarlo.simulate", _no_simulation)
    more = Preset(**{**preset.__dict__, "mc_trials": 301})  # other cases than those stored
    res = build_report(out, preset=more, store=store, run=False, progress=False)
    assert ("monte_carlo", "3 Monte Carlo results not in the store (run without --no-run)") in res.skipped
