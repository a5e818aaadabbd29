"""The import graph of the whole toolkit (fpe_theory, fpe_train, simulations, reports, cli.py).

Every ``import`` and ``from ... import`` is read with ``ast``, those inside functions included. Two rules:

- no circle: the graph of the toolkit's own modules, lazy imports counted as edges, has no cycle;
- imports sit at the top of their module, except those that keep a heavy or optional module out of a command:
  an import inside a function is allowed only when what it loads (its target and everything the target
  imports at its top, transitively) brings in a module of ``HEAVY`` that the importing module's own top-level
  imports (transitively) do not already load.

And, inside ``reports``, the computing layer never imports the rendering layer nor draws or typesets.
"""

import ast
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

import cli

REPO = Path(cli.__file__).parent
PACKAGES = ("fpe_theory", "fpe_train", "simulations", "reports")
# Worth keeping out of a command (``python -X importtime -c "import NAME"``, cumulative, on a 2-core machine
# under load 4): torch 1592 ms, scipy.stats 1038 ms, numba 368 ms, pandas 331 ms, matplotlib 272 ms,
# sympy 209 ms, pyarrow 149 ms, numpy 132 ms, llvmlite.binding 65 ms, jinja2 37 ms, tqdm 32 ms; and every
# module of an optional extra (``cli.EXTRAS``), which a command must not need unless it uses it. Below 20 ms
# (json, logging, threading, signal, csv, multiprocessing, concurrent.futures, sqlite3, threadpoolctl 15 ms)
# an import is not heavy.
HEAVY = {
    "torch",
    "scipy",
    "numba",
    "llvmlite",
    "pandas",
    "matplotlib",
    "sympy",
    "pyarrow",
    "numpy",
    "jinja2",
    "tqdm",
    "statsmodels",
    "transformers",
    "dask",
    "distributed",
    "sklearn",
    "PIL",
    "mnist1d",
} | set(cli.EXTRAS)


@dataclass(frozen=True)
class Import:
    """One import statement: the module it sits in, its line, whether inside a function, what it loads."""

    module: str
    line: int
    lazy: bool
    names: frozenset[str]  # the modules the statement names (``from a import b`` names a, and a.b if a module)


def module_name(path: Path, root: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_files(root: Path = REPO, packages=PACKAGES, top_modules=("cli",)) -> dict[str, Path]:
    files = {module_name(p, root): p for pkg in packages for p in (root / pkg).rglob("*.py")}
    files.update({m: root / f"{m}.py" for m in top_modules if (root / f"{m}.py").exists()})
    return files


def external_module(dotted: str) -> bool:
    """Whether ``dotted`` is a module of an installed package (found on disk; nothing is imported)."""
    top, *rest = dotted.split(".")
    spec = importlib.util.find_spec(top)
    if spec is None or not rest:
        return spec is not None
    if not spec.submodule_search_locations:
        return False
    where = Path(next(iter(spec.submodule_search_locations))).joinpath(*rest[:-1])
    last = rest[-1]
    return (where / last).is_dir() or (where / f"{last}.py").exists() or any(where.glob(f"{last}.*.so"))


def read_imports(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> list[Import]:
    """Every import statement of ``tree``, relative ones resolved; ``known`` holds the project's modules."""
    found = []

    def visit(node: ast.AST, lazy: bool) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import):
                names = {a.name for a in child.names}
                found.append(Import(module, child.lineno, lazy, frozenset(names)))
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    parts = module.split(".")
                    base = parts[: len(parts) - child.level + (1 if is_package else 0)]
                    name = ".".join(base + ([child.module] if child.module else []))
                else:
                    name = child.module
                subs = {f"{name}.{a.name}" for a in child.names}  # "from reports import stats" names reports.stats
                if name.split(".")[0] in HEAVY:  # "from scipy import stats" loads scipy.stats
                    subs = {n for n in subs if external_module(n)}
                else:
                    subs &= known
                found.append(Import(module, child.lineno, lazy, frozenset({name} | subs)))
            inner = isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
            visit(child, lazy or inner)

    visit(tree, False)
    return found


def all_imports(files: dict[str, Path]) -> list[Import]:
    known = set(files)
    out = []
    for name, path in files.items():
        out += read_imports(ast.parse(path.read_text()), name, path.name == "__init__.py", known)
    return out


def with_parents(name: str) -> set[str]:
    """Importing ``a.b.c`` runs ``a`` and ``a.b`` first."""
    parts = name.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts) + 1)}


