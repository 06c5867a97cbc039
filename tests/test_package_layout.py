"""The package's layout: no import cycle, no module over ~800 lines, every module importable in a fresh interpreter
in several orders, and the recipe registry above the paper folders (preprocess/ never imports papers/ at import time;
importing a recipe imports neither torch nor a network)."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import mer_utils

PACKAGE = Path(mer_utils.__file__).resolve().parent
#: The most lines a module may have (issue 16: "no module over ~800 lines").
MAX_LINES = 800


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the package."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = path
    return out


def _resolve(module: str, is_package: bool, level: int, target: str | None) -> str:
    base = module.split(".") if is_package else module.split(".")[:-1]
    if level > 1:
        base = base[:len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph(top_level_only: bool = True) -> dict[str, set[str]]:
    """Module -> the package modules it imports; with ``top_level_only`` only the imports that run when the module
    is imported (module level, not inside functions or ``if TYPE_CHECKING``)."""
    modules = _modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        nodes = tree.body if top_level_only else list(ast.walk(tree))
        deps: set[str] = set()
        for node in nodes:
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, path.name == "__init__.py", node.level, node.module) if node.level else node.module
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            else:
                continue
            for t in targets:
                # a module imports its parents' __init__ too
                parts = (t or "").split(".")
                for k in range(1, len(parts) + 1):
                    candidate = ".".join(parts[:k])
                    if candidate in modules and candidate != name:
                        deps.add(candidate)
        graph[name] = deps
    return graph


def _find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return stack[stack.index(dep):] + [dep]
            if dep not in state:
                found = visit(dep)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_no_import_cycle_at_import_time():
    graph = import_graph()
    # a package importing its own submodules is how packages work, not a cycle: drop child -> parent edges
    pruned = {m: {d for d in deps if not m.startswith(d + ".")} for m, deps in graph.items()}
    cycle = _find_cycle(pruned)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_preprocess_does_not_import_papers_at_import_time():
    graph = import_graph()
    bad = {m: sorted(d for d in deps if d.startswith("mer_utils.papers"))
           for m, deps in graph.items() if m.startswith("mer_utils.preprocess")}
    assert not {m: d for m, d in bad.items() if d}, "preprocess/ sits below the paper folders"


def test_no_module_over_the_size_limit():
    long = {name: n for name, path in _modules().items() if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"split these modules by idea: {long}"


ORDERS = {
    "papers first": ["mer_utils.papers", "mer_utils.preprocess", "mer_utils.training"],
    "preprocess first": ["mer_utils.preprocess", "mer_utils.preprocess.prepare", "mer_utils.papers"],
    "a recipe first": ["mer_utils.papers.zhao2021.recipe", "mer_utils.preprocess"],
    "a pipeline first": ["mer_utils.papers.peng2018.report", "mer_utils.training.leakage", "mer_utils.paper_tables"],
}


@pytest.mark.parametrize("order", list(ORDERS), ids=list(ORDERS))
def test_every_module_imports_in_a_fresh_interpreter(order):
    names = [m for m in _modules() if m != "mer_utils.data.synthetic.__main__"]
    script = "import importlib\nfor m in %r:\n    importlib.import_module(m)\n" % (ORDERS[order] + names,)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE.parent,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_importing_the_registry_loads_no_network():
    script = ("import sys, mer_utils.papers, mer_utils.preprocess\n"
              "assert 'torch' not in sys.modules, 'torch imported'\n"
              "assert not [m for m in sys.modules if m.endswith(('.model', '.pipeline'))], 'a network or pipeline'\n"
              "from mer_utils.papers.she2020 import MultipleAggregationNetwork, run_multiple_aggregation\n"
              "from mer_utils.papers import peng2018\n"
              "assert peng2018.ResNet10 and peng2018.table_i and peng2018.pipeline.PengStage\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=PACKAGE.parent,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]


def test_every_paper_folder_is_complete():
    from mer_utils.papers import PAPERS, RECIPES

    assert list(RECIPES) == list(PAPERS)
    for paper in PAPERS:
        folder = PACKAGE / "papers" / paper
        assert {"__init__.py", "model.py", "recipe.py", "pipeline.py", "tables.json"} <= {p.name for p in folder.iterdir()}
        package = __import__(f"mer_utils.papers.{paper}", fromlist=["__all__"])
        assert package.__doc__ and ("Sec." in package.__doc__ or "§" in package.__doc__), paper
        for name in package.__all__:
            getattr(package, name)  # each public name resolves to its module's object
