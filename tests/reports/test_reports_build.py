"""The report end to end from a small real store (real ResultsStore, real tiny training runs).

Expected numbers are recomputed here from the store's rows with numpy and looked for, as
formatted, in the PDF's text (pdftotext) or, without TeX, in report.tex.
"""

import re
import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from reports.build import build_report
from reports.render.latex import latex_engine

HAVE_PDF = latex_engine() is not None and shutil.which("pdftotext") is not None


def _configs(tiny_train):
    from fpe_train.engine.config import TrainConfig

    tiny = {**tiny_train, "trials": 3, "epochs": 3, "warmup_epochs": 3}  # three trials: t-intervals and Holm
    return {
        "case_study": [TrainConfig(clauses=8, k=4, r=8, alpha=2, splits=("clause", "random"), **tiny)],
        "fig3a": [TrainConfig(clauses=4, k=2, r=n, alpha=2, splits=("clause", "random"), **tiny) for n in (2, 4)],
        "fig5_vision": [TrainConfig(task="digits", r=4, alpha=2, splits=("random",), **tiny)],
    }


@pytest.fixture(scope="module")
def store(tiny_train, tmp_path_factory):
    from fpe_train.sweeps.store import ResultsStore
    from fpe_train.sweeps.sweep import Sweep, run_sweep

    path = tmp_path_factory.mktemp("store") / "results.db"
    with ResultsStore(path) as s:
        for name, configs in _configs(tiny_train).items():
            run_sweep(Sweep(name, "quick", tuple(configs), path=""), s, executor="serial", progress=False)
    return path


@pytest.fixture(scope="module")
def frame(store):
    from fpe_train.sweeps.store import ResultsStore

    with ResultsStore(store) as s:
        return s.frame()


@pytest.fixture(scope="module")
def built(tiny_preset, store, tmp_path_factory):
    out = tmp_path_factory.mktemp("out")
    res = build_report(out, preset=tiny_preset, store=store, run=False, progress=False)
    return out, res


def _text(out):
    if HAVE_PDF:
        return subprocess.run(
            ["pdftotext", "-layout", str(out / "report.pdf"), "-"], capture_output=True, text=True, check=True
        ).stdout
    return (out / "report.tex").read_text()


def test_store_holds_real_rows(frame):
    assert (frame["status"] == "done").all(), frame["error"].dropna().unique()
    assert {"dense", "clause", "random"} <= set(frame["variant"]) <= {"dense", "dense_warmup", "clause", "random"}
    assert frame["test_accuracy"].between(0, 1).all()


def test_report_files_exist(built):
    out, res = built
    assert (out / "report.tex").stat().st_size > 0
    assert res.pdf is None or res.pdf.stat().st_size > 0
    if HAVE_PDF:
        assert (out / "report.pdf").exists()
    names = {p.name for p in res.figures}
    for stem in ("fig3a", "fig4a", "fig4c", "fig5", "theory_ratios", "theory_r_min", "collisions_pred_vs_measured"):
        for ext in ("pdf", "png"):
            assert (out / "figures" / f"{stem}.{ext}").stat().st_size > 1000, stem
            assert f"{stem}.{ext}" in names
    assert not [p for p in out.iterdir() if p.name.startswith(".report-build-")]  # temp folder gone


@pytest.mark.skipif(not HAVE_PDF, reason="no LaTeX engine or pdftotext installed")
def test_latex_log_has_no_overfull_box_wider_than_1pt(built):
    log = (built[0] / "report.log").read_text(errors="replace")
    widths = [float(w) for w in re.findall(r"^Overfull \\[hv]box \(([\d.]+)pt too", log, flags=re.MULTILINE)]
    assert "Output written on report.pdf" in log  # the log of this build, not an empty file
    assert [w for w in widths if w > 1.0] == [], widths


@pytest.mark.skipif(not HAVE_PDF, reason="no LaTeX engine or pdftotext installed")
def test_pdf_has_sections(built):
    text = _text(built[0])
    for section in (
        "Setup and configuration",
        "Theory",
        "Monte Carlo agreement",
        "Prediction versus reality",
        "Trained networks",
        "Regressions",
        "The paper’s numbers beside ours",
    ):
        assert section in text, section


