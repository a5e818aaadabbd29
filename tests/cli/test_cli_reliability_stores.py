"""`sweep run|status|export` and `report` on stores and places a user can hand over: one line, no traceback.

Foreign, damaged and truncated stores keep their bytes (sha256); read-only places are made with
``chattr +i`` (the tests run as root, whom chmod does not stop); a full disk is a small tmpfs
mounted for the test (skipped where mounting is not allowed).
"""

import hashlib
import os
import shutil
import sqlite3
import subprocess

import pandas as pd
import pytest
from helpers import assert_one_line_error, sweep_toml

import cli
from fpe_train.sweeps.store import APPLICATION_ID, SCHEMA_VERSION, ResultsStore


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


@pytest.fixture(scope="module")
def made(invoke, tmp_path_factory):
    """A real store of the tiny sweep (trained once for the module) and the sweep file."""
    folder = tmp_path_factory.mktemp("made")
    sweep = folder / "tiny.toml"
    sweep.write_text(sweep_toml(trials=2, n_train=32, n_test=16, batch_size=16, r=None, grid={"r": [2, 3]}))
    db = folder / "real.db"
    code, out, err = invoke("sweep", "run", sweep, "--store", db, "--executor", "serial", "--no-progress")
    assert code == 0, err
    return sweep, db


def test_finished_run_leaves_no_lock_file(made):
    sweep, db = made
    assert sorted(os.listdir(db.parent)) == ["real.db", "tiny.toml"]


