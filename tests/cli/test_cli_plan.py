"""`sweep plan`, `sweep status` (remaining), `report --plan`, `report --json`, `report --from` through cli.main."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from helpers import assert_one_line_error

import reports.presets
from fpe_train.sweeps.sweep import find_sweep, load_sweep

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fpe_train" / "sweeps"))
from test_export import _configs, _store  # noqa: E402 - the synthetic two-sweep store


def test_sweep_plan_counts_match_a_plain_loop(invoke):
    code, out, _ = invoke("sweep", "plan", "fig3c", "table_a1_a2", "--size", "paper", "--no-eta", "--json")
    assert code == 0
    data = json.loads(out)
    for row, name in zip(data["sweeps"], ("fig3c", "table_a1_a2"), strict=True):
        configs = load_sweep(find_sweep(name), "paper").configs
        epochs = sum(c.trials * c.total_epochs + c.trials * len(c.splits) * c.epochs for c in configs)
        assert (row["sweep"], row["configs"], row["trials"]) == (name, len(configs), sum(c.trials for c in configs))
        assert row["model_epochs"] == epochs and row["flops"] > 0 and "eta_seconds" not in row
    assert data["total"]["trials"] == sum(r["trials"] for r in data["sweeps"])


def test_sweep_plan_table_with_eta(invoke):
    code, out, _ = invoke("sweep", "plan", "case_study", "--size", "quick", "--workers", "2")
    assert code == 0
    assert "ETA (2 workers)" in out and "calibration: cpu, 1 thread" in out and "case_study" in out
    assert "the ETA assumes: each of 2 workers" in out and "load average" in out


def test_sweep_plan_and_report_plan_give_the_same_figure_for_the_same_work(invoke):
    """One calibration per process: a sweep's ETA is the same from `sweep plan` and from `report --plan`
    (counted alone; the report also times only what earlier sweeps of the preset leave to train)."""
    quick = {c.name: c for c in reports.presets.get_preset("quick").sweeps}
    code, out, _ = invoke("report", "--preset", "quick", "--plan", "--json", "--workers", "2")
    assert code == 0
    report = {r["sweep"]: r for r in json.loads(out)["sweeps"]}
    for name in ("case_study", "fig3c"):
        assert not quick[name].keep and not quick[name].overrides  # the preset runs the sweep file as it is
        code, out, _ = invoke("sweep", "plan", name, "--size", "quick", "--json", "--workers", "2")
        assert code == 0
        (row,) = json.loads(out)["sweeps"]
        for key in ("configs", "trials", "batches", "model_epochs", "flops", "eta_seconds"):
            assert row[key] == report[name][key if key != "eta_seconds" else "eta_alone_seconds"], key
    assert report["case_study"]["eta_seconds"] == report["case_study"]["eta_alone_seconds"]  # first: trains all
    assert report["fig3c"]["eta_seconds"] <= report["fig3c"]["eta_alone_seconds"]


def test_sweep_plan_bad_input(invoke):
    assert_one_line_error(invoke("sweep", "plan", "no_such_sweep"), "sweep='no_such_sweep'")
    assert_one_line_error(invoke("sweep", "plan", "fig3c", "--size", "huge"), "size='huge'")
    assert_one_line_error(invoke("sweep", "plan", "fig3c", "--device", "tpu"), "--device")
    if not torch.cuda.is_available():
        assert_one_line_error(invoke("sweep", "plan", "fig3c", "--device", "cuda"), "device='cuda'", "no CUDA GPU")


def test_status_shows_the_remaining_estimate(invoke, tmp_path):
    _store(tmp_path / "s.db", partial=True)
    code, out, _ = invoke("sweep", "status", "--store", tmp_path / "s.db", "--json")
    assert code == 0
    left = {r["sweep"]: r["remaining_seconds"] for r in json.loads(out)["sweeps"]}
    assert left["fig3a"] == 0.0 and left["fig5_vision"] > 0
    code, out, _ = invoke("sweep", "status", "--store", tmp_path / "s.db")
    assert code == 0 and "remaining" in out.splitlines()[0]


def test_report_plan_json(invoke):
    code, out, _ = invoke("report", "--preset", "quick", "--plan", "--json")
    assert code == 0
    data = json.loads(out)
    names = [c.name for c in reports.presets.get_preset("quick").sweeps]
    assert data["preset"] == "quick" and [r["sweep"] for r in data["sweeps"]] == names
    assert data["total"]["eta_seconds"] > 0 and data["calibration"]["device"] == "cpu"


def test_report_from_an_export_equals_the_report_from_its_store(tiny_preset, invoke, tmp_path, monkeypatch):
    import reports.build
    from fpe_train.sweeps.export import export_store

    monkeypatch.setitem(reports.presets.PRESETS, "test", tiny_preset)
    monkeypatch.setattr(reports.build, "latex_engine", lambda: None)  # report.tex only: the PDF adds nothing here
    _store(tmp_path / "s.db", partial=True)
    export_store(tmp_path / "s.db", tmp_path / "e.csv.gz", meta={"preset": "test"})
    code, out, err = invoke(
        "report", "--from", tmp_path / "e.csv.gz", "--out", tmp_path / "a", "--json", "--no-progress"
    )
    assert code == 0, err
    did = json.loads(out)
    assert (did["trained"], did["preset"], did["source"]) == (0, "test", str(tmp_path / "e.csv.gz"))
    assert not (tmp_path / "a" / "results.db").exists()  # no store made
    tex = (tmp_path / "a" / "report.tex").read_text()
    assert "Incomplete sweeps" in tex and "fig5\\_vision:quick" in tex
    code, _, err = invoke(
        "report", "--preset", "test", "--store", tmp_path / "s.db", "--no-run", "--out", tmp_path / "b", "--no-progress"
    )
    assert code == 0, err
    shipped, stored = (pd.read_csv(tmp_path / x / "summary.csv") for x in ("a", "b"))
    pd.testing.assert_frame_equal(shipped, stored)


def test_report_from_refuses_another_schema_and_a_second_source(invoke, tmp_path):
    import gzip

    from fpe_train.sweeps.export import write_export

    write_export(pd.DataFrame({"trial": [0]}), tmp_path / "e.csv.gz", {})
    text = gzip.open(tmp_path / "e.csv.gz", "rt").read().replace("# schema_version=", "# schema_version=9")
    with gzip.open(tmp_path / "old.csv.gz", "wt") as f:
        f.write(text)
    assert_one_line_error(
        invoke("report", "--from", tmp_path / "old.csv.gz", "--out", tmp_path / "o"), "schema version"
    )
    assert_one_line_error(
        invoke("report", "--from", tmp_path / "none.csv.gz", "--out", tmp_path / "o"), "no such export"
    )
    assert_one_line_error(
        invoke("report", "--from", tmp_path / "e.csv.gz", "--store", tmp_path / "s.db", "--out", tmp_path / "o"),
        "builds from an export alone",
    )


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_report_plan_cuda_without_a_gpu(invoke):
    assert_one_line_error(invoke("report", "--preset", "quick", "--plan", "--device", "cuda"), "no CUDA GPU")


def test_report_export_then_from(tiny_preset, invoke, tmp_path, monkeypatch):
    """`report --export` ships the preset's rows with provenance; `report --from` reads them back."""
    import reports.build
    from fpe_train.sweeps.export import read_export
    from fpe_train.sweeps.sweep import Sweep

    a, b = _configs()
    sweeps = [Sweep("fig3a", "quick", (a,), ""), Sweep("fig5_vision", "quick", (b,), "")]
    monkeypatch.setitem(reports.presets.PRESETS, "test", tiny_preset)
    monkeypatch.setattr(reports.presets, "load_sweeps", lambda preset: sweeps)
    monkeypatch.setattr(reports.build, "latex_engine", lambda: None)
    _store(tmp_path / "s.db", partial=True)
    code, _, err = invoke(
        "report",
        "--preset",
        "test",
        "--store",
        tmp_path / "s.db",
        "--no-run",
        "--out",
        tmp_path / "a",
        "--export",
        tmp_path / "e.csv.gz",
        "--no-progress",
    )
    assert code == 0, err
    frame, meta = read_export(tmp_path / "e.csv.gz")
    assert len(frame) == 2 * 2 + 1 * 3 and meta["preset"] == "test" and float(meta["wall_seconds"]) > 0
    assert (meta["sweeps_complete"], meta["sweeps_incomplete"]) == ("fig3a:quick", "fig5_vision:quick")
    code, _, err = invoke("report", "--from", tmp_path / "e.csv.gz", "--out", tmp_path / "b", "--no-progress")
    assert code == 0, err
    assert "Incomplete sweeps" in (tmp_path / "b" / "report.tex").read_text()


