"""No output replaces an input: the same file by path, hard link or symlink, a FIFO or a device as output,
formats that do not follow the suffix; temporary files of a killed writer cleaned by the next; text cells
a spreadsheet would run quoted. Each refusal: exit 2, one ``Error:`` line naming the parameter, every
input byte-identical, in a fresh process under a hang guard (conftest.run_cli)."""

import os
import stat
import subprocess
import sys

import pandas as pd
import pytest
from helpers import assert_one_line_error
from hostile import CONFIG, Snapshot, digest, make_store, run_cli

from fpe_train.sweeps.export import read_export
from fpe_train.sweeps.files import atomic_write, check_output, spreadsheet_text, spreadsheet_value


def _link(kind, target, link):
    (os.link if kind == "hard" else os.symlink)(target, link)
    return link


# ---------------------------------------------------------------- sweep export


def test_export_onto_its_own_store_is_refused(store):
    snap = Snapshot(store)
    line = assert_one_line_error(
        run_cli("sweep", "export", "--store", store, "--out", store, "--format", "csv"), "out=", "store"
    )
    assert "destroy" in line and snap.unchanged()


@pytest.mark.parametrize("kind", ["hard", "symbolic"])
def test_export_onto_a_link_to_its_store_is_refused(store, tmp_path, kind):
    link = _link(kind, store, tmp_path / "rows.csv.gz")
    snap = Snapshot(store, link)
    assert_one_line_error(
        run_cli("sweep", "export", "--store", store, "--out", link), f"out={str(link)!r}", "input store"
    )
    assert snap.unchanged()


def test_export_onto_the_stores_wal_file_is_refused(store, tmp_path):
    wal = tmp_path / "S.db-wal"
    assert_one_line_error(
        run_cli("sweep", "export", "--store", store, "--out", wal, "--format", "csv"), "out=", "input store"
    )
    assert not wal.exists()


def test_a_store_named_like_an_export_is_not_exported_onto_itself(tmp_path):
    store = make_store(tmp_path / "S.csv.gz")
    snap = Snapshot(store)
    assert_one_line_error(run_cli("sweep", "export", "--store", store, "--out", store), "out=", "input store")
    assert snap.unchanged()


def test_export_onto_a_fifo_is_refused_and_the_fifo_stays(store, tmp_path):
    fifo = tmp_path / "pipe.csv"
    os.mkfifo(fifo)
    assert_one_line_error(run_cli("sweep", "export", "--store", store, "--out", fifo), f"out={str(fifo)!r}", "FIFO")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_export_onto_a_character_device_is_refused(store, tmp_path):
    dev = tmp_path / "null.csv"
    try:
        os.mknod(dev, stat.S_IFCHR | 0o666, os.makedev(1, 3))  # /dev/null's numbers, in the test's own folder
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a character device here ({exc})")
    assert_one_line_error(run_cli("sweep", "export", "--store", store, "--out", dev), "character device")
    assert stat.S_ISCHR(os.lstat(dev).st_mode)


@pytest.mark.parametrize("out", ["", "  ", "rows.txt", "folder/"])
def test_export_out_must_be_a_file_with_a_known_suffix(store, tmp_path, out):
    (tmp_path / "folder").mkdir()
    assert_one_line_error(run_cli("sweep", "export", "--store", store, "--out", out, cwd=tmp_path), "out=")


def test_export_format_must_agree_with_the_suffix(store, tmp_path):
    out = tmp_path / "rows.parquet"
    assert_one_line_error(
        run_cli("sweep", "export", "--store", store, "--out", out, "--format", "csv"), "format='csv'", "suffix"
    )
    assert not out.exists()