def test_numbers_in_report_match_rows(built, frame):
    text = _text(built[0])
    ok = frame[frame["status"] == "done"]
    for (h, variant), g in ok.groupby(["config_hash", "variant"]):
        acc = g["test_accuracy"].to_numpy(float)
        assert f"{100 * acc.mean():.2f}" in text, (variant, acc)
        if variant in ("dense", "dense_warmup"):
            continue
        dense = ok[(ok.config_hash == h) & (ok.variant == "dense")].sort_values("trial")["test_accuracy"].to_numpy()
        fpe = g.sort_values("trial")["test_accuracy"].to_numpy(float)
        ri = fpe / dense
        assert f"{100 * (ri.mean() - 1):+.1f}" in text  # RI - 1 in %
        d = fpe - dense  # paired difference in points, with its 95 % t-interval
        half = stats.t.ppf(0.975, len(d) - 1) * d.std(ddof=1) / np.sqrt(len(d))
        assert f"{100 * d.mean():+.2f}" in text
        assert f"[{100 * (d.mean() - half):+.1f}, {100 * (d.mean() + half):+.1f}]" in text
    case = ok[ok.sweep.str.contains("case_study") & (ok.variant == "dense")]["test_accuracy"].mean()
    assert f"{100 * case:.1f}" in text  # beside the paper's 78.7 %
    assert "78.7" in text and "99.4" in text and "88.7" in text


def test_regression_slope_in_report_matches_least_squares(built, frame):
    """Pooled OLS of RI - 1 (%) on capacity fold over the fig3a rows, recomputed with numpy, appears in the report."""
    ok = frame[(frame["status"] == "done") & frame["sweep"].str.contains("fig3a")]
    dense = ok[ok.variant == "dense"].set_index(["config_hash", "trial"])
    fpe = ok[~ok.variant.isin(["dense", "dense_warmup"])]
    key = list(zip(fpe.config_hash, fpe.trial, strict=True))
    ri = 100 * (fpe.test_accuracy.to_numpy(float) / dense.loc[key, "test_accuracy"].to_numpy(float) - 1)  # in %
    x = fpe.capacity.to_numpy(float) / dense.loc[key, "capacity"].to_numpy(float)
    const, slope = np.linalg.lstsq(np.c_[np.ones_like(x), x], ri, rcond=None)[0]
    text = _text(built[0])
    line = next(line for line in text.splitlines() if "capacity fold" in line and "all pooled" in line)
    assert f"{slope:+.2f}" in line and f"{const:+.1f}" in line and str(len(x)) in line


def test_without_latex_writes_tex_and_figures_and_a_hint(tiny_preset, store, built, tmp_path, monkeypatch, invoke):
    """Also: the same store and preset give the same report.tex (seeded Monte Carlo, exact theory)."""

    import reports.presets

    monkeypatch.setitem(reports.presets.PRESETS, "test", tiny_preset)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))  # no latexmk, no pdflatex
    out = tmp_path / "out"
    out.mkdir()
    (out / "report.pdf").write_text("stale")
    res = invoke("report", "--preset", "test", "--store", store, "--no-run", "--out", out, "--no-progress")
    assert res.exit_code == 0, res.output
    hints = [line for line in res.output.splitlines() if "latexmk -pdf report.tex" in line]
    assert len(hints) == 1
    assert (out / "report.tex").exists() and (out / "figures" / "fig3a.pdf").exists()
    assert not (out / "report.pdf").exists()  # the stale PDF is gone
    assert (out / "report.tex").read_text() == (built[0] / "report.tex").read_text()