def test_report_plan_adds_the_reports_own_time_where_the_preset_has_one(invoke):
    """The paper preset's ETA adds the report after training (its measured ``report_seconds``), said in a line
    of its own; the quick preset has none and adds nothing."""
    paper = reports.presets.get_preset("paper")
    code, out, _ = invoke("report", "--preset", "paper", "--plan", "--json", "--workers", "2")
    assert code == 0
    data = json.loads(out)
    assert data["report_seconds"] == paper.report_seconds > 0
    assert data["eta_with_report_seconds"] == pytest.approx(data["total"]["eta_seconds"] + paper.report_seconds)
    spread = data["calibration"]["spread"]  # the slower repeats' pace: the training and the report alike
    assert spread >= 1.0 and data["total"]["eta_slow_seconds"] == pytest.approx(data["total"]["eta_seconds"] * spread)
    assert data["eta_slow_with_report_seconds"] == pytest.approx(data["eta_with_report_seconds"] * spread)
    code, out, _ = invoke("report", "--preset", "paper", "--plan", "--workers", "2")
    assert code == 0 and "then the report (Monte Carlo, statistics, figures, PDF): about 36 s" in out
    code, out, _ = invoke("report", "--preset", "quick", "--plan", "--json")
    assert code == 0 and "report_seconds" not in json.loads(out)
