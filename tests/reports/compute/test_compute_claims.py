"""The verdict rule on real SQLite stores of constructed rows, and the theory entries from exact numbers."""

import dataclasses
import math

import numpy as np
import pytest
from scipy import stats as ss
from statsmodels.stats.multitest import multipletests

from reports.compute import claims


@pytest.fixture(scope="module")
def preset(tiny_preset):
    """The tiny preset with the theory grid the T claims are decided on (k = 2 and 4, m up to 64)."""
    return dataclasses.replace(
        tiny_preset, grid_m=(8, 16, 32, 64), grid_k=(2, 4), r_min_problems=((8, 2, 2), (16, 4, 2))
    )


def _store(path, dense, random, clause=None, sweep="case_study"):
    """A real results store holding one 8-clause, 8-neuron, alpha=2 config with the given accuracies per trial."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.sweeps.store import ResultsStore, RunRecord

    config = TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("clause", "random"), trials=len(dense), device="cpu")
    with ResultsStore(path) as s:
        (h,) = s.register(sweep, "quick", [config])
        for t in range(len(dense)):
            accs = {"dense": dense[t], "random": random[t]} | ({"clause": clause[t]} if clause is not None else {})
            rows = [{"trial": t, "variant": v, "test_accuracy": float(a)} for v, a in accs.items()]
            s.record(RunRecord(h, t, "done", seed=t, metrics=rows))
        return s.frame()


def _e1a(preset, tmp_path, dense, random, clause=None):
    frame = _store(tmp_path / "r.db", dense, random, clause)
    ledger = claims.ledger(frame, preset, seed=0)
    return {c.id: c for c in ledger}, frame


rng = np.random.default_rng(0)
DENSE10 = 0.80 + 0.01 * rng.standard_normal(10)


def test_supported(preset, tmp_path):
    random = DENSE10 + 0.10 + 0.01 * rng.standard_normal(10)
    got, _ = _e1a(preset, tmp_path, DENSE10, random)
    e = got["E1a"]
    d = random - DENSE10
    assert e.verdict == "supported"
    assert e.effect == pytest.approx(d.mean()) and e.n == 10
    assert e.p == pytest.approx(ss.ttest_rel(random, DENSE10).pvalue)


def test_contradicted(preset, tmp_path):
    random = DENSE10 - 0.10 + 0.01 * rng.standard_normal(10)
    got, _ = _e1a(preset, tmp_path, DENSE10, random)
    assert got["E1a"].verdict == "contradicted" and got["E1a"].effect < 0


def test_not_supported(preset, tmp_path):
    # no effect, small spread: 10 trials give ~100 % power for the paper's 10-point gain
    random = DENSE10 + 0.003 * np.array([1, -1] * 5)
    got, _ = _e1a(preset, tmp_path, DENSE10, random)
    e = got["E1a"]
    assert e.p_adj >= 0.05 and e.power >= 0.8
    assert e.verdict == "not supported"


def test_undecided_says_how_many(preset, tmp_path):
    dense = [0.80, 0.75, 0.85]
    random = [0.95, 0.60, 0.90]  # mean +1.7 points, spread 15 points
    got, _ = _e1a(preset, tmp_path, dense, random)
    e = got["E1a"]
    assert e.verdict == "undecided" and e.power < 0.8
    assert f"needs {int(e.n_needed)}" in e.sentence and e.n_needed > 3


def test_holm_over_the_ledger_family(preset, tmp_path):
    random = DENSE10 + 0.05 + 0.03 * rng.standard_normal(10)
    clause = DENSE10 + 0.02 + 0.03 * rng.standard_normal(10)
    got, _ = _e1a(preset, tmp_path, DENSE10, random, clause)
    # the family: E1a, E1b and E3 (clause - random within trial, the same store); no other entry has data
    raw = [ss.ttest_rel(random, DENSE10).pvalue, ss.ttest_rel(clause, DENSE10).pvalue,
           ss.ttest_rel(clause, random).pvalue]  # fmt: skip
    adj = multipletests(raw, method="holm")[1]
    assert [got[i].p_adj for i in ("E1a", "E1b", "E3")] == pytest.approx(adj)
    assert got["E3"].effect == pytest.approx(np.mean(clause - random))
    assert [i for i, c in got.items() if np.isfinite(c.p_adj)] == ["E1a", "E1b", "E3"]


def test_best_of_five_in_the_sentence(preset, tmp_path):
    random = DENSE10 + 0.10
    got, _ = _e1a(preset, tmp_path, DENSE10, random)
    x = np.sort(random)
    best = sum(x[i - 1] * math.comb(i - 1, 4) for i in range(5, 11)) / math.comb(10, 5)
    assert f"best-of-5 {100 * best:.1f}" in got["E1a"].sentence


def test_missing_sweeps_are_undecided_with_a_reason(preset, tmp_path):
    got, _ = _e1a(preset, tmp_path, DENSE10, DENSE10 + 0.1)
    assert got["E8"].verdict == "undecided" and "No data" in got["E8"].sentence
    assert all(c.verdict in claims.VERDICTS for c in got.values())


def test_verdict_rule_table():
    assert claims.verdict(0.01, 0.1, 1, math.nan) == "supported"
    assert claims.verdict(0.01, -0.1, 1, math.nan) == "contradicted"
    assert claims.verdict(0.01, -0.1, -1, 0.1) == "supported"
    assert claims.verdict(0.2, 0.1, 1, 0.85) == "not supported"
    assert claims.verdict(0.2, 0.1, 1, 0.5) == "undecided"
    assert claims.equivalence_verdict(0.5, (-0.004, 0.006)) == "supported"
    assert claims.equivalence_verdict(0.01, (0.001, 0.02)) == "contradicted"
    assert claims.equivalence_verdict(0.5, (-0.03, 0.02)) == "undecided"


def test_theory_entries_from_exact_numbers(preset):
    from fractions import Fraction
    from math import comb

    t1, t2, t3 = claims.theory_claims(preset)
    # independent reference for T1's worst point: p = C(m-k, d-k) / C(m, d) vs alpha^-k over the grid (d >= k)
    worst = min(
        (Fraction(comb(m - k, m // 2 - k), comb(m, m // 2)) * 2**k for m in (8, 16, 32, 64) for k in (2, 4)
         if m // 2 >= k),
        key=lambda r: -abs(r - 1),
    )  # fmt: skip
    assert t1.effect == pytest.approx(float(worst))
    assert t1.verdict == "contradicted" and t1.kind == "theory"
    assert t2.verdict in ("supported", "contradicted") and "worst at" in t2.sentence
    assert t3.kind == "theory" and 0 <= t3.effect <= 1


def test_trend_and_controls_entries(preset, tmp_path):
    """E2c: RI falling with r (cluster-robust slope < 0); E8: FPE beats both controls, p = the larger p."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.sweeps.store import ResultsStore, RunRecord

    rng = np.random.default_rng(5)
    ctrl = {}
    with ResultsStore(tmp_path / "r.db") as s:
        for r in (4, 8, 16, 32):
            cfg = TrainConfig(clauses=8, k=4, r=r, alpha=2, splits=("random", "overlap", "dropconnect"), trials=6)
            (h,) = s.register("fig3a", "quick", [cfg])
            for t in range(6):
                dense = 0.7 + 0.01 * rng.standard_normal()
                acc = {"dense": dense, "random": dense * (1 + 0.4 / r + 0.005 * rng.standard_normal()),
                       "overlap": dense + 0.01 * rng.standard_normal(), "dropconnect": dense - 0.05}  # fmt: skip
                ctrl[(r, t)] = acc
                rows = [{"trial": t, "variant": v, "test_accuracy": a} for v, a in acc.items()]
                s.record(RunRecord(h, t, "done", seed=t, metrics=rows))
        frame = s.frame()
    got = {c.id: c for c in claims.ledger(frame, preset)}
    assert got["E2c"].verdict == "supported" and got["E2c"].effect < 0 and got["E2c"].kind == "regression"
    p_ov = ss.ttest_rel([a["random"] for a in ctrl.values()], [a["overlap"] for a in ctrl.values()]).pvalue
    p_dc = ss.ttest_rel([a["random"] for a in ctrl.values()], [a["dropconnect"] for a in ctrl.values()]).pvalue
    assert got["E8"].p == pytest.approx(max(p_ov, p_dc))
    assert got["E8"].verdict == "supported"
