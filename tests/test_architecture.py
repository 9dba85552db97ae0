"""Habits that keep the layers readable, checked on the source with ``ast``.

- No import inside a function, except of an optional extra (rich, matplotlib,
  redis, ...): an import cycle cannot hide there, and a module's needs are
  read at its top.
- No private name (``_x``) used across layers: one layer reaches another only
  through the names that layer offers.
- No function over 80 lines, the inlined hot paths aside: a function that
  long is several functions.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "alertthrottle"
#: Modules the package needs whatever extras are installed: never imported lazily.
CORE_DEPENDENCIES = {"attrs", "sortedcontainers", "alertthrottle"}
LAYERS = ("_core", "_engine", "_ops", "_io", "_replay", "cli")
MAX_LINES = 80
#: Functions allowed to be longer: the hot path, inlined for speed, that reads like the
#: semantics' steps 1-5 (``feed`` and ``feed_many`` both run it), and its column twin
#: for ``feed_columns`` (a hot loop too: locals bound once, the common rows inline).
LONG_ON_PURPOSE = {
    "alertthrottle._engine.policy.ThrottlePolicy._decide",
    "alertthrottle._engine.policy.ThrottlePolicy._decide_columns",
    # The common rows of _decide_columns, inline for one alert: _decide's frame costs more.
    "alertthrottle._engine.policy.ThrottlePolicy.feed",
}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def dotted(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def layer(module: str) -> str:
    """The layer of a dotted module name; the public faces form one layer of their own."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else "(public faces)"


def resolve(path: Path, node: ast.ImportFrom) -> str:
    """The absolute module an ``ImportFrom`` names."""
    if not node.level:
        return node.module or ""
    package = dotted(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    base = package[: len(package) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def function_imports(tree: ast.AST) -> Iterator[tuple[ast.stmt, str]]:
    """Each import statement inside a function body, with the top-level module it names."""
    for function in ast.walk(tree):
        if not isinstance(function, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(function):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield node, alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom):
                yield node, "." if node.level else (node.module or "").split(".")[0]


def test_no_import_inside_a_function_but_of_an_optional_extra() -> None:
    found = []
    for path in modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, top in function_imports(tree):
            optional = (
                top != "."
                and top not in sys.stdlib_module_names
                and top not in CORE_DEPENDENCIES
            )
            if not optional:
                found.append(f"{dotted(path)}:{node.lineno}: imports {top}")
    assert found == []


def _private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def private_uses(path: Path) -> Iterator[str]:
    """Private names this module takes from a module of another layer."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    here = dotted(path)
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            source = resolve(path, node)
            if not source.startswith("alertthrottle"):
                continue
            for alias in node.names:
                imported = f"{source}.{alias.name}"
                if (PACKAGE.parent / imported.replace(".", "/")).with_suffix(".py").exists() or (
                    PACKAGE.parent / imported.replace(".", "/")
                ).is_dir():
                    aliases[alias.asname or alias.name] = imported  # a module
                elif _private(alias.name) and layer(source) != layer(here):
                    yield f"{here}:{node.lineno}: {source}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("alertthrottle") and alias.asname:
                    aliases[alias.asname] = alias.name
    # module.attribute, for modules imported whole
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
            and _private(node.attr)
            and layer(aliases[node.value.id]) != layer(here)
        ):
            yield f"{here}:{node.lineno}: {aliases[node.value.id]}.{node.attr}"


def test_no_private_name_is_used_across_layers() -> None:
    found = [use for path in modules() for use in private_uses(path)]
    assert found == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def f():\n    import json\n", ["m:2: imports json"]),
        ("def f():\n    from . import sibling\n", ["m:2: imports ."]),
        ("def f():\n    import matplotlib\n", []),
        ("import json\n", []),
    ],
)
def test_the_function_import_check_can_fail(source: str, expected: list[str]) -> None:
    tree = ast.parse(source)
    found = [
        f"m:{node.lineno}: imports {top}"
        for node, top in function_imports(tree)
        if top == "." or top in sys.stdlib_module_names or top in CORE_DEPENDENCIES
    ]
    assert found == expected


def test_the_private_name_check_can_fail(tmp_path: Path) -> None:
    module = PACKAGE / "cli" / "_architecture_probe.py"
    module.write_text("from .._ops.rootcause import _Tally\nfrom .render import _when\n")
    try:
        assert list(private_uses(module)) == [
            "alertthrottle.cli._architecture_probe:1: alertthrottle._ops.rootcause._Tally"
        ]
    finally:
        module.unlink()


def long_functions(path: Path) -> Iterator[tuple[str, int]]:
    """``(qualified name, lines)`` of each function longer than :data:`MAX_LINES`."""
    tree = ast.parse(path.read_text(encoding="utf-8"))

    def visit(node: ast.AST, prefix: str) -> Iterator[tuple[str, int]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.ClassDef):
                yield from visit(child, f"{prefix}.{child.name}")
            elif isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                lines = (child.end_lineno or child.lineno) - child.lineno + 1
                if lines > MAX_LINES:
                    yield f"{prefix}.{child.name}", lines
                yield from visit(child, f"{prefix}.{child.name}")

    yield from visit(tree, dotted(path))


def test_no_function_over_80_lines() -> None:
    found = [
        f"{name} ({lines} lines)"
        for path in modules()
        for name, lines in long_functions(path)
        if name not in LONG_ON_PURPOSE
    ]
    assert found == []

