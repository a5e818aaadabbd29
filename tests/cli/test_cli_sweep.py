"""`fpe-theory sweep run|status|export` through cli.main: results, and one-line errors with exit 2."""

import json

import numpy as np
import pandas as pd
import pytest
from helpers import assert_one_line_error

from fpe_train.sweeps.store import ResultsStore

# two tiny Boolean configs (r = 2 and 3), two trials each
SWEEP = dict(
    description="two tiny boolean configs",
    clauses=3,
    trials=2,
    warmup_epochs=2,
    epochs=2,
    n_train=64,
    n_test=32,
    batch_size=32,
    r=None,
    grid={"r": [2, 3]},
    sizes={"quick": {}, "paper": {"trials": 3}},
)


def test_run_status_export(invoke, tmp_path, tiny_sweep_file):
    p, db = tiny_sweep_file(**SWEEP), tmp_path / "r.db"
    code, out, err = invoke("sweep", "run", p, "--store", db, "--executor", "serial")
    assert code == 0, err
    assert "tiny (quick): 4 trials done, 0 failed, 0 already done" in out
    assert "sweep tiny (quick): 2 configs, 4 trials" in err and "trial" in err  # header + progress bar
    code, out, _ = invoke("sweep", "run", p, "--store", db, "--executor", "serial", "--no-progress")
    assert code == 0 and "0 trials done, 0 failed, 4 already done" in out
    code, out, _ = invoke("sweep", "status", "--store", db)
    assert code == 0 and out.splitlines()[1].split() == ["tiny", "quick", "2", "4", "4", "0", "0", "0.0", "s"]
    code, out, _ = invoke("sweep", "status", "--store", db, "--json")
    assert code == 0 and json.loads(out) == {
        "store": str(db),
        "sweeps": [
            {
                "sweep": "tiny",
                "size": "quick",
                "configs": 2,
                "trials": 4,
                "done": 4,
                "failed": 0,
                "pending": 0,
                "remaining_seconds": 0.0,
            }
        ],
    }
    code, out, _ = invoke("sweep", "status", p, "--store", db, "--size", "paper")
    # trials 0-1 of the quick size are reused (trials are not part of the config hash)
    assert code == 0 and out.splitlines()[1].split()[:7] == ["tiny", "paper", "2", "6", "4", "0", "2"]
    assert out.splitlines()[1].split()[7] != "?"  # estimated from the quick size's stored run times
    code, out, _ = invoke("sweep", "export", "--store", db, "--out", tmp_path / "r.csv")
    assert code == 0 and "12 rows" in out  # 2 configs x 2 trials x (dense, dense_warmup, random)
    csv = pd.read_csv(tmp_path / "r.csv")
    with ResultsStore(db, create=False) as s:
        frame = s.frame()
    assert len(csv) == 12 and list(csv.columns) == list(frame.columns)
    np.testing.assert_allclose(csv.test_accuracy, frame.test_accuracy.astype(float))
    code, out, _ = invoke("sweep", "export", "--store", db, "--out", tmp_path / "r.parquet", "--sweep", "tiny")
    assert code == 0
    pq = pd.read_parquet(tmp_path / "r.parquet")
    assert len(pq) == 12 and list(pq.test_accuracy) == list(frame.test_accuracy)


def test_failed_trials_exit_1_and_are_kept(invoke, tmp_path, monkeypatch, tiny_sweep_file):
    import fpe_train.engine.cpu

    def broken(config, **_):  # a failure no up-front check can see (the serial executor runs in-process)
        raise RuntimeError("trial failed")

    monkeypatch.setattr(fpe_train.engine.cpu, "run_any", broken)  # the executors train batches with it
    p, db = tiny_sweep_file(**SWEEP), tmp_path / "r.db"
    code, out, _ = invoke("sweep", "run", p, "--store", db, "--executor", "serial", "--no-progress")
    assert code == 1 and "0 trials done, 4 failed" in out
    code, out, _ = invoke("sweep", "run", p, "--store", db, "--executor", "serial", "--no-progress")
    assert code == 0 and "4 failed earlier (--retry-failed runs them)" in out
    code, out, _ = invoke("sweep", "run", p, "--store", db, "--executor", "serial", "--no-progress", "--retry-failed")
    assert code == 1 and "4 failed" in out
    with ResultsStore(db, create=False) as s:
        f = s.frame()
    assert set(f.status) == {"failed"} and f.error.str.contains("trial failed").all()


