"""``fpe-theory report --decide`` on a real store: exactly the planned trials are trained into exactly the chosen
configs, the plan is fixed once (a second run adds nothing), a claim over the budget is listed and not run, and
bad input is one line, exit 2, nothing written.

The situation is built by hand: a two-sweep preset of tiny Boolean configs whose stored rows leave the case
study (E1a) underpowered against the paper's difference, and the 2:4 claim (E7b) with an observed difference
beyond its equivalence margin (no n reaches 80 % power: undecidable at any budget).
"""

import gzip
import json
import sqlite3

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error

import reports.presets
from reports.presets import Preset, SweepChoice

TINY = "trials = 3\nepochs = 3\nwarmup_epochs = 3\nn_train = 256\nn_test = 128\nbatch_size = 64\ndevice = 'cpu'\n"
SWEEPS = {
    "case_study": "task = 'boolean'\nclauses = 4\nk = 2\nr = 4\nalpha = 2\nsplits = ['random']\n",
    "table_a5_2_4": "task = 'boolean'\nclauses = 4\nk = 2\nr = 4\nalpha = 2\nsplits = ['structured_2_4', 'random']\n",
}
CASE_DIFFS = (0.07, -0.08, 0.04)  # random - dense per stored trial: mean 1 pt, far from significant at n = 3
A5_DIFFS = (0.10, -0.05, 0.04)  # 2:4 - random: mean 3 pts, beyond the 1 pt equivalence margin
PAPER_DIFF = 0.887 - 0.787  # Sec. 3.1: random split 88.7 % vs dense 78.7 %


def _preset(root, name="decide-test"):
    return Preset(
        name=name,
        sweeps=(SweepChoice("case_study"), SweepChoice("table_a5_2_4")),
        mc_trials=100,
        grid_m=(8,),
        grid_k=(2,),
        grid_alpha=(2,),
        mc_cases=((8, 2, 2, "random", 1),),
        r_min_problems=((8, 2, 2),),
        root=str(root),
    )


def _write_sweeps(root):
    root.mkdir(parents=True, exist_ok=True)
    for name, base in SWEEPS.items():
        (root / f"{name}.toml").write_text(f"[sweep]\nname = '{name}'\n[base]\n{base}{TINY}")


def _hand_built_store(path, preset):
    """The preset's configs registered, 3 trials each recorded with the given paired differences."""
    from fpe_train.engine.run import ROW_FIELDS
    from fpe_train.sweeps.store import ResultsStore, RunRecord, config_hash

    arms = {"case_study": (("dense", 0.0), ("random", 1.0)), "table_a5_2_4": (("random", 0.0), ("structured_2_4", 1.0))}
    diffs = {"case_study": CASE_DIFFS, "table_a5_2_4": A5_DIFFS}
    with ResultsStore(path) as s:
        for sweep in reports.presets.load_sweeps(preset):
            s.register(sweep.name, sweep.size, sweep.configs, sweep.path)
            (c,) = sweep.configs
            for t, d in enumerate(diffs[sweep.name]):
                base = 0.70 + 0.01 * t
                rows = [
                    {
                        **dict.fromkeys(ROW_FIELDS),
                        "trial": t,
                        "seed": c.seed,
                        "variant": v,
                        "device": "cpu",
                        "test_accuracy": base + w * d,
                    }
                    for v, w in arms[sweep.name]
                ]
                if sweep.name == "table_a5_2_4":  # the dense arm too, as the engine stores it
                    rows.append({**rows[0], "variant": "dense", "test_accuracy": base - 0.05})
                s.record(RunRecord(config_hash(c), t, "done", seed=t, metrics=rows, seconds=0.5))
    return {s.name: config_hash(s.configs[0]) for s in reports.presets.load_sweeps(preset)}