def test_a_killed_writers_temporary_file_is_removed_by_the_next_write(store, tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    pid = int(dead.stdout)  # a process that has ended
    stale = tmp_path / f".rows.csv.fpe-{pid}-x1y2.tmp"
    stale.write_text("half an export")
    mine = tmp_path / f".rows.csv.fpe-{os.getpid()}-live.tmp"  # a live writer's (this process): kept
    mine.write_text("being written")
    code, out, err = run_cli("sweep", "export", "--store", store, "--out", tmp_path / "rows.csv")
    assert code == 0, err
    assert not stale.exists() and mine.exists()
    assert len(pd.read_csv(tmp_path / "rows.csv")) == 2 * 3


def test_atomic_write_interrupted_leaves_the_old_file_and_no_temporary(tmp_path):
    out = tmp_path / "rows.csv"
    out.write_text("old\n")

    def write(f):
        f.write(b"new, half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(out, write)
    assert out.read_text() == "old\n" and sorted(os.listdir(tmp_path)) == ["rows.csv"]


def test_check_output_compares_identity_not_spelling(tmp_path):
    a = tmp_path / "a.csv"
    a.write_text("x\n")
    (tmp_path / "sub").mkdir()
    spelled = tmp_path / "sub" / ".." / "a.csv"
    with pytest.raises(ValueError, match="is the input store"):
        check_output(spelled, "out", {"store": [str(a)]})
    check_output(tmp_path / "b.csv", "out", {"store": [str(a)]})  # another file: fine


# ---------------------------------------------------------------- report --out / --export / --from


def test_report_export_onto_its_store_is_refused(tmp_path):
    store = make_store(tmp_path / "S.csv.gz")  # a store whose name passes the export's suffix rule
    snap = Snapshot(store)
    args = ["report", "--no-run", "--store", store, "--out", tmp_path / "D", "--export", store]
    assert_one_line_error(run_cli(*args), f"export={str(store)!r}", "input store")
    assert snap.unchanged() and not (tmp_path / "D").exists()


def test_report_export_onto_the_default_store_is_refused(store, tmp_path):
    folder = tmp_path / "D"
    folder.mkdir()
    os.replace(store, folder / "results.db")
    snap = Snapshot(folder / "results.db")
    assert_one_line_error(run_cli("report", "--no-run", "--out", folder, "--export", folder / "results.db"), "export=")
    assert snap.unchanged()


@pytest.mark.parametrize("name", ["x.parquet", "x.db", ""])
def test_report_export_needs_a_csv_suffix(store, tmp_path, name):
    out = tmp_path / name if name else ""
    assert_one_line_error(
        run_cli("report", "--no-run", "--store", store, "--out", tmp_path / "D", "--export", out), "export="
    )
    assert not (tmp_path / "D").exists()


def test_report_from_its_own_summary_is_refused(export, tmp_path):
    folder = tmp_path / "D"
    folder.mkdir()
    summary = folder / "summary.csv"
    os.replace(export, summary)
    snap = Snapshot(summary)
    assert_one_line_error(run_cli("report", "--from", summary, "--out", folder), "out=", "input from")
    assert snap.unchanged()


def test_report_export_into_a_read_only_folder_is_refused_before_the_build(store, tmp_path, immutable):
    ro = tmp_path / "ro"
    ro.mkdir()
    immutable(ro)
    args = ["report", "--no-run", "--store", store, "--out", tmp_path / "D", "--export", ro / "rows.csv.gz"]
    assert_one_line_error(run_cli(*args), "export=", "not writable")
    assert not (tmp_path / "D").exists()  # refused before anything was built


# ---------------------------------------------------------------- spreadsheet-safe text cells

FORMULA = "=cmd|' /C calc'!A0"


@pytest.mark.parametrize("cell", [FORMULA, "+1+1", "-2+3", "@SUM(A1)", "'quoted", "plain", ""])
def test_spreadsheet_quoting_is_undone_exactly(cell):
    out = spreadsheet_text(cell)
    assert spreadsheet_value(out) == cell
    assert not out.startswith(("=", "+", "-", "@")) or out == cell == ""


def test_a_formula_from_the_store_is_quoted_in_csv_and_round_trips_in_an_export(tmp_path):
    from fpe_train.sweeps.store import ResultsStore

    store = make_store(tmp_path / "S.db")
    with ResultsStore(store) as s:  # a sweep name typed by a user, reaching the rows' sweep column
        s.register(FORMULA, "quick", [CONFIG])
    code, _, err = run_cli("sweep", "export", "--store", store, "--out", tmp_path / "rows.csv")
    assert code == 0, err
    cells = pd.read_csv(tmp_path / "rows.csv", dtype=str)["sweep"]
    assert all(c.startswith("'") and FORMULA in c for c in cells)
    code, _, err = run_cli("sweep", "export", "--store", store, "--out", tmp_path / "rows.csv.gz")
    assert code == 0, err
    frame, _ = read_export(tmp_path / "rows.csv.gz")
    assert set(frame["sweep"]) == {",".join(sorted([FORMULA, "tiny"]))}
    assert digest(store)  # still readable


def test_a_second_driver_through_a_hard_link_is_refused(store, tmp_path, tiny_sweep_file):
    from fpe_train.sweeps.store import ResultsStore

    other = tmp_path / "elsewhere"
    other.mkdir()
    link = other / "L.db"
    os.link(store, link)  # another name in another folder: the same file
    sweep = tiny_sweep_file(trials=3)
    with ResultsStore(link) as holder, holder.lock():
        snap = Snapshot(store)
        assert_one_line_error(
            run_cli("sweep", "run", sweep, "--store", store, "--executor", "serial"),
            "busy",
            "another sweep driver",
            alone=False,
        )
        assert snap.unchanged()
    code, _, err = run_cli("sweep", "run", sweep, "--store", store, "--executor", "serial", "--no-progress")
    assert code == 0, err  # released with the holder


def test_a_formula_reaching_summary_csv_is_quoted(tmp_path):
    from fpe_train.sweeps.store import ResultsStore

    store = make_store(tmp_path / "S.db")
    with ResultsStore(store) as s:
        s.register(FORMULA, "quick", [CONFIG])
    env = {"PATH": "/nonexistent"}  # no LaTeX: report.tex only
    code, _, err = run_cli("report", "--no-run", "--store", store, "--out", tmp_path / "D", "--no-progress", env=env)
    assert code == 0, err
    text = (tmp_path / "D" / "summary.csv").read_text()
    assert FORMULA in text and ",=" not in text and not any(line.startswith("=") for line in text.splitlines())
    cells = pd.read_csv(tmp_path / "D" / "summary.csv", dtype=str)["sweep"]
    assert all(c.startswith("'") for c in cells)
