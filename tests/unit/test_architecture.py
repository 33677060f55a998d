"""The layering of docs/architecture.md, checked: no import cycles, each package imports only
the layers below it, no module grows past ~500 lines without saying why, unit tests mirror modules.

Imports are read from the source with ``ast`` (never executed), including imports inside
functions and under ``TYPE_CHECKING``: a lazy or type-only import is still a dependency a
reader has to follow.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.paths import ROOT

PACKAGE = ROOT / "mplat"
MAX_LINES = 500
SIZE_REASON = "Size:"
"""A module over MAX_LINES says why in its docstring, in a paragraph starting with this."""

# What each layer may import besides itself (docs/architecture.md, "Layers"). A pattern
# ``p`` allows ``p`` and everything under it; ``=mplat`` allows only the package root, which
# holds nothing but ``__version__``. The longest layer key matching a module applies.
ALLOWED: dict[str, tuple[str, ...]] = {
    "mplat": (),
    "mplat.values": (),
    "mplat.files": (),
    "mplat.config": ("mplat.values", "mplat.files"),
    "mplat.plan": ("mplat.values", "mplat.files", "=mplat"),
    "mplat.output": ("mplat.values", "mplat.plan"),
    "mplat.registry": ("mplat.values", "mplat.files", "=mplat"),
    "mplat.registry.api": ("mplat.values",),
    "mplat.registry.errors": ("mplat.values",),
    "mplat.engine": (
        "mplat.values",
        "mplat.config.model",
        "mplat.plan",
        "mplat.registry.api",
        "mplat.registry.errors",
    ),
    "mplat.cli": ("mplat",),
    "mplat.__main__": ("mplat.cli",),
}


def _modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


MODULES = _modules()


def _resolve(module: str, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    is_package = MODULES[module].name == "__init__.py"
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _imports(module: str) -> Iterator[tuple[str, int]]:
    """Every mplat module ``module`` imports, with the line of the import."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _resolve(module, node)
            # ``from mplat.values import mediatypes`` imports a module, not a name.
            targets = [
                f"{source}.{alias.name}" if f"{source}.{alias.name}" in MODULES else source
                for alias in node.names
            ]
        else:
            continue
        for target in targets:
            if target == "mplat" or target.startswith("mplat."):
                while target not in MODULES:
                    target = target.rpartition(".")[0]
                yield target, node.lineno


GRAPH: dict[str, set[str]] = {
    module: {target for target, _ in _imports(module) if target != module} for module in MODULES
}


def _cycle() -> list[str] | None:
    """One import cycle, as the modules along it, or None."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(GRAPH[module]):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        path.pop()
        state[module] = 2
        return None

    for module in sorted(GRAPH):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_no_import_cycle() -> None:
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def test_the_cycle_check_finds_a_planted_cycle() -> None:
    GRAPH["mplat.values.reference"].add("mplat.cli.main")
    try:
        assert _cycle() is not None
    finally:
        GRAPH["mplat.values.reference"].discard("mplat.cli.main")


def _matches(target: str, pattern: str) -> bool:
    if pattern.startswith("="):
        return target == pattern[1:]
    return target == pattern or target.startswith(pattern + ".")


def _permitted(module: str, target: str) -> bool:
    layers = [k for k in ALLOWED if _matches(module, k)]
    layer = max(layers, key=len)
    own = layer if layer != "mplat" else "=mplat"
    return any(_matches(target, p) for p in (own, *ALLOWED[layer]))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_layer_imports_only_what_it_may(module: str) -> None:
    wrong = sorted(
        {
            f"{MODULES[module].relative_to(ROOT)}:{line}: {module} imports {target}"
            for target, line in _imports(module)
            if target != module and not _permitted(module, target)
        }
    )
    assert not wrong, "\n".join(wrong)


def test_values_import_nothing_else_of_mplat() -> None:
    outside = {
        (module, target)
        for module in MODULES
        if module.startswith("mplat.values")
        for target in GRAPH[module]
        if not target.startswith("mplat.values")
    }
    assert not outside


@pytest.mark.parametrize("module", sorted(MODULES))
def test_module_size(module: str) -> None:
    source = MODULES[module].read_text(encoding="utf-8")
    lines = source.count("\n")
    if lines <= MAX_LINES:
        return
    doc = ast.get_docstring(ast.parse(source)) or ""
    assert SIZE_REASON in doc, (
        f"{module} has {lines} lines (over {MAX_LINES}): split it, or say why it is one module "
        f"in its docstring, in a paragraph starting {SIZE_REASON!r}"
    )


def test_unit_tests_mirror_modules() -> None:
    """tests/unit/<package>/test_<module>.py tests mplat/<package>/<module>.py."""
    unit = ROOT / "tests" / "unit"
    orphans = [
        str(path.relative_to(ROOT))
        for path in sorted(unit.rglob("test_*.py"))
        if path.parent != unit  # project-wide checks, such as this file
        and ".".join(("mplat", *path.parent.relative_to(unit).parts, path.stem[5:])) not in MODULES
    ]
    assert not orphans, f"unit tests naming no module of mplat/: {orphans}"
