"""``fpe-theory claims``: the ledger from a real store, as text and JSON; bad input is one line, exit 2."""

import json

import numpy as np
from scipy import stats


def _store(path):
    from fpe_train.engine.config import TrainConfig
    from fpe_train.sweeps.store import ResultsStore, RunRecord

    rng = np.random.default_rng(1)
    dense = 0.8 + 0.01 * rng.standard_normal(6)
    random = dense + 0.08 + 0.01 * rng.standard_normal(6)
    config = TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("random",), trials=6, device="cpu")
    with ResultsStore(path) as s:
        (h,) = s.register("case_study", "quick", [config])
        for t in range(6):
            rows = [
                {"trial": t, "variant": v, "test_accuracy": float(a)}
                for v, a in (("dense", dense[t]), ("random", random[t]))
            ]
            s.record(RunRecord(h, t, "done", seed=t, metrics=rows))
    return dense, random


def test_claims_json_has_every_entry_and_the_recomputed_effect(invoke, tmp_path):
    dense, random = _store(tmp_path / "r.db")
    res = invoke(["claims", "--store", str(tmp_path / "r.db"), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    by_id = {c["id"]: c for c in out["claims"]}
    assert {"T1", "T2", "T3", "E1a", "E2a", "E3", "E4a", "E5", "E6a", "E7a", "E8", "E9"} <= set(by_id)
    e = by_id["E1a"]
    assert e["verdict"] == "supported"
    assert abs(e["effect"] - np.mean(random - dense)) < 1e-12
    assert abs(e["p"] - stats.ttest_rel(random, dense).pvalue) < 1e-12
    assert sum(out["counts"].values()) == len(out["claims"])
    assert by_id["E8"]["verdict"] == "undecided" and by_id["E8"]["p"] is None  # no data: null, not NaN


def test_claims_text_names_each_verdict(invoke, tmp_path):
    _store(tmp_path / "r.db")
    res = invoke(["claims", "--store", str(tmp_path / "r.db")])
    assert res.exit_code == 0, res.output
    assert "E1a  SUPPORTED" in res.output and "T1   CONTRADICTED" in res.output


def test_claims_missing_store_is_one_line(invoke, tmp_path):
    res = invoke(["claims", "--store", str(tmp_path / "none.db")])
    assert res.exit_code == 2
    assert res.output.strip().count("\n") == 0 and res.output.startswith("Error: store=")
    res = invoke(["claims", "--store", str(tmp_path / "none.db"), "--preset", "huge"])
    assert res.exit_code == 2 and "preset='huge'" in res.output
