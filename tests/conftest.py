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
