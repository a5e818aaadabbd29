"""The import graph of ``reports``: no circle, and the computing layer never imports the rendering layer.

Every ``import`` and ``from ... import`` is read with ``ast``, those inside functions included.
"""

import ast
from pathlib import Path

import pytest

import reports

ROOT = Path(reports.__file__).parent


def _module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> set[str]:
    """Modules named by every import statement of ``tree`` (relative ones resolved), anywhere in the file."""
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")[: len(module.split(".")) - node.level + (1 if is_package else 0)]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}  # "from reports import stats" names reports.stats
    return out


def import_graph(root: Path = ROOT) -> dict[str, set[str]]:
    """module -> the modules of ``reports`` it imports (packages resolved to their ``__init__``)."""
    files = {_module_name(p, root): p for p in root.rglob("*.py")}
    graph = {}
    for name, path in files.items():
        found = _imported(ast.parse(path.read_text()), name, path.name == "__init__.py")
        graph[name] = {m for m in found if m in files and m != name}
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


def test_find_cycle_finds_a_circle_and_only_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


def test_imports_inside_functions_are_read(tmp_path):
    pkg = tmp_path / "reports"
    (pkg / "compute").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "compute" / "__init__.py").write_text("")
    (pkg / "compute" / "a.py").write_text("def f():\n    from reports.compute import b\n")
    (pkg / "compute" / "b.py").write_text("from . import a\n")
    graph = import_graph(pkg)
    assert graph["reports.compute.a"] == {"reports.compute", "reports.compute.b"}
    assert find_cycle(graph) == ["reports.compute.a", "reports.compute.b", "reports.compute.a"]


def test_no_circle_inside_reports():
    graph = import_graph()
    assert {"reports.compute.claims", "reports.render.tables", "reports.build"} <= set(graph)
    assert find_cycle(graph) is None


@pytest.mark.parametrize("layer", ["reports.compute", "reports.stats", "reports.paper_numbers", "reports.presets"])
def test_computing_never_imports_rendering(layer):
    graph = import_graph()
    sources = [m for m in graph if m == layer or m.startswith(layer + ".")]
    assert sources
    bad = {(m, t) for m in sources for t in graph[m] if t == "reports.render" or t.startswith("reports.render.")}
    assert not bad


def test_the_rendering_layer_reads_the_computing_layer():
    graph = import_graph()
    assert "reports.compute.claims" in graph["reports.render.findings"]


def test_the_computing_layer_neither_draws_nor_typesets():
    for path in (ROOT / "compute").rglob("*.py"):
        found = _imported(ast.parse(path.read_text()), _module_name(path), path.name == "__init__.py")
        assert not {m for m in found if m.split(".")[0] in ("matplotlib", "jinja2")}, path.name
