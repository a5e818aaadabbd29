"""The wheel, as a user gets it: built from the source, installed in a fresh venv outside the checkout, run.

The fresh venv borrows the dependencies of the running interpreter through a ``.pth`` file (so torch is
not installed twice) and gets the wheel with ``--no-deps``; every command runs from an empty temporary
folder, so the checkout is not on ``sys.path`` and only what the wheel ships can be imported. It runs a
theory command, lists the shipped sweeps, runs a tiny size of one by name (``--set`` shrinks it) and
builds a report from that store.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
IGNORE = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    "*.db*",
    "report",
    ".pytest_cache",
    ".ruff_cache",
    ".numba_cache",
)
TINY = [
    "--set",
    "trials=1",
    "--set",
    "warmup_epochs=2",
    "--set",
    "epochs=2",
    "--set",
    "n_train=200",
    "--set",
    "n_test=100",
    "--set",
    "device=cpu",
]

pytestmark = pytest.mark.slow


def _need_build_tools() -> None:
    for module in ("pip", "setuptools"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"building a wheel needs {module}, which this interpreter lacks")


def _run(args, cwd, env, timeout=300) -> subprocess.CompletedProcess:
    res = subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    print(f"$ {' '.join(str(a) for a in args)}\n{res.stdout[-2000:]}{res.stderr[-2000:]}")
    assert res.returncode == 0, res.stderr[-3000:]
    return res


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(bin folder of the fresh venv, its environment, an empty working folder)."""
    _need_build_tools()
    tmp = tmp_path_factory.mktemp("wheel")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update(OMP_NUM_THREADS="1", MPLBACKEND="Agg", PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)  # the build writes build/ and *.egg-info into its source
    dist = tmp / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, src],
        cwd=tmp,
        env=env,
    )
    (wheel,) = dist.glob("fpe_theory-*.whl")
    venv = tmp / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv], cwd=tmp, env=env)
    python = venv / "bin" / "python"
    site = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp, env).stdout.strip())
    (site / "borrowed_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    _run([sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", wheel], tmp, env)
    work = tmp / "work"
    work.mkdir()
    return venv / "bin", env, work


def test_wheel_ships_every_package_and_the_data(installed):
    bin_dir, env, work = installed
    code = (
        "import cli, fpe_theory, simulations, fpe_train.fpe.api, fpe_train.sweeps.sweep, reports.build, json; "
        "from fpe_train.sweeps.sweep import find_sweep; from importlib import resources; "
        "print(json.dumps({'files': [m.__file__ for m in (cli, fpe_theory, simulations, reports.build)], "
        "'case_study': str(find_sweep('case_study')), "
        "'template': resources.files('reports.render').joinpath('templates').is_dir()}))"
    )
    doc = json.loads(_run([bin_dir / "python", "-c", code], work, env).stdout)
    venv = str(bin_dir.parent)
    assert all(f.startswith(venv) for f in doc["files"]), doc["files"]  # the wheel's copy, not the checkout
    assert doc["case_study"].startswith(venv) and doc["template"]


def test_wheel_metadata_states_the_floor_and_the_extras(installed):
    import zipfile

    (wheel,) = (installed[0].parents[1] / "dist").glob("fpe_theory-*.whl")
    with zipfile.ZipFile(wheel) as z:
        meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        names = z.namelist()
    assert "Requires-Python: >=3.11" in meta
    for extra in ("mc", "train", "report", "dask", "embed", "all", "dev"):
        assert f"Provides-Extra: {extra}" in meta
    assert "fpe_train/embed/_cli.py" in names
    assert "fpe_train/sweeps/experiments/case_study.toml" in names and not any(n.startswith("tests/") for n in names)


def test_theory_command_from_the_wheel(installed):
    bin_dir, env, work = installed
    out = _run(
        [bin_dir / "fpe-theory", "coverage", "--m", "16", "--k", "4", "--alpha", "2", "--r", "3", "--json"], work, env
    ).stdout
    doc = json.loads(out)
    assert doc["m"] == 16 and doc["k"] == 4 and doc["alpha"] == 2


def test_tiny_sweep_by_name_and_a_report_from_it(installed):
    bin_dir, env, work = installed
    listing = _run([bin_dir / "fpe-theory", "sweep", "list"], work, env).stdout
    assert "case_study" in listing and "fig3a" in listing
    store = work / "results.db"
    _run(
        [
            bin_dir / "fpe-theory",
            "sweep",
            "run",
            "case_study",
            "--size",
            "quick",
            "--store",
            store,
            "--executor",
            "serial",
            "--no-progress",
            *TINY,
        ],
        work,
        env,
    )
    status = _run([bin_dir / "fpe-theory", "sweep", "status", "--store", store], work, env).stdout
    assert "case_study" in status
    out = work / "report"
    _run(
        [
            bin_dir / "fpe-theory",
            "report",
            "--preset",
            "quick",
            "--store",
            store,
            "--no-run",
            "--no-progress",
            "--out",
            out,
        ],
        work,
        env,
    )
    tex = (out / "report.tex").read_text()
    assert "case\\_study" in tex or "case_study" in tex