def untouched(path):
    return path.read_bytes() if path.exists() else None


BAD_SWEEPS = [
    ("[base]\nr = 4\nalpa = 2\n", ["tiny.toml:3:", "alpa: unknown key in [base]"]),
    ("[base]\nr = [4\n", ["tiny.toml:2:", "malformed TOML"]),
    ("[base]\nr = 4\n[grid]\nalpha = [1, 2]\n", ["tiny.toml:4:", "alpha=1: must be an integer >= 2"]),
]


@pytest.mark.parametrize("text, needles", BAD_SWEEPS)
def test_bad_sweep_file(invoke, tmp_path, text, needles):
    db, p = tmp_path / "r.db", tmp_path / "tiny.toml"
    p.write_text(text)
    assert_one_line_error(invoke("sweep", "run", p, "--store", db, "--executor", "serial"), *needles)
    assert not db.exists()


def test_missing_and_mismatched_datasets(invoke, tmp_path, tiny_sweep_file):
    db = tmp_path / "r.db"
    p = tiny_sweep_file(**{**SWEEP, "task": "embeddings", "clauses": None, "k": None})
    assert_one_line_error(
        invoke("sweep", "run", p, "--store", db, "--set", f"data_path={tmp_path / 'nope.npz'}"),
        "nope.npz",
        "no such file",
    )
    np.savez(tmp_path / "e.npz", features=np.zeros((10, 4)), labels=np.zeros(9, int))
    assert_one_line_error(
        invoke("sweep", "run", p, "--store", db, "--set", f"data_path={tmp_path / 'e.npz'}"),
        "9 labels do not match 10 feature rows",
    )
    assert not db.exists()
    assert_one_line_error(invoke("sweep", "run", p, "--store", db, "--set", "data_path"), "must look like KEY=VALUE")


def test_foreign_and_incompatible_stores_untouched(invoke, tmp_path, tiny_sweep_file):
    import sqlite3

    text = tmp_path / "text.db"
    text.write_text("hello, this is not a database at all " * 5)
    future = tmp_path / "future.db"
    ResultsStore(future).close()
    con = sqlite3.connect(future)
    con.execute("PRAGMA user_version = 7")
    con.close()
    p = tiny_sweep_file(**SWEEP)
    for db, needle in ((text, "not an SQLite database"), (future, "schema version 7")):
        before = untouched(db)
        for args in (("run", p), ("status",), ("export", "--out", tmp_path / "x.csv")):
            assert_one_line_error(invoke("sweep", *args, "--store", db), needle)
        assert untouched(db) == before
    assert_one_line_error(invoke("sweep", "status", "--store", tmp_path / "none.db"), "no such results store")


def test_unreachable_scheduler_and_busy_store(invoke, tmp_path, tiny_sweep_file):
    p, db = tiny_sweep_file(**SWEEP), tmp_path / "r.db"
    args = (
        "sweep",
        "run",
        p,
        "--store",
        db,
        "--executor",
        "dask",
        "--scheduler",
        "tcp://127.0.0.1:9",
        "--connect-timeout",
        "1",
    )
    assert_one_line_error(invoke(*args), "scheduler='tcp://127.0.0.1:9': cannot connect", alone=False)
    assert not db.exists()
    ResultsStore(db).close()
    before = untouched(db)
    assert_one_line_error(invoke(*args), "cannot connect", alone=False)
    assert untouched(db) == before
    with ResultsStore(db) as holder, holder.lock():
        assert_one_line_error(
            invoke("sweep", "run", p, "--store", db, "--executor", "serial"),
            "busy: another sweep driver (pid",
            alone=False,
        )
    with ResultsStore(db) as s:
        assert s.status() == []