def bad_stores(folder, real):
    nometa = folder / "nometa.db"
    con = sqlite3.connect(nometa)
    con.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    con.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    con.execute("CREATE TABLE t (x)")
    con.commit()
    con.close()
    notables = folder / "notables.db"
    shutil.copy(real, notables)
    con = sqlite3.connect(notables)
    con.execute("DROP TABLE runs")
    con.commit()
    con.close()
    truncated = folder / "truncated.db"
    data = real.read_bytes()
    truncated.write_bytes(data[: len(data) // 2])
    return {
        nometa: "not an fpe-theory results store",
        notables: "damaged results store: table(s) runs missing",
        truncated: "damaged results store",
    }


def test_foreign_and_damaged_stores_refused_unchanged(invoke, made, tmp_path):
    sweep, real = made
    for db, needle in bad_stores(tmp_path, real).items():
        before = sha(db)
        for args in (("run", sweep, "--executor", "serial"), ("status",), ("export", "--out", tmp_path / "x.csv")):
            assert_one_line_error(invoke("sweep", *args, "--store", db), f"store={str(db)!r}", needle)
        assert_one_line_error(invoke("report", "--no-run", "--store", db, "--out", tmp_path / "rep"), needle)
        assert sha(db) == before
        assert [f for f in os.listdir(tmp_path) if f.startswith(db.name) and f != db.name] == []
    assert not (tmp_path / "x.csv").exists()


def test_report_no_run_on_an_empty_file_leaves_it_empty(invoke, tmp_path):
    empty = tmp_path / "empty.db"
    empty.write_bytes(b"")
    assert_one_line_error(
        invoke("report", "--no-run", "--store", empty, "--out", tmp_path / "rep"), "empty file, not a results store"
    )
    assert empty.read_bytes() == b""


def test_read_only_folder_reads_and_refuses_writing(invoke, made, tmp_path, immutable):
    sweep, real = made
    ro = tmp_path / "ro"
    ro.mkdir()
    db = ro / "r.db"
    shutil.copy(real, db)
    immutable(db)
    immutable(ro)
    code, out, err = invoke("sweep", "status", "--store", db)
    assert code == 0 and "tiny" in out and "Traceback" not in err, err
    code, out, err = invoke("sweep", "export", "--store", db, "--out", tmp_path / "rows.csv")
    assert code == 0, err
    with ResultsStore(real, readonly=True) as s:
        n = len(s.frame())
    assert len(pd.read_csv(tmp_path / "rows.csv")) == n and n > 0
    assert_one_line_error(
        invoke("sweep", "run", sweep, "--store", db, "--executor", "serial"),
        "read-only folder",
        "cannot write results here",
        alone=False,
    )
    assert_one_line_error(
        invoke("sweep", "run", sweep, "--store", ro / "new.db", "--executor", "serial"), "read-only folder", alone=False
    )
    assert_one_line_error(
        invoke("sweep", "export", "--store", real, "--out", ro / "rows.csv"),
        f"out={str(ro / 'rows.csv')!r}: cannot write",
        "nothing was written",
    )
    assert sorted(os.listdir(ro)) == ["r.db"] and sha(db) == sha(real)


def test_a_second_driver_through_a_symlink_is_refused(invoke, made, tmp_path):
    sweep, real = made
    folder = tmp_path / "real"
    folder.mkdir()
    db = folder / "T.db"
    shutil.copy(real, db)
    link = tmp_path / "link.db"
    link.symlink_to(db)
    with ResultsStore(db) as holder, holder.lock():
        assert_one_line_error(
            invoke("sweep", "run", sweep, "--store", link, "--executor", "serial", "--retry-failed"),
            "busy: another sweep driver (pid",
            alone=False,
        )
    assert sorted(os.listdir(folder)) == ["T.db"]


@pytest.mark.parametrize(
    "out, needle",
    [
        ("", "out='': must be a file path"),
        ("/no/such/dir/x.csv", "out='/no/such/dir/x.csv': folder '/no/such/dir' does not exist"),
        ("x.xlsx", "out='x.xlsx': cannot tell the format from its suffix; use .csv, .csv.gz, .parquet, .pq"),
    ],
)
def test_export_bad_out(invoke, made, tmp_path, monkeypatch, out, needle):
    monkeypatch.chdir(tmp_path)
    assert_one_line_error(invoke("sweep", "export", "--store", made[1], "--out", out), needle)
    assert os.listdir(tmp_path) == []


def test_export_unknown_sweep_or_size(invoke, made, tmp_path):
    out = tmp_path / "x.csv"
    assert_one_line_error(
        invoke("sweep", "export", "--store", made[1], "--out", out, "--sweep", "nosuch"),
        "sweep='nosuch': no such sweep in store",
        "(it has: tiny)",
    )
    assert_one_line_error(
        invoke("sweep", "export", "--store", made[1], "--out", out, "--sweep", "tiny", "--size", "big"),
        "size='big': no such size in sweep 'tiny' (it has: quick)",
    )
    assert not out.exists()


def test_export_suffixes_and_csv_gz_with_provenance(invoke, made, tmp_path):
    from fpe_train.sweeps.export import read_export

    with ResultsStore(made[1], readonly=True) as s:
        expected = s.frame()
    code, _, err = invoke("sweep", "export", "--store", made[1], "--out", tmp_path / "rows.csv.gz")
    assert code == 0, err
    frame, meta = read_export(tmp_path / "rows.csv.gz")
    n = len(expected)
    assert n >= 8 and len(frame) == n and meta["rows"] == str(n) and meta["store"] == str(made[1])
    assert list(frame["test_accuracy"]) == pytest.approx(list(expected["test_accuracy"]))
    code, _, err = invoke("sweep", "export", "--store", made[1], "--out", tmp_path / "x.xlsx", "--format", "csv")
    assert code == 0, err  # asked for by name: written as CSV
    assert len(pd.read_csv(tmp_path / "x.xlsx")) == n
    assert sorted(os.listdir(tmp_path)) == ["rows.csv.gz", "x.xlsx"]  # no temporary file left


@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MiB tmpfs at tmp_path/full (root only); ``fill(kib_free)`` leaves about that much room."""
    where = tmp_path / "full"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True)
    if proc.returncode:
        pytest.skip(f"cannot mount a tmpfs here: {proc.stderr.decode().strip()}")

    def fill(kib_free):
        with open(where / "filler", "wb") as f:
            f.write(b"\0" * ((1024 - kib_free) * 1024))

    yield where, fill
    subprocess.run(["umount", "-l", str(where)], check=True)  # lazy: a file left open by a failed write


def test_export_to_a_full_disk_leaves_nothing_and_keeps_the_old_file(invoke, made, tiny_disk):
    where, fill = tiny_disk
    out = where / "rows.csv"
    out.write_text("old export\n")
    fill(kib_free=4)  # the export is larger than 4 KiB
    assert_one_line_error(
        invoke("sweep", "export", "--store", made[1], "--out", out),
        f"out={str(out)!r}: cannot write (No space left on device); nothing was written",
    )
    assert out.read_text() == "old export\n" and sorted(os.listdir(where)) == ["filler", "rows.csv"]


def test_sweep_run_on_a_full_disk_is_one_line_and_resumable(invoke, made, tiny_disk):
    where, fill = tiny_disk
    sweep, _ = made
    fill(kib_free=48)  # room for the empty store, not for every trial's rows and the WAL
    db = where / "r.db"
    line = assert_one_line_error(
        invoke("sweep", "run", sweep, "--store", db, "--executor", "serial", "--no-progress"),
        "database or disk is full",
        exit_code=1,
        alone=False,
    )
    assert "rerun" in line and not os.path.exists(f"{db}.lock")
    os.unlink(where / "filler")
    code, out, err = invoke("sweep", "run", sweep, "--store", db, "--executor", "serial", "--no-progress")
    assert code == 0, err
    with ResultsStore(db, readonly=True) as s:
        (status,) = s.status()
    assert (status.done, status.failed) == (4, 0)


def test_report_on_a_full_disk_is_one_line(invoke, made, tiny_disk):
    where, fill = tiny_disk
    fill(kib_free=16)
    code, _, err = invoke("report", "--no-run", "--store", made[1], "--out", where / "rep")
    assert code != 0 and "Traceback" not in err, err
    lines = [x for x in err.splitlines() if x.startswith("Error:")]
    assert len(lines) == 1 and ("No space left on device" in lines[0] or "disk full" in lines[0]), err
    assert not (where / "rep" / "report.pdf").exists()


@pytest.mark.parametrize("value", ["nan", "-1", "inf", "0"])
def test_connect_timeout_values(invoke, made, tmp_path, value):
    db = tmp_path / "r.db"
    assert_one_line_error(
        invoke("sweep", "run", made[0], "--store", db, "--executor", "dask", "--connect-timeout", value),
        "connect_timeout=",
        "must be a finite number of seconds > 0 (--connect-timeout)",
    )
    assert not db.exists()


def test_tls_options_need_a_tls_scheduler(invoke, made, tmp_path):
    db = tmp_path / "r.db"
    args = ("sweep", "run", made[0], "--store", db, "--executor", "dask")
    assert_one_line_error(
        invoke(*args, "--scheduler", "tcp://127.0.0.1:9", "--tls-ca-file", tmp_path / "ca.pem"),
        "tls_ca_file=",
        "only with a tls:// scheduler",
    )
    pytest.importorskip("distributed")
    assert_one_line_error(invoke(*args, "--scheduler", "tls://127.0.0.1:9"), "a tls:// scheduler needs --tls-ca-file")
    assert not db.exists()


def test_environment_errors_are_found_beneath_a_librarys_own_error():
    import errno

    def nested():
        try:
            raise OSError(errno.ENOSPC, "No space left on device", "/x/fig.pdf")
        except OSError:
            raise AttributeError("'Stream' object has no attribute 'pos'")  # noqa: B904 - as matplotlib does

    with pytest.raises(AttributeError) as err:
        nested()
    assert cli.environment_error(err.value) == "disk full writing '/x/fig.pdf' (No space left on device)"
    assert cli.environment_error(sqlite3.OperationalError("attempt to write a readonly database")).endswith(
        "the store or its folder is read-only; use another --store"
    )
    assert cli.environment_error(KeyError("x")) is None
    assert cli.environment_error(sqlite3.OperationalError("no such table: t")) is None
