"""Formatting by ruff alone: every Python file as `ruff format` writes it, and none opts out of it."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def _ruff(*args):
    return subprocess.run([sys.executable, "-m", "ruff", *args], cwd=ROOT, capture_output=True, text=True)


def test_every_python_file_is_as_ruff_formats_it():
    if _ruff("--version").returncode != 0:
        pytest.skip("ruff is not installed (it comes with the [dev] extra)")
    res = _ruff("format", "--check", ".")
    assert res.returncode == 0, res.stdout + res.stderr


def test_no_file_opts_out_of_the_formatter():
    marker = "fmt: " + "skip"  # spelled in two parts so that this file does not hold it
    hits = [
        str(p.relative_to(ROOT))
        for p in ROOT.rglob("*.py")
        if not {".venv", "build", ".git"} & set(p.parts) and marker in p.read_text()
    ]
    assert hits == []
