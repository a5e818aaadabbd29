"""Kill-and-resume: SIGKILL a running sweep driver at random moments, resume, compare with an uninterrupted run.

The first driver is the CLI in a fresh interpreter; the next two are python drivers forked from
this process (same code path below the CLI, without paying the torch import again).
"""

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from fpe_train.sweeps.store import ResultsStore
from fpe_train.sweeps.sweep import load_sweep, run_sweep

ROOT = Path(__file__).parents[3]
SWEEP = """
[sweep]
name = "killme"
[base]
task = "boolean"
clauses = 3
k = 2
r = 2
splits = ["random", "clause"]
trials = 2
epochs = 300
n_train = 4096
n_test = 32
batch_size = 32
device = "cpu"
[grid]
warmup_epochs = [300, 302, 304, 306, 308, 310, 312, 314, 316, 318, 320, 322]  # 12 batches
"""


def done_rows(db: Path) -> int:
    if not db.exists():
        return 0
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute("SELECT count(*) FROM runs WHERE status = 'done'").fetchone()[0]
    except sqlite3.OperationalError:  # tables not created yet
        return 0
    finally:
        con.close()


def table(db: Path) -> list[tuple]:
    """(config_hash, trial, status, metrics without wall times), every row of the runs table."""
    con = sqlite3.connect(db)
    rows = con.execute("SELECT config_hash, trial, status, metrics FROM runs ORDER BY config_hash, trial").fetchall()
    con.close()
    strip = lambda m: [{k: v for k, v in r.items() if k != "seconds"} for r in json.loads(m)]  # noqa: E731
    return [(h, t, s, strip(m)) for h, t, s, m in rows]


def cli_driver(path: Path, db: Path):
    """`python -m cli sweep run ...` in a fresh interpreter (pays the torch import: ~3 s)."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cli",
            "sweep",
            "run",
            str(path),
            "--store",
            str(db),
            "--executor",
            "serial",
            "--no-progress",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _drive(path: str, db: str) -> None:
    with ResultsStore(db) as store:
        run_sweep(load_sweep(path, "quick"), store, progress=False, threads=1)


def forked_driver(path: Path, db: Path):
    """A python driver forked from this (warm) process: a separate process, no import cost."""
    import multiprocessing

    proc = multiprocessing.get_context("fork").Process(target=_drive, args=(str(path), str(db)))
    proc.start()
    return proc


def kill_at_random_point(start, path: Path, db: Path, rng: random.Random) -> int:
    """Start a driver, wait until it has written a new row, wait a random moment more, SIGKILL it."""
    before = done_rows(db)
    proc = start(path, db)
    alive = proc.poll if hasattr(proc, "poll") else (lambda: None if proc.is_alive() else proc.exitcode)
    deadline = time.monotonic() + 90
    while done_rows(db) <= before and alive() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(rng.uniform(0.0, 0.25))
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:  # it finished (or died) before the kill: the asserts below tell which
        pass
    proc.wait() if hasattr(proc, "poll") else proc.join()
    return done_rows(db)


def test_sigkill_and_resume_loses_nothing_and_duplicates_nothing(tmp_path):
    path = tmp_path / "killme.toml"
    path.write_text(SWEEP)
    sweep = load_sweep(path, "quick")
    total = sum(c.trials for c in sweep.configs)
    with ResultsStore(tmp_path / "reference.db") as ref:
        assert run_sweep(sweep, ref, progress=False, threads=1).done == total
    db, rng = tmp_path / "killed.db", random.Random(20261121)
    counts = [kill_at_random_point(start, path, db, rng) for start in (cli_driver, forked_driver, forked_driver)]
    assert counts == sorted(counts) and 0 < counts[0] < total  # it was really interrupted mid-sweep
    with ResultsStore(db) as store:  # the killed driver's lock died with it
        summary = run_sweep(sweep, store, progress=False, threads=1)
    assert summary.skipped == counts[-1] and summary.done == total - counts[-1] and summary.failed == 0
    got, expected = table(db), table(tmp_path / "reference.db")
    assert len(got) == total and len({(h, t) for h, t, _, _ in got}) == total  # no duplicates
    assert got == expected  # same rows, same metrics for the same seeds
    assert os.path.getsize(db) > 0
