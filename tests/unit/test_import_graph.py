"""The modules of ``django_bulk_drf`` import each other without a circle.

The graph is read from the source (``ast``), not from what Python has imported: every import of a
module of the package counts, at module level, inside a function or under ``TYPE_CHECKING``. An
import of a name from a package counts as an import of the module of that name when there is one,
else of the package (its ``__init__``).
"""

import ast
from pathlib import Path

import django_bulk_drf

PACKAGE = Path(django_bulk_drf.__file__).parent
NAME = "django_bulk_drf"


def module_names() -> dict[str, Path]:
    modules = {}
    for path in PACKAGE.rglob("*.py"):
        parts = [NAME, *path.relative_to(PACKAGE).with_suffix("").parts]
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The modules of the package that ``module`` imports."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                found.add(submodule if submodule in modules else base)
    return {name for name in found if name in modules and name != module}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {module: imported(module, path, modules) for module, path in modules.items()}


def find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports (``[a, b, ..., a]``), or None."""
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> list[str] | None:
        if module in path:
            return path[path.index(module) :] + [module]
        if module in done:
            return None
        for target in sorted(graph[module]):
            circle = visit(target, [*path, module])
            if circle:
                return circle
        done.add(module)
        return None

    for module in sorted(graph):
        circle = visit(module, [])
        if circle:
            return circle
    return None


def test_the_graph_is_read_from_the_source():
    graph = import_graph()

    assert f"{NAME}.operations.record" in graph[f"{NAME}.operations"]
    assert f"{NAME}.background" in graph[f"{NAME}.tasks"]
    assert f"{NAME}.tasks" in graph[f"{NAME}.recovery"]  # re-queues the tasks of dead workers
    assert f"{NAME}.recovery" in graph[f"{NAME}.apps"]  # inside ready()


def test_a_circle_is_found():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}

    assert find_circle(graph) == ["a", "b", "c", "a"]
    assert find_circle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_the_package_imports_without_a_circle():
    circle = find_circle(import_graph())

    assert circle is None, "import circle: " + " -> ".join(circle or [])


def test_the_request_side_does_not_import_the_worker_steps():
    graph = import_graph()
    request_side = ("views", "consumers", "mixins", "bulk_requests", "list_operations")

    for name in request_side:
        assert f"{NAME}.background" not in graph[f"{NAME}.{name}"], name
    assert f"{NAME}.ledger" in graph[f"{NAME}.views"]  # a lost record is rebuilt from below
