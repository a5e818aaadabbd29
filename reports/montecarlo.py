"""The report's Monte Carlo, stored as rows: simulated once by ``report``'s run step, then read from the store.

A report needs seeded Monte Carlo results for two lists of cases: the preset's ``mc_cases`` (exact vs
Monte Carlo table) and the Boolean configurations the store holds trained rows of (prediction vs
reality). ``required_cases(preset, frame)`` lists both; ``run_monte_carlo`` simulates the ones the store
lacks and stores each result in the ``mc_results`` table; ``StoredMonteCarlo`` answers the report's
questions from that table alone, so ``report --no-run`` simulates nothing.

A result is keyed by (m, k, alpha, family, r, trials, seed): the same key gives the same numbers
(``simulations.simulate`` is reproducible from its seed on any thread count).

>>> from fpe_theory import Problem
>>> mc_key(Problem(m=16, k=2, alpha=2), "random", r=2, trials=500, seed=1)[:12]
'6b83593b3ccd'
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from fpe_theory import Problem
from fpe_train.sweeps.store import ResultsStore
from reports.compute.frame import variant_table
from reports.compute.theory import SPLIT_FAMILY, prediction_cases
from simulations import simulate
from simulations.montecarlo import QUANTITIES, SimulationResult
from simulations.stats import Estimate

MC_HASH_VERSION = 1  # bump when the meaning of a stored result changes (kernels, estimators)


@dataclass(frozen=True)
class Case:
    """One Monte Carlo question: (m, k, alpha, family, r) at ``trials`` trials from ``seed``."""

    m: int
    k: int
    alpha: int
    family: str
    r: int
    trials: int
    seed: int

    def problem(self):
        return Problem(m=self.m, k=self.k, alpha=self.alpha)

    def fields(self) -> dict:
        return dict(
            m=self.m, k=self.k, alpha=self.alpha, family=self.family, r=self.r, trials=self.trials, seed=self.seed
        )


def mc_key(problem, family: str, r: int, trials: int, seed: int) -> str:
    """sha256 of the canonical JSON of the case (and ``MC_HASH_VERSION``); a permuted problem keys its permutation."""
    d = dict(
        m=problem.m,
        k=problem.k,
        alpha=problem.alpha,
        family=family,
        r=int(r),
        trials=int(trials),
        seed=int(seed),
        version=MC_HASH_VERSION,
    )
    if problem.permutation is not None:
        d["permutation"] = list(problem.permutation)
    return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def to_record(res) -> dict:
    """A ``SimulationResult`` as plain JSON types (every estimate, the histogram, threads and seconds)."""
    out = {q: list(_estimate_tuple(getattr(res, q))) for q in QUANTITIES}
    out.update(
        collision_histogram=list(res.collision_histogram),
        collision_bin_width=res.collision_bin_width,
        threads=res.threads,
        seconds=res.seconds,
    )
    return out


def from_record(problem, family: str, r: int, trials: int, seed: int, record: dict):
    """The ``SimulationResult`` that ``to_record`` stored (equal to the original: same fields, same floats)."""
    estimates = {q: Estimate(*(float(x) for x in record[q])) for q in QUANTITIES}
    return SimulationResult(
        problem=problem,
        family=family,
        r=r,
        trials=trials,
        seed=seed,
        **estimates,
        collision_histogram=tuple(record["collision_histogram"]),
        collision_bin_width=record["collision_bin_width"],
        threads=record["threads"],
        seconds=record["seconds"],
    )


def _estimate_tuple(e) -> tuple[float, float, float, float]:
    return (e.estimate, e.stderr, e.ci_low, e.ci_high)


def required_cases(preset, frame) -> list[Case]:
    """Every case the report of ``preset`` reads for this stored ``frame``, each once, in a fixed order."""
    cases = [Case(m, k, alpha, family, r, preset.mc_trials, preset.seed) for m, k, alpha, family, r in preset.mc_cases]
    vtable = variant_table(frame) if frame is not None and not frame.empty else None
    if vtable is not None:
        for clauses, k, r, alpha, variant in prediction_cases(vtable):
            m = clauses * k
            cases.append(Case(m, k, alpha, SPLIT_FAMILY[variant], r, preset.mc_trials, preset.seed))
    return list(dict.fromkeys(cases))


def run_monte_carlo(cases, store_path, progress: bool = False) -> int:
    """Simulate each case the store at ``store_path`` lacks and store it (one thread: the report's numbers).

    Cases undefined for their problem (e.g. structured_2_4 with alpha != 2) are left out. Returns the
    number of results simulated.
    """
    with ResultsStore(store_path) as store, store.lock():
        stored = store.monte_carlo()
        done = 0
        for case in cases:
            try:
                problem = case.problem()
                key = mc_key(problem, case.family, case.r, case.trials, case.seed)
                if key in stored:
                    continue
                res = simulate(problem, case.family, case.r, case.trials, case.seed, threads=1, progress=progress)
            except ValueError:
                continue
            store.put_monte_carlo(key, case.fields(), to_record(res), res.seconds)
            done += 1
    return done


class StoredMonteCarlo:
    """``simulate``'s signature, answered from a store's ``mc_results``: None for a case not stored.

    >>> import os, tempfile
    >>> from fpe_theory import Problem
    >>> path = os.path.join(tempfile.mkdtemp(), "r.db")
    >>> stored = StoredMonteCarlo(path)  # no store yet: nothing stored
    >>> stored(Problem(m=8, k=2, alpha=2), "random", r=1, trials=10, seed=0) is None
    True
    """

    def __init__(self, store_path) -> None:
        self.records: dict[str, dict] = {}
        if Path(store_path).exists():
            with ResultsStore(store_path, create=False, readonly=True) as store:
                self.records = store.monte_carlo()
        self.missing = 0  # questions asked that the store could not answer

    def __call__(self, problem, family: str, r: int, trials: int, seed: int, threads=None, **_ignored):
        record = self.records.get(mc_key(problem, family, r, trials, seed))
        if record is None:
            self.missing += 1
            return None
        return from_record(problem, family, r, trials, seed, record)
