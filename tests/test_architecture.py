"""The package's shape: the import graph of kaggle_kit/ (every import, function-level ones included) is
acyclic and follows the layers docs/architecture.md states."""

from __future__ import annotations

import ast
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "kaggle_kit"


def module_name(path: Path, package: Path = PACKAGE) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, modules: set[str], package_dir: Path = PACKAGE) -> set[str]:
    """The package's modules ``path`` imports anywhere in its body (``from pkg import sub`` counts as ``pkg.sub``)."""
    name = module_name(path, package_dir)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in modules and t != name)
    return found


def import_graph(package_dir: Path = PACKAGE) -> dict[str, set[str]]:
    """Module → the package's modules it imports (top-level, function-level and ``TYPE_CHECKING`` imports)."""
    paths = sorted(package_dir.rglob("*.py"))
    modules = {module_name(p, package_dir) for p in paths}
    return {module_name(p, package_dir): imported_modules(p, modules, package_dir) for p in paths}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (``a → b → … → a``), or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return path[path.index(target):] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start)):
            return cycle
    return None


def test_the_import_graph_has_no_cycle():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " → ".join(cycle)


def test_a_cycle_through_a_function_level_or_relative_import_is_found(tmp_path):
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from pkg.sub import b\n")
    (package / "sub" / "b.py").write_text("def f():\n    from .c import thing\n")
    (package / "sub" / "c.py").write_text("import pkg.a\n")
    assert find_cycle(import_graph(package)) == ["pkg.a", "pkg.sub.b", "pkg.sub.c", "pkg.a"]
    (package / "sub" / "c.py").write_text("import os\n")
    assert find_cycle(import_graph(package)) is None


# --- the layers docs/architecture.md states ----------------------------------------------------
ARCHITECTURE = PACKAGE.parent / "docs" / "architecture.md"


def stated_layers() -> dict[str, int]:
    """``docs/architecture.md``'s layer table: module or package (``data/``) → layer number."""
    layers = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\|\s*(\d+)\s*\|(.*?)\|", line)
        if match:
            for name in re.findall(r"`([^`]+)`", match.group(2)):
                layers[name] = int(match.group(1))
    return layers


def layer_of(module: str, layers: dict[str, int]) -> int | None:
    """A module's layer: its own entry (``runfolder``), or its package's (``data/`` for ``data.cache``)."""
    parts = module.split(".")[1:] or ["__init__"]
    if f"{parts[0]}/" in layers and len(module.split(".")) >= 2:
        return layers[f"{parts[0]}/"]
    return layers.get(".".join(parts))


def test_every_module_is_in_a_stated_layer():
    layers = stated_layers()
    assert sorted(set(layers.values())) == list(range(7)), "the layer table of docs/architecture.md is unreadable"
    unplaced = sorted(m for m in import_graph() if layer_of(m, layers) is None)
    assert unplaced == [], f"add these modules to the layer table of docs/architecture.md: {unplaced}"


def test_no_module_imports_from_a_higher_layer():
    layers = stated_layers()
    upward = [f"{m} (layer {layer_of(m, layers)}) imports {t} (layer {layer_of(t, layers)})"
              for m, targets in sorted(import_graph().items()) for t in sorted(targets)
              if layer_of(m, layers) is not None and layer_of(t, layers) is not None
              and layer_of(t, layers) > layer_of(m, layers)]
    assert upward == []


def test_the_data_layer_never_names_the_training_config():
    named = [str(path.relative_to(PACKAGE)) for path in sorted((PACKAGE / "data").rglob("*.py"))
             if "TrainConfig" in path.read_text(encoding="utf-8")]
    assert named == []


def test_no_module_imports_another_packages_private_module():
    def package(module: str) -> str:
        return ".".join(module.split(".")[:2])

    private = [f"{m} imports {t}" for m, targets in sorted(import_graph().items()) for t in sorted(targets)
               if t.rsplit(".", 1)[-1].startswith("_") and t.rsplit(".", 1)[-1] != "__init__"
               and package(m) != package(t)]
    assert private == []