def _counts(path) -> dict[str, int]:
    """Finished trials per config hash, read with sqlite3 alone (not through the toolkit)."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT config_hash, COUNT(*) FROM runs WHERE status = 'done' GROUP BY config_hash"))
    finally:
        con.close()


def _trials(path, h) -> list[int]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return sorted(t for (t,) in con.execute("SELECT trial FROM runs WHERE config_hash = ?", (h,)))
    finally:
        con.close()


def _diffs(path, h) -> list[float]:
    """random - dense test accuracy per stored trial of config ``h``, from the raw metrics JSON."""
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = con.execute("SELECT metrics FROM runs WHERE config_hash = ? ORDER BY trial", (h,)).fetchall()
    finally:
        con.close()
    acc = [{r["variant"]: r["test_accuracy"] for r in json.loads(m)} for (m,) in rows]
    return [a["random"] - a["dense"] for a in acc]


def _needed_by_loop(diffs, effect) -> int:
    """Smallest n with 80 % power of the two-sided paired t-test at alpha 0.05 (statsmodels, plain loop)."""
    from statsmodels.stats.power import TTestPower

    dz = effect / np.std(diffs, ddof=1)
    return next(n for n in range(2, 10_001) if TTestPower().power(dz, nobs=n, alpha=0.05) >= 0.8)


@pytest.fixture(scope="module")
def situation(tmp_path_factory, invoke):
    """The hand-built store, its counts, and one ``--decide`` run over it (no LaTeX on PATH: report.tex only)."""
    tmp = tmp_path_factory.mktemp("decide")
    _write_sweeps(tmp / "sweeps")
    preset = _preset(tmp / "sweeps")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(reports.presets.PRESETS, preset.name, preset)
        mp.setenv("PATH", str(tmp / "empty"))
        store, out = tmp / "results.db", tmp / "out"
        hashes = _hand_built_store(store, preset)
        before = _counts(store)
        args = ("--preset", preset.name, "--store", store, "--out", out, "--decide", "--workers", 1, "--no-progress")
        first = invoke("report", *args)
        after = _counts(store)
        yield dict(
            preset=preset,
            store=store,
            out=out,
            hashes=hashes,
            before=before,
            after=after,
            first=first,
            args=args,
            mp=mp,
        )


def test_decide_trains_exactly_the_planned_trials_into_the_chosen_config(situation):
    res, store, h = situation["first"], situation["store"], situation["hashes"]
    assert res.exit_code == 0, res.output
    plan = json.loads((situation["out"] / "decide_plan.json").read_text())
    (e1a,) = [p for p in plan["claims"] if p["id"] == "E1a"]
    want = _needed_by_loop(CASE_DIFFS, PAPER_DIFF)  # independent of the toolkit's power solver
    assert want > len(CASE_DIFFS)
    assert (e1a["status"], e1a["trials_per_config"], e1a["configs"]) == ("planned", want, 1)
    assert [tuple(t) for t in e1a["targets"]] == [("case_study", h["case_study"], want)]
    before, after = situation["before"], situation["after"]
    assert before == {h["case_study"]: 3, h["table_a5_2_4"]: 3}
    # the plan's own numbers and the store's count agree: only the chosen config grew, by the planned trials
    assert after == {h["case_study"]: want, h["table_a5_2_4"]: 3}
    assert after[h["case_study"]] - before[h["case_study"]] == e1a["extra_trials"]
    assert _trials(store, h["case_study"]) == list(range(want))
    assert "E1a" in res.output and "decided by:" in res.output
    assert f"decide: 1 configs to their planned trials: trained {want - 3}, 3 already stored" in res.output
    assert (situation["out"] / "report.tex").exists()  # the report rebuilt from the store


def test_a_claim_over_the_budget_is_listed_and_not_run(situation):
    res, h = situation["first"], situation["hashes"]
    plan = json.loads((situation["out"] / "decide_plan.json").read_text())
    (e7b,) = [p for p in plan["claims"] if p["id"] == "E7b"]
    assert e7b["status"].startswith("undecidable at this budget") and not e7b["targets"]
    assert e7b["n_needed"] is None  # no n up to the budget (the observed difference is beyond the margin)
    assert "E7b" in res.output and "undecidable at this budget" in res.output
    assert situation["after"][h["table_a5_2_4"]] == situation["before"][h["table_a5_2_4"]] == 3


def test_a_second_run_reuses_the_fixed_plan_and_adds_nothing(situation, invoke):
    plan_file = situation["out"] / "decide_plan.json"
    text = plan_file.read_text()
    export = situation["out"] / "rows.csv.gz"
    res = invoke("report", *situation["args"], "--json", "--export", export)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["decide"]["plan_reused"] and data["decide"]["trained"] == 0
    assert data["decide"]["already_stored"] == situation["after"][situation["hashes"]["case_study"]]
    with gzip.open(export, "rt") as f:  # the export carries every stored trial and says where the plan came from
        head = [line for line in f if line.startswith("# decide_plan=")]
    assert head == [
        f"# decide_plan=fixed {json.loads(text)['planned_at']} from 6 stored trials; planned E1a in 1 configs\n"
    ]
    rows = pd.read_csv(export, comment="#")
    case = rows[rows["config_hash"] == situation["hashes"]["case_study"]]
    assert case["trial"].nunique() == situation["after"][situation["hashes"]["case_study"]]
    assert _counts(situation["store"]) == situation["after"]
    assert plan_file.read_text() == text  # not planned again from rows that include the new trials
    res = invoke("report", *situation["args"])
    assert res.exit_code == 0 and f"plan read from {plan_file}" in res.output


def test_an_interrupted_run_continues_to_the_fixed_targets(situation, tmp_path, invoke):
    """The plan file written, the store holding only part of the planned trials (as after a kill): a rerun
    trains the rest, up to the plan's targets, not to a plan made from the rows it now holds."""
    import shutil

    from fpe_train.sweeps.store import ResultsStore, RunRecord

    h = situation["hashes"]["case_study"]
    store, out = tmp_path / "results.db", tmp_path / "out"
    _hand_built_store(store, situation["preset"])
    con = sqlite3.connect(f"file:{situation['store']}?mode=ro", uri=True)
    (metrics,) = con.execute("SELECT metrics FROM runs WHERE config_hash = ? AND trial = 3", (h,)).fetchone()
    con.close()
    with ResultsStore(store, create=False) as s:  # one trained trial of the first run copied over
        s.record(RunRecord(h, 3, "done", seed=3, metrics=json.loads(metrics), seconds=0.5))
    out.mkdir()
    plan = json.loads((situation["out"] / "decide_plan.json").read_text())
    plan["store"] = str(store.resolve())
    (out / "decide_plan.json").write_text(json.dumps(plan))
    want = _needed_by_loop(CASE_DIFFS, PAPER_DIFF)
    assert _needed_by_loop(_diffs(store, h), PAPER_DIFF) != want  # planning again now would ask another n
    res = invoke(
        "report",
        "--preset",
        situation["preset"].name,
        "--store",
        store,
        "--out",
        out,
        "--decide",
        "--workers",
        1,
        "--no-progress",
    )
    assert res.exit_code == 0, res.output
    assert f"trained {want - 4}, 4 already stored" in res.output
    assert _counts(store)[h] == want and _trials(store, h) == list(range(want))
    shutil.rmtree(out)


