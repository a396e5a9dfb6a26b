"""The layering rule: core never imports Qt or agents; agents never import Qt."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "core": ("PySide6", "agents", "app"),
    "agents": ("PySide6", "app"),
}


def imported_modules(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_respects_the_layers(package: str) -> None:
    files = list((ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for module in imported_modules(path):
            top = module.split(".")[0]
            assert top not in FORBIDDEN[package], f"{path.relative_to(ROOT)} imports {module}"


def test_the_window_reaches_the_store_only_through_the_host() -> None:
    """Views ask the host (through app.gui.tasks); none opens the database or its SQL."""
    banned = ("core.store", "core.engine", "sqlite3", "sqlite_utils", "lancedb")
    files = list((ROOT / "app" / "gui").rglob("*.py"))
    assert files
    for path in files:
        for module in imported_modules(path):
            assert not module.startswith(banned), f"{path.relative_to(ROOT)} imports {module}"
