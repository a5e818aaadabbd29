"""``fpe-theory report`` on bad input: one-line error, exit 2, nothing half-written left as if complete."""

import sqlite3

import pandas as pd
import pytest
from helpers import assert_one_line_error

import reports.build
from reports.render.latex import latex_engine


def _synthetic_store(path):
    """A tiny store written through ResultsStore's own API (rows shaped like the engine's)."""
    from fpe_train.engine.config import TrainConfig
    from fpe_train.engine.run import ROW_FIELDS
    from fpe_train.sweeps.store import ResultsStore, RunRecord, config_hash

    cfg = TrainConfig(clauses=4, k=2, r=2, alpha=2, splits=("random",), trials=2)
    with ResultsStore(path) as s:
        s.register("fig3a", "quick", [cfg])
        for t in range(2):
            rows = [
                {
                    **dict.fromkeys(ROW_FIELDS),
                    "trial": t,
                    "seed": 0,
                    "variant": v,
                    "test_accuracy": a,
                    "nonzero_params": 20,
                    "capacity": c,
                    "cosine": 0.2,
                    "device": "cpu",
                }
                for v, a, c in (("dense", 0.7 + t / 100, 2.0), ("random", 0.8, 3.0 + t))
            ]
            s.record(RunRecord(config_hash(cfg), t, "done", seed=0, metrics=rows))
    return path


def test_unknown_preset(invoke, tmp_path):
    res = invoke("report", "--preset", "huge", "--out", str(tmp_path / "o"), "--no-run")
    assert_one_line_error(res, "preset='huge'")
    assert res.stdout == ""


def test_missing_store_with_no_run(invoke, tmp_path):
    assert_one_line_error(invoke("report", "--out", str(tmp_path / "o"), "--no-run"), "no such results store")


def test_empty_store(invoke, tmp_path):
    from fpe_train.sweeps.store import ResultsStore

    ResultsStore(tmp_path / "empty.db").close()
    res = invoke("report", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "empty.db"), "--no-run")
    assert_one_line_error(res, "no finished result rows")
    assert not (tmp_path / "o" / "report.tex").exists()


def test_incompatible_store(invoke, tmp_path):
    bad = tmp_path / "other.db"
    con = sqlite3.connect(bad)
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    assert_one_line_error(invoke("report", "--out", str(tmp_path / "o"), "--store", str(bad), "--no-run"), "store=")
    (tmp_path / "junk.db").write_text("not a database at all, just text" * 10)
    assert_one_line_error(
        invoke("report", "--out", str(tmp_path / "o"), "--store", str(tmp_path / "junk.db"), "--no-run"), "store="
    )


def test_frame_without_columns_is_incompatible(invoke, tmp_path, monkeypatch):
    monkeypatch.setattr(reports.build, "load_frame", lambda path: pd.DataFrame({"x": [1]}))
    assert_one_line_error(invoke("report", "--out", str(tmp_path / "o"), "--no-run"), "incompatible")


def test_output_folder_not_writable(invoke, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(invoke("report", "--out", str(blocker / "sub"), "--no-run"), "out=", "cannot write")


@pytest.mark.skipif(latex_engine() is None, reason="no LaTeX engine (latexmk + pdflatex) installed")
def test_latex_error_shows_log_lines_and_leaves_no_stale_pdf(tiny_preset, invoke, tmp_path, monkeypatch):
    import reports.presets

    monkeypatch.setitem(reports.presets.PRESETS, "test", tiny_preset)
    store = _synthetic_store(tmp_path / "s.db")
    out = tmp_path / "o"
    out.mkdir()
    (out / "report.pdf").write_text("an old report")
    monkeypatch.setattr(
        reports.build,
        "render",
        lambda *a, **k: "\\documentclass{article}\\begin{document}\\undefinedmacroxyz\\end{document}\n",
    )
    res = invoke("report", "--preset", "test", "--out", str(out), "--store", str(store), "--no-run", "--no-progress")
    line = assert_one_line_error(res, "latex", alone=False)  # the LaTeX log's excerpt follows
    lines = [x for x in res.output.splitlines() if x.strip()]
    assert lines[0] == line
    assert any(line.strip().startswith("! Undefined control sequence") for line in lines[1:])
    assert len(lines) <= 1 + 16
    assert not (out / "report.pdf").exists()
    assert not (out / "report.tex").exists()  # the failed .tex is kept as report.failed.tex
    assert (out / "report.failed.log").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".report-build-")]