def import_graph(files: dict[str, Path], imports: list[Import]) -> dict[str, set[str]]:
    """module -> the project modules it names in any import, lazy ones included. ``from pkg import sub`` inside
    ``pkg`` is an edge to ``pkg.sub`` alone: ``pkg`` is already loaded by then."""
    graph = {m: set() for m in files}
    for imp in imports:
        ancestors = with_parents(imp.module) - {imp.module}
        graph[imp.module] |= {
            n
            for n in imp.names
            if n in files and n != imp.module and not (n in ancestors and any(m.startswith(n + ".") for m in imp.names))
        }
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph as a list of modules (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        path.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


class Loads:
    """What importing a module loads: its parents, its top-level imports, and theirs, transitively."""

    def __init__(self, files: dict[str, Path], imports: list[Import]):
        self.files = files
        self.top: dict[str, set[str]] = {m: set() for m in files}
        for imp in imports:
            if not imp.lazy:
                self.top[imp.module] |= {p for n in imp.names for p in with_parents(n)}
        self._cache: dict[str, frozenset[str]] = {}

    def closure(self, names) -> set[str]:
        """Every module (project or not) loaded by importing ``names``."""
        seen, todo = set(), [p for n in names for p in with_parents(n)]
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo += self.top.get(m, ())
        return seen

    def heavy(self, names) -> set[str]:
        """The heavy modules importing ``names`` loads: scipy and scipy.stats count apart."""
        return {m for m in self.closure(names) if m.split(".")[0] in HEAVY}


def unjustified(imports: list[Import], loads: Loads) -> list[str]:
    """Lazy imports that keep nothing heavy out: ``module:line names`` for each."""
    bad = []
    for imp in imports:
        if imp.lazy and not (loads.heavy(imp.names) - loads.heavy([imp.module])):
            bad.append(f"{imp.module}:{imp.line} {' '.join(sorted(imp.names))}")
    return bad


@pytest.fixture(scope="module")
def project():
    files = project_files()
    imports = all_imports(files)
    return files, imports


def _write(root: Path, files: dict[str, str]) -> dict[str, Path]:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return project_files(root, packages=("pkg",), top_modules=())


# ------------------------------------------------------------------ the checker checks what it should


def test_find_cycle_finds_a_circle_and_only_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_a_circle_through_an_import_inside_a_function_is_found(tmp_path):
    files = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/sub/__init__.py": "",
            "pkg/sub/a.py": "def f():\n    from pkg.sub import b\n",
            "pkg/sub/b.py": "from . import a\n",
        },
    )
    graph = import_graph(files, all_imports(files))
    assert graph["pkg.sub.a"] == {"pkg.sub.b"}  # pkg.sub, its package, is loaded before it anyway
    assert find_cycle(graph) == ["pkg.sub.a", "pkg.sub.b", "pkg.sub.a"]


def test_a_name_from_the_own_package_is_an_edge_to_it_and_a_submodule_is_not(tmp_path):
    files = _write(
        tmp_path,
        {
            "pkg/__init__.py": "from pkg.a import f\n\nNAME = 1\n",
            "pkg/a.py": "def f():\n    from pkg import b\n",
            "pkg/b.py": "def g():\n    from pkg import NAME\n",
        },
    )
    graph = import_graph(files, all_imports(files))
    assert graph["pkg.a"] == {"pkg.b"} and graph["pkg.b"] == {"pkg"}
    assert find_cycle(graph) == ["pkg", "pkg.a", "pkg.b", "pkg"]


