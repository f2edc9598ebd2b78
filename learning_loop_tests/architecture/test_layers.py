"""The layout holds: no import cycle (module-level or inside functions), a pure core, one reader of the environment."""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "learning_loop"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every learning_loop module this file imports, anywhere in it (function-level imports included)."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target.startswith("learning_loop") and target != name:
                found.add(target)
    return found


def import_graph() -> nx.DiGraph:
    modules = _modules()
    graph = nx.DiGraph()
    for name, path in modules.items():
        graph.add_node(name)
        for target in _imports(path, name, set(modules)):
            # a package's __init__ importing its own submodules is how packages re-export; not a cycle
            if not (path.name == "__init__.py" and target.startswith(name + ".")):
                graph.add_edge(name, target)
    return graph


def test_no_import_cycle():
    cycles = list(nx.simple_cycles(import_graph()))
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c + c[:1]) for c in cycles[:5])


def test_domain_is_pure():
    """The functional core imports no Dagster, no other layer, and reads no environment."""
    graph = import_graph()
    for name, path in _modules().items():
        if not name.startswith("learning_loop.domain"):
            continue
        source = path.read_text(encoding="utf-8")
        assert "import dagster" not in source and "from dagster" not in source, name
        assert "os.environ" not in source and "os.getenv" not in source, name
        outside = {t for t in graph.successors(name) if not t.startswith("learning_loop.domain")}
        assert not outside, f"{name} imports {sorted(outside)}"


def test_only_settings_reads_the_environment():
    readers = sorted(
        name for name, path in _modules().items()
        if any(token in path.read_text(encoding="utf-8") for token in ("os.environ.get(", "os.getenv(", "os.environ["))
        and name != "learning_loop.settings"
    )
    # the web UI command hands the child process its environment (a copy, never read for configuration)
    assert readers in ([], ["learning_loop.cli.operations"]), readers


@pytest.mark.parametrize(
    "lower, upper",
    [("learning_loop.domain", "learning_loop.stores"), ("learning_loop.stores", "learning_loop.defs"),
     ("learning_loop.views", "learning_loop.cli"), ("learning_loop.defs", "learning_loop.cli")],
)
def test_layers_point_down(lower, upper):
    """domain → stores → Dagster definitions → CLI: nothing imports a layer above it."""
    graph = import_graph()
    up = [(a, b) for a, b in graph.edges if a.startswith(lower) and b.startswith(upper)]
    assert not up, up
