"""Every module the packages import is declared in pyproject.toml, and in the extra of the part that imports it.

Imports are read with ``ast`` from the source (module level and inside functions alike); the standard
library (``sys.stdlib_module_names``) and the project's own packages need no declaration.
"""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OWN = {"cli", "fpe_theory", "simulations", "fpe_train", "reports"}
DISTRIBUTION = {
    "sklearn": "scikit-learn",
    "distributed": "dask",
    "yaml": "pyyaml",
    "PIL": "pillow",
}  # module -> distribution
# the part of the code -> the extras whose install must cover its imports
PARTS = {
    "fpe_theory": ("base",),
    "cli.py": ("base",),
    "simulations": ("base", "mc"),
    "fpe_train": ("base", "train", "dask", "parquet", "embed"),
    "reports": ("base", "report"),
}


# imports guarded so that the part runs without them
GUARDED = {("fpe_train", "numba"): "only the CPU kernel's JIT and its build import numba (engine/kernel.py, aot.py)"}


def _project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _names(requirements) -> set[str]:
    return {re.match(r"[A-Za-z0-9_.-]+", r).group(0).lower() for r in requirements}


def _extra(extras: dict, name: str) -> set[str]:
    out = set()
    for req in extras[name]:
        if req.startswith("fpe-theory["):
            for inner in req[len("fpe-theory[") : req.index("]")].split(","):
                out |= _extra(extras, inner)
        else:
            out |= _names([req])
    return out


def _imports(part: str) -> dict[str, str]:
    """Top-level third-party module -> one file that imports it."""
    files = [ROOT / part] if part.endswith(".py") else sorted((ROOT / part).rglob("*.py"))
    found = {}
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                mods = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                mods = [node.module]
            else:
                continue
            for mod in mods:
                top = mod.split(".")[0]
                if top not in sys.stdlib_module_names and top not in OWN and top != "__future__":
                    found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def test_every_import_is_declared_in_the_extra_of_its_part():
    project = _project()
    extras = project["optional-dependencies"]
    undeclared = []
    for part, allowed in PARTS.items():
        declared = set()
        for name in allowed:
            declared |= _names(project["dependencies"]) if name == "base" else _extra(extras, name)
        for module, where in _imports(part).items():
            if DISTRIBUTION.get(module, module).lower() not in declared and (part, module) not in GUARDED:
                undeclared.append(f"{module} (imported by {where}; extras {allowed})")
    assert not undeclared, undeclared


def test_the_base_install_is_the_theory_and_the_floor_is_tomllib():
    project = _project()
    assert _names(project["dependencies"]) == {"numpy", "scipy", "sympy", "click"}
    assert project["requires-python"].startswith(">=3.11")  # tomllib reads the sweep files
    assert sys.version_info >= (3, 11)
