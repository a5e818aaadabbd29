"""Test-wide settings: with `pytest -n 2` each worker gets one BLAS/OpenMP thread (2 cores in all)."""

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
