"""Test-wide settings and fixtures: with `pytest -n 2` each worker gets one BLAS/OpenMP thread (2 cores in all)."""

import os
import shutil
import subprocess

import pytest

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture
def immutable():
    """chattr +i on paths (undone after the test): read-only even for root; skips where chattr does not work."""
    done = []

    def make(path):
        if shutil.which("chattr") is None:
            pytest.skip("chattr not available")
        proc = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if proc.returncode:
            pytest.skip(f"chattr +i does not work here: {proc.stderr.decode().strip()}")
        done.append(path)

    yield make
    for path in reversed(done):
        subprocess.run(["chattr", "-i", str(path)], check=True)


# ---------------------------------------------------------------- tests/cli/test_cli_hostile_*.py
# Here, not in tests/cli/conftest.py: a second conftest.py breaks --doctest-modules collection.
# Their helpers: tests/cli/hostile.py.


@pytest.fixture(scope="session")
def master_store(tmp_path_factory):
    from hostile import make_store  # tests/cli is on sys.path while its tests run

    return make_store(tmp_path_factory.mktemp("master") / "S.db")


@pytest.fixture
def store(master_store, tmp_path):
    """A fresh copy of a small valid store (one sweep, two trials, a Monte Carlo result), ``tmp_path/S.db``."""
    return shutil.copy(master_store, tmp_path / "S.db")


@pytest.fixture
def export(store, tmp_path):
    """A valid export ``tmp_path/E.csv.gz`` of ``store`` (the store stays beside it)."""
    from fpe_train.sweeps.export import export_store

    path = tmp_path / "E.csv.gz"
    export_store(store, path, meta={"preset": "quick"})
    return path