def _page_one(out, last: int = 1):
    text = subprocess.run(
        ["pdftotext", "-f", "1", "-l", str(last), str(out / "report.pdf"), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return " ".join(text.split())


@pytest.mark.skipif(not HAVE_PDF, reason="no LaTeX engine or pdftotext installed")
def test_page_one_holds_every_claim_and_none_of_the_rule(built, frame):
    from reports.compute.paper_claims import PAPER_CLAIMS

    text = _page_one(built[0])
    assert text.startswith("Fixed Parameter Expansion") and "Which of the paper" in text[:300]
    for cid in PAPER_CLAIMS:
        assert f" {cid} " in f" {text} " or f" {cid}† " in f" {text} ", cid
    assert "B1" not in text and "B2" not in text  # checks beyond the paper are not on page 1
    for phrase in ("two one-sided tests", "intersection-union", "Holm-matched", "1-0.05"):
        assert phrase not in text  # the rule and the definitions are on page 2
    assert "intersection-union" in _page_one(built[0], last=2)
    ok = frame[(frame["status"] == "done") & frame["sweep"].str.contains("case_study")]
    wide = ok.pivot_table(index="trial", columns="variant", values="test_accuracy")
    d = (wide["random"] - wide["dense"]).to_numpy()
    assert f"{100 * d.mean():+.1f} [".replace("-", "−") in text or f"{100 * d.mean():+.1f} [" in text
    assert "In one paragraph." in text and "What was run." in text and "Data: Boolean DNF" in text


@pytest.mark.skipif(not HAVE_PDF, reason="no LaTeX engine or pdftotext installed")
def test_summary_md_is_the_verdict_table(built):
    md = (built[0] / "summary.md").read_text()
    assert md.startswith("**The paper's claims**") and "| E1a |" in md and "| T3 |" in md


@pytest.mark.skipif(not HAVE_PDF, reason="no LaTeX engine or pdftotext installed")
def test_quick_report_says_smoke_run_with_the_full_command_and_its_size(tiny_preset, store, tmp_path):
    import dataclasses

    from fpe_train.sweeps.store import config_hash
    from fpe_train.sweeps.sweep import find_sweep, load_sweep
    from reports.presets import PAPER_SWEEPS

    planned: dict[str, int] = {}
    for name in PAPER_SWEEPS:
        for c in load_sweep(find_sweep(name), size="paper").configs:
            planned[config_hash(c)] = max(planned.get(config_hash(c), 0), c.trials)
    out = tmp_path / "quick"
    build_report(out, preset=dataclasses.replace(tiny_preset, name="quick"), store=store, run=False, progress=False)
    text = _page_one(out)
    assert "This is a smoke run." in text
    assert "fpe-theory report --preset paper" in text
    assert f"{len(planned)} configurations and {sum(planned.values())} planned" in text


def test_orphaned_build_folders_are_removed_and_live_ones_kept(tmp_path):
    import os

    from reports.build import prepare_out

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that ran and is gone
    orphans = [tmp_path / f".report-build-{dead.pid}-abc", tmp_path / ".report-build-xyz"]
    live = tmp_path / f".report-build-{os.getppid()}-def"  # a process that runs (our parent)
    for p in (*orphans, live):
        p.mkdir()
        (p / "report.tex").write_text("x")
    mine = prepare_out(tmp_path)
    assert not any(p.exists() for p in orphans) and live.exists() and mine.exists()
    assert mine.name.startswith(f".report-build-{os.getpid()}-")


def test_sigterm_during_a_build_becomes_system_exit():
    import os
    import signal

    from reports.build import terminate_as_exit

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(SystemExit) as exc, terminate_as_exit():
        os.kill(os.getpid(), signal.SIGTERM)
    assert exc.value.code == 128 + signal.SIGTERM
    assert signal.getsignal(signal.SIGTERM) == before


def test_no_run_counts_the_trials_already_stored(tiny_preset, tiny_train, store, frame, tmp_path, monkeypatch):
    """report --no-run on a full store says how many trials it read, not "0 already stored"."""
    import reports.presets
    from fpe_train.sweeps.sweep import Sweep

    loaded = [Sweep(n, "quick", tuple(cs), path="") for n, cs in _configs(tiny_train).items()]
    monkeypatch.setattr(reports.presets, "load_sweeps", lambda preset: loaded)
    res = build_report(tmp_path / "o", preset=tiny_preset, store=store, run=False, progress=False)
    done = frame[frame.status == "done"].drop_duplicates(["config_hash", "trial"])
    assert res.trained == 0 and res.reused == len(done) > 0
