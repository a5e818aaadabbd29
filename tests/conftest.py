"""Test-wide settings and the fixtures every test folder shares.

With `pytest -n 2` each worker gets one BLAS/OpenMP thread (2 cores in all). ``invoke`` runs the command line
in-process; ``tiny_sweep_file`` writes the smallest sweep file; ``immutable`` makes a path read-only even for root.
Generated datasets are cached in ``.pytest_cache/data``.
The checks every folder shares (``assert_one_line_error``, ``sweep_toml``) are in tests/helpers.py.
"""

import os
import shutil
import subprocess
from dataclasses import dataclass

import pytest
from helpers import sweep_toml  # this folder is on sys.path (pytest puts a conftest.py's folder there)

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
# generated datasets (MNIST-1D) kept between the suite's processes in the repository's ignored pytest cache,
# not in the home folder of whoever runs the tests
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("FPE_THEORY_CACHE", os.path.join(ROOT, ".pytest_cache", "data"))


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


@dataclass(frozen=True)
class Invoked:
    """What one in-process run of the ``fpe-theory`` command line gave: unpacks as (code, stdout, stderr)."""

    code: int
    stdout: str
    stderr: str
    output: str  # stdout and stderr as the terminal shows them, interleaved

    @property
    def exit_code(self) -> int:
        return self.code

    def __iter__(self):
        return iter((self.code, self.stdout, self.stderr))


@pytest.fixture(scope="session")
def invoke():
    """Run ``fpe-theory`` in-process (click's CliRunner): ``invoke("coverage", "--m", 16)`` or
    ``invoke(["coverage", "--m", "16"])``; arguments are turned into strings."""
    from click.testing import CliRunner

    import cli

    def run(*args) -> Invoked:
        if len(args) == 1 and isinstance(args[0], (list, tuple)):
            args = tuple(args[0])
        res = CliRunner().invoke(cli.main, [str(a) for a in args])
        return Invoked(res.exit_code, res.stdout, res.stderr, res.output)

    return run


@pytest.fixture
def tiny_sweep_file(tmp_path):
    """``tiny_sweep_file(**changes)``: the sweep file ``helpers.sweep_toml(**changes)`` (by default one trial of a
    2-clause Boolean DNF on CPU) written as ``tmp_path/tiny.toml`` (``file=`` another name); its path."""

    def write(file="tiny.toml", **changes):
        path = tmp_path / file
        path.write_text(sweep_toml(**changes))
        return path

    return write


@pytest.fixture(scope="session")
def tiny_preset():
    """The smallest report preset: no sweeps, a two-point theory grid, one Monte Carlo case of 300 trials.
    A test that needs other cases takes ``dataclasses.replace`` of it."""
    from reports.presets import Preset

    return Preset(
        name="test",
        sweeps=(),
        mc_trials=300,
        grid_m=(8, 16),
        grid_k=(2,),
        grid_alpha=(2,),
        mc_cases=((16, 2, 2, "random", 2),),
        r_min_problems=((8, 2, 2), (16, 2, 2)),
    )


@pytest.fixture(scope="session")
def tiny_train() -> dict:
    """TrainConfig fields of the smallest real training run (2 trials of 2 + 2 epochs on CPU): a test adds the
    problem's fields and overrides what it needs, ``TrainConfig(**{**tiny_train, "trials": 3}, ...)``."""
    return dict(trials=2, epochs=2, warmup_epochs=2, n_train=300, n_test=200, batch_size=100, device="cpu")


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
