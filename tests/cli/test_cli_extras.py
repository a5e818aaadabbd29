"""A command whose optional dependency is missing says, in one line, which extra installs it.

Each case runs in a subprocess in which the module is blocked (``sys.modules[name] = None`` makes
``import name`` raise ModuleNotFoundError, as on an install without that extra).
"""

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from cli import EXTRAS

SCRIPT = """
import sys
for name in {blocked!r}:
    sys.modules[name] = None
import cli
cli.main({args!r})
"""

HEAVY = [
    "torch",
    "numba",
    "llvmlite",
    "statsmodels",
    "pandas",
    "matplotlib",
    "jinja2",
    "sklearn",
    "mnist1d",
    "tqdm",
    "dask",
    "distributed",
    "pyarrow",
]


def _run(blocked, args):
    code = SCRIPT.format(blocked=blocked, args=args)
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_theory_commands_need_only_the_base_install():
    for args in (
        ["coverage", "--m", "16", "--k", "2", "--alpha", "2", "--r", "2", "--json"],
        ["collisions", "--m", "16", "--k", "2", "--alpha", "2", "--r", "2"],
        ["formulas"],
    ):
        res = _run(HEAVY, args)
        assert res.returncode == 0, res.stderr


@pytest.mark.parametrize(
    "blocked, args, extra",
    [
        (["torch"], ["train", "--trials", "1", "--epochs", "1", "--warmup-epochs", "1"], "train"),
        (["numba"], ["simulate", "--trials", "10", "--no-progress"], "mc"),
        (["matplotlib"], ["report", "--help"], None),  # help needs nothing heavy
        (["pandas"], ["sweep", "status", "--store", "absent.db"], None),
        (["transformers"], ["embed", "images", "--out", "e.npz"], "embed"),
    ],
)
def test_missing_extra_is_one_line(tmp_path, blocked, args, extra):
    res = _run(blocked, args)
    if extra is None:  # the command does not need the blocked module
        assert res.returncode in (0, 2) and "Traceback" not in res.stderr and "not installed" not in res.stderr
        return
    assert res.returncode == 2
    lines = res.stderr.strip().splitlines()
    assert lines[-1] == (
        f"Error: fpe-theory {args[0]} needs {blocked[0]}, which is not installed: pip install 'fpe-theory[{extra}]'"
    )
    assert "Traceback" not in res.stderr


def _requirements(extras: dict, name: str) -> set[str]:
    """Distribution names an extra installs, following ``fpe-theory[a,b]`` to the extras it includes."""
    out = set()
    for req in extras[name]:
        dist = re.match(r"[A-Za-z0-9_.-]+", req).group(0).lower()
        if dist == "fpe-theory":
            for inner in re.search(r"\[(.*)\]", req).group(1).split(","):
                out |= _requirements(extras, inner.strip())
        else:
            out.add(dist)
    return out


def test_each_module_is_installed_by_the_extra_named_for_it():
    extras = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    extras = extras["optional-dependencies"]
    distribution = {"sklearn": "scikit-learn", "distributed": "dask", "PIL": "pillow"}
    for module, extra in EXTRAS.items():
        assert distribution.get(module, module) in _requirements(extras, extra), (module, extra)
    assert {"torch", "numba", "statsmodels", "matplotlib", "jinja2", "pandas"} <= _requirements(extras, "all")