def test_a_lazy_import_is_justified_only_by_something_heavy_it_keeps_out(tmp_path):
    files = _write(
        tmp_path,
        {
            "pkg/__init__.py": "",
            "pkg/light.py": "import json\n",
            "pkg/heavy.py": "import json\n\nfrom pkg import deep\n",
            "pkg/deep.py": "import torch\n",
            "pkg/user.py": (
                "import json\n\n\ndef a():\n    import json\n\n\ndef b():\n    from pkg import light\n\n\n"
                "def c():\n    from pkg import heavy\n\n\ndef d():\n    import pandas\n\n\n"
                "def e():\n    from scipy import stats\n"
            ),
            "pkg/has_torch.py": "import torch\n\n\ndef e():\n    from pkg import deep\n",
            "pkg/has_stats.py": (
                "import scipy.special\nfrom scipy import stats\n\n\ndef f():\n    from scipy.stats import norm\n\n\n"
                "def g():\n    from scipy import optimize\n"
            ),
        },
    )
    imports = all_imports(files)
    bad = unjustified(imports, Loads(files, imports))
    assert sorted(bad) == [
        "pkg.has_stats:6 scipy.stats",
        "pkg.has_torch:5 pkg pkg.deep",
        "pkg.user:5 json",
        "pkg.user:9 pkg pkg.light",
    ]


def test_a_package_init_is_loaded_with_its_modules(tmp_path):
    files = _write(
        tmp_path,
        {"pkg/__init__.py": "import numba\n", "pkg/a.py": "", "pkg/b.py": "def f():\n    from pkg import a\n"},
    )
    imports = all_imports(files)
    loads = Loads(files, imports)
    assert loads.heavy(["pkg.a"]) == {"numba"}
    assert external_module("scipy.stats") and not external_module("scipy.stats.norm")
    assert unjustified(imports, loads) == ["pkg.b:2 pkg pkg.a"]  # pkg.b itself loads pkg, hence numba


# ------------------------------------------------------------------ the toolkit


def test_the_graph_spans_the_toolkit(project):
    files, imports = project
    graph = import_graph(files, imports)
    for name in ("cli", "fpe_theory.exact", "simulations.montecarlo", "fpe_train.sweeps.store", "reports.build"):
        assert name in graph
    assert "fpe_theory.problem" in graph["fpe_theory.exact"]


def test_no_circle_in_the_toolkit(project):
    files, imports = project
    assert find_cycle(import_graph(files, imports)) is None


def test_every_import_inside_a_function_keeps_something_heavy_out(project):
    files, imports = project
    assert unjustified(imports, Loads(files, imports)) == []


def test_the_commands_are_imported_on_first_use(project):
    files, imports = project
    lazy = {n for imp in imports if imp.module == "cli" and not imp.lazy for n in imp.names}
    assert not {n for n in lazy if n.split(".")[0] in PACKAGES}


# ------------------------------------------------------------------ reports: compute, then draw


def _reports_graph(project):
    files, imports = project
    graph = import_graph(files, imports)
    return {m: t for m, t in graph.items() if m == "reports" or m.startswith("reports.")}


@pytest.mark.parametrize("layer", ["reports.compute", "reports.stats", "reports.paper_numbers", "reports.presets"])
def test_computing_never_imports_rendering(project, layer):
    graph = _reports_graph(project)
    sources = [m for m in graph if m == layer or m.startswith(layer + ".")]
    assert sources
    bad = {(m, t) for m in sources for t in graph[m] if t == "reports.render" or t.startswith("reports.render.")}
    assert not bad


def test_the_rendering_layer_reads_the_computing_layer(project):
    assert "reports.compute.verdicts" in _reports_graph(project)["reports.render.findings"]


def test_the_computing_layer_neither_draws_nor_typesets(project):
    files, imports = project
    compute = [imp for imp in imports if imp.module.startswith("reports.compute")]
    assert compute
    assert not [imp for imp in compute if {n.split(".")[0] for n in imp.names} & {"matplotlib", "jinja2"}]
