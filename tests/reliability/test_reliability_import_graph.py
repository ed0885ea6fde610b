"""The project's modules import one another without a circle: a static scan of every
import statement (module level, inside functions and under TYPE_CHECKING alike) of the
packages qapgen, baselines, bench and experiments."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("qapgen", "baselines", "bench", "experiments")


def project_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _owner(name: str, modules: dict[str, Path]) -> str | None:
    """The project module ``name`` lives in (a module, or the package of an imported name)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {_owner(alias.name, modules) for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: from the module's package, `level` steps up
                package = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
                base = ".".join(package[: len(package) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                found.add(_owner(f"{base}.{alias.name}", modules) or _owner(base, modules))
    return found - {None, name}


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in sorted(graph[module]):
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == module:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return circles


def test_the_scan_finds_a_planted_circle():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}
    assert import_circles(graph) == [["a", "b", "c"]]


def test_the_scan_resolves_relative_and_package_imports(tmp_path: Path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("from pkg.tools import helper\n")
    (package / "tools.py").write_text("from . import other\nimport pkg.other as o\n")
    (package / "other.py").write_text("def f():\n    from pkg import helper\n")
    modules = {"pkg": package / "__init__.py", "pkg.tools": package / "tools.py",
               "pkg.other": package / "other.py"}  # fmt: skip
    assert imports_of("pkg.tools", modules["pkg.tools"], modules) == {"pkg.other"}
    assert imports_of("pkg.other", modules["pkg.other"], modules) == {"pkg"}


def test_no_module_of_the_project_imports_itself_round_a_circle():
    modules = project_modules()
    assert "qapgen.models.igja_qap" in modules and "baselines.t5_qg" in modules
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert import_circles(graph) == []
