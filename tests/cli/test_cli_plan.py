"""`sweep plan`, `sweep status` (remaining), `report --plan`, `report --json`, `report --from` through cli.main."""

import json
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import cli
import reports.presets
from fpe_train.sweeps.sweep import find_sweep, load_sweep
from reports.presets import Preset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fpe_train" / "sweeps"))
from test_export import _configs, _store  # noqa: E402 - the synthetic two-sweep store

TINY = Preset(name="test", sweeps=(), mc_trials=200, grid_m=(8,), grid_k=(2,), grid_alpha=(2,),
              mc_cases=((8, 2, 2, "random", 1),), r_min_problems=((8, 2, 2),))  # fmt: skip


def invoke(*args):
    res = CliRunner().invoke(cli.main, [str(a) for a in args])
    return res.exit_code, res.stdout, res.stderr


def one_line_error(code, out, err, *needles):
    assert code == 2, (out, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("Error: "), err
    for n in needles:
        assert n in lines[0]


def test_sweep_plan_counts_match_a_plain_loop():
    code, out, _ = invoke("sweep", "plan", "fig3c", "table_a1_a2", "--size", "paper", "--no-eta", "--json")
    assert code == 0
    data = json.loads(out)
    for row, name in zip(data["sweeps"], ("fig3c", "table_a1_a2"), strict=True):
        configs = load_sweep(find_sweep(name), "paper").configs
        epochs = sum(c.trials * c.total_epochs + c.trials * len(c.splits) * c.epochs for c in configs)
        assert (row["sweep"], row["configs"], row["trials"]) == (name, len(configs), sum(c.trials for c in configs))
        assert row["model_epochs"] == epochs and row["flops"] > 0 and "eta_seconds" not in row
    assert data["total"]["trials"] == sum(r["trials"] for r in data["sweeps"])


def test_sweep_plan_table_with_eta():
    code, out, _ = invoke("sweep", "plan", "case_study", "--size", "quick", "--workers", "2")
    assert code == 0
    assert "ETA (2 workers)" in out and "calibration: cpu, 1 thread" in out and "case_study" in out


def test_sweep_plan_bad_input():
    one_line_error(*invoke("sweep", "plan", "no_such_sweep"), "sweep='no_such_sweep'")
    one_line_error(*invoke("sweep", "plan", "fig3c", "--size", "huge"), "size='huge'")
    one_line_error(*invoke("sweep", "plan", "fig3c", "--device", "tpu"), "--device")
    if not torch.cuda.is_available():
        one_line_error(*invoke("sweep", "plan", "fig3c", "--device", "cuda"), "device='cuda'", "no CUDA GPU")


def test_status_shows_the_remaining_estimate(tmp_path):
    _store(tmp_path / "s.db", partial=True)
    code, out, _ = invoke("sweep", "status", "--store", tmp_path / "s.db", "--json")
    assert code == 0
    left = {r["sweep"]: r["remaining_seconds"] for r in json.loads(out)["sweeps"]}
    assert left["fig3a"] == 0.0 and left["fig5_vision"] > 0
    code, out, _ = invoke("sweep", "status", "--store", tmp_path / "s.db")
    assert code == 0 and "remaining" in out.splitlines()[0]


def test_report_plan_json():
    code, out, _ = invoke("report", "--preset", "quick", "--plan", "--json")
    assert code == 0
    data = json.loads(out)
    names = [c.name for c in reports.presets.get_preset("quick").sweeps]
    assert data["preset"] == "quick" and [r["sweep"] for r in data["sweeps"]] == names
    assert data["total"]["eta_seconds"] > 0 and data["calibration"]["device"] == "cpu"


def test_report_from_an_export_equals_the_report_from_its_store(tmp_path, monkeypatch):
    import reports.build
    from fpe_train.sweeps.export import export_store

    monkeypatch.setitem(reports.presets.PRESETS, "test", TINY)
    monkeypatch.setattr(reports.build, "latex_engine", lambda: None)  # report.tex only: the PDF adds nothing here
    _store(tmp_path / "s.db", partial=True)
    export_store(tmp_path / "s.db", tmp_path / "e.csv.gz", meta={"preset": "test"})
    code, out, err = invoke("report", "--from", tmp_path / "e.csv.gz", "--out", tmp_path / "a", "--json",
                            "--no-progress")  # fmt: skip
    assert code == 0, err
    did = json.loads(out)
    assert (did["trained"], did["preset"], did["source"]) == (0, "test", str(tmp_path / "e.csv.gz"))
    assert not (tmp_path / "a" / "results.db").exists()  # no store made
    tex = (tmp_path / "a" / "report.tex").read_text()
    assert "Incomplete sweeps" in tex and "fig5\\_vision:quick" in tex
    code, _, err = invoke("report", "--preset", "test", "--store", tmp_path / "s.db", "--no-run", "--out",
                          tmp_path / "b", "--no-progress")  # fmt: skip
    assert code == 0, err
    shipped, stored = (pd.read_csv(tmp_path / x / "summary.csv") for x in ("a", "b"))
    pd.testing.assert_frame_equal(shipped, stored)


def test_report_from_refuses_another_schema_and_a_second_source(tmp_path):
    import gzip

    from fpe_train.sweeps.export import write_export

    write_export(pd.DataFrame({"trial": [0]}), tmp_path / "e.csv.gz", {})
    text = gzip.open(tmp_path / "e.csv.gz", "rt").read().replace("# schema_version=", "# schema_version=9")
    with gzip.open(tmp_path / "old.csv.gz", "wt") as f:
        f.write(text)
    one_line_error(*invoke("report", "--from", tmp_path / "old.csv.gz", "--out", tmp_path / "o"), "schema version")
    one_line_error(*invoke("report", "--from", tmp_path / "none.csv.gz", "--out", tmp_path / "o"), "no such export")
    one_line_error(*invoke("report", "--from", tmp_path / "e.csv.gz", "--store", tmp_path / "s.db", "--out",
                           tmp_path / "o"), "builds from an export alone")  # fmt: skip


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here")
def test_report_plan_cuda_without_a_gpu():
    one_line_error(*invoke("report", "--preset", "quick", "--plan", "--device", "cuda"), "no CUDA GPU")


def test_report_export_then_from(tmp_path, monkeypatch):
    """`report --export` ships the preset's rows with provenance; `report --from` reads them back."""
    import reports.build
    from fpe_train.sweeps.export import read_export
    from fpe_train.sweeps.sweep import Sweep

    a, b = _configs()
    sweeps = [Sweep("fig3a", "quick", (a,), ""), Sweep("fig5_vision", "quick", (b,), "")]
    monkeypatch.setitem(reports.presets.PRESETS, "test", TINY)
    monkeypatch.setattr(reports.presets, "load_sweeps", lambda preset: sweeps)
    monkeypatch.setattr(reports.build, "latex_engine", lambda: None)
    _store(tmp_path / "s.db", partial=True)
    code, _, err = invoke("report", "--preset", "test", "--store", tmp_path / "s.db", "--no-run", "--out",
                          tmp_path / "a", "--export", tmp_path / "e.csv.gz", "--no-progress")  # fmt: skip
    assert code == 0, err
    frame, meta = read_export(tmp_path / "e.csv.gz")
    assert len(frame) == 2 * 2 + 1 * 3 and meta["preset"] == "test" and float(meta["wall_seconds"]) > 0
    assert (meta["sweeps_complete"], meta["sweeps_incomplete"]) == ("fig3a:quick", "fig5_vision:quick")
    code, _, err = invoke("report", "--from", tmp_path / "e.csv.gz", "--out", tmp_path / "b", "--no-progress")
    assert code == 0, err
    assert "Incomplete sweeps" in (tmp_path / "b" / "report.tex").read_text()