def test_decide_with_from_or_no_run_or_plan_is_one_line(situation, tmp_path, invoke):
    out = tmp_path / "o"
    store = situation["store"]
    size = store.stat().st_size
    assert_one_line_error(
        invoke("report", "--decide", "--from", tmp_path / "x.csv.gz", "--out", out), "--from", "export", quiet=True
    )
    assert_one_line_error(
        invoke("report", "--decide", "--no-run", "--store", store, "--out", out), "--no-run", quiet=True
    )
    assert_one_line_error(invoke("report", "--decide", "--plan", "--store", store, "--out", out), "--plan", quiet=True)
    assert not out.exists() and store.stat().st_size == size


def test_decide_on_a_store_without_the_presets_sweeps_is_one_line(situation, tmp_path, invoke):
    from fpe_train.sweeps.store import ResultsStore

    out, name = tmp_path / "o", situation["preset"].name
    assert_one_line_error(
        invoke("report", "--preset", name, "--decide", "--out", out), "results.db", "no such results store", quiet=True
    )
    ResultsStore(tmp_path / "empty.db").close()
    assert_one_line_error(
        invoke("report", "--preset", name, "--decide", "--store", tmp_path / "empty.db", "--out", out),
        "empty.db",
        "case_study (quick)",
        "table_a5_2_4 (quick)",
        quiet=True,
    )
    with gzip.open(tmp_path / "rows.csv.gz", "wt") as f:  # an export where a store belongs
        f.write("# format=fpe-theory results\n")
    assert_one_line_error(
        invoke("report", "--preset", name, "--decide", "--store", tmp_path / "rows.csv.gz", "--out", out),
        "rows.csv.gz",
        "results export",
        quiet=True,
    )
    # the same store, asked for another preset (whose sweeps it never ran)
    assert_one_line_error(
        invoke("report", "--preset", "quick", "--decide", "--store", situation["store"], "--out", out),
        "results.db",
        "fig3a (quick)",
        quiet=True,
    )
    assert not out.exists()


def test_a_plan_file_made_for_another_store_is_one_line_and_nothing_is_trained(situation, tmp_path, invoke):
    out, other = tmp_path / "o", tmp_path / "other.db"
    hashes = _hand_built_store(other, situation["preset"])
    out.mkdir()
    (out / "decide_plan.json").write_text((situation["out"] / "decide_plan.json").read_text())
    res = invoke("report", "--preset", situation["preset"].name, "--decide", "--store", other, "--out", out)
    assert_one_line_error(res, "decide_plan.json", "planned for store", quiet=True)
    assert _counts(other) == {h: 3 for h in hashes.values()}
    (out / "decide_plan.json").write_text("{not json")
    res = invoke("report", "--preset", situation["preset"].name, "--decide", "--store", other, "--out", out)
    assert_one_line_error(res, "decide_plan.json", "not a readable decide plan", quiet=True)
    assert sorted(p.name for p in out.iterdir()) == ["decide_plan.json"]
