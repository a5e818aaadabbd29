"""``fpe-theory claims`` on a real store and on a real export: four axes, JSON in the unit it names,
Markdown, the plan; a store given as an export (and the reverse) is one line, exit 2."""

import json

import numpy as np
from scipy import stats


def _store(path, trials=6, gap=0.08, noise=0.01):
    from fpe_train.engine.config import TrainConfig
    from fpe_train.sweeps.store import ResultsStore, RunRecord

    rng = np.random.default_rng(1)
    dense = 0.8 + 0.01 * rng.standard_normal(trials)
    random = dense + gap + noise * rng.standard_normal(trials)
    config = TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("random",), trials=trials, device="cpu")
    with ResultsStore(path) as s:
        (h,) = s.register("case_study", "quick", [config])
        for t in range(trials):
            rows = [
                {"trial": t, "variant": v, "test_accuracy": float(a)}
                for v, a in (("dense", dense[t]), ("random", random[t]))
            ]
            s.record(RunRecord(h, t, "done", seed=t, metrics=rows))
    return dense, random


def _export(tmp_path):
    from fpe_train.sweeps.export import export_store

    dense, random = _store(tmp_path / "r.db")
    export_store(tmp_path / "r.db", tmp_path / "r.csv.gz", meta={"preset": "quick"})
    return dense, random


def test_claims_from_an_export_json_effects_in_points(invoke, tmp_path):
    dense, random = _export(tmp_path)
    res = invoke("claims", "--from", tmp_path / "r.csv.gz", "--json")
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    by_id = {c["id"]: c for c in out["claims"]}
    assert {"T1", "T2", "T3", "E1a", "E2a", "E3", "E5a", "E6a", "E7b", "E9"} <= set(by_id)
    assert {c["id"] for c in out["beyond_paper"]} >= {"B1", "B2"}
    e = by_id["E1a"]
    assert e["unit"] == "pts" and e["direction"] == "supported"
    assert abs(e["effect"] - 100 * np.mean(random - dense)) < 1e-9  # points, not a fraction
    assert abs(e["p"] - stats.ttest_rel(random, dense).pvalue) < 1e-12
    lo, hi = e["ci"]
    assert lo < e["effect"] < hi and e["ci_level"] >= 0.95
    assert e["quote"].startswith("our initial dense model achieves a test accuracy of 78.7%")
    assert sum(out["counts"].values()) == len(out["claims"])
    assert by_id["E2a"]["p"] is None and by_id["E2a"]["direction"] == "undecided"  # no data: null


def test_claims_store_and_export_read_the_same(invoke, tmp_path):
    _export(tmp_path)
    a = json.loads(invoke("claims", "--from", tmp_path / "r.csv.gz", "--json").output)
    b = json.loads(invoke("claims", "--store", tmp_path / "r.db", "--json").output)
    assert a["claims"] == b["claims"]


def test_claims_markdown_is_a_github_table(invoke, tmp_path):
    _store(tmp_path / "r.db")
    res = invoke("claims", "--store", tmp_path / "r.db", "--format", "md")
    assert res.exit_code == 0, res.output
    assert "| id | claim (source) | direction | size | scope | robustness |" in res.output
    assert "| E1a | case study: random split beats dense (Sec. 3.1) | **supported** |" in res.output


def test_claims_plan_names_what_decides_each_open_claim(invoke, tmp_path):
    _store(tmp_path / "r.db", trials=3, gap=0.0, noise=0.1)  # the case study underpowered: undecided
    res = invoke("claims", "--store", tmp_path / "r.db", "--plan", "--json")
    assert res.exit_code == 0, res.output
    plan = {p["id"]: p for p in json.loads(res.output)["plan"]}
    assert all(p["comparison"] for p in plan.values())
    assert plan["E1a"]["status"] == "planned" and plan["E1a"]["trials_per_config"] > 3
    text = invoke("claims", "--store", tmp_path / "r.db", "--plan")  # as text, with the ETA from the rows' own times
    assert text.exit_code == 0, text.output
    assert "decided by:" in text.output


def test_a_store_given_as_an_export_and_the_reverse_are_one_line(invoke, tmp_path):
    _export(tmp_path)
    res = invoke("claims", "--store", tmp_path / "r.csv.gz")
    assert res.exit_code == 2 and res.output.count("\n") == 1
    assert "is a results export, not a store: use --from" in res.output
    res = invoke("claims", "--from", tmp_path / "r.db")
    assert res.exit_code == 2 and "use --store" in res.output
    res = invoke("claims")
    assert res.exit_code == 2 and "exactly one of --store" in res.output
    res = invoke("claims", "--store", tmp_path / "none.db")
    assert res.exit_code == 2 and res.output.startswith("Error: store=")
    res = invoke("claims", "--store", tmp_path / "none.db", "--preset", "huge")
    assert res.exit_code == 2 and "preset='huge'" in res.output
